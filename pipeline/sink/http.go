package sink

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/codec/opus"
)

// Queue is a listener of a live stream that reads at its own pace, as a
// pipeline.BufferedListener (Broadcast.JoinBuffered) does: Next does not
// block (opus.ErrUnderrun when nothing is queued), NextContext waits; both
// give io.EOF at the end of the stream, and opus.ErrSlowListener once the
// listener was dropped for falling behind. Leave removes it.
type Queue interface {
	Source
	NextContext(ctx context.Context) (opus.Packet, error)
	Leave()
}

// HTTPStream serves a live stream to any number of HTTP clients as Ogg
// Opus (audio/ogg), as an Icecast mount does: each client joins a queue of
// its own (join, typically a Broadcast's JoinBuffered, which gives the
// burst that fills a player's buffer at once and bounds how far a client
// may fall behind) and is sent a whole Ogg Opus stream of its own, from the
// headers, with pages of at most the page duration, flushed as each fills.
// A client whose queue drops it, or that takes none of a write for the
// write timeout, is dropped and counted as slow; the others are not held
// up, since each client's writes are its own. Browsers' <audio>, ffmpeg
// and VLC play it. It is safe for concurrent use.
type HTTPStream struct {
	join   func() Queue
	head   ogg.OpusHead
	cfg    httpConfig
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex // guards closed with wg.Add
	closed bool

	stats struct{ clients, served, refused, slow, packets, bytes atomic.Int64 }
}

type httpConfig struct {
	tags       ogg.OpusTags
	page       time.Duration
	timeout    time.Duration
	maxClients int
}

// HTTPOption configures an HTTPStream.
type HTTPOption func(*httpConfig)

// WithTags sets the OpusTags each client's stream starts with (the vendor
// "streamcatcher" and no comments by default).
func WithTags(t ogg.OpusTags) HTTPOption { return func(c *httpConfig) { c.tags = t } }

// WithPageTime sets how much audio an Ogg page holds before it is flushed
// to the client: 100 ms by default. A page is a client's latency; its 28
// or so bytes of header are the cost of a short one.
func WithPageTime(d time.Duration) HTTPOption {
	return func(c *httpConfig) { c.page = max(d, 20*time.Millisecond) }
}

// WithWriteTimeout sets how long a client may take to accept a write
// before it is dropped as slow: 10 s by default.
func WithWriteTimeout(d time.Duration) HTTPOption {
	return func(c *httpConfig) { c.timeout = d }
}

// WithMaxClients limits the clients served at once; more are answered 503
// Service Unavailable and counted as refused. 0, the default, is no limit.
func WithMaxClients(n int) HTTPOption { return func(c *httpConfig) { c.maxClients = max(n, 0) } }

// NewHTTPStream returns a handler serving the stream that join gives a
// queue of to each client, as Ogg Opus with head (a track's OpusHead).
func NewHTTPStream(join func() Queue, head ogg.OpusHead, opts ...HTTPOption) *HTTPStream {
	cfg := httpConfig{tags: ogg.OpusTags{Vendor: "streamcatcher"}, page: 100 * time.Millisecond, timeout: 10 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &HTTPStream{join: join, head: head, cfg: cfg, ctx: ctx, cancel: cancel}
}

// HTTPStats counts an HTTPStream's clients.
type HTTPStats struct {
	Clients int64 // listening now
	Served  int64 // clients served over the stream's life
	Refused int64 // clients turned away over WithMaxClients
	Slow    int64 // clients dropped for falling behind or a write timing out
	Packets int64 // packets sent, over all clients
	Bytes   int64 // bytes sent, over all clients, Ogg framing included
}

// Stats returns the stream's counts.
func (s *HTTPStream) Stats() HTTPStats {
	return HTTPStats{Clients: s.stats.clients.Load(), Served: s.stats.served.Load(), Refused: s.stats.refused.Load(),
		Slow: s.stats.slow.Load(), Packets: s.stats.packets.Load(), Bytes: s.stats.bytes.Load()}
}

// Close ends every client's stream (each gets its end-of-stream page if
// its connection takes it), waits for their handlers to return, and
// answers later requests 503.
func (s *HTTPStream) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}

