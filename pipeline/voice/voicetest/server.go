package voicetest

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/streamcatcher/streamcatcher/pipeline/sink"
	"github.com/streamcatcher/streamcatcher/pipeline/voice"
)

// Server is a voice server in the style of Discord's, on loopback: a
// WebSocket control channel after gateway version 8 (Endpoint; ServeHTTP
// serves it on another mux too), and one UDP socket that answers IP
// discovery and takes every session's encrypted RTP. Each session is a
// user in a voice channel (Identify's server_id); the server hands
// every packet it authenticates to the packet handler and relays it,
// sealed anew under each one's key, to the others in the channel, as
// Discord does. It is safe for concurrent use.
type Server struct {
	cfg  serverConfig
	udp  *net.UDPConn
	addr netip.AddrPort // the UDP address given in Ready
	http *httptest.Server

	mu       sync.Mutex // guards the fields below
	sessions map[string]*Session
	channels map[string]map[*Session]struct{} // by server ID
	conns    map[*conn]struct{}
	closed   bool

	bySSRC sync.Map // uint32 → *Session; read per packet by the UDP goroutine

	// Ended sessions whose SSRC the UDP goroutine forgets once it reads
	// the fence (a datagram to itself) sent after their end; see forget.
	fenceMu    sync.Mutex
	forgetting []fenced
	fences     uint64
	nextSSRC   atomic.Uint32
	wg         sync.WaitGroup
	stats      serverCounters

	// The UDP goroutine's buffers, for relaying.
	relayTo       []*Session
	plain, sealed []byte
}

type serverConfig struct {
	modes     []string
	heartbeat time.Duration
	resume    time.Duration
	dave      bool
	hook      DAVE
	udpConn   *net.UDPConn
	auth      func(voice.Identify) error
	onPacket  func(*Session, sink.Opened, time.Time)
	onSession func(*Session, error)
	rate      int
}

// Option configures a Server.
type Option func(*serverConfig)

// WithModes sets the encryption modes offered, in order of preference
// (default: AES-256-GCM, then XChaCha20-Poly1305, as Discord offers).
func WithModes(modes ...string) Option {
	return func(c *serverConfig) { c.modes = modes }
}

// WithHeartbeatInterval sets the interval given in Hello (default
// 13.75 s, Discord's). A connection with no heartbeat for 1.5 intervals is
// closed with 4009.
func WithHeartbeatInterval(d time.Duration) Option {
	return func(c *serverConfig) { c.heartbeat = d }
}

// WithResumeWindow sets how long a session whose connection dropped waits
// to be resumed before it ends (default 30 s).
func WithResumeWindow(d time.Duration) Option {
	return func(c *serverConfig) { c.resume = d }
}

// WithRequireDAVE makes the server require end-to-end encryption, as
// Discord does: an Identify without a DAVE version
// (max_dave_protocol_version 0) is closed with 4017. Without a DAVE
// layer of the caller's (WithDAVE), a DAVEServer with the defaults plays
// Discord's part.
func WithRequireDAVE() Option { return func(c *serverConfig) { c.dave = true } }

// WithDAVE installs a DAVE layer (the MLS external sender and delivery
// service; DAVEServer is voicetest's own, WithDAVEServer): a client that
// announces DAVE is then described with dave_protocol_version 1 and
// handed to the hook. Without one (and without WithRequireDAVE), such a
// client is described with version 0, transport encryption alone. The
// Server's Close closes a hook that is an io.Closer.
func WithDAVE(h DAVE) Option { return func(c *serverConfig) { c.hook = h } }

// WithUDPConn makes the server take RTP on udp (default: a new socket on
// 127.0.0.1), whose local address is what Ready announces, so it must be
// one clients can reach. The server closes it at Close.
func WithUDPConn(udp *net.UDPConn) Option { return func(c *serverConfig) { c.udpConn = udp } }

// WithAuthenticate checks each Identify and Resume: a non-nil error closes
// the connection with 4004, or with the code of a *CloseError it is.
func WithAuthenticate(f func(voice.Identify) error) Option {
	return func(c *serverConfig) { c.auth = f }
}

// WithPacketHandler sets the function given each authenticated audio
// packet, with its arrival time. It runs on the server's UDP goroutine:
// the packet's slices are valid only during the call, and a slow handler
// delays every session's packets.
func WithPacketHandler(f func(s *Session, p sink.Opened, at time.Time)) Option {
	return func(c *serverConfig) { c.onPacket = f }
}

// WithSessionHandler sets the function called when a session ends, with
// why (nil when its client left).
func WithSessionHandler(f func(s *Session, err error)) Option {
	return func(c *serverConfig) { c.onSession = f }
}

// WithRateLimit sets how many control messages a connection may send per
// minute, after a burst of as many (default 120); more are closed with
// 4021.
func WithRateLimit(perMinute int) Option {
	return func(c *serverConfig) { c.rate = perMinute }
}

