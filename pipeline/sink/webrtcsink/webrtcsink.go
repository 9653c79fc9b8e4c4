package webrtcsink

import (
	"context"
	"fmt"
	"math"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/pipeline/sink"
)

// PayloadTypeOpus is the payload type offered for Opus, the one browsers
// use.
const PayloadTypeOpus = 111

// Server serves audio to WebRTC peers (browsers, pion peers) on one UDP
// port, whatever their number (ICE UDP multiplexing). Each Peer has its
// own audio track, numbered by its own Packetizer (Peer.Send, one
// listener's Player) or by the Fanout it is added to (one Broadcast for
// many peers). Packets carry our timestamps, so that a receiver's jitter
// buffer sees each packet's exact duration and the wall time across
// silence. Signalling is the caller's: Answer takes a peer's offer and
// returns the answer with every candidate in it (no trickle). It is safe
// for concurrent use.
type Server struct {
	api *webrtc.API
	mux ice.UDPMux
	cfg serverConfig
	wg  sync.WaitGroup // the peers' goroutines

	mu     sync.Mutex // guards the fields below
	peers  map[*Peer]struct{}
	closed bool

	stats struct{ answered, connected, failed, closed atomic.Int64 }
}

type serverConfig struct {
	loopback bool
	ips      []string
	connect  time.Duration
	timeouts [3]time.Duration // ICE disconnected, failed, keepalive; zero for pion's
	logger   logging.LoggerFactory
}

// Option configures a Server.
type Option func(*serverConfig)

// WithLoopback offers loopback candidates, for peers on the same machine
// (tests, a demo on one host); they are left out by default, as browsers
// leave them out.
func WithLoopback() Option { return func(c *serverConfig) { c.loopback = true } }

// WithPublicIPs sets the addresses offered as host candidates in place of
// the socket's own, for a server behind a one-to-one NAT (a cloud VM's
// public address).
func WithPublicIPs(ips ...string) Option {
	return func(c *serverConfig) { c.ips = append([]string(nil), ips...) }
}

// WithConnectTimeout sets how long a peer may take to connect after its
// answer before it is closed as failed (30 s by default).
func WithConnectTimeout(d time.Duration) Option {
	return func(c *serverConfig) { c.connect = d }
}

// WithICETimeouts sets how long a connected peer may be silent before it
// is disconnected, then failed, and how often keepalives are sent (pion's
// defaults: 5 s, 25 s, 2 s).
func WithICETimeouts(disconnected, failed, keepalive time.Duration) Option {
	return func(c *serverConfig) { c.timeouts = [3]time.Duration{disconnected, failed, keepalive} }
}

// WithLogger sets pion's logger factory (its default writes warnings
// and errors to stderr).
func WithLogger(f logging.LoggerFactory) Option {
	return func(c *serverConfig) { c.logger = f }
}

// NewServer serves peers on conn, a UDP socket bound to one address (not
// the unspecified one: peers are offered that address, or WithPublicIPs').
// Close closes conn.
func NewServer(conn net.PacketConn, opts ...Option) (*Server, error) {
	cfg := serverConfig{connect: 30 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	if a, ok := conn.LocalAddr().(*net.UDPAddr); !ok || a.IP.IsUnspecified() {
		return nil, fmt.Errorf("webrtcsink: needs a UDP socket bound to one address, not %v", conn.LocalAddr())
	}
	if cfg.logger == nil {
		cfg.logger = logging.NewDefaultLoggerFactory()
	}
	m := &webrtc.MediaEngine{}
	err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: opus.SampleRate, Channels: 2,
			SDPFmtpLine: "minptime=10;useinbandfec=1;stereo=1;sprop-stereo=1"},
		PayloadType: PayloadTypeOpus,
	}, webrtc.RTPCodecTypeAudio)
	if err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil { // sender reports: a receiver's clock and statistics
		return nil, err
	}
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn, Logger: cfg.logger.NewLogger("ice")})
	se := webrtc.SettingEngine{LoggerFactory: cfg.logger}
	se.SetICEUDPMux(mux)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	se.SetIncludeLoopbackCandidate(cfg.loopback)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if len(cfg.ips) > 0 {
		se.SetNAT1To1IPs(cfg.ips, webrtc.ICECandidateTypeHost)
	}
	if t := cfg.timeouts; t != [3]time.Duration{} {
		se.SetICETimeouts(t[0], t[1], t[2])
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	return &Server{api: api, mux: mux, cfg: cfg, peers: make(map[*Peer]struct{})}, nil
}