// enter registers a client, reporting false if the stream is closed or
// full.
func (s *HTTPStream) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if n := s.stats.clients.Add(1); s.cfg.maxClients > 0 && n > int64(s.cfg.maxClients) {
		s.stats.clients.Add(-1)
		s.stats.refused.Add(1)
		return false
	}
	s.wg.Add(1)
	return true
}

func (s *HTTPStream) leave() {
	s.stats.clients.Add(-1)
	s.wg.Done()
}

// ServeHTTP streams to one client until the stream ends, the client goes
// away, is too slow, or the HTTPStream is closed. It answers GET and HEAD.
func (s *HTTPStream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "audio/ogg")
	h.Set("Cache-Control", "no-cache, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method == http.MethodHead {
		return
	}
	if !s.enter() {
		h.Del("Content-Type")
		h.Set("Retry-After", "5")
		http.Error(w, "stream unavailable", http.StatusServiceUnavailable)
		return
	}
	defer s.leave()
	s.stats.served.Add(1)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	// The stream's Close cancels this client; the handler does not return
	// while that cancel is under way, so Close's wait covers it.
	canceled := make(chan struct{})
	stop := context.AfterFunc(s.ctx, func() { cancel(); close(canceled) })
	defer func() {
		if !stop() {
			<-canceled
		}
	}()

	q := s.join()
	defer q.Leave()
	if err := s.stream(ctx, w, q); errors.Is(err, opus.ErrSlowListener) || errors.Is(err, os.ErrDeadlineExceeded) {
		s.stats.slow.Add(1)
	}
}

// counter counts the bytes written through it.
type counter struct {
	w io.Writer
	n *atomic.Int64
}

func (c counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// stream writes q's packets to w as one Ogg Opus stream.
func (s *HTTPStream) stream(ctx context.Context, w http.ResponseWriter, q Queue) error {
	rc := http.NewResponseController(w)
	deadline := func() {
		if s.cfg.timeout > 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(s.cfg.timeout)) // not every writer has deadlines; the others block
		}
	}
	deadline()
	w.WriteHeader(http.StatusOK)
	ow, err := ogg.NewOpusWriter(counter{w, &s.stats.bytes}, s.head, s.cfg.tags,
		ogg.WithSerial(rand.Uint32()), ogg.WithPageDuration(s.cfg.page))
	if err != nil {
		return err
	}
	page := opus.Samples(s.cfg.page)
	var inPage int64 // samples written since the last flush
	unsent := true   // pages written but not flushed to the client
	for {
		p, err := q.Next()
		if notYet(err) {
			if unsent {
				// Nothing more to send now: what the writer holds (the
				// headers, a burst's pages) goes to the client.
				deadline()
				if err := rc.Flush(); err != nil {
					return err
				}
				unsent = false
			}
			p, err = q.NextContext(ctx)
		}
		switch {
		case err == io.EOF:
			deadline()
			if err := ow.Close(); err != nil {
				return err
			}
			return rc.Flush()
		case ctx.Err() != nil:
			// The client went away, or the HTTPStream is closing: end the
			// stream properly if the connection still takes it.
			deadline()
			if ow.Close() == nil {
				_ = rc.Flush()
			}
			return ctx.Err()
		case err != nil:
			return err
		case p.Silence:
			continue // transport, not audio: an Ogg stream has no gaps to fill
		}
		deadline()
		if err := ow.WritePacket(p.Data); err != nil {
			return err
		}
		s.stats.packets.Add(1)
		inPage += p.Samples
		unsent = true
		if inPage >= page {
			if err := ow.Flush(); err != nil {
				return err
			}
			if err := rc.Flush(); err != nil {
				return err
			}
			inPage, unsent = 0, false
		}
	}
}