// NewServer starts a server on loopback: its gateway at Endpoint, its UDP
// socket at UDPAddr. It panics if it cannot listen or an option is
// invalid (a mode it does not know, an unreachable UDP address), as
// httptest.NewServer does. Close stops it.
func NewServer(opts ...Option) *Server {
	cfg := serverConfig{
		modes:     []string{voice.ModeAES256GCM, voice.ModeXChaCha20Poly1305},
		heartbeat: 13750 * time.Millisecond,
		resume:    30 * time.Second,
		rate:      120,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.dave && cfg.hook == nil {
		cfg.hook = NewDAVEServer()
	}
	for _, m := range cfg.modes {
		if _, err := sink.NewCipher(m, make([]byte, 32)); err != nil {
			panic(fmt.Sprintf("voicetest: mode %q: %v", m, err))
		}
	}
	udp := cfg.udpConn
	if udp == nil {
		var err error
		if udp, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
			panic(fmt.Sprintf("voicetest: listen UDP: %v", err))
		}
	}
	addr := udp.LocalAddr().(*net.UDPAddr).AddrPort()
	if !addr.Addr().IsValid() || addr.Addr().IsUnspecified() {
		panic(fmt.Sprintf("voicetest: the UDP socket's address %v is not one clients can reach", addr))
	}
	s := &Server{
		cfg:      cfg,
		udp:      udp,
		addr:     netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port()),
		sessions: make(map[string]*Session),
		channels: make(map[string]map[*Session]struct{}),
		conns:    make(map[*conn]struct{}),
	}
	_ = udp.SetReadBuffer(4 << 20)
	s.wg.Add(1)
	go s.readUDP()
	s.http = httptest.NewServer(s)
	return s
}

// UDPAddr returns the address of the server's UDP socket.
func (s *Server) UDPAddr() netip.AddrPort { return s.addr }

// Endpoint returns the gateway's URL (ws://127.0.0.1:port), for a
// voice.ServerUpdate.
func (s *Server) Endpoint() string { return "ws" + strings.TrimPrefix(s.http.URL, "http") }

// Updates returns the two events Discord's main gateway would give a
// bot (user) joining a voice channel of guild on this server: the
// endpoint and a token ("token-" + user), a session ID
// ("session-" + guild + "-" + user), and the channel, which is the
// guild's (a voicetest guild has one voice channel, whose ID is the
// guild's: DAVE's group is voice.Snowflake(guild)). A server without WithAuthenticate
// takes any token.
func (s *Server) Updates(guild, user string) (voice.ServerUpdate, voice.StateUpdate) {
	return voice.ServerUpdate{Endpoint: s.Endpoint(), Token: "token-" + user, GuildID: guild},
		voice.StateUpdate{UserID: user, SessionID: "session-" + guild + "-" + user, ChannelID: guild}
}

// DAVE returns the server's DAVEServer (WithRequireDAVE, WithDAVEServer,
// or one given to WithDAVE), or nil when its DAVE layer is another or
// none.
func (s *Server) DAVE() *DAVEServer {
	x, _ := s.cfg.hook.(*DAVEServer)
	return x
}

// ServerStats are a Server's counters.
type ServerStats struct {
	Sessions  int   // open now
	Waiting   int   // of those, the sessions whose connection is gone, waiting for a resume
	Opened    int64 // sessions identified
	Resumed   int64 // resumes accepted
	Closed    map[int]int64
	Packets   int64 // audio packets authenticated
	Rejected  int64 // datagrams that failed: unknown SSRC, no key yet, bad tag, replay, malformed
	Discovery int64 // IP discovery requests answered
	// KeepAlives counts the 8-byte datagrams discord.js sends every 5 s
	// to keep its NAT binding open (a little-endian counter, then zeros).
	KeepAlives int64
	Selected   int64 // Select Protocol messages taken (again after a UDP reopen)
	// Unannounced counts packets from a session that had not sent Speaking.
	Unannounced int64
	// Relayed counts the packets relayed to the others in a channel.
	Relayed int64
}

type serverCounters struct {
	opened, resumed, packets, rejected, discovery, keepAlives, unannounced, selected, relayed atomic.Int64

	mu     sync.Mutex // guards closed
	closed map[int]int64
}

func (c *serverCounters) close(code int) {
	c.mu.Lock()
	if c.closed == nil {
		c.closed = make(map[int]int64)
	}
	c.closed[code]++
	c.mu.Unlock()
}

// Stats returns the server's counters.
func (s *Server) Stats() ServerStats {
	s.mu.Lock()
	n, waiting := len(s.sessions), 0
	for _, ss := range s.sessions {
		ss.mu.Lock()
		if ss.conn == nil && !ss.ended {
			waiting++
		}
		ss.mu.Unlock()
	}
	s.mu.Unlock()
	st := ServerStats{
		Sessions:    n,
		Waiting:     waiting,
		Opened:      s.stats.opened.Load(),
		Resumed:     s.stats.resumed.Load(),
		Packets:     s.stats.packets.Load(),
		Rejected:    s.stats.rejected.Load(),
		Discovery:   s.stats.discovery.Load(),
		KeepAlives:  s.stats.keepAlives.Load(),
		Selected:    s.stats.selected.Load(),
		Unannounced: s.stats.unannounced.Load(),
		Relayed:     s.stats.relayed.Load(),
		Closed:      make(map[int]int64),
	}
	s.stats.mu.Lock()
	for k, v := range s.stats.closed {
		st.Closed[k] = v
	}
	s.stats.mu.Unlock()
	return st
}

// Close closes every connection with 4022 (call terminated), ends every
// session, closes the UDP socket and waits for the server's goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	sessions := make([]*Session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		sessions = append(sessions, ss)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.close(voice.CloseCallTerminated, "the server is shutting down")
		}()
	}
	wg.Wait()
	for _, ss := range sessions {
		s.end(ss, &voice.CloseError{Code: voice.CloseCallTerminated})
	}
	err := s.udp.Close()
	s.wg.Wait()
	s.http.Close()
	if c, ok := s.cfg.hook.(io.Closer); ok {
		_ = c.Close()
	}
	return err
}

