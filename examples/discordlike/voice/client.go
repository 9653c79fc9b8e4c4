package voice

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/pipeline/sink"
)

// Config is what a client needs to join a voice channel: the gateway's
// URL and the identity (on Discord, from the main gateway's Voice State
// Update and Voice Server Update events).
type Config struct {
	URL       string // ws://host:port/path; ?v=8 is added
	ServerID  string
	UserID    string
	SessionID string
	Token     string
	// Modes are the encryption modes the client takes, in order of
	// preference (default: AES-256-GCM, then XChaCha20-Poly1305).
	Modes []string
	// SenderOptions are added to the RTP sender's (its cipher is set).
	SenderOptions []sink.SenderOption
	// HandshakeTimeout bounds Connect and each resume (default 10 s).
	HandshakeTimeout time.Duration
	// ResumeFor bounds how long a lost connection is retried (default
	// 30 s).
	ResumeFor time.Duration
	// OnMessage, if set, is given the server's other messages (Speaking,
	// Clients Connect, Client Disconnect), on the client's goroutine: it
	// must not block, nor call Close (which waits for that goroutine).
	OnMessage func(Message)
}

// Conn is a client's voice connection: the control WebSocket, kept alive
// and resumed when it drops, and a UDP socket for the encrypted audio,
// reopened (with IP discovery and Select Protocol again) when it fails.
// A close that forbids resuming ends it (Done, Err): 4014 and the like
// for good; after 4006 or 4009 the caller may Connect anew.
// Send is called by one goroutine at a time; the rest is safe for
// concurrent use.
type Conn struct {
	cfg    Config
	ssrc   uint32
	mode   string
	server netip.AddrPort
	sender *sink.Sender // used by Send's goroutine

	ws  atomic.Pointer[websocket.Conn]
	udp atomic.Pointer[net.UDPConn]
	seq atomic.Int64 // the last sequence number received

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{}
	once   sync.Once
	err    error // why it ended; set before done is closed

	rtt, resumes, reopened, heartbeats atomic.Int64
	closing                            atomic.Bool // set by Close

	// pending is a new UDP address to select, sent by the heartbeat
	// goroutine of a link that is up; wake tells it one is there.
	pending atomic.Pointer[netip.AddrPort]
	wake    chan struct{}
}

// ErrNoMode is returned by Connect when the server offers none of the
// client's encryption modes.
var ErrNoMode = errors.New("voice: no encryption mode in common")

// ErrHandshake wraps what went wrong during Connect.
var ErrHandshake = errors.New("voice: handshake failed")

// Connect joins the voice channel: Hello, Identify, Ready, IP discovery,
// Select Protocol, Session Description. The Conn heartbeats from Hello on,
// and resumes on its own until Close.
func Connect(ctx context.Context, cfg Config) (*Conn, error) {
	if len(cfg.Modes) == 0 {
		cfg.Modes = []string{ModeAES256GCM, ModeXChaCha20Poly1305}
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 10 * time.Second
	}
	if cfg.ResumeFor <= 0 {
		cfg.ResumeFor = 30 * time.Second
	}
	hctx, cancel := context.WithTimeout(ctx, cfg.HandshakeTimeout)
	defer cancel()
	c := &Conn{cfg: cfg, done: make(chan struct{}), wake: make(chan struct{}, 1)}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.seq.Store(-1)
	l, err := c.dial(hctx)
	if err != nil {
		c.cancel()
		return nil, err
	}
	ws := l.ws
	fail := func(err error) (*Conn, error) {
		ws.CloseNow()
		l.stop()
		c.cancel()
		if u := c.udp.Load(); u != nil {
			u.Close()
		}
		return nil, err
	}
	if err := c.write(hctx, ws, NewMessage(OpIdentify, Identify{ServerID: cfg.ServerID, UserID: cfg.UserID, SessionID: cfg.SessionID, Token: cfg.Token})); err != nil {
		return fail(err)
	}
	var ready Ready
	if err := c.await(hctx, l, OpReady, &ready); err != nil {
		return fail(err)
	}
	ip, err := netip.ParseAddr(ready.IP)
	if err != nil || ready.Port <= 0 || ready.Port > 65535 {
		return fail(fmt.Errorf("%w: Ready gives the address %q port %d", ErrHandshake, ready.IP, ready.Port))
	}
	c.ssrc, c.server = ready.SSRC, netip.AddrPortFrom(ip, uint16(ready.Port))
	for _, m := range cfg.Modes {
		if slices.Contains(ready.Modes, m) {
			c.mode = m
			break
		}
	}
	if c.mode == "" {
		return fail(fmt.Errorf("%w: the server offers %v", ErrNoMode, ready.Modes))
	}
	udp, self, err := c.openUDP(hctx)
	if err != nil {
		return fail(err)
	}
	c.udp.Store(udp)
	if err := c.write(hctx, ws, c.selectProtocol(self)); err != nil {
		return fail(err)
	}
	var sd SessionDescription
	if err := c.await(hctx, l, OpSessionDescription, &sd); err != nil {
		return fail(err)
	}
	if sd.Mode != c.mode {
		return fail(fmt.Errorf("%w: asked for mode %s, given %s", ErrHandshake, c.mode, sd.Mode))
	}
	ciph, err := sink.NewCipher(sd.Mode, sd.SecretKey[:])
	if err != nil {
		return fail(fmt.Errorf("%w: %v", ErrHandshake, err))
	}
	opts := append([]sink.SenderOption{sink.WithCipher(ciph)}, cfg.SenderOptions...)
	c.sender = sink.NewSender(c, sink.NewPacketizer(c.ssrc, sink.WithPayloadType(120)), opts...)
	c.ws.Store(ws)
	close(l.ready)
	c.wg.Add(1)
	go c.run(l)
	return c, nil
}

