package voice

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/pipeline/sink"
)

// ServerUpdate is what the main gateway's VOICE_SERVER_UPDATE event
// gives: where the guild's voice server is and the token for it. A
// later one for the same guild (a region move, a server change) is given
// to Conn.UpdateServer.
type ServerUpdate struct {
	// Endpoint is the voice server's host and port as Discord gives it
	// ("c-ams08.discord.media:443", dialled as wss://…/?v=8), or a URL
	// with its scheme (ws:// or wss://, as voicetest.Server's Endpoint).
	Endpoint string
	Token    string // the voice token
	GuildID  string // the guild: Identify's server_id
}

// StateUpdate is what the main gateway's VOICE_STATE_UPDATE event for
// the bot's own user gives.
type StateUpdate struct {
	UserID    string // the bot's user
	SessionID string // the main gateway's session, Identify's session_id
	// ChannelID is the voice channel joined: not sent, but DAVE's group
	// is the channel's. "" takes the guild's ID, right only for a server
	// whose channel is the guild, as voicetest's.
	ChannelID string
}

// Option configures a Conn.
type Option func(*config)

type config struct {
	modes        []string
	senderOpts   []sink.SenderOption
	handshake    time.Duration
	reconnectFor time.Duration
	onMessage    func(Message)
	receive      int
	decrypt      FrameDecryptor
	e2ee         E2EE
	dave         bool
	daveNow      func() time.Time
	flags        int
	queue        int
}

// WithModes sets the encryption modes the client takes, in order of
// preference (default: AES-256-GCM, then XChaCha20-Poly1305).
func WithModes(modes ...string) Option { return func(c *config) { c.modes = modes } }

// WithSenderOptions adds options to each session's RTP sender (its
// cipher is set): a header extension, DAVE's frame encryptor.
func WithSenderOptions(opts ...sink.SenderOption) Option {
	return func(c *config) { c.senderOpts = append(c.senderOpts, opts...) }
}

// WithHandshakeTimeout bounds each handshake: Connect's, a resume's, a
// new Identify's, a region move's (default 10 s).
func WithHandshakeTimeout(d time.Duration) Option { return func(c *config) { c.handshake = d } }

// WithReconnectFor bounds how long a lost connection is tried again
// (resumed, identified anew, or moved), with a backoff from 50 ms that
// doubles up to 5 s, before the Conn ends with ErrNotReconnected
// (default 30 s).
func WithReconnectFor(d time.Duration) Option { return func(c *config) { c.reconnectFor = d } }

// WithMessageHandler sets the function given the server's messages that
// say who is in the channel (Speaking, Clients Connect, Client
// Disconnect), on the control goroutine: it must not block, nor call
// Close.
func WithMessageHandler(f func(Message)) Option { return func(c *config) { c.onMessage = f } }

// WithReceive makes the Conn read the audio of the others in the
// channel: each packet decrypted (and DAVE-decrypted with
// WithFrameDecryptor), with its sender's user ID, on the channel Receive
// returns, which holds n packets; a packet that finds it full is dropped
// and counted (Stats.ReceiveDropped), never holding up the reader.
func WithReceive(n int) Option { return func(c *config) { c.receive = max(n, 1) } }

// WithFrameDecryptor sets the end-to-end decryption of the received
// frames (DAVE's); nil, the default, is none.
func WithFrameDecryptor(d FrameDecryptor) Option { return func(c *config) { c.decrypt = d } }

// WithE2EE plugs in an end-to-end layer of the caller's in place of the
// Conn's own DAVE: its version is announced in Identify and it is handed
// DAVE's messages.
func WithE2EE(e E2EE) Option { return func(c *config) { c.e2ee = e } }

// WithDAVE turns the Conn's own DAVE layer (Conn.DAVE) on, the default,
// or off. Discord requires DAVE; off, the Conn announces version 0 (a
// server that requires DAVE closes it with 4017), ignores DAVE's
// messages (counted) and sends its frames as they are, for servers of
// transport encryption alone. With DAVE on, a server that does not speak
// it describes the session with version 0 and the layer passes frames
// through both ways. A FrameDecryptor or a sink.FrameEncryptor given
// with the options takes the place of the layer's; WithE2EE replaces the
// whole layer.
func WithDAVE(on bool) Option { return func(c *config) { c.dave = on } }

// WithDAVEClock makes the Conn's own DAVE layer read the time from now
// instead of time.Now (a test's pipeline.FakeClock's Now): the
// receivers' passthrough windows (PassthroughWindow, DowngradeWindow)
// and their decryptors' key expiry follow it (dave.WithDecryptorClock).
func WithDAVEClock(now func() time.Time) Option { return func(c *config) { c.daveNow = now } }

// WithSpeakingFlags sets the flags the Conn announces (op 5) before its
// audio (default SpeakingMicrophone).
func WithSpeakingFlags(flags int) Option { return func(c *config) { c.flags = flags } }

// WithQueue sets how many packets Send keeps while it cannot send them
// (the first Speaking on its way, a UDP socket reopening, a new session
// after a region move or a new Identify; default 250, 5 s of 20 ms
// packets). Packets that find it full are dropped and counted.
func WithQueue(n int) Option { return func(c *config) { c.queue = max(n, 1) } }