// Session returns the session of that ID, or nil.
func (s *Server) Session(id string) *Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[id]
}

// Disconnect removes the session from its channel: its connection is
// closed with 4014, after which the client must not reconnect.
func (s *Server) Disconnect(sessionID string) bool {
	return s.Kick(sessionID, voice.CloseDisconnected, "removed from the channel")
}

// Kick ends the session and closes its connection with code and reason,
// as Discord does with a session it drops (after 4006 or 4009 the client
// may identify anew; after 4004, 4014 or 4022 it must not come back). It
// reports whether the session was there.
func (s *Server) Kick(sessionID string, code int, reason string) bool {
	s.mu.Lock()
	ss := s.sessions[sessionID]
	s.mu.Unlock()
	if ss == nil {
		return false
	}
	if c := s.end(ss, &voice.CloseError{Code: code, Reason: reason}); c != nil {
		go c.close(code, reason)
	}
	return true
}

// Session is one user in a voice channel, across the connections that
// resume it. Its methods are safe for concurrent use.
type Session struct {
	srv       *Server
	ID        string // Identify's session_id
	ServerID  string // the guild: the voice channel's server
	UserID    string
	SSRC      uint32
	token     string
	connected time.Time

	speaking atomic.Int32
	udp      atomic.Pointer[udpState]       // set by Select Protocol
	addr     atomic.Pointer[netip.AddrPort] // the client's UDP address: its discovery's, its packets'
	// relayCounter numbers what is relayed to the session; the UDP
	// goroutine's alone.
	relayCounter uint32

	mu      sync.Mutex // guards the fields below
	conn    *conn
	out     chan frame // the connection's writer's queue; nil while disconnected
	seq     int64      // the last sequence number sent
	backlog []queued   // sequenced messages not yet acknowledged, for a resume
	key     *voice.SecretKey
	mode    string
	dave    int                       // the DAVE version described (0: none)
	joined  bool                      // handed to the DAVE hook
	recv    map[string]*sink.Receiver // by mode, made on its first selection and kept
	timer   *time.Timer               // ends the session if no resume comes
	ended   bool
}

// udpState is what the UDP goroutine needs of a session: the receiver of
// the mode selected, used by that goroutine only, and that mode. Packets
// are taken from any source address, as the SSRC and the key say whose
// they are.
type udpState struct {
	recv *sink.Receiver
	seal *sink.Cipher // seals what is relayed to the session
	mode string
}

// queued is a sequenced message kept for a resume: JSON, or a binary
// frame whose payload is m.D.
type queued struct {
	m   voice.Message
	bin bool
}

// frame is one WebSocket message for a connection's writer.
type frame struct {
	b   []byte
	bin bool
}

func (q queued) frame() frame {
	if q.bin {
		return frame{b: voice.AppendServerBinary(nil, uint16(q.m.Seq), q.m.Op, q.m.D), bin: true}
	}
	return frame{b: q.m.Marshal()}
}

// backlogSize bounds the messages kept for a resume; a client further
// behind must identify anew.
const backlogSize = 256

// Mode returns the encryption mode selected, or "" before Select Protocol.
func (ss *Session) Mode() string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.mode
}

func (ss *Session) isEnded() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.ended
}

// Speaking returns the speaking flags the session last sent.
func (ss *Session) Speaking() int { return int(ss.speaking.Load()) }

// Connected returns when the session identified.
func (ss *Session) Connected() time.Time { return ss.connected }

// send queues m on the session's connection; sequenced messages are
// numbered and kept for a resume. It never blocks: a connection whose
// queue is full is dropped (it may resume).
func (ss *Session) send(m voice.Message, sequenced bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.sendLocked(queued{m: m}, sequenced)
}

// Send sends m to the session's client, sequenced and kept for a
// resume, as the server's own messages are (the DAVE hook's JSON ops 21,
// 22, 24). It never blocks.
func (ss *Session) Send(m voice.Message) { ss.send(m, true) }

// SendBinary sends the session's client a binary frame, "seq | op |
// payload", sequenced and kept for a resume (the DAVE hook's MLS
// messages, ops 25, 27, 29, 30). It never blocks.
func (ss *Session) SendBinary(op int, payload []byte) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.sendLocked(queued{m: voice.Message{Op: op, D: append([]byte(nil), payload...)}, bin: true}, true)
}

func (ss *Session) sendLocked(q queued, sequenced bool) {
	if ss.ended {
		return
	}
	if sequenced {
		ss.seq++
		q.m.Seq = ss.seq
		ss.backlog = append(ss.backlog, q)
		if len(ss.backlog) > backlogSize {
			ss.backlog = slices.Delete(ss.backlog, 0, len(ss.backlog)-backlogSize)
		}
	}
	if ss.out == nil {
		return
	}
	select {
	case ss.out <- q.frame():
	default:
		go ss.conn.ws.CloseNow() // too far behind: let it resume
		ss.out = nil
	}
}

// ack drops the backlog up to seq.
func (ss *Session) ack(seq int64) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	i := 0
	for i < len(ss.backlog) && ss.backlog[i].m.Seq <= seq {
		i++
	}
	ss.backlog = slices.Delete(ss.backlog, 0, i)
}