// SSRC returns the session's SSRC.
func (c *Conn) SSRC() uint32 { return c.ssrc }

// Mode returns the encryption mode in use.
func (c *Conn) Mode() string { return c.mode }

// Done is closed when the connection has ended for good: closed by the
// server with a code that forbids resuming, or not resumed in time.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended, once Done is closed (nil after
// Close).
func (c *Conn) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// ClientStats are a Conn's counters.
type ClientStats struct {
	Sent       int64         // audio packets sent
	Heartbeats int64         // heartbeats acknowledged
	RTT        time.Duration // the last heartbeat's round trip
	Resumes    int64         // control connections resumed
	Reopened   int64         // UDP sockets reopened
}

// Stats returns the connection's counters. Sent is read from the sending
// goroutine's counter without synchronisation, so call it from there, or
// once sending has stopped.
func (c *Conn) Stats() ClientStats {
	return ClientStats{
		Sent:       c.sender.Sent(),
		Heartbeats: c.heartbeats.Load(),
		RTT:        time.Duration(c.rtt.Load()),
		Resumes:    c.resumes.Load(),
		Reopened:   c.reopened.Load(),
	}
}

// Speaking sends the speaking flags (SpeakingMicrophone and so on; 0 when
// done), as a client must before its first audio packet.
func (c *Conn) Speaking(flags int) error {
	ws := c.ws.Load()
	if ws == nil {
		return errors.New("voice: control connection down")
	}
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	return c.write(ctx, ws, NewMessage(OpSpeaking, Speaking{Speaking: flags, SSRC: c.ssrc}))
}

// Send numbers, encrypts and sends one Opus packet: a Scheduler's
// listener (sched.Add(player, conn.Send)). It blocks only to reopen a
// lost UDP socket.
func (c *Conn) Send(pkt opus.Packet) error {
	select {
	case <-c.done:
		if c.err != nil {
			return c.err
		}
		return net.ErrClosed
	default:
	}
	return c.sender.Send(pkt)
}

// Write sends one datagram on the UDP socket, reopening it once if it
// has failed; it is the Sender's PacketWriter.
func (c *Conn) Write(b []byte) (int, error) {
	n, err := c.udp.Load().Write(b)
	if err == nil {
		return n, nil
	}
	if c.closing.Load() {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.HandshakeTimeout)
	defer cancel()
	udp, self, rerr := c.openUDP(ctx)
	if rerr != nil {
		return 0, fmt.Errorf("voice: UDP send failed (%v) and reopening failed: %w", err, rerr)
	}
	c.udp.Swap(udp).Close()
	// Close sets closing before it closes the socket it finds: if that
	// was the old one, this one is closed here.
	if c.closing.Load() {
		udp.Close()
		return 0, err
	}
	c.reopened.Add(1)
	// The control goroutine tells the server the new address; a newer
	// one replaces one not sent yet.
	c.pending.Store(&self)
	c.nudge()
	return udp.Write(b)
}

// DropControl closes the control connection abruptly, as a lost network
// does; the Conn resumes. For tests and demonstrations.
func (c *Conn) DropControl() {
	if ws := c.ws.Load(); ws != nil {
		ws.CloseNow()
	}
}

// DropUDP closes the UDP socket; the next Send reopens it. For tests and
// demonstrations.
func (c *Conn) DropUDP() { c.udp.Load().Close() }