// Conn is a bot's voice connection: the control WebSocket (gateway v8),
// kept alive, resumed when it drops, identified anew after 4006 or 4009,
// moved to a new endpoint by UpdateServer; and a UDP socket for the
// encrypted audio, reopened when it fails. A close code that forbids
// reconnecting ends it (Done, Err: a *CloseError naming the code).
//
// Send is one Scheduler listener's send function: called by one
// goroutine at a time, it never blocks on the network. The other methods
// are safe for concurrent use.
type Conn struct {
	cfg   config
	state StateUpdate

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the control, reader and reopen goroutines
	done   chan struct{}
	once   sync.Once
	err    error // why it ended; written before done is closed

	closing atomic.Bool // set by Close
	ws      atomic.Pointer[websocket.Conn]
	udp     atomic.Pointer[net.UDPConn] // the current session's socket
	info    atomic.Pointer[sessionInfo]
	seq     atomic.Int64 // the last sequence number received (-1: none)

	mu      sync.Mutex // guards server, moves and waiters
	server  ServerUpdate
	move    *ServerUpdate // a move asked for, not yet taken by the control goroutine
	waiters []chan error  // UpdateServer calls waiting for the move's outcome
	moved   chan struct{} // a move is waiting (capacity 1)

	// pending is a new UDP address to select, after a reopen; wake tells
	// the heartbeat goroutine of the link that is up that it, or a
	// Speaking, is to be sent.
	pending atomic.Pointer[netip.AddrPort]
	wake    chan struct{}

	sendMu    sync.Mutex    // guards the fields below; never held across a blocking call
	tx        *transport    // the session's sending side; nil between sessions
	queue     []opus.Packet // packets waiting to be sent, data copied
	dgrams    [][]byte      // datagrams built while the UDP socket was down
	udpDown   bool          // the socket failed; a reopen is under way
	announced int           // the Speaking flags in force for this session's audio (0: none)
	want      int           // the Speaking flags to send
	sentFlags int           // the Speaking flags last sent in this session
	quiet     int           // silence frames sent in a row
	last      lastSent
	closed    bool

	usersMu sync.Mutex // guards users
	users   map[uint32]string

	recv     chan Received // nil without WithReceive
	recvOnce sync.Once

	dave *DAVE // the Conn's own DAVE layer; nil when off or replaced by WithE2EE

	outMu  sync.Mutex // guards outbox
	outbox []outFrame // control frames queued by the DAVE layer, sent in order by the heartbeat goroutine

	stats counters
}

// outFrame is a control frame waiting to be sent.
type outFrame struct {
	binary bool
	b      []byte
}

// maxOutbox bounds the control frames waiting (DAVE's answers, a few per
// transition).
const maxOutbox = 256

// sessionInfo is what SSRC and Mode report.
type sessionInfo struct {
	ssrc uint32
	mode string
}

// transport is one session's sending side: its SSRC, the UDP address,
// the key, and the sender (made at its first packet, so that the RTP
// timeline continues the last session's).
type transport struct {
	ssrc   uint32
	mode   string
	server netip.AddrPort
	key    SecretKey
	udp    *net.UDPConn
	sender *sink.Sender // nil until the first packet; sendMu
}

// lastSent is the last packet sent, for the next session's sender to
// continue its sequence numbers and timestamps.
type lastSent struct {
	valid bool
	seq   uint16
	ts    uint32
	pkt   opus.Packet // without its data
	wall  time.Time
}

type counters struct {
	sent, dropped, heartbeats, rtt, resumes, reidentified, moves, reopened  atomic.Int64
	received, receiveDropped, undecryptable, decryptFailed, binary, ignored atomic.Int64
}

// Received is one audio packet of another user in the channel.
type Received struct {
	// UserID is the sender's, from its Speaking (op 5); "" when its SSRC
	// has not been announced yet.
	UserID    string
	SSRC      uint32
	Sequence  uint16
	Timestamp uint32
	Marker    bool
	// Opus is the frame, decrypted (end to end too, by DAVE or a
	// FrameDecryptor); the receiver owns it.
	Opus []byte
	// Extension is the RTP header extension's body as sent (whole
	// 32-bit words, padding included), decrypted; nil without one. The
	// receiver owns it.
	Extension []byte
}