// conn is one WebSocket connection's state, owned by its ServeHTTP but
// for close and sent.
type conn struct {
	s       *Server
	ws      *websocket.Conn
	sent    atomic.Int32 // the close code the server sent, once it has
	out     chan frame
	session *Session
	version int
	watch   *time.Timer // closes with 4009 when no heartbeat comes
	tokens  float64
	last    time.Time
}

// ServeHTTP upgrades the request to the voice gateway's WebSocket and
// serves it until it closes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	version := voice.Version
	if v := r.URL.Query().Get("v"); v != "" { // discordgo sends none
		n, err := strconv.Atoi(v)
		if err != nil {
			http.Error(w, "voicetest: bad gateway version "+strconv.Quote(v), http.StatusBadRequest)
			return
		}
		version = n
	}
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept has answered
	}
	ws.SetReadLimit(voice.MaxMessage)
	c := &conn{s: s, ws: ws, out: make(chan frame, backlogSize+64), version: version, tokens: float64(s.cfg.rate), last: time.Now()}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.close(voice.CloseCallTerminated, "the server is shutting down")
		return
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.wg.Done()
	}()

	if version < voice.MinVersion {
		c.close(voice.CloseBadRequest, fmt.Sprintf("gateway version %d is no longer supported", version))
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop, writerDone := make(chan struct{}), make(chan struct{})
	go c.write(stop, writerDone)
	c.watch = time.AfterFunc(s.cfg.heartbeat*3/2, func() {
		c.close(voice.CloseSessionTimeout, "no heartbeat in time")
	})
	defer c.watch.Stop()

	c.out <- frame{b: voice.NewMessage(voice.OpHello, voice.Hello{HeartbeatInterval: float64(s.cfg.heartbeat) / float64(time.Millisecond)}).Marshal()}
	code, reason, err := c.serve(ctx)
	close(stop) // the writer sends what is queued, then returns
	<-writerDone
	if code != 0 {
		c.close(code, reason)
	} else {
		ws.CloseNow()
	}
	if sent := c.sent.Load(); sent != 0 {
		// The server closed it (a timeout, a refusal, the end): its code,
		// not the read error that followed, says what becomes of the
		// session.
		err = &voice.CloseError{Code: int(sent), Reason: reason}
	}
	if ss := c.session; ss != nil {
		ss.detach(c, err)
	}
}

// close closes the connection with code, once, counted.
func (c *conn) close(code int, reason string) {
	if !c.sent.CompareAndSwap(0, int32(code)) {
		return
	}
	c.s.stats.close(code)
	_ = c.ws.Close(websocket.StatusCode(code), reason)
}

// write sends the connection's queue until stop is closed, and then what
// is still queued, so that a close code follows the messages before it.
func (c *conn) write(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	send := func(f frame) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		typ := websocket.MessageText
		if f.bin {
			typ = websocket.MessageBinary
		}
		if err := c.ws.Write(ctx, typ, f.b); err != nil {
			c.ws.CloseNow()
			return false
		}
		return true
	}
	for {
		select {
		case b := <-c.out:
			if !send(b) {
				return
			}
		case <-stop:
			for {
				select {
				case b := <-c.out:
					if !send(b) {
						return
					}
				default:
					return
				}
			}
		}
	}
}

// errClientLeft ends a session whose client closed normally.
var errClientLeft = errors.New("client left")

// serve reads the connection's messages until it ends, returning the
// close code to send (0 for none: the client closed or vanished) and the
// error that ended it.
func (c *conn) serve(ctx context.Context) (code int, reason string, err error) {
	for {
		typ, b, err := c.ws.Read(ctx)
		if err != nil {
			if ce := closeError(err); ce != nil && (ce.Code == int(websocket.StatusNormalClosure) || ce.Code == int(websocket.StatusGoingAway)) {
				return 0, "", errClientLeft
			}
			return 0, "", err // lost: the session waits for a resume
		}
		if !c.allow() {
			return voice.CloseRateLimited, "too many messages", &voice.CloseError{Code: voice.CloseRateLimited}
		}
		if typ == websocket.MessageBinary {
			if code, reason := c.binary(b); code != 0 {
				return code, reason, &voice.CloseError{Code: code, Reason: reason}
			}
			continue
		}
		m, err := voice.ParseMessage(b)
		if err != nil {
			return voice.CloseDecodeError, "malformed message", err
		}
		if code, reason := c.handle(m); code != 0 {
			return code, reason, &voice.CloseError{Code: code, Reason: reason}
		}
	}
}

// binary hands a client's binary frame to the DAVE hook, returning a
// close code when it ends the connection: 4003 before Identify, 4001
// from a session without DAVE (no hook, or a client that announced none:
// the ops are unknown to it).
func (c *conn) binary(b []byte) (code int, reason string) {
	ss := c.session
	if ss == nil {
		return voice.CloseNotAuthenticated, "identify first"
	}
	op, payload, err := voice.ParseClientBinary(b)
	if err != nil {
		return voice.CloseDecodeError, err.Error()
	}
	if !ss.daveJoined() {
		return voice.CloseUnknownOpcode, fmt.Sprintf("binary op %d from a session without DAVE", op)
	}
	return hookCode(c.s.cfg.hook.HandleBinary(ss, op, payload))
}