// ServerStats counts a Server's peers over its life.
type ServerStats struct {
	Peers     int   // peers now
	Answered  int64 // offers answered
	Connected int64 // peers that connected
	Failed    int64 // peers whose connection failed or never came
	Closed    int64 // peers closed, by either side or by failing
}

// Stats returns the counts.
func (w *Server) Stats() ServerStats {
	w.mu.Lock()
	n := len(w.peers)
	w.mu.Unlock()
	return ServerStats{Peers: n, Answered: w.stats.answered.Load(), Connected: w.stats.connected.Load(),
		Failed: w.stats.failed.Load(), Closed: w.stats.closed.Load()}
}

// Answer makes a peer for offer, a remote peer's offer to receive audio
// (a browser's recvonly transceiver), and returns it with the answer to
// send back, once every candidate is gathered or ctx is done.
func (w *Server) Answer(ctx context.Context, offer webrtc.SessionDescription) (*Peer, webrtc.SessionDescription, error) {
	pc, err := w.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, webrtc.SessionDescription{}, err
	}
	p := &Peer{w: w, pc: pc, track: &audioTrack{}, connected: make(chan struct{}), done: make(chan struct{}),
		rtcpDone: make(chan struct{}), ended: make(chan struct{})}
	p.from.Store(math.MaxUint64)
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		_ = pc.Close()
		return nil, webrtc.SessionDescription{}, ErrServerClosed
	}
	w.peers[p] = struct{}{}
	w.mu.Unlock()
	fail := func(err error) (*Peer, webrtc.SessionDescription, error) {
		_ = p.Close()
		return nil, webrtc.SessionDescription{}, err
	}
	sender, err := pc.AddTrack(p.track)
	if err != nil {
		return fail(err)
	}
	p.sender = sender
	p.timer = time.AfterFunc(w.cfg.connect, func() {
		select {
		case <-p.connected:
		default:
			p.end(ErrPeerFailed)
		}
	})
	pc.OnConnectionStateChange(p.state)
	p.mu.Lock()
	if !p.closing {
		p.reading = true
		w.wg.Go(func() { // RTCP must be read for the interceptors (sender reports) to run; Read ends when the peer does
			defer close(p.rtcpDone)
			buf := make([]byte, 1500)
			for {
				if _, _, err := sender.Read(buf); err != nil {
					return
				}
			}
		})
	}
	p.mu.Unlock()
	if err := pc.SetRemoteDescription(offer); err != nil {
		return fail(fmt.Errorf("webrtcsink: offer: %w", err))
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return fail(fmt.Errorf("webrtcsink: answer: %w", err))
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return fail(err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	w.stats.answered.Add(1)
	return p, *pc.LocalDescription(), nil
}

// Close closes every peer, then the UDP socket, and waits for the peers'
// goroutines.
func (w *Server) Close() error {
	w.mu.Lock()
	w.closed = true
	peers := make([]*Peer, 0, len(w.peers))
	for p := range w.peers {
		peers = append(peers, p)
	}
	w.mu.Unlock()
	for _, p := range peers {
		_ = p.Close()
	}
	err := w.mux.Close()
	w.wg.Wait()
	return err
}

// Peer is one remote peer's connection, with the audio track it hears.
type Peer struct {
	w      *Server
	pc     *webrtc.PeerConnection
	sender *webrtc.RTPSender
	track  *audioTrack
	pz     *sink.Packetizer // numbers Send's packets; made on the first
	timer  *time.Timer      // the connect timeout

	// fan is the Fanout that sends to it, if any: set once, from nil.
	fan atomic.Pointer[Fanout]
	// from is the number of the first of its fanout's packets that it
	// hears (Fanout.sent's count): none until it has connected, then
	// those sent from then on. Set once, from math.MaxUint64, by live.
	from atomic.Uint64
	// started is set once its fanout's writer has sent it a packet; only
	// that writer (its shard's) touches it.
	started   bool
	connected chan struct{}
	done      chan struct{}
	once      sync.Once
	err       error // why it ended; set before done is closed

	mu       sync.Mutex // guards reading and closing
	reading  bool       // its RTCP reader was started (and closes rtcpDone)
	closing  bool       // its connection is being closed: no reader to start
	rtcpDone chan struct{}
	ended    chan struct{} // closed once its connection is closed and its reader has ended

	sent, errs atomic.Int64
}

// state follows the connection: connected, then failed or closed.
func (p *Peer) state(s webrtc.PeerConnectionState) {
	switch s {
	case webrtc.PeerConnectionStateConnected:
		// Pion starts SRTP just after DTLS connects, under the lock that
		// the DTLS state is read under: reading it orders Connected after
		// that start, so that no packet sent from then on is dropped.
		_ = p.sender.Transport().State()
		select {
		case <-p.connected:
		default:
			close(p.connected)
			p.w.stats.connected.Add(1)
			p.live()
		}
	case webrtc.PeerConnectionStateFailed:
		p.end(ErrPeerFailed)
	case webrtc.PeerConnectionStateClosed:
		p.end(ErrPeerClosed)
	}
}

// end ends the peer with err, once: it leaves its Server and its
// connection is closed, away from pion's callback.
func (p *Peer) end(err error) {
	p.once.Do(func() {
		p.err = err
		close(p.done)
		if err == ErrPeerFailed {
			p.w.stats.failed.Add(1)
		}
		p.w.stats.closed.Add(1)
		p.w.mu.Lock()
		delete(p.w.peers, p)
		p.w.mu.Unlock()
		if p.timer != nil { // nil only if Answer failed before setting it
			p.timer.Stop()
		}
		p.w.wg.Go(func() {
			p.mu.Lock()
			p.closing = true
			reading := p.reading
			p.mu.Unlock()
			_ = p.pc.Close()
			if reading {
				<-p.rtcpDone
			}
			close(p.ended)
		})
	})
}

// PeerConnection returns the peer's pion PeerConnection (for its
// statistics, or a data channel of the caller's).
func (p *Peer) PeerConnection() *webrtc.PeerConnection { return p.pc }

// Connected returns a channel closed once the peer has connected.
func (p *Peer) Connected() <-chan struct{} { return p.connected }

// Done returns a channel closed when the peer has ended: closed by either
// side, failed, or not connected in time.
func (p *Peer) Done() <-chan struct{} { return p.done }

// Err returns why the peer ended, once Done is closed: ErrPeerClosed or
// ErrPeerFailed.
func (p *Peer) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// Sent returns the packets written to the peer's connection.
func (p *Peer) Sent() int64 { return p.sent.Load() }

// Close closes the peer's connection, and returns once it is closed and
// the peer's goroutine (its RTCP reader) has ended.
func (p *Peer) Close() error {
	p.end(ErrPeerClosed)
	<-p.ended
	return nil
}

// live starts a fanout's peer at the live point, once it has both
// connected and joined its fanout (whichever comes last calls it with
// effect): it hears the packets sent from then on, and none sent before,
// however long its connection took to come up.
func (p *Peer) live() {
	f := p.fan.Load()
	if f == nil {
		return
	}
	select {
	case <-p.connected:
		p.from.CompareAndSwap(math.MaxUint64, f.sent.Load()+1)
	default:
	}
}

// Send sends pkt to the peer, numbered by the peer's own Packetizer: the
// listener a Scheduler calls for one Player (sched.Add(player,
// peer.Send)). Before the peer has connected the packet is dropped, and
// not numbered, as a live stream's are for one not yet listening: the
// peer's stream starts, with the marker bit, at the first packet sent
// once it has connected, with nothing held back. Once it has ended, Send
// returns ErrPeerClosed, which removes the listener. It is called by one
// goroutine at a time, and does not block on the network.
func (p *Peer) Send(pkt opus.Packet) error {
	if p.fan.Load() != nil {
		return ErrFanoutPeer
	}
	select {
	case <-p.done:
		return ErrPeerClosed
	default:
	}
	select {
	case <-p.connected:
	default:
		return nil
	}
	if p.pz == nil {
		p.pz = sink.NewPacketizer(0, sink.WithPayloadType(PayloadTypeOpus)) // the SSRC and payload type are the connection's
	}
	return p.write(p.pz.Next(pkt), pkt.Data)
}

// write sends one packet with header h.
func (p *Peer) write(h sink.Header, payload []byte) error {
	select {
	case <-p.done:
		return ErrPeerClosed
	default:
	}
	if err := p.track.write(h, payload); err != nil {
		p.errs.Add(1)
		return nil // a connection's write error is its own; its state callback ends it
	}
	p.sent.Add(1)
	return nil
}

// audioTrack is a peer's outgoing Opus track: a webrtc.TrackLocal with one
// binding, written to without a lock (pion's TrackLocalStaticRTP writes
// to all its bindings in series, under its lock).
type audioTrack struct {
	b atomic.Pointer[trackBinding]
	// hdr is the header of the packet being written, kept here so that
	// writing does not allocate it; used by the one goroutine that sends
	// to the peer at a time (pion does not keep it past WriteRTP).
	hdr rtp.Header
}

type trackBinding struct {
	id    string
	ssrc  uint32
	pt    uint8
	write webrtc.TrackLocalWriter
}

func (t *audioTrack) Bind(c webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	for _, codec := range c.CodecParameters() {
		if strings.EqualFold(codec.MimeType, webrtc.MimeTypeOpus) {
			t.b.Store(&trackBinding{id: c.ID(), ssrc: uint32(c.SSRC()), pt: uint8(codec.PayloadType), write: c.WriteStream()})
			return codec, nil
		}
	}
	return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
}

func (t *audioTrack) Unbind(c webrtc.TrackLocalContext) error {
	if b := t.b.Load(); b != nil && b.id == c.ID() {
		t.b.CompareAndSwap(b, nil)
		return nil
	}
	return webrtc.ErrUnbindFailed
}

func (t *audioTrack) ID() string                { return "audio" }
func (t *audioTrack) RID() string               { return "" }
func (t *audioTrack) StreamID() string          { return "streamcatcher" }
func (t *audioTrack) Kind() webrtc.RTPCodecType { return webrtc.RTPCodecTypeAudio }
func (t *audioTrack) Codec() webrtc.RTPCodecCapability {
	return webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: opus.SampleRate, Channels: 2}
}