// Connect joins the voice channel that the main gateway's two events
// describe: Hello, Identify, Ready, IP discovery, Select Protocol,
// Session Description. The Conn heartbeats from Hello on and keeps the
// session up until Close: it resumes after a drop, identifies anew after
// 4006 or 4009, and ends on a final close code. ctx bounds the handshake
// alone.
func Connect(ctx context.Context, su ServerUpdate, st StateUpdate, opts ...Option) (*Conn, error) {
	cfg := config{
		modes:        []string{ModeAES256GCM, ModeXChaCha20Poly1305},
		handshake:    10 * time.Second,
		reconnectFor: 30 * time.Second,
		flags:        SpeakingMicrophone,
		queue:        250,
		dave:         true,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if err := checkUpdate(su); err != nil {
		return nil, err
	}
	if st.UserID == "" || st.SessionID == "" {
		return nil, fmt.Errorf("%w: the state update lacks the user or session ID", ErrHandshake)
	}
	c := &Conn{
		cfg: cfg, state: st, server: su,
		done: make(chan struct{}), wake: make(chan struct{}, 1), moved: make(chan struct{}, 1),
		users: make(map[uint32]string),
	}
	if cfg.receive > 0 {
		c.recv = make(chan Received, cfg.receive)
	}
	if cfg.dave && cfg.e2ee == nil {
		channel := st.ChannelID
		if channel == "" {
			channel = su.GuildID
		}
		c.dave = newDAVE(c, Snowflake(st.UserID), Snowflake(channel), cfg.daveNow)
		c.cfg.e2ee = c.dave
		if c.cfg.decrypt == nil {
			c.cfg.decrypt = c.dave
		}
		// The caller's frame encryptor, if any, comes after and wins.
		c.cfg.senderOpts = append([]sink.SenderOption{sink.WithFrameEncryptor(c.dave)}, cfg.senderOpts...)
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.seq.Store(-1)
	hctx, cancel := context.WithTimeout(ctx, cfg.handshake)
	defer cancel()
	l, tx, err := c.identify(hctx, su)
	if err != nil {
		c.cancel()
		return nil, err
	}
	c.install(l, tx)
	c.wg.Add(1)
	go c.run(l)
	return c, nil
}

func checkUpdate(su ServerUpdate) error {
	if su.Endpoint == "" || su.GuildID == "" || su.Token == "" {
		return fmt.Errorf("%w: the server update lacks its endpoint, guild or token (a null endpoint: wait for the next update)", ErrHandshake)
	}
	return nil
}

// DAVE returns the Conn's own DAVE layer, or nil when it is off
// (WithDAVE(false)) or replaced (WithE2EE).
func (c *Conn) DAVE() *DAVE { return c.dave }

// SSRC returns the current session's SSRC (a new one after a new
// Identify or a region move).
func (c *Conn) SSRC() uint32 { return c.info.Load().ssrc }

// Mode returns the current session's encryption mode.
func (c *Conn) Mode() string { return c.info.Load().mode }

// Done is closed when the connection has ended: Close, a final close
// code, or no reconnection in time.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended, once Done is closed: a
// *CloseError for a final close code, ErrNotReconnected wrapping the
// last attempt's error, or nil after Close.
func (c *Conn) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Receive returns the channel of the others' packets (WithReceive; nil
// without it). It is closed when Close has returned.
func (c *Conn) Receive() <-chan Received { return c.recv }

// Stats are a Conn's counters.
type Stats struct {
	Sent           int64         // audio packets sent
	Dropped        int64         // packets Send dropped: its queue was full
	Heartbeats     int64         // heartbeats acknowledged
	RTT            time.Duration // the last heartbeat's round trip
	Resumes        int64         // control connections resumed
	Reidentified   int64         // sessions begun anew after 4006 or 4009
	Moves          int64         // region moves completed (UpdateServer)
	Reopened       int64         // UDP sockets reopened
	Received       int64         // packets delivered on Receive
	ReceiveDropped int64         // packets dropped: Receive's channel was full
	Undecryptable  int64         // datagrams refused: not a session's, a bad tag, a replay
	DecryptFailed  int64         // frames the FrameDecryptor refused
	Binary         int64         // binary frames received
	Ignored        int64         // messages and frames of opcodes not handled (DAVE's without an E2EE)
}

// Stats returns the connection's counters.
func (c *Conn) Stats() Stats {
	s := &c.stats
	return Stats{
		Sent: s.sent.Load(), Dropped: s.dropped.Load(), Heartbeats: s.heartbeats.Load(),
		RTT: time.Duration(s.rtt.Load()), Resumes: s.resumes.Load(), Reidentified: s.reidentified.Load(),
		Moves: s.moves.Load(), Reopened: s.reopened.Load(), Received: s.received.Load(),
		ReceiveDropped: s.receiveDropped.Load(), Undecryptable: s.undecryptable.Load(),
		DecryptFailed: s.decryptFailed.Load(), Binary: s.binary.Load(), Ignored: s.ignored.Load(),
	}
}

// endErr is what the methods return once the Conn has ended.
func (c *Conn) endErr() error {
	select {
	case <-c.done:
		if c.err != nil {
			return c.err
		}
	default:
	}
	return ErrClosed
}

// Speaking sets the speaking flags (SpeakingMicrophone and so on; 0: no
// longer speaking) and has the control goroutine send them. Send
// announces the flags of WithSpeakingFlags before audio by itself, and 0
// after the five silence frames a Player gives before going quiet, so a
// caller needs this only for other flags.
func (c *Conn) Speaking(flags int) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if c.closed {
		return c.endErr()
	}
	if flags != 0 {
		c.cfg.flags = flags
	} else {
		c.announced = 0
	}
	c.want = flags
	c.nudge()
	return nil
}

// Send numbers, encrypts and sends one Opus packet: a Scheduler
// listener's send function (sched.Add(player, conn.Send)). It never
// blocks on the network: a packet it cannot send yet (the first Speaking
// on its way, a socket reopening, a session being replaced) is copied to
// a bounded queue and sent, in order, as soon as it can be. The RTP
// sequence numbers and timestamps follow the packets' Timestamp (see
// sink.Packetizer), and continue across new sessions. It returns the
// Conn's end (Err, or ErrClosed) once it has ended.
func (c *Conn) Send(pkt opus.Packet) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if c.closed {
		return c.endErr()
	}
	if !pkt.Silence && c.announced == 0 && c.want == 0 {
		c.want = c.cfg.flags
		c.nudge()
	}
	if c.tx == nil || c.announced == 0 || c.udpDown || len(c.queue) > 0 {
		if pkt.Silence && c.announced == 0 && c.want == 0 && len(c.queue) == 0 {
			return nil // quiet already: no silence to end
		}
		c.enqueueLocked(pkt)
		return nil
	}
	c.sendLocked(pkt)
	return nil
}