// hookCode is the close code for a DAVE hook's error.
func hookCode(err error) (int, string) {
	if err == nil {
		return 0, ""
	}
	var ce *voice.CloseError
	if errors.As(err, &ce) {
		return ce.Code, ce.Reason
	}
	return voice.CloseDecodeError, err.Error()
}

// closeError returns err as a *voice.CloseError when it is a WebSocket
// close with a status code, else nil.
func closeError(err error) *voice.CloseError {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return &voice.CloseError{Code: int(ce.Code), Reason: ce.Reason}
	}
	return nil
}

// allow takes a token from the connection's rate limit.
func (c *conn) allow() bool {
	now := time.Now()
	per := float64(c.s.cfg.rate)
	c.tokens = min(per, c.tokens+now.Sub(c.last).Minutes()*per)
	c.last = now
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

// handle acts on one message, returning a close code when it ends the
// connection.
func (c *conn) handle(m voice.Message) (code int, reason string) {
	s := c.s
	if c.session != nil && c.session.isEnded() {
		return 0, "" // removed: its close is on the way
	}
	switch m.Op {
	case voice.OpHeartbeat:
		var h voice.Heartbeat
		if err := m.Decode(&h); err != nil {
			return voice.CloseDecodeError, "bad heartbeat"
		}
		c.watch.Reset(s.cfg.heartbeat * 3 / 2)
		if c.session != nil && h.SeqAck >= 0 {
			c.session.ack(h.SeqAck)
		}
		var ack any = voice.HeartbeatACK{T: h.T}
		if c.version < 8 {
			ack = h.T
		}
		c.enqueue(voice.NewMessage(voice.OpHeartbeatACK, ack))
		return 0, ""
	case voice.OpIdentify:
		if c.session != nil {
			return voice.CloseAlreadyAuthenticated, "already identified"
		}
		var id voice.Identify
		if err := m.Decode(&id); err != nil {
			return voice.CloseDecodeError, "bad identify"
		}
		if id.ServerID == "" || id.UserID == "" || id.SessionID == "" {
			return voice.CloseDecodeError, "identify lacks server_id, user_id or session_id"
		}
		if s.cfg.dave && id.MaxDAVEProtocolVersion < 1 {
			return voice.CloseE2EERequired, "this channel requires the DAVE protocol"
		}
		if code, reason := s.authenticate(id); code != 0 {
			return code, reason
		}
		ss, code, reason := s.open(id, c)
		if code != 0 {
			return code, reason
		}
		c.session = ss
		return 0, ""
	case voice.OpResume:
		if c.session != nil {
			return voice.CloseAlreadyAuthenticated, "already identified"
		}
		var r voice.Resume
		if err := m.Decode(&r); err != nil {
			return voice.CloseDecodeError, "bad resume"
		}
		ss, code, reason := s.resume(r, c)
		if code != 0 {
			return code, reason
		}
		c.session = ss
		return 0, ""
	case voice.OpSelectProtocol, voice.OpSpeaking:
		if c.session == nil {
			return voice.CloseNotAuthenticated, "identify first"
		}
		if m.Op == voice.OpSpeaking {
			var sp voice.Speaking
			if err := m.Decode(&sp); err != nil {
				return voice.CloseDecodeError, "bad speaking"
			}
			c.session.speaking.Store(int32(sp.Speaking & 7))
			s.relay(c.session, voice.NewMessage(voice.OpSpeaking, voice.Speaking{Speaking: sp.Speaking & 7, SSRC: c.session.SSRC, UserID: c.session.UserID}))
			return 0, ""
		}
		var sp voice.SelectProtocol
		if err := m.Decode(&sp); err != nil {
			return voice.CloseDecodeError, "bad select protocol"
		}
		code, reason, join := c.session.selectProtocol(sp)
		if join {
			s.cfg.hook.Join(c.session)
		}
		return code, reason
	case voice.OpDAVETransitionReady, voice.OpDAVEMLSInvalidCommitWelcome:
		if c.session == nil {
			return voice.CloseNotAuthenticated, "identify first"
		}
		if !c.session.daveJoined() {
			return voice.CloseUnknownOpcode, fmt.Sprintf("op %d from a session without DAVE", m.Op)
		}
		return hookCode(s.cfg.hook.HandleMessage(c.session, m))
	case voice.OpReady, voice.OpSessionDescription, voice.OpHeartbeatACK, voice.OpHello, voice.OpResumed, voice.OpClientsConnect, voice.OpClientDisconnect:
		return voice.CloseDecodeError, fmt.Sprintf("op %d is the server's", m.Op)
	}
	return voice.CloseUnknownOpcode, fmt.Sprintf("unknown op %d", m.Op)
}

// enqueue queues a message on this connection alone (unsequenced: Hello's
// and the heartbeat ACK's kind).
func (c *conn) enqueue(m voice.Message) {
	select {
	case c.out <- frame{b: m.Marshal()}:
	default:
		go c.ws.CloseNow() // too far behind: let it resume
	}
}

func (s *Server) authenticate(id voice.Identify) (int, string) {
	if s.cfg.auth == nil {
		return 0, ""
	}
	if err := s.cfg.auth(id); err != nil {
		var ce *voice.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Reason
		}
		return voice.CloseAuthenticationFailed, "authentication failed"
	}
	return 0, ""
}