// write writes one packet, if the track is bound (negotiated); before its
// transport is up, pion drops it.
func (t *audioTrack) write(h sink.Header, payload []byte) error {
	b := t.b.Load()
	if b == nil {
		return nil
	}
	t.hdr = rtp.Header{Version: 2, Marker: h.Marker, PayloadType: b.pt, SequenceNumber: h.Sequence, Timestamp: h.Timestamp, SSRC: b.ssrc}
	_, err := b.write.WriteRTP(&t.hdr, payload)
	return err
}

// Fanout sends one stream of packets (a Broadcast's: b.JoinPaced(f.Send))
// to many peers, numbered once. Pion writes to one track's peers in
// series, so the peers are sharded over writers, a goroutine each (one per
// CPU by default), each taking the packets through a short queue: Send
// never blocks, a shard that falls behind loses packets (counted) rather
// than hold up the others, and a peer that fails or closes leaves its
// shard. A peer joins at the live point: the packets are numbered as they
// are sent, and a writer gives a peer only those sent after it connected,
// so that one whose connection was slow to come up gets no backlog, from
// its queue or any other, to burst into its jitter buffer. It is safe for
// concurrent use, but Send is called by one goroutine at a time.
type Fanout struct {
	pz     *sink.Packetizer
	sent   atomic.Uint64 // packets Send has numbered; only Send adds to it
	shards []*shard
	wg     sync.WaitGroup
	done   chan struct{} // closed by Close
	once   sync.Once

	mu     sync.Mutex // guards closed with the shards' peer lists
	closed bool
}