func (c *Conn) enqueueLocked(pkt opus.Packet) {
	if len(c.queue) >= c.cfg.queue {
		c.stats.dropped.Add(1)
		return
	}
	pkt.Data = append([]byte(nil), pkt.Data...)
	c.queue = append(c.queue, pkt)
}

// sendLocked builds pkt's datagram and writes it, or keeps the datagram
// if the socket is down.
func (c *Conn) sendLocked(pkt opus.Packet) {
	tx := c.tx
	if tx.sender == nil {
		tx.sender = c.newSender(tx, pkt)
	}
	b, err := tx.sender.Build(pkt)
	if err != nil { // too large: a caller's packet that no session can carry
		c.stats.dropped.Add(1)
		return
	}
	c.last = lastSent{valid: true, seq: uint16(b[2])<<8 | uint16(b[3]), ts: uint32(b[4])<<24 | uint32(b[5])<<16 | uint32(b[6])<<8 | uint32(b[7]),
		pkt: opus.Packet{Timestamp: pkt.Timestamp, Samples: pkt.Samples, Silence: pkt.Silence}, wall: time.Now()}
	if pkt.Silence {
		c.quiet++
		if c.quiet == opus.SilenceFrames { // the Player's last: going quiet
			c.announced, c.want = 0, 0
			c.nudge()
		}
	} else {
		c.quiet = 0
	}
	if !c.udpDown {
		if _, err := tx.udp.Write(b); err == nil {
			c.stats.sent.Add(1)
			return
		}
		if c.closing.Load() {
			return
		}
		c.udpDown = true
		c.wg.Add(1)
		go c.reopen(tx)
	}
	if len(c.dgrams) >= c.cfg.queue {
		c.stats.dropped.Add(1)
		return
	}
	c.dgrams = append(c.dgrams, append([]byte(nil), b...))
}

// newSender returns the session's sender, numbering from where the last
// session's left off (a new SSRC, the same timeline), or from a random
// start for the first.
func (c *Conn) newSender(tx *transport, pkt opus.Packet) *sink.Sender {
	popts := []sink.PacketizerOption{sink.WithPayloadType(sink.PayloadTypeDiscord)}
	if l := c.last; l.valid {
		adv := l.pkt.Samples
		if d := pkt.Timestamp - l.pkt.Timestamp; d > adv {
			adv = d
		}
		if l.pkt.Silence && !pkt.Silence {
			if w := opus.Samples(time.Since(l.wall)); w > adv {
				adv = w
			}
		}
		popts = append(popts, sink.WithStart(l.seq+1, l.ts+uint32(adv)))
	}
	ciph, _ := sink.NewCipher(tx.mode, tx.key[:]) // the mode was checked at the handshake
	opts := append([]sink.SenderOption{sink.WithCipher(ciph)}, c.cfg.senderOpts...)
	return sink.NewSender(nil, sink.NewPacketizer(tx.ssrc, popts...), opts...)
}

// flushLocked sends what waits, in order, while it can.
func (c *Conn) flushLocked() {
	if c.tx == nil || c.udpDown {
		return
	}
	for len(c.dgrams) > 0 {
		if _, err := c.tx.udp.Write(c.dgrams[0]); err != nil {
			return // the next reopen flushes them
		}
		c.stats.sent.Add(1)
		c.dgrams = slices.Delete(c.dgrams, 0, 1)
	}
	for len(c.queue) > 0 && c.announced != 0 && !c.udpDown {
		pkt := c.queue[0]
		c.queue[0] = opus.Packet{}
		c.queue = c.queue[1:]
		c.sendLocked(pkt)
	}
	if len(c.queue) == 0 {
		c.queue = nil
	}
}

// UpdateServer follows a later VOICE_SERVER_UPDATE (a region move): the
// Conn leaves its voice server, identifies on the new endpoint with a
// new UDP socket, and sends on from where it was (the RTP sequence and
// timestamps continue; packets sent meanwhile wait in Send's queue). It
// returns once audio flows to the new server (its Session Description
// taken), or with why the move failed (the Conn goes on trying until
// WithReconnectFor's bound, then ends).
func (c *Conn) UpdateServer(ctx context.Context, su ServerUpdate) error {
	if err := checkUpdate(su); err != nil {
		return err
	}
	res := make(chan error, 1)
	c.mu.Lock()
	c.move = &su
	c.waiters = append(c.waiters, res)
	c.mu.Unlock()
	select {
	case c.moved <- struct{}{}:
	default:
	}
	if ws := c.ws.Load(); ws != nil {
		// Leave the old server as a client that leaves does (its reader,
		// the control goroutine, sees the close and takes the move).
		_ = ws.Close(websocket.StatusNormalClosure, "moving to another voice server")
	}
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return c.endErr()
	}
}

// takeMove returns the move asked for, if any.
func (c *Conn) takeMove() *ServerUpdate {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.move
	c.move = nil
	return m
}

// moveDone tells the UpdateServer calls waiting the outcome.
func (c *Conn) moveDone(err error) {
	c.mu.Lock()
	ws := c.waiters
	c.waiters = nil
	c.mu.Unlock()
	for _, w := range ws {
		w <- err
	}
}

// SendMessage sends a control message (the E2EE layer's answers, such
// as DAVE's op 23) on the control connection.
func (c *Conn) SendMessage(ctx context.Context, m Message) error {
	ws := c.ws.Load()
	if ws == nil {
		return fmt.Errorf("voice: control connection down: %w", ErrHandshake)
	}
	return ws.Write(ctx, websocket.MessageText, m.Marshal())
}