// open starts a session for id on c and sends Ready, who is in the
// channel and the Speaking of those speaking already (the SSRCs of what
// it will hear), then tells the channel.
func (s *Server) open(id voice.Identify, c *conn) (*Session, int, string) {
	ss := &Session{
		srv:       s,
		ID:        id.SessionID,
		ServerID:  id.ServerID,
		UserID:    id.UserID,
		SSRC:      s.nextSSRC.Add(1),
		token:     id.Token,
		connected: time.Now(),
		dave:      s.daveVersion(id),
		conn:      c,
		out:       c.out,
	}
	s.mu.Lock()
	if old := s.sessions[id.SessionID]; old != nil && !s.closed {
		s.mu.Unlock()
		if !s.replace(old, id) {
			return nil, voice.CloseSessionInvalid, "session_id in use"
		}
		s.mu.Lock()
	}
	if s.closed {
		s.mu.Unlock()
		return nil, voice.CloseCallTerminated, "the server is shutting down"
	}
	if old := s.sessions[id.SessionID]; old != nil && !old.isEnded() {
		s.mu.Unlock()
		return nil, voice.CloseSessionInvalid, "session_id in use" // another Identify came first
	}
	s.sessions[ss.ID] = ss
	ch := s.channels[ss.ServerID]
	if ch == nil {
		ch = make(map[*Session]struct{})
		s.channels[ss.ServerID] = ch
	}
	var others []string
	var speaking []voice.Speaking
	for o := range ch {
		others = append(others, o.UserID)
		if f := o.speaking.Load(); f != 0 {
			speaking = append(speaking, voice.Speaking{Speaking: int(f), SSRC: o.SSRC, UserID: o.UserID})
		}
	}
	ch[ss] = struct{}{}
	s.mu.Unlock()
	s.bySSRC.Store(ss.SSRC, ss)
	s.stats.opened.Add(1)

	ss.send(voice.NewMessage(voice.OpReady, voice.Ready{SSRC: ss.SSRC, IP: s.addr.Addr().String(), Port: int(s.addr.Port()), Modes: s.cfg.modes}), true)
	if len(others) > 0 {
		ss.send(voice.NewMessage(voice.OpClientsConnect, voice.ClientsConnect{UserIDs: others}), true)
	}
	for _, sp := range speaking { // who speaks already: their SSRCs
		ss.send(voice.NewMessage(voice.OpSpeaking, sp), true)
	}
	s.relay(ss, voice.NewMessage(voice.OpClientsConnect, voice.ClientsConnect{UserIDs: []string{ss.UserID}}))
	return ss, 0, ""
}

// daveVersion is the DAVE version a session of id is admitted with: 1
// when it announced DAVE and a hook plays Discord's part, else 0.
func (s *Server) daveVersion(id voice.Identify) int {
	if s.cfg.hook != nil && id.MaxDAVEProtocolVersion >= 1 {
		return 1
	}
	return 0
}

// replace ends old, the session id names, for id's new session, if old's
// connection is gone (it waits for a resume) and id is its user in its
// channel; it reports whether old is gone. A session on a connection
// keeps its ID: a second Identify for it is refused with 4006.
func (s *Server) replace(old *Session, id voice.Identify) bool {
	old.mu.Lock()
	if old.ended {
		old.mu.Unlock()
		return true // on its way out
	}
	if old.conn != nil || old.ServerID != id.ServerID || old.UserID != id.UserID {
		old.mu.Unlock()
		return false
	}
	s.endLocked(old, ErrReplaced)
	return true
}