type shard struct {
	queue   chan fanItem
	peers   atomic.Pointer[[]*Peer] // replaced, never changed, under Fanout.mu
	dropped atomic.Int64            // packets the queue could not take
}

type fanItem struct {
	n       uint64 // its number, from 1: the fanout's sent count once it was sent
	h       sink.Header
	payload []byte
}

// FanoutOption configures a Fanout.
type FanoutOption func(*fanoutConfig)

type fanoutConfig struct{ shards, queue int }

// WithShards sets how many writers share the peers (GOMAXPROCS by
// default).
func WithShards(n int) FanoutOption { return func(c *fanoutConfig) { c.shards = max(n, 1) } }

// WithShardQueue sets how many packets a writer may have waiting before
// it loses them (16, 320 ms of 20 ms packets, by default).
func WithShardQueue(n int) FanoutOption { return func(c *fanoutConfig) { c.queue = max(n, 1) } }

// NewFanout returns a Fanout with no peers yet.
func NewFanout(opts ...FanoutOption) *Fanout {
	cfg := fanoutConfig{shards: runtime.GOMAXPROCS(0), queue: 16}
	for _, o := range opts {
		o(&cfg)
	}
	f := &Fanout{pz: sink.NewPacketizer(0, sink.WithPayloadType(PayloadTypeOpus)), done: make(chan struct{})}
	for range cfg.shards {
		s := &shard{queue: make(chan fanItem, cfg.queue)}
		s.peers.Store(&[]*Peer{})
		f.shards = append(f.shards, s)
		f.wg.Go(func() { f.run(s) })
	}
	return f
}