// SendBinary sends a binary frame, "op | payload" (DAVE's key package
// and commits), on the control connection.
func (c *Conn) SendBinary(ctx context.Context, op int, payload []byte) error {
	ws := c.ws.Load()
	if ws == nil {
		return fmt.Errorf("voice: control connection down: %w", ErrHandshake)
	}
	return ws.Write(ctx, websocket.MessageBinary, AppendClientBinary(nil, op, payload))
}

// DropControl closes the control connection abruptly, as a lost network
// does; the Conn resumes. For tests and demonstrations.
func (c *Conn) DropControl() {
	if ws := c.ws.Load(); ws != nil {
		ws.CloseNow()
	}
}

// DropUDP closes the UDP socket; the next Send finds it closed and
// reopens it. For tests and demonstrations.
func (c *Conn) DropUDP() {
	if u := c.udp.Load(); u != nil {
		u.Close()
	}
}

// Close leaves the channel: the control connection is closed normally,
// the UDP socket closed, and it returns once the Conn's goroutines have
// ended (Receive's channel is then closed).
func (c *Conn) Close() error {
	c.closing.Store(true)
	c.sendMu.Lock()
	c.closed = true
	c.sendMu.Unlock()
	// The close handshake first, the reader still reading (cancelling its
	// context would drop the connection instead).
	if ws := c.ws.Swap(nil); ws != nil {
		_ = ws.Close(websocket.StatusNormalClosure, "")
	}
	c.cancel()
	if u := c.udp.Load(); u != nil {
		u.Close()
	}
	c.wg.Wait()
	c.finish(nil)
	c.moveDone(ErrClosed)
	if c.recv != nil {
		c.recvOnce.Do(func() { close(c.recv) })
	}
	return nil
}

