package pipeline

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"github.com/streamcatcher/streamcatcher/codec/opus"
)

// Broadcast is a live session of a Track: one player, driven in real time
// by a Scheduler, whose packets many listeners share, as a radio's are.
// Paced listeners (voice, WebRTC, RTP: they send each packet as it comes)
// join at the live point with no burst, which would only add latency
// there. Buffered listeners (an HTTP stream, a file: they read at their
// own pace) get a burst on joining, the last BurstBytes of packets as
// Icecast gives (its default, 64 KiB, is about 4 s at 128 kbit/s), so
// that a player's buffer fills at once, and a queue bounded in bytes; one
// that falls further behind than its bound skips ahead (its oldest packets
// dropped, at packet boundaries) or is dropped, and is counted, as
// Icecast's slow listeners are. A broadcast of a live track starts at its
// live edge and is held there, as the Scheduler holds a live track's
// listener: never more than real time, so that a paced listener, whenever
// it joins, gets no backlog and no catch-up burst (which a receiver's
// jitter buffer would take as delay, and play fast to drop). When its
// input stalls and then comes in a burst, or its shard wakes late, it
// skips to the live edge rather than send the late packets, and the
// scheduler counts that (resynchronisations, skips).
//
// Any number of broadcasts of one track may run at once, each at its own
// position. A Broadcast is safe for concurrent use.
type Broadcast struct {
	cfg      broadcastConfig
	listener *Listener

	sending []*paced      // deliver's snapshot of paced, sent outside mu
	done    chan struct{} // closed once every listener has been ended

	mu       sync.Mutex // guards the fields below
	paced    []*paced
	buffered []*BufferedListener
	history  []Packet // the last packets sent, for bursts: at most cfg.burst bytes
	histSize int
	ended    bool
	err      error

	stats struct{ joined, left, slow, skipped, dropped atomic.Int64 }
}

type broadcastConfig struct {
	burst int // bytes of packets in a buffered listener's burst
	bound int // bytes a buffered listener may fall behind
	drop  bool
}

// BroadcastOption configures a Broadcast.
type BroadcastOption func(*broadcastConfig)

// WithBurst sets the bytes of packets a buffered listener gets on joining
// (64 KiB by default; 0 for none).
func WithBurst(bytes int) BroadcastOption {
	return func(c *broadcastConfig) { c.burst = max(bytes, 0) }
}

// WithQueueBound sets how many bytes of packets a buffered listener may
// have waiting before it is a slow listener (256 KiB by default; at least
// twice the burst, so that a listener that has just joined has as long
// again to read its burst), and whether a slow listener skips ahead (the default: its
// oldest packets are dropped until it is back within the bound) or is
// dropped (ErrSlowListener).
func WithQueueBound(bytes int, drop bool) BroadcastOption {
	return func(c *broadcastConfig) { c.bound, c.drop = bytes, drop }
}

// ErrSlowListener ends a buffered listener that fell behind its bound, when
// the broadcast drops slow listeners.
var ErrSlowListener = opus.ErrSlowListener

// NewBroadcast starts a broadcast of t on s, from the start of the track,
// or from its live edge for a live track, where it is held. It ends at
// the end of the track.
func NewBroadcast(s *Scheduler, t *Track, opts ...BroadcastOption) *Broadcast {
	cfg := broadcastConfig{burst: 64 << 10, bound: 256 << 10}
	for _, o := range opts {
		o(&cfg)
	}
	cfg.bound = max(cfg.bound, 2*cfg.burst)
	b := &Broadcast{cfg: cfg, done: make(chan struct{})}
	p := t.NewPlayer()
	if t.Metadata().Live {
		p.SkipToLive()
	}
	b.listener = s.add(p, b.deliver, b.end)
	return b
}

// Done returns a channel closed when the broadcast has ended, after each
// of its listeners has: buffered listeners then read what is queued and
// io.EOF (or the broadcast's error); paced listeners' Done is closed.
func (b *Broadcast) Done() <-chan struct{} { return b.done }

// Err returns why the broadcast ended, once Done is closed: nil at the end
// of its track or after Close; the track's error; ErrStopped if its
// scheduler was closed.
func (b *Broadcast) Err() error {
	select {
	case <-b.done:
		return b.err
	default:
		return nil
	}
}