// Add adds p to the shard with the fewest peers. Once p has connected
// (at once if it has), it hears the packets sent from then on: the live
// point, with none sent while its connection came up, and the first with
// the marker bit. It returns ErrFanoutPeer if p is in a fanout
// already, ErrPeerClosed if p has ended or the fanout is closed.
func (f *Fanout) Add(p *Peer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrPeerClosed
	}
	select {
	case <-p.done:
		return ErrPeerClosed
	default:
	}
	if !p.fan.CompareAndSwap(nil, f) {
		return ErrFanoutPeer
	}
	p.live()
	s := f.shards[0]
	for _, t := range f.shards[1:] {
		if len(*t.peers.Load()) < len(*s.peers.Load()) {
			s = t
		}
	}
	old := *s.peers.Load()
	peers := append(make([]*Peer, 0, len(old)+1), old...)
	s.peers.Store(new(append(peers, p)))
	return nil
}

// remove takes the ended peers off s.
func (f *Fanout) remove(s *shard) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var keep []*Peer
	for _, p := range *s.peers.Load() {
		select {
		case <-p.done:
		default:
			keep = append(keep, p)
		}
	}
	s.peers.Store(&keep)
}

// Send numbers pkt and gives it to every shard's writer, without
// blocking. It fails only after Close (ErrFanoutClosed): peers come and
// go, and the stream goes on.
func (f *Fanout) Send(pkt opus.Packet) error {
	select {
	case <-f.done:
		return ErrFanoutClosed
	default:
	}
	it := fanItem{n: f.sent.Add(1), h: f.pz.Next(pkt), payload: pkt.Data}
	for _, s := range f.shards {
		select {
		case s.queue <- it:
		default:
			s.dropped.Add(1)
		}
	}
	return nil
}

// run is a shard's writer.
func (f *Fanout) run(s *shard) {
	for {
		var it fanItem
		select {
		case it = <-s.queue:
		case <-f.done:
			return
		}
		gone := false
		for _, p := range *s.peers.Load() {
			if it.n < p.from.Load() { // sent before p connected, or before it joined
				select {
				case <-p.done: // it never connected
					gone = true
				default:
				}
				continue
			}
			h := it.h
			if !p.started {
				p.started = true
				h.Marker = true // the start of p's stream
			}
			if p.write(h, it.payload) != nil {
				gone = true
			}
		}
		if gone {
			f.remove(s)
		}
	}
}

// FanoutStats counts a Fanout's peers and packets.
type FanoutStats struct {
	Peers   int   // peers now, over every shard
	Shards  int   // writers
	Dropped int64 // packets a shard's writer lost by falling behind, over every shard
}

// Stats returns the counts.
func (f *Fanout) Stats() FanoutStats {
	st := FanoutStats{Shards: len(f.shards)}
	for _, s := range f.shards {
		for _, p := range *s.peers.Load() {
			select {
			case <-p.done:
			default:
				st.Peers++
			}
		}
		st.Dropped += s.dropped.Load()
	}
	return st
}

// Close stops the writers and waits for them; it does not close the
// peers. Packets still queued are not sent.
func (f *Fanout) Close() {
	f.once.Do(func() {
		f.mu.Lock()
		f.closed = true
		f.mu.Unlock()
		close(f.done)
	})
	f.wg.Wait()
}