func (c *Conn) finish(err error) {
	c.once.Do(func() {
		c.err = err
		c.sendMu.Lock()
		c.closed = true
		c.sendMu.Unlock()
		close(c.done)
	})
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
// handshakes) and, once the session is on it (ready), sends what the
// Conn asks for: Select Protocol after a UDP reopen, Speaking.
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

// close ends a link that did not become the Conn's.
func (l *link) close() {
	l.ws.CloseNow()
	l.stop()
}

// gatewayURL is the URL to dial for an endpoint.
func gatewayURL(endpoint string) (string, error) {
	if !strings.Contains(endpoint, "://") {
		endpoint = "wss://" + endpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("%w: endpoint %q: %v", ErrHandshake, endpoint, err)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	q := u.Query()
	q.Set("v", fmt.Sprint(Version))
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// dial opens a control connection, reads its Hello and starts its
// heartbeat.
func (c *Conn) dial(ctx context.Context, endpoint string) (*link, error) {
	u, err := gatewayURL(endpoint)
	if err != nil {
		return nil, err
	}
	ws, _, err := websocket.Dial(ctx, u, nil)
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

// identify begins a session on su's server: Identify, Ready, IP
// discovery, Select Protocol, Session Description. The link returned is
// not ready yet (install makes it so).
func (c *Conn) identify(ctx context.Context, su ServerUpdate) (*link, *transport, error) {
	l, err := c.dial(ctx, su.Endpoint)
	if err != nil {
		return nil, nil, err
	}
	tx, err := c.handshake(ctx, l, su)
	if err != nil {
		l.close()
		return nil, nil, err
	}
	return l, tx, nil
}

func (c *Conn) handshake(ctx context.Context, l *link, su ServerUpdate) (*transport, error) {
	dave := 0
	if c.cfg.e2ee != nil {
		dave = c.cfg.e2ee.MaxProtocolVersion()
	}
	c.outMu.Lock()
	c.outbox = nil // the last session's
	c.outMu.Unlock()
	// A new session's SSRCs are told anew, from its first messages on:
	// the Speaking of those already speaking may come before Session
	// Description.
	c.usersMu.Lock()
	clear(c.users)
	c.usersMu.Unlock()
	if c.dave != nil {
		c.dave.begin()
	}
	id := Identify{ServerID: su.GuildID, UserID: c.state.UserID, SessionID: c.state.SessionID, Token: su.Token, MaxDAVEProtocolVersion: dave}
	if err := write(ctx, l.ws, NewMessage(OpIdentify, id)); err != nil {
		return nil, fmt.Errorf("%w: identify: %v", ErrHandshake, err)
	}
	var ready Ready
	if err := c.await(ctx, l, OpReady, &ready); err != nil {
		var ce *CloseError
		if dave == 0 && errors.As(err, &ce) && ce.Code == CloseE2EERequired {
			return nil, fmt.Errorf("%w (this Conn has DAVE off: WithDAVE(false) or an E2EE of version 0)", err)
		}
		return nil, err
	}
	ip, err := netip.ParseAddr(ready.IP)
	if err != nil || ready.Port <= 0 || ready.Port > 65535 {
		return nil, fmt.Errorf("%w: Ready gives the address %q port %d", ErrHandshake, ready.IP, ready.Port)
	}
	tx := &transport{ssrc: ready.SSRC, server: netip.AddrPortFrom(ip, uint16(ready.Port))}
	for _, m := range c.cfg.modes {
		if slices.Contains(ready.Modes, m) {
			tx.mode = m
			break
		}
	}
	if tx.mode == "" {
		return nil, fmt.Errorf("%w: the server offers %v", ErrNoMode, ready.Modes)
	}
	udp, self, err := openUDP(ctx, tx)
	if err != nil {
		return nil, err
	}
	if err := write(ctx, l.ws, selectProtocol(self, tx.mode)); err != nil {
		udp.Close()
		return nil, fmt.Errorf("%w: select protocol: %v", ErrHandshake, err)
	}
	var sd SessionDescription
	if err := c.await(ctx, l, OpSessionDescription, &sd); err != nil {
		udp.Close()
		return nil, err
	}
	if sd.Mode != tx.mode {
		udp.Close()
		return nil, fmt.Errorf("%w: asked for mode %s, given %s", ErrHandshake, tx.mode, sd.Mode)
	}
	if _, err := sink.NewCipher(sd.Mode, sd.SecretKey[:]); err != nil {
		udp.Close()
		return nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	tx.key, tx.udp = sd.SecretKey, udp
	if c.cfg.e2ee != nil {
		c.cfg.e2ee.SessionDescribed(sd.DAVEProtocolVersion)
	}
	return tx, nil
}

// install makes tx the session the Conn sends on and l its control
// connection: the old session's socket is closed, what waits is sent on
// the new one once its Speaking has gone, and the new socket's reader
// starts.
func (c *Conn) install(l *link, tx *transport) {
	c.pending.Store(nil) // the new session selected its own address
	c.sendMu.Lock()
	old := c.tx
	c.tx, c.udpDown = tx, false
	c.announced, c.sentFlags, c.quiet = 0, 0, 0
	if n := len(c.dgrams); n > 0 { // sealed for the old session
		c.stats.dropped.Add(int64(n))
		c.dgrams = nil
	}
	c.want = 0
	for _, p := range c.queue {
		if !p.Silence {
			c.want = c.cfg.flags
			break
		}
	}
	c.udp.Store(tx.udp)
	c.sendMu.Unlock()
	if old != nil {
		old.udp.Close()
	}
	c.info.Store(&sessionInfo{ssrc: tx.ssrc, mode: tx.mode})
	if c.recv != nil {
		c.wg.Add(1)
		go c.read(tx, tx.udp)
	}
	c.ws.Store(l.ws)
	close(l.ready)
}

// beat heartbeats on l every interval and, once l is ready, sends what
// the Conn asks for (Select Protocol after a UDP reopen, Speaking), until
// ctx ends or the link fails. Liveness (two heartbeats unanswered) is
// judged once l is ready, when a reader takes every acknowledgement.
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
		var spoke *transport
		var out *outFrame
		flags := 0
		select {
		case <-ctx.Done():
			return
		case <-ready:
			ready, wake = nil, c.wake
			sent = l.acked.Load()
			c.nudge() // what was asked before this link
			continue
		case <-wake:
			resel = c.pending.Swap(nil)
			if resel == nil {
				out = c.takeOut() // DAVE's answers before a Speaking
			}
			switch {
			case resel != nil:
				m = selectProtocol(*resel, c.Mode())
			case out != nil:
			default:
				if flags, spoke = c.takeSpeaking(); spoke == nil {
					continue
				}
				m = NewMessage(OpSpeaking, Speaking{Speaking: flags, SSRC: spoke.ssrc})
			}
		case <-t.C:
			if ready == nil && sent-l.acked.Load() >= 2 { // two unanswered: a dead link
				l.ws.CloseNow()
				return
			}
			m = NewMessage(OpHeartbeat, Heartbeat{T: time.Now().UnixMilli(), SeqAck: c.seq.Load()})
			sent++
		}
		wctx, cancel := context.WithTimeout(ctx, interval)
		var err error
		switch {
		case out == nil:
			err = write(wctx, l.ws, m)
		case out.binary:
			err = l.ws.Write(wctx, websocket.MessageBinary, out.b)
		default:
			err = l.ws.Write(wctx, websocket.MessageText, out.b)
		}
		cancel()
		if err != nil {
			if resel != nil && c.pending.CompareAndSwap(nil, resel) { // for the next link
				c.nudge()
			}
			if out != nil { // for the next link of this session
				c.unshiftOut(*out)
			}
			l.ws.CloseNow()
			return
		}
		if resel != nil || spoke != nil || out != nil {
			if spoke != nil {
				c.spoke(spoke, flags)
			}
			c.nudge() // more may be waiting
		}
	}
}

// queueControl queues a control frame (a text message's JSON, or a
// client binary frame) for the heartbeat goroutine to send, in order,
// on the session's link; the DAVE layer's answers go this way, so that
// its handlers never wait on the network.
func (c *Conn) queueControl(binary bool, b []byte) {
	c.outMu.Lock()
	if len(c.outbox) < maxOutbox {
		c.outbox = append(c.outbox, outFrame{binary: binary, b: b})
	}
	c.outMu.Unlock()
	c.nudge()
}

// takeOut returns the first control frame queued, if any.
func (c *Conn) takeOut() *outFrame {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if len(c.outbox) == 0 {
		return nil
	}
	f := c.outbox[0]
	c.outbox = slices.Delete(c.outbox, 0, 1)
	return &f
}

// unshiftOut puts back a frame that could not be sent, first in line.
func (c *Conn) unshiftOut(f outFrame) {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	c.outbox = slices.Insert(c.outbox, 0, f)
}

// takeSpeaking returns the Speaking flags to send, and the session's
// transport, when they differ from what was sent.
func (c *Conn) takeSpeaking() (int, *transport) {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if c.tx == nil || c.want == c.sentFlags {
		return 0, nil
	}
	return c.want, c.tx
}

// spoke records that flags were sent for tx's session: audio may follow.
func (c *Conn) spoke(tx *transport, flags int) {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if c.tx != tx {
		return
	}
	c.sentFlags = flags
	if flags != 0 && c.want == flags {
		c.announced = flags
		c.flushLocked()
	}
}

// await reads messages until one with op, decoded into v (unless nil);
// others are handled as the running client would.
func (c *Conn) await(ctx context.Context, l *link, op int, v any) error {
	for {
		typ, b, err := l.ws.Read(ctx)
		if err != nil {
			if ce := closeError(err); ce != nil {
				return ce
			}
			return fmt.Errorf("%w: waiting for op %d: %v", ErrHandshake, op, err)
		}
		if typ == websocket.MessageBinary {
			c.binaryFrame(b)
			continue
		}
		m, err := ParseMessage(b)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrHandshake, err)
		}
		c.note(m.Seq)
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
func (c *Conn) note(seq int64) {
	if seq > c.seq.Load() {
		c.seq.Store(seq)
	}
}

// binaryFrame handles a binary frame: counted in seq_ack, handed to the
// E2EE layer.
func (c *Conn) binaryFrame(b []byte) {
	seq, op, payload, err := ParseServerBinary(b)
	if err != nil {
		c.stats.ignored.Add(1)
		return
	}
	c.stats.binary.Add(1)
	c.note(int64(seq))
	if c.cfg.e2ee == nil || !IsDAVE(op) {
		c.stats.ignored.Add(1)
		return
	}
	c.cfg.e2ee.HandleBinary(op, payload)
}

// other handles the messages the client does not wait for.
func (c *Conn) other(l *link, m Message) {
	switch {
	case m.Op == OpHeartbeatACK:
		var a HeartbeatACK
		if m.Decode(&a) == nil {
			c.stats.rtt.Store(int64(time.Since(time.UnixMilli(a.T))))
			c.stats.heartbeats.Add(1)
			l.acked.Add(1)
		}
	case m.Op == OpSpeaking || m.Op == OpClientsConnect || m.Op == OpClientDisconnect:
		c.channelMessage(m)
		if c.cfg.onMessage != nil {
			c.cfg.onMessage(m)
		}
		if c.cfg.e2ee != nil && m.Op != OpSpeaking {
			c.cfg.e2ee.HandleMessage(m)
		}
	case IsDAVE(m.Op) && c.cfg.e2ee != nil:
		c.cfg.e2ee.HandleMessage(m)
	default:
		c.stats.ignored.Add(1) // Discord's clients ignore what they do not know
	}
}

// channelMessage keeps the SSRC → user map from Speaking and Client
// Disconnect.
func (c *Conn) channelMessage(m Message) {
	switch m.Op {
	case OpSpeaking:
		var sp Speaking
		if m.Decode(&sp) == nil && sp.UserID != "" {
			c.usersMu.Lock()
			known := c.users[sp.SSRC] == sp.UserID
			c.users[sp.SSRC] = sp.UserID
			c.usersMu.Unlock()
			if u := c.udp.Load(); !known && u != nil && c.recv != nil {
				_ = u.SetReadDeadline(time.Now()) // wake the reader: it may hold this user's packets
			}
		}
	case OpClientDisconnect:
		var cd ClientDisconnect
		if m.Decode(&cd) == nil {
			c.usersMu.Lock()
			maps := c.users
			for ssrc, u := range maps {
				if u == cd.UserID {
					delete(maps, ssrc)
				}
			}
			c.usersMu.Unlock()
		}
	}
}

func (c *Conn) userOf(ssrc uint32) string {
	c.usersMu.Lock()
	defer c.usersMu.Unlock()
	return c.users[ssrc]
}

func write(ctx context.Context, ws *websocket.Conn, m Message) error {
	return ws.Write(ctx, websocket.MessageText, m.Marshal())
}

func selectProtocol(self netip.AddrPort, mode string) Message {
	return NewMessage(OpSelectProtocol, SelectProtocol{Protocol: "udp", Data: SelectProtocolData{Address: self.Addr().String(), Port: int(self.Port()), Mode: mode}})
}

// closeError returns err as a *CloseError when it is a WebSocket close
// with a status code, else nil.
func closeError(err error) *CloseError {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return &CloseError{Code: int(ce.Code), Reason: ce.Reason}
	}
	return nil
}

// openUDP opens a UDP socket to tx's server and finds its own address
// by IP discovery, asking up to three times.
func openUDP(ctx context.Context, tx *transport) (*net.UDPConn, netip.AddrPort, error) {
	udp, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(tx.server))
	if err != nil {
		return nil, netip.AddrPort{}, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	req := DiscoveryRequest(tx.ssrc)
	buf := make([]byte, 128)
	for try := 0; try < 3 && ctx.Err() == nil; try++ {
		if _, err := udp.Write(req); err != nil {
			break
		}
		_ = udp.SetReadDeadline(time.Now().Add(time.Second))
		for {
			n, err := udp.Read(buf)
			if err != nil {
				break
			}
			ssrc, self, err := ParseDiscoveryResponse(buf[:n])
			if err != nil || ssrc != tx.ssrc {
				continue // audio relayed to the new socket already, or a stray
			}
			_ = udp.SetReadDeadline(time.Time{})
			return udp, self, nil
		}
	}
	udp.Close()
	return nil, netip.AddrPort{}, fmt.Errorf("%w: no IP discovery response from %v", ErrHandshake, tx.server)
}

// reopen replaces tx's failed socket, with backoff, and sends what
// waits; the heartbeat goroutine then selects the new address.
func (c *Conn) reopen(tx *transport) {
	defer c.wg.Done()
	deadline := time.Now().Add(c.cfg.reconnectFor)
	wait := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(c.ctx, c.cfg.handshake)
		udp, self, err := openUDP(ctx, tx)
		cancel()
		if err == nil {
			c.sendMu.Lock()
			if c.tx != tx || c.closed { // replaced or closed meanwhile
				c.sendMu.Unlock()
				udp.Close()
				return
			}
			tx.udp = udp
			c.udp.Store(udp)
			c.udpDown = false
			c.stats.reopened.Add(1)
			c.flushLocked()
			c.sendMu.Unlock()
			if c.recv != nil {
				c.wg.Add(1)
				go c.read(tx, udp)
			}
			c.pending.Store(&self) // a newer one replaces one not sent yet
			c.nudge()
			return
		}
		if time.Now().After(deadline) {
			c.finish(fmt.Errorf("%w: the UDP socket: %w", ErrNotReconnected, err))
			return
		}
		select {
		case <-c.ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// run serves the control connection and, when it ends, resumes it,
// identifies anew or follows a move, until Close or a final close.
func (c *Conn) run(l *link) {
	defer c.wg.Done()
	for {
		err := c.serve(l)
		c.ws.Store(nil)
		if c.closing.Load() {
			return
		}
		if l, err = c.reconnect(err); err != nil {
			if !c.closing.Load() {
				c.finish(err)
				c.moveDone(err)
			}
			return
		}
		if c.closing.Load() { // Close came during the handshake
			c.ws.Store(nil)
			_ = l.ws.Close(websocket.StatusNormalClosure, "")
			l.stop()
			return
		}
	}
}

// serve reads l until it fails.
func (c *Conn) serve(l *link) error {
	defer l.stop()
	defer l.ws.CloseNow()
	for {
		typ, b, err := l.ws.Read(c.ctx)
		if err != nil {
			if ce := closeError(err); ce != nil {
				return ce
			}
			return err
		}
		if typ == websocket.MessageBinary {
			c.binaryFrame(b)
			continue
		}
		m, err := ParseMessage(b)
		if err != nil {
			continue // a client tolerates what it does not understand
		}
		c.note(m.Seq)
		c.other(l, m)
	}
}

// reconnect brings the session back after its link ended with why: a
// move asked for is followed (a new Identify on the new endpoint); a
// drop is resumed, and a session the server no longer has (4006, 4009)
// is identified anew, with the same session ID, as Discord asks; a
// final close ends the Conn. It tries with backoff for up to
// WithReconnectFor.
func (c *Conn) reconnect(why error) (*link, error) {
	deadline := time.Now().Add(c.cfg.reconnectFor)
	wait := 50 * time.Millisecond
	anew := false // identify anew rather than resume
	var target *ServerUpdate
	err := why
	for {
		if mv := c.takeMove(); mv != nil {
			target, anew = mv, true
		}
		if target == nil {
			var ce *CloseError
			if errors.As(err, &ce) {
				switch {
				case !ce.Reconnect():
					return nil, ce
				case !ce.Resumable():
					anew = true
				}
			}
		}
		var l *link
		if target == nil && !anew {
			if l, err = c.resume(); err == nil {
				c.stats.resumes.Add(1)
				return l, nil
			}
			var ce *CloseError
			if errors.As(err, &ce) && ce.Reconnect() && !ce.Resumable() {
				anew = true // refused: the session is gone
				continue
			}
		} else {
			if l, err = c.anew(target); err == nil {
				if target != nil {
					c.stats.moves.Add(1)
					c.moveDone(nil)
				} else {
					c.stats.reidentified.Add(1)
				}
				return l, nil
			}
		}
		var ce *CloseError
		if errors.As(err, &ce) && !ce.Reconnect() {
			return nil, ce // refused for good
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w (%v): %w", ErrNotReconnected, c.cfg.reconnectFor, err)
		}
		select {
		case <-c.ctx.Done():
			return nil, c.ctx.Err()
		case <-c.moved:
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// anew identifies anew, on target's server when it is a move, else on
// the current one, and installs the new session.
func (c *Conn) anew(target *ServerUpdate) (*link, error) {
	c.mu.Lock()
	su := c.server
	c.mu.Unlock()
	if target != nil {
		su = *target
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.handshake)
	defer cancel()
	c.seq.Store(-1) // a new session: the server numbers from the start
	l, tx, err := c.identify(ctx, su)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.server = su
	c.mu.Unlock()
	c.install(l, tx)
	return l, nil
}

// resume dials the current server again and resumes the session.
func (c *Conn) resume() (*link, error) {
	c.mu.Lock()
	su := c.server
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.handshake)
	defer cancel()
	l, err := c.dial(ctx, su.Endpoint)
	if err != nil {
		return nil, err
	}
	r := Resume{ServerID: su.GuildID, SessionID: c.state.SessionID, Token: su.Token, SeqAck: c.seq.Load()}
	if err := write(ctx, l.ws, NewMessage(OpResume, r)); err != nil {
		l.close()
		return nil, fmt.Errorf("%w: resume: %v", ErrHandshake, err)
	}
	if err := c.await(ctx, l, OpResumed, nil); err != nil {
		l.close()
		return nil, err
	}
	c.ws.Store(l.ws)
	close(l.ready)
	return l, nil
}