// Close leaves the channel: the control connection is closed normally and
// the UDP socket closed.
func (c *Conn) Close() error {
	// The close handshake first, the reader still reading (cancelling its
	// context would drop the connection instead); closing tells it that
	// the end is ours.
	c.closing.Store(true)
	if ws := c.ws.Swap(nil); ws != nil {
		_ = ws.Close(websocket.StatusNormalClosure, "")
	}
	c.cancel()
	c.wg.Wait()
	c.finish(nil)
	return c.udp.Load().Close() // a reopen under way closes its own (see Write)
}

func (c *Conn) finish(err error) {
	c.once.Do(func() {
		c.err = err
		close(c.done)
	})
}

func (c *Conn) selectProtocol(self netip.AddrPort) Message {
	return NewMessage(OpSelectProtocol, SelectProtocol{Protocol: "udp", Data: SelectProtocolData{Address: self.Addr().String(), Port: int(self.Port()), Mode: c.mode}})
}

// nudge wakes the heartbeat goroutine of the link that is up.
func (c *Conn) nudge() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// link is one control connection and its heartbeat, which beats from
// Hello on (the server times out a connection without, even while it
// handshakes) and, once the session is on it (ready: identified or
// resumed), sends Select Protocol again after a UDP reopen.
type link struct {
	ws     *websocket.Conn
	acked  atomic.Int64 // heartbeats acknowledged on this connection
	ready  chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

// stop ends the heartbeat and waits for it.
func (l *link) stop() {
	l.cancel()
	<-l.done
}

// dial opens a control connection, reads its Hello and starts its
// heartbeat.
func (c *Conn) dial(ctx context.Context) (*link, error) {
	u, err := url.Parse(c.cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	q := u.Query()
	q.Set("v", fmt.Sprint(Version))
	u.RawQuery = q.Encode()
	ws, _, err := websocket.Dial(ctx, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	ws.SetReadLimit(MaxMessage)
	l := &link{ws: ws, ready: make(chan struct{}), done: make(chan struct{})}
	var h Hello
	if err := c.await(ctx, l, OpHello, &h); err != nil {
		ws.CloseNow()
		return nil, err
	}
	interval := time.Duration(h.HeartbeatInterval * float64(time.Millisecond))
	if interval < time.Millisecond || interval > time.Hour {
		ws.CloseNow()
		return nil, fmt.Errorf("%w: heartbeat interval %v ms", ErrHandshake, h.HeartbeatInterval)
	}
	var bctx context.Context
	bctx, l.cancel = context.WithCancel(c.ctx)
	go c.beat(bctx, l, interval)
	return l, nil
}

// beat heartbeats on l every interval, and, once l is ready, sends
// Select Protocol again when the UDP socket was reopened, until ctx ends
// or the link fails. Liveness (two heartbeats unanswered) is judged once
// l is ready, when a reader takes every acknowledgement.
func (c *Conn) beat(ctx context.Context, l *link, interval time.Duration) {
	defer close(l.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	sent := int64(0)
	ready := l.ready
	var wake chan struct{} // nil until ready
	for {
		var m Message
		var resel *netip.AddrPort
		select {
		case <-ctx.Done():
			return
		case <-ready:
			ready, wake = nil, c.wake
			sent = l.acked.Load()
			if c.pending.Load() != nil {
				c.nudge() // an address from before this link
			}
			continue
		case <-wake:
			if resel = c.pending.Swap(nil); resel == nil {
				continue
			}
			m = c.selectProtocol(*resel)
		case <-t.C:
			if ready == nil && sent-l.acked.Load() >= 2 { // two unanswered: a dead link
				l.ws.CloseNow()
				return
			}
			m = NewMessage(OpHeartbeat, Heartbeat{T: time.Now().UnixMilli(), SeqAck: c.seq.Load()})
			sent++
		}
		wctx, cancel := context.WithTimeout(ctx, interval)
		err := c.write(wctx, l.ws, m)
		cancel()
		if err != nil {
			if resel != nil && c.pending.CompareAndSwap(nil, resel) { // for the next link
				c.nudge()
			}
			l.ws.CloseNow()
			return
		}
	}
}

// await reads messages until one with op, decoded into v; others are
// handled as the running client would.
func (c *Conn) await(ctx context.Context, l *link, op int, v any) error {
	for {
		_, b, err := l.ws.Read(ctx)
		if err != nil {
			if ce := closeError(err); ce != nil {
				return ce
			}
			return fmt.Errorf("%w: waiting for op %d: %v", ErrHandshake, op, err)
		}
		m, err := ParseMessage(b)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrHandshake, err)
		}
		c.note(m)
		if m.Op == op {
			if v == nil {
				return nil
			}
			if err := m.Decode(v); err != nil {
				return fmt.Errorf("%w: %v", ErrHandshake, err)
			}
			return nil
		}
		c.other(l, m)
	}
}

// note records a message's sequence number.
func (c *Conn) note(m Message) {
	if m.Seq > c.seq.Load() {
		c.seq.Store(m.Seq)
	}
}

// other handles the messages the client does not wait for.
func (c *Conn) other(l *link, m Message) {
	switch m.Op {
	case OpHeartbeatACK:
		var a HeartbeatACK
		if m.Decode(&a) == nil {
			c.rtt.Store(int64(time.Since(time.UnixMilli(a.T))))
			c.heartbeats.Add(1)
			l.acked.Add(1)
		}
	case OpSpeaking, OpClientsConnect, OpClientDisconnect:
		if c.cfg.OnMessage != nil {
			c.cfg.OnMessage(m)
		}
	}
}

func (c *Conn) write(ctx context.Context, ws *websocket.Conn, m Message) error {
	return ws.Write(ctx, websocket.MessageText, m.Marshal())
}

// openUDP opens a UDP socket to the server and finds its address by IP
// discovery, asking up to three times.
func (c *Conn) openUDP(ctx context.Context) (*net.UDPConn, netip.AddrPort, error) {
	udp, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(c.server))
	if err != nil {
		return nil, netip.AddrPort{}, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	req := DiscoveryRequest(c.ssrc)
	buf := make([]byte, 128)
	for try := 0; try < 3 && ctx.Err() == nil; try++ {
		if _, err := udp.Write(req); err != nil {
			break
		}
		_ = udp.SetReadDeadline(time.Now().Add(time.Second))
		n, err := udp.Read(buf)
		if err != nil {
			continue
		}
		ssrc, self, err := ParseDiscoveryResponse(buf[:n])
		if err != nil || ssrc != c.ssrc {
			continue
		}
		_ = udp.SetReadDeadline(time.Time{})
		return udp, self, nil
	}
	udp.Close()
	return nil, netip.AddrPort{}, fmt.Errorf("%w: no IP discovery response from %v", ErrHandshake, c.server)
}

// run serves the control connection, resuming it when it drops, until
// Close or an end that forbids resuming.
func (c *Conn) run(l *link) {
	defer c.wg.Done()
	for {
		err := c.serve(l)
		if c.ctx.Err() != nil || c.closing.Load() {
			return
		}
		c.ws.Store(nil)
		if ce := (*CloseError)(nil); errors.As(err, &ce) && !ce.Resumable() {
			c.finish(ce)
			return
		}
		if l, err = c.resume(); err != nil {
			if !c.closing.Load() {
				c.finish(err)
			}
			return
		}
		c.ws.Store(l.ws)
		if c.closing.Load() { // Close came during the resume
			c.ws.Store(nil)
			_ = l.ws.Close(websocket.StatusNormalClosure, "")
			l.stop()
			return
		}
		c.resumes.Add(1)
	}
}

// serve reads l until it fails.
func (c *Conn) serve(l *link) error {
	defer l.stop()
	defer l.ws.CloseNow()
	for {
		_, b, err := l.ws.Read(c.ctx)
		if err != nil {
			if ce := closeError(err); ce != nil {
				return ce
			}
			return err
		}
		m, err := ParseMessage(b)
		if err != nil {
			continue // a client tolerates what it does not understand
		}
		c.note(m)
		c.other(l, m)
	}
}

// resume dials again and resumes the session, with backoff, for up to
// ResumeFor.
func (c *Conn) resume() (*link, error) {
	deadline := time.Now().Add(c.cfg.ResumeFor)
	wait := 50 * time.Millisecond
	var last error
	for time.Now().Before(deadline) && !c.closing.Load() {
		l, err := c.resumeOnce()
		if err == nil {
			return l, nil
		}
		last = err
		var ce *CloseError
		if errors.As(err, &ce) && !ce.Resumable() {
			return nil, ce // refused: no point in asking again
		}
		select {
		case <-c.ctx.Done():
			return nil, c.ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
	return nil, fmt.Errorf("voice: not resumed within %v: %w", c.cfg.ResumeFor, last)
}

func (c *Conn) resumeOnce() (*link, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.HandshakeTimeout)
	defer cancel()
	l, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	r := Resume{ServerID: c.cfg.ServerID, SessionID: c.cfg.SessionID, Token: c.cfg.Token, SeqAck: c.seq.Load()}
	if err := c.write(ctx, l.ws, NewMessage(OpResume, r)); err != nil {
		l.ws.CloseNow()
		l.stop()
		return nil, err
	}
	if err := c.await(ctx, l, OpResumed, nil); err != nil {
		l.ws.CloseNow()
		l.stop()
		return nil, err
	}
	close(l.ready)
	return l, nil
}