// resume attaches c to the session r names and replays what it missed.
func (s *Server) resume(r voice.Resume, c *conn) (*Session, int, string) {
	s.mu.Lock()
	ss := s.sessions[r.SessionID]
	s.mu.Unlock()
	if ss == nil || ss.ServerID != r.ServerID || ss.token != r.Token {
		return nil, voice.CloseSessionInvalid, "no such session"
	}
	if code, reason := s.authenticate(voice.Identify{ServerID: r.ServerID, UserID: ss.UserID, SessionID: r.SessionID, Token: r.Token}); code != 0 {
		return nil, code, reason
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.ended {
		return nil, voice.CloseSessionInvalid, "session ended"
	}
	if len(ss.backlog) > 0 && r.SeqAck >= 0 && r.SeqAck+1 < ss.backlog[0].m.Seq {
		return nil, voice.CloseSessionInvalid, "too far behind to resume"
	}
	if old := ss.conn; old != nil {
		go old.ws.CloseNow() // a half-dead connection the client gave up on
	}
	if ss.timer != nil {
		ss.timer.Stop()
		ss.timer = nil
	}
	ss.conn, ss.out = c, c.out
	c.enqueue(voice.NewMessage(voice.OpResumed, nil))
	for _, q := range ss.backlog {
		if q.m.Seq > r.SeqAck {
			ss.sendLocked(q, false)
		}
	}
	s.stats.resumed.Add(1)
	return ss, 0, ""
}

// detach is called when c, this session's connection, has ended: a
// client that left or was refused ends the session; a lost one has the
// resume window to come back.
func (ss *Session) detach(c *conn, err error) {
	ss.mu.Lock()
	if ss.conn != c || ss.ended {
		ss.mu.Unlock()
		return // resumed on another connection meanwhile, or gone
	}
	ss.conn, ss.out = nil, nil
	var ce *voice.CloseError
	if errors.Is(err, errClientLeft) || (errors.As(err, &ce) && !ce.Resumable()) {
		ss.mu.Unlock()
		ss.srv.end(ss, err)
		return
	}
	var t *time.Timer
	t = time.AfterFunc(ss.srv.cfg.resume, func() {
		ss.mu.Lock()
		resumed := ss.timer != t || ss.conn != nil // a resume came as it fired
		ss.mu.Unlock()
		if !resumed {
			ss.srv.end(ss, fmt.Errorf("voicetest: session not resumed within %v: %w", ss.srv.cfg.resume, err))
		}
	})
	ss.timer = t
	ss.mu.Unlock()
}

// end removes the session and tells its channel. It returns the
// connection the session was on, if any, for the caller to close.
func (s *Server) end(ss *Session, why error) *conn {
	ss.mu.Lock()
	if ss.ended {
		ss.mu.Unlock()
		return nil
	}
	return s.endLocked(ss, why)
}

// endLocked is end for a session not yet ended, called with ss.mu held;
// it unlocks it.
func (s *Server) endLocked(ss *Session, why error) *conn {
	ss.ended = true
	joined := ss.joined
	if ss.timer != nil {
		ss.timer.Stop()
	}
	attached := ss.conn
	ss.mu.Unlock()
	s.mu.Lock()
	if s.sessions[ss.ID] == ss { // not yet replaced by a new Identify
		delete(s.sessions, ss.ID)
	}
	if ch := s.channels[ss.ServerID]; ch != nil {
		delete(ch, ss)
		if len(ch) == 0 {
			delete(s.channels, ss.ServerID)
		}
	}
	s.mu.Unlock()
	s.forget(ss)
	s.relay(ss, voice.NewMessage(voice.OpClientDisconnect, voice.ClientDisconnect{UserID: ss.UserID}))
	if joined {
		s.cfg.hook.Leave(ss)
	}
	if errors.Is(why, errClientLeft) {
		why = nil
	}
	if s.cfg.onSession != nil {
		s.cfg.onSession(ss, why)
	}
	return attached
}

// relay sends m to every other session in ss's channel.
func (s *Server) relay(ss *Session, m voice.Message) {
	s.mu.Lock()
	var to []*Session
	for o := range s.channels[ss.ServerID] {
		if o != ss {
			to = append(to, o)
		}
	}
	s.mu.Unlock()
	for _, o := range to {
		o.send(m, true)
	}
}

// selectProtocol sets up the session's UDP transport, then sends the
// Session Description. The session has one key, so that a client that
// selects again (after its socket was lost) keeps its packets' counters,
// and one receiver per mode for the session's life, each with its replay
// window: a mode selected again opens with the window it had, so a
// datagram heard before cannot be heard again by switching modes and
// back. (A datagram authenticates only under the mode that sealed it, so
// its mode's window is the one that has seen it; separate windows also
// let a client that restarts its counter when it changes mode be heard.)
//
// It reports whether the session is now to be handed to the DAVE hook
// (its first Session Description with DAVE).
func (ss *Session) selectProtocol(sp voice.SelectProtocol) (code int, reason string, join bool) {
	if sp.Protocol != "udp" {
		return voice.CloseUnknownProtocol, fmt.Sprintf("unknown protocol %q", sp.Protocol), false
	}
	if !slices.Contains(ss.srv.cfg.modes, sp.Data.Mode) {
		return voice.CloseUnknownEncryptionMode, fmt.Sprintf("unknown encryption mode %q", sp.Data.Mode), false
	}
	// disgo sends the whole 64-byte field of its discovery response, NULs
	// and all; Discord takes it, and so does this server.
	if _, err := netip.ParseAddr(strings.TrimRight(sp.Data.Address, "\x00")); err != nil || sp.Data.Port <= 0 || sp.Data.Port > 65535 {
		return voice.CloseBadRequest, "bad address or port", false
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.key == nil {
		ss.key = new(voice.SecretKey)
		_, _ = rand.Read(ss.key[:])
	}
	if st := ss.udp.Load(); st == nil || st.mode != sp.Data.Mode {
		r := ss.recv[sp.Data.Mode]
		if r == nil {
			c, err := sink.NewCipher(sp.Data.Mode, ss.key[:])
			if err != nil {
				return voice.CloseUnknownEncryptionMode, err.Error(), false
			}
			r = sink.NewReceiver(c)
			if ss.recv == nil {
				ss.recv = make(map[string]*sink.Receiver, len(ss.srv.cfg.modes))
			}
			ss.recv[sp.Data.Mode] = r
		}
		seal, _ := sink.NewCipher(sp.Data.Mode, ss.key[:]) // as the receiver's
		ss.udp.Store(&udpState{recv: r, seal: seal, mode: sp.Data.Mode})
	}
	ss.mode = sp.Data.Mode
	ss.srv.stats.selected.Add(1)
	ss.sendLocked(queued{m: voice.NewMessage(voice.OpSessionDescription, voice.SessionDescription{Mode: sp.Data.Mode, SecretKey: *ss.key, DAVEProtocolVersion: ss.dave})}, true)
	if ss.dave > 0 && !ss.joined {
		ss.joined = true
		return 0, "", true
	}
	return 0, "", false
}

// daveJoined reports whether the session was handed to the DAVE hook.
func (ss *Session) daveJoined() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.joined
}

// DAVEVersion returns the DAVE protocol version the session was
// admitted with (0: none, transport encryption alone).
func (ss *Session) DAVEVersion() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.dave
}

// fenced is an ended session and the fence after which it is forgotten.
type fenced struct {
	ss    *Session
	fence uint64
}