// Close ends the broadcast and returns once it has ended: its player is
// out of the scheduler, no packet is being delivered or will be, every
// listener has been ended (as at the end of the track) and Done is closed.
// It waits for a deadline of the scheduler in progress (a few callbacks'
// time), not for the next one; it must therefore not be called from a
// paced listener's send, nor from another callback of the same
// scheduler. It is safe to call more than once, and after the broadcast
// has ended.
func (b *Broadcast) Close() {
	b.listener.stop()
	<-b.done
}

// deliver gives a packet of the broadcast's player to every listener. It
// runs on the scheduler's shard. Paced listeners are sent to outside b.mu,
// so that their send may call the broadcast (Stats, JoinPaced, Leave).
func (b *Broadcast) deliver(p Packet) error {
	b.mu.Lock()
	b.sending = append(b.sending[:0], b.paced...)
	b.mu.Unlock()
	gone := false
	for _, l := range b.sending {
		if l.finished() {
			gone = true
			continue
		}
		if err := l.send(p); err != nil {
			if l.finish(err) {
				b.stats.left.Add(1)
			}
			gone = true
		}
	}
	clear(b.sending)

	b.mu.Lock()
	defer b.mu.Unlock()
	if gone {
		kept := b.paced[:0]
		for _, l := range b.paced {
			if !l.finished() {
				kept = append(kept, l)
			}
		}
		clear(b.paced[len(kept):])
		b.paced = kept
	}

	keptB := b.buffered[:0]
	for _, l := range b.buffered {
		if l.push(p) {
			keptB = append(keptB, l)
		}
	}
	clear(b.buffered[len(keptB):])
	b.buffered = keptB

	if b.cfg.burst > 0 && !p.Silence {
		b.history = append(b.history, p)
		b.histSize += len(p.Data)
		for len(b.history) > 0 && b.histSize > b.cfg.burst {
			b.histSize -= len(b.history[0].Data)
			b.history[0] = Packet{}
			b.history = b.history[1:]
		}
	}
	return nil
}

// end ends every listener when the broadcast ends, then the broadcast. It
// is the scheduler listener's onEnd: it runs once, on the goroutine that
// ended the listener (the shard's, Close's, or NewBroadcast's on a closed
// scheduler), and does not block.
func (b *Broadcast) end(err error) {
	b.mu.Lock()
	b.ended, b.err = true, err
	paced, buffered := b.paced, b.buffered
	b.paced, b.buffered = nil, nil
	b.history, b.histSize = nil, 0
	b.mu.Unlock()
	for _, l := range paced {
		l.finish(err)
	}
	for _, l := range buffered {
		l.close(err)
	}
	close(b.done)
}

// paced is a listener that is given each packet as it comes.
type paced struct {
	b    *Broadcast
	send func(Packet) error
	over atomic.Bool // finish has been called
	done chan struct{}
	err  error // set before done is closed
}

// finish ends the listener with err, reporting whether this call did.
func (l *paced) finish(err error) bool {
	if !l.over.CompareAndSwap(false, true) {
		return false
	}
	l.err = err
	close(l.done)
	return true
}

func (l *paced) finished() bool { return l.over.Load() }

// PacedListener is a listener of a broadcast that is given each packet at
// its deadline.
type PacedListener struct{ p *paced }

// Leave removes the listener: it gets no packet after the one being sent,
// if any, and its Done is closed.
func (l PacedListener) Leave() {
	if l.p.finish(nil) {
		l.p.b.stats.left.Add(1)
	}
}

// Done returns a channel closed when the listener has left or the
// broadcast has ended; Err then says why.
func (l PacedListener) Done() <-chan struct{} { return l.p.done }

// Err returns why the listener left, once Done is closed: nil after Leave
// or at the end of the track; send's error; the broadcast's.
func (l PacedListener) Err() error {
	select {
	case <-l.p.done:
		return l.p.err
	default:
		return nil
	}
}

// JoinPaced adds a listener given each packet as the broadcast sends it,
// from the next one: the live point. send borrows the packet (as a
// Scheduler's listener does: it must not keep it, nor block); an error
// from it removes the listener.
func (b *Broadcast) JoinPaced(send func(Packet) error) PacedListener {
	l := &paced{b: b, send: send, done: make(chan struct{})}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stats.joined.Add(1)
	if b.ended {
		l.finish(b.err)
		return PacedListener{l}
	}
	b.paced = append(b.paced, l)
	return PacedListener{l}
}

// BufferedListener is a listener of a broadcast that reads at its own
// pace, from a queue bounded in bytes. Its packets are lent from the
// track's cache, valid for as long as they are held. It is safe for
// concurrent use.
type BufferedListener struct {
	b *Broadcast

	mu      sync.Mutex // guards the fields below
	queue   []Packet
	size    int // bytes of Data queued
	skipped int64
	closed  bool
	err     error
	ready   chan struct{} // closed when a packet comes or the queue ends; replaced after
}

// JoinBuffered adds a listener that reads the broadcast at its own pace
// (NextContext), starting with a burst of the last packets sent.
func (b *Broadcast) JoinBuffered() *BufferedListener {
	l := &BufferedListener{b: b, ready: make(chan struct{})}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stats.joined.Add(1)
	l.queue = append(l.queue, b.history...)
	for _, p := range b.history {
		l.size += len(p.Data)
	}
	if b.ended {
		l.closed, l.err = true, b.err
		return l
	}
	b.buffered = append(b.buffered, l)
	return l
}

// push queues p, skipping ahead or dropping the listener when it is too
// far behind; it reports whether the listener stays.
func (l *BufferedListener) push(p Packet) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.queue = append(l.queue, p)
	l.size += len(p.Data)
	if l.size > l.b.cfg.bound {
		if l.b.cfg.drop {
			l.b.stats.dropped.Add(1)
			l.closeLocked(ErrSlowListener)
			return false
		}
		l.b.stats.slow.Add(1)
		for l.size > l.b.cfg.bound && len(l.queue) > 1 {
			l.size -= len(l.queue[0].Data)
			l.queue[0] = Packet{}
			l.queue = l.queue[1:]
			l.skipped++
			l.b.stats.skipped.Add(1)
		}
	}
	l.wakeLocked()
	return true
}

func (l *BufferedListener) wakeLocked() {
	close(l.ready)
	l.ready = make(chan struct{})
}

// close ends the listener with err, reporting whether this call did.
func (l *BufferedListener) close(err error) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closeLocked(err)
}

func (l *BufferedListener) closeLocked(err error) bool {
	if l.closed {
		return false
	}
	l.closed, l.err = true, err
	l.wakeLocked()
	return true
}

// Next returns the next packet queued, without blocking: ErrUnderrun if
// there is none yet; at the end of the broadcast, io.EOF or its error
// once the queue is empty; ErrSlowListener if it was dropped.
func (l *BufferedListener) Next() (Packet, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nextLocked()
}

func (l *BufferedListener) nextLocked() (Packet, error) {
	if len(l.queue) > 0 && !errors.Is(l.err, ErrSlowListener) {
		p := l.queue[0]
		l.queue[0] = Packet{}
		l.queue = l.queue[1:]
		l.size -= len(p.Data)
		return p, nil
	}
	if l.closed {
		if l.err != nil {
			return Packet{}, l.err
		}
		return Packet{}, io.EOF
	}
	return Packet{}, ErrUnderrun
}

// NextContext is Next that waits for a packet, until ctx ends.
func (l *BufferedListener) NextContext(ctx context.Context) (Packet, error) {
	for {
		l.mu.Lock()
		p, err := l.nextLocked()
		ready := l.ready // read with the queue: a packet after this closes it
		l.mu.Unlock()
		if err != ErrUnderrun {
			return p, err
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return Packet{}, ctx.Err()
		}
	}
}

// Skipped returns the packets this listener lost by falling behind.
func (l *BufferedListener) Skipped() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.skipped
}

// Queued returns the bytes of packets waiting for the listener.
func (l *BufferedListener) Queued() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.size
}

// Leave removes the listener; later reads return what is queued, then
// io.EOF.
func (l *BufferedListener) Leave() {
	if l.close(nil) {
		l.b.stats.left.Add(1)
	}
}

// BroadcastStats counts a broadcast's listeners.
type BroadcastStats struct {
	Paced, Buffered int   // listening now
	Joined, Left    int64 // over its life
	Slow            int64 // times a buffered listener fell behind its bound
	Skipped         int64 // packets buffered listeners lost by skipping ahead
	Dropped         int64 // buffered listeners dropped as too slow
}

// Stats returns the broadcast's counts.
func (b *Broadcast) Stats() BroadcastStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return BroadcastStats{Paced: len(b.paced), Buffered: len(b.buffered), Joined: b.stats.joined.Load(), Left: b.stats.left.Load(),
		Slow: b.stats.slow.Load(), Skipped: b.stats.skipped.Load(), Dropped: b.stats.dropped.Load()}
}