// forget removes ended session ss from the SSRC index once the UDP
// goroutine has read every datagram that reached the server before the
// end, so that a client's last packets, written before it closed its
// control connection, are heard even when the close is handled first
// (on loopback a datagram is in the socket's queue when its send
// returns). The fence is a datagram the server sends to its own
// socket: it queues behind those.
func (s *Server) forget(ss *Session) {
	s.fenceMu.Lock()
	s.fences++
	n := s.fences
	s.forgetting = append(s.forgetting, fenced{ss, n})
	s.fenceMu.Unlock()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	if _, err := s.udp.WriteToUDPAddrPort(b[:], s.addr); err != nil {
		s.passFence(n) // the socket is closing: nothing more is read
	}
}

// passFence forgets the sessions ended before fence n.
func (s *Server) passFence(n uint64) {
	s.fenceMu.Lock()
	defer s.fenceMu.Unlock()
	keep := s.forgetting[:0]
	for _, f := range s.forgetting {
		if f.fence > n {
			keep = append(keep, f)
			continue
		}
		s.bySSRC.CompareAndDelete(f.ss.SSRC, f.ss)
	}
	clear(s.forgetting[len(keep):])
	s.forgetting = keep
}

// readUDP serves the UDP socket: IP discovery, and audio from sessions.
func (s *Server) readUDP() {
	defer s.wg.Done()
	buf := make([]byte, 2048)
	var reply []byte
	for {
		n, from, err := s.udp.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		s.handleDatagram(buf[:n], from, &reply)
	}
}

// handleDatagram acts on one datagram; it never panics, whatever p holds.
func (s *Server) handleDatagram(p []byte, from netip.AddrPort, reply *[]byte) {
	if from == s.addr { // only the server sends from its own address
		if len(p) == 8 {
			s.passFence(binary.BigEndian.Uint64(p))
		}
		return
	}
	if voice.IsDiscovery(p) {
		ssrc, err := voice.ParseDiscoveryRequest(p)
		if _, ok := s.bySSRC.Load(ssrc); err != nil || !ok {
			s.stats.rejected.Add(1) // no reflection for strangers
			return
		}
		v, _ := s.bySSRC.Load(ssrc)
		v.(*Session).addr.Store(&from) // where relayed audio goes
		*reply = voice.DiscoveryResponse((*reply)[:0], ssrc, from)
		if _, err := s.udp.WriteToUDPAddrPort(*reply, from); err == nil {
			s.stats.discovery.Add(1)
		}
		return
	}
	if voice.IsKeepAlive(p) {
		s.stats.keepAlives.Add(1)
		return
	}
	if len(p) < sink.HeaderSize {
		s.stats.rejected.Add(1)
		return
	}
	v, ok := s.bySSRC.Load(binary.BigEndian.Uint32(p[8:]))
	if !ok {
		s.stats.rejected.Add(1)
		return
	}
	ss := v.(*Session)
	st := ss.udp.Load()
	if st == nil {
		s.stats.rejected.Add(1)
		return
	}
	o, err := st.recv.OpenPacket(p)
	if err != nil {
		s.stats.rejected.Add(1)
		return
	}
	s.stats.packets.Add(1)
	if ss.speaking.Load() == 0 {
		s.stats.unannounced.Add(1)
	}
	if a := ss.addr.Load(); a == nil || *a != from {
		ss.addr.Store(&from)
	}
	if s.cfg.onPacket != nil {
		s.cfg.onPacket(ss, o, time.Now())
	}
	s.relayAudio(ss, o)
}

// relayAudio sends o, ss's packet, to the others in its channel whose
// UDP transport is set up, as Discord does: the speaker's header (SSRC,
// sequence, timestamp, marker, header extension), the frame as the
// speaker sealed it inside (end-to-end encrypted or not), sealed under each receiver's own
// key and counter. It runs on the UDP goroutine.
func (s *Server) relayAudio(ss *Session, o sink.Opened) {
	s.mu.Lock()
	to := s.relayTo[:0]
	for other := range s.channels[ss.ServerID] {
		if other != ss {
			to = append(to, other)
		}
	}
	s.relayTo = to
	s.mu.Unlock()
	for i, other := range to {
		to[i] = nil
		st, addr := other.udp.Load(), other.addr.Load()
		if st == nil || addr == nil {
			continue
		}
		h := sink.Header{PayloadType: o.PayloadType, Marker: o.Marker, Sequence: o.Sequence, Timestamp: o.Timestamp, SSRC: o.SSRC}
		plain := append(s.plain[:0], make([]byte, sink.HeaderSize)...)
		h.Marshal(plain)
		if o.Ext != nil && len(o.Ext)%4 == 0 { // the header extension too, as the speaker sent it
			plain[0] |= 0x10
			words := len(o.Ext) / 4
			plain = append(plain, byte(o.ExtProfile>>8), byte(o.ExtProfile), byte(words>>8), byte(words))
			plain = append(plain, o.Ext...)
		}
		plain = append(plain, o.Payload...)
		s.plain = plain
		sealed, err := st.seal.Seal(s.sealed[:0], plain, other.relayCounter)
		if err != nil {
			continue
		}
		s.sealed = sealed
		other.relayCounter++
		if _, err := s.udp.WriteToUDPAddrPort(sealed, *addr); err == nil {
			s.stats.relayed.Add(1)
		}
	}
}
