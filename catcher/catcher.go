package catcher

import (
	"context"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
)

// Catcher caches a one-way stream so that any number of Readers can read it,
// each at its own position, seeking freely. The source is read once, on
// demand, by a fill goroutine that the Catcher starts when a reader waits
// for bytes not yet cached; it reads on to the read-ahead past the furthest
// wait (see WithReadAhead), then exits.
//
// All methods are safe for concurrent use. Reading cached bytes takes no
// lock: it loads the published snapshot atomically and copies. Only the fill
// and the bookkeeping of waits take a mutex, never across a call into the
// source.
type Catcher struct {
	// snap is the published state. It is replaced, never modified, by the
	// filler (under mu) and by Close (under mu); readers load it without a
	// lock. Bytes below snap.n are immutable.
	snap atomic.Pointer[snapshot]

	src      io.Reader // immutable; closed by Close if it is an io.Closer
	cfg      config    // immutable after New
	minSpace int       // the transform's MinSpace; immutable

	mu      sync.Mutex        // guards the fields below
	waiters waitHeap          // waits for bytes not yet published
	ready   map[int64]*waiter // Ready waits by offset, so repeated calls share one
	blocked int               // waits in waiters made by reads (not by Ready)
	filling bool              // a fill goroutine is running; it owns f
	loadAll bool              // fill to the end whether or not anyone waits
	want    int64             // fill at least to here: the furthest wait plus the read-ahead
	closed  bool

	// f is the fill state. Only the running fill goroutine touches it; it is
	// handed from one fill goroutine to the next through mu (the filling
	// flag), which orders their accesses.
	f filler
}

// snapshot is the state of the cache at one moment, published atomically.
type snapshot struct {
	n     int64 // bytes published
	rope  *rope
	done  bool  // the stream has ended; no more bytes will come
	err   error // when done: what a read at the end returns: io.EOF for a clean end, else why it ended
	state any   // the transform's State for exactly these n bytes
}

// filler is the state of the fill, owned by one fill goroutine at a time.
type filler struct {
	t       Transform
	src     countingReader
	chunks  int    // chunks allocated so far, for the Growth
	scratch []byte // output at a chunk boundary, before a chunk is allocated for it
	empty   int    // transform calls in a row that made no progress
}

// New returns a Catcher over src. Nothing is read until a reader asks, or
// until Preload or Load. It panics if an option is invalid.
func New(src io.Reader, opts ...Option) *Catcher {
	c := &Catcher{src: src, cfg: config{readAhead: defaultReadAhead}}
	for _, o := range opts {
		o(&c.cfg)
	}
	if w := c.cfg.window; w > 0 {
		// Reading ahead must not evict what a reader that keeps up has
		// yet to read.
		c.cfg.readAhead = min(c.cfg.readAhead, w/2)
	}
	t := c.cfg.transform
	if t == nil {
		t = plainSource{}
	}
	c.minSpace = checkMinSpace(t)
	c.f = filler{t: t, src: countingReader{r: src}}
	c.snap.Store(&snapshot{rope: &rope{}})
	if c.cfg.preload {
		c.Preload()
	}
	return c
}

// plainSource is the Transform of a Catcher without one: it copies.
type plainSource struct{}

func (plainSource) Transform(dst []byte, src io.Reader) (int, error) { return src.Read(dst) }
func (plainSource) MinSpace() int                                    { return 1 }

// NewReader returns a new handle at offset 0.
func (c *Catcher) NewReader() *Reader {
	return &Reader{c: c, w: newWaiter()}
}

// Len returns the number of bytes cached so far (the stream's length once
// Finished). It never blocks.
func (c *Catcher) Len() int64 { return c.snap.Load().n }

// Oldest returns the first offset still held: 0, except in window mode.
func (c *Catcher) Oldest() int64 {
	s := c.snap.Load()
	return s.rope.oldest(s.n)
}

// Finished reports whether the stream has ended (cleanly, with an error, or
// by Close).
func (c *Catcher) Finished() bool { return c.snap.Load().done }

// Err returns why the stream ended: nil while it has not, or if it ended
// cleanly; the source's error; ErrTooLong; or ErrClosed.
func (c *Catcher) Err() error {
	s := c.snap.Load()
	if !s.done || s.err == io.EOF {
		return nil
	}
	return s.err
}

// State returns the transform's state (see Stater) and the number of bytes
// it describes: exactly the bytes cached so far. The state is nil if the
// transform is not a Stater. It never blocks and takes no lock.
func (c *Catcher) State() (state any, n int64) {
	s := c.snap.Load()
	return s.state, s.n
}

// Stats describes a Catcher at one moment.
type Stats struct {
	Len       int64 // bytes cached so far
	Oldest    int64 // first offset still held (window mode frees older ones)
	Allocated int64 // bytes of chunk memory held
	Chunks    int   // chunks held
	Finished  bool  // the stream has ended
	Err       error // as Catcher.Err
	Waiting   int   // reads blocked waiting for bytes
}

// Stats returns the Catcher's statistics. It does not block readers.
func (c *Catcher) Stats() Stats {
	s := c.snap.Load()
	st := Stats{Len: s.n, Oldest: s.rope.oldest(s.n), Chunks: len(s.rope.chunks), Finished: s.done}
	if s.done && s.err != io.EOF {
		st.Err = s.err
	}
	for _, ch := range s.rope.chunks {
		st.Allocated += int64(len(ch.buf))
	}
	c.mu.Lock()
	st.Waiting = c.blocked
	c.mu.Unlock()
	return st
}

// Preload starts reading the whole source into the cache in the background,
// without waiting for readers to ask. It returns at once.
func (c *Catcher) Preload() {
	c.mu.Lock()
	c.loadAll = true
	c.startFillLocked()
	c.mu.Unlock()
}

// Load reads the whole source into the cache and waits for the end. It
// returns nil if the stream ended cleanly, the stream's error otherwise, or
// ctx's error if ctx ends first (loading then goes on in the background;
// Close stops it).
func (c *Catcher) Load(ctx context.Context) error {
	c.Preload()
	return c.Wait(ctx)
}

// Wait waits for the end of the stream, reading the source as needed. It
// returns as Load does.
func (c *Catcher) Wait(ctx context.Context) error {
	s, err := c.waitGlobal(ctx, math.MaxInt64)
	if err != nil {
		return err
	}
	if s.err == io.EOF {
		return nil
	}
	return s.err
}

// closedChan is a channel that is always ready.
var closedChan = func() chan struct{} { ch := make(chan struct{}); close(ch); return ch }()

// Ready returns a channel that is closed once the byte at off is cached or
// the stream has ended (so that reading at off will not block). It asks the
// fill for that byte, and never blocks. Calls for the same offset while it is
// pending share one channel.
func (c *Catcher) Ready(off int64) <-chan struct{} {
	if s := c.snap.Load(); off < s.n || s.done {
		return closedChan
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.snap.Load(); off < s.n || s.done {
		return closedChan
	}
	if w := c.ready[off]; w != nil {
		return w.ch
	}
	if c.ready == nil {
		c.ready = make(map[int64]*waiter)
	}
	w := &waiter{off: off, ch: make(chan struct{}), ready: true, idx: -1}
	c.ready[off] = w
	c.waiters.push(w)
	c.demandLocked(off)
	return w.ch
}

// ReadAt reads len(p) bytes at offset off, waiting for them as needed. It
// follows io.ReaderAt: it returns fewer than len(p) bytes only with an error
// (io.EOF at the end of the stream), it does not use or change any Reader's
// offset, and parallel calls are safe.
func (c *Catcher) ReadAt(p []byte, off int64) (int, error) {
	return c.ReadAtContext(context.Background(), p, off)
}

// ReadAtContext is ReadAt with a context that ends the wait for bytes not
// yet cached; it then returns the bytes read so far and ctx's error.
func (c *Catcher) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%w: ReadAt at %d", ErrNegativeOffset, off)
	}
	done := 0
	for done < len(p) {
		s := c.snap.Load()
		if off >= s.n && !s.done {
			var err error
			if s, err = c.waitGlobal(ctx, off); err != nil {
				return done, err
			}
		}
		if off >= s.n {
			return done, s.err
		}
		if old := s.rope.oldest(s.n); off < old {
			return done, evicted(off, old)
		}
		k, _ := s.rope.copyAt(p[done:], off, s.n, -1)
		done += k
		off += int64(k)
	}
	return done, nil
}

var waiterPool = sync.Pool{New: func() any { w := newWaiter(); return &w }}

// waitGlobal waits with a pooled waiter, for callers that have no Reader.
func (c *Catcher) waitGlobal(ctx context.Context, off int64) (*snapshot, error) {
	w := waiterPool.Get().(*waiter)
	s, err := c.wait(ctx, w, off)
	waiterPool.Put(w)
	return s, err
}

// wait blocks until the byte at off is published or the stream has ended,
// and returns the snapshot that shows it; or until ctx ends. w must not be
// queued; it is not queued on return.
func (c *Catcher) wait(ctx context.Context, w *waiter, off int64) (*snapshot, error) {
	for {
		if s := c.snap.Load(); off < s.n || s.done {
			return s, nil
		}
		c.mu.Lock()
		// The filler and Close publish under mu, so this load is current
		// until we unlock, and a publish after that will find w queued.
		if s := c.snap.Load(); off < s.n || s.done {
			c.mu.Unlock()
			return s, nil
		}
		w.drain()
		w.off = off
		c.waiters.push(w)
		c.blocked++
		c.demandLocked(off)
		c.mu.Unlock()

		select {
		case <-w.ch:
		case <-ctx.Done():
			c.mu.Lock()
			if w.idx >= 0 {
				c.waiters.remove(w.idx)
				c.blocked--
			}
			c.mu.Unlock()
			// Bytes that arrived meanwhile win over the cancellation.
			if s := c.snap.Load(); off < s.n || s.done {
				return s, nil
			}
			return nil, ctx.Err()
		}
	}
}

// demandLocked records a wait for the byte at off, so that the fill goes
// on to the read-ahead past it, and starts the fill. c.mu must be held.
func (c *Catcher) demandLocked(off int64) {
	if want := off + 1 + c.cfg.readAhead; want > c.want && want > off {
		c.want = want
	}
	c.startFillLocked()
}

// startFillLocked starts a fill goroutine if none runs and there is
// anything left to fill. c.mu must be held.
func (c *Catcher) startFillLocked() {
	if c.filling || c.closed || c.snap.Load().done {
		return
	}
	c.filling = true
	go c.fill()
}

// wakeLocked signals every waiter that s satisfies: all of them once the
// stream has ended. c.mu must be held.
func (c *Catcher) wakeLocked(s *snapshot) {
	if s.done {
		for len(c.waiters) > 0 {
			c.release(c.waiters.remove(len(c.waiters) - 1))
		}
		return
	}
	for w := c.waiters.popBelow(s.n); w != nil; w = c.waiters.popBelow(s.n) {
		c.release(w)
	}
}

// release signals a waiter just removed from the heap. c.mu must be held.
func (c *Catcher) release(w *waiter) {
	if w.ready {
		delete(c.ready, w.off)
	} else {
		c.blocked--
	}
	w.signal()
}

// Close ends the stream: waiting and later reads, on every Reader and on
// ReadAt, return ErrClosed, and the cached memory is released. If the source
// is an io.Closer it is closed, possibly while a fill goroutine is blocked in
// its Read (os.File, net.Conn and io.Pipe allow that; the fill goroutine
// exits when the Read returns). Close does not wait for the fill goroutine.
// Calls after the first return nil.
func (c *Catcher) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	s := &snapshot{rope: &rope{}, done: true, err: ErrClosed}
	c.snap.Store(s)
	c.wakeLocked(s)
	c.mu.Unlock()
	if cl, ok := c.src.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

// fill is the fill goroutine: it reads from the source and publishes, one
// step at a time, while anyone waits (or loadAll), and exits when no one
// does, when the stream ends, or on Close.
func (c *Catcher) fill() {
	for {
		s := c.snap.Load()
		next := c.step(s)
		c.mu.Lock()
		if c.closed {
			c.filling = false
			c.mu.Unlock()
			return
		}
		if next != s {
			c.snap.Store(next)
			c.wakeLocked(next)
		}
		if next.done || (len(c.waiters) == 0 && !c.loadAll && next.n >= c.want) {
			c.filling = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
	}
}

// step makes one call to the transform (or one Read of the source) and
// returns the snapshot to publish: s itself if nothing changed. Only the fill
// goroutine calls it; s is the latest published snapshot, which only the
// fill goroutine (or Close) replaces.
func (c *Catcher) step(s *snapshot) *snapshot {
	f := &c.f
	n := s.n
	chunks := s.rope.chunks
	room := int64(math.MaxInt64) // bytes the stream may still grow by
	if c.cfg.maxBytes > 0 {
		room = c.cfg.maxBytes - n
	}
	var spare []byte
	if len(chunks) > 0 {
		last := chunks[len(chunks)-1]
		spare = last.buf[n-last.start:]
	}
	if int64(len(spare)) > room {
		spare = spare[:room]
	}

	var k int
	var err error
	newChunk := false
	if len(spare) >= c.minSpace {
		// Publish at least every maxStep bytes, so that readers work on
		// what is in while the fill goes on.
		k, err = callTransform(f.t, spare[:min(len(spare), max(maxStep, c.minSpace))], &f.src, &f.empty)
	} else {
		// At a chunk boundary (or near MaxBytes): take the output into
		// scratch first, so that no chunk is allocated for a stream that
		// has ended, and output past MaxBytes is seen before it is stored.
		// The probe is no larger than the chunk it would go into, nor than
		// the room left, but always takes a whole unit.
		size := c.nextChunkSize()
		probe := max(c.minSpace, int(min(int64(min(size, probeSize)), room)))
		if f.scratch == nil {
			f.scratch = make([]byte, max(c.minSpace, probeSize))
		}
		k, err = callTransform(f.t, f.scratch[:probe], &f.src, &f.empty)
		if int64(k) > room {
			k, err = 0, fmt.Errorf("%w (%d bytes)", ErrTooLong, c.cfg.maxBytes)
		}
		if k > 0 {
			if len(spare) >= k {
				copy(spare, f.scratch[:k])
			} else {
				ch := &chunk{start: n, buf: make([]byte, min(int64(size), room))}
				f.chunks++
				copy(ch.buf, f.scratch[:k])
				newChunk = true
				chunks = append(chunks, ch)
			}
		}
	}
	if k == 0 && err == nil {
		return s
	}
	next := &snapshot{n: n + int64(k), rope: s.rope, state: s.state}
	if err != nil {
		next.done, next.err = true, err
	}
	if newChunk {
		next.rope = &rope{chunks: chunks}
	}
	if st, ok := f.t.(Stater); ok {
		next.state = c.callState(st, &next.err, &next.done)
	}
	if c.cfg.window > 0 {
		next.rope = c.evict(next.rope, next.n)
	} else if next.done && c.cfg.finalise && len(next.rope.chunks) > 1 {
		next.rope = finalise(next.rope, next.n)
	}
	return next
}

// callState calls st.State, turning a panic into the end of the stream.
func (c *Catcher) callState(st Stater, err *error, done *bool) (v any) {
	defer func() {
		if r := recover(); r != nil {
			v = nil
			*err = fmt.Errorf("%w: %T.State panicked: %v", ErrBadSource, st, r)
			*done = true
		}
	}()
	return st.State()
}

// defaultReadAhead is the read-ahead without WithReadAhead.
const defaultReadAhead = 1 << 20

// maxStep bounds the output of one fill step between publishes.
const maxStep = 64 << 10

// probeSize bounds the output taken at a chunk boundary before a chunk is
// allocated for it.
const probeSize = 4096

// nextChunkSize is the size of the next chunk to allocate (before MaxBytes
// bounds it): at least MinSpace.
func (c *Catcher) nextChunkSize() int {
	var size int
	if i := c.f.chunks; c.cfg.hint > 0 && i == 0 {
		size = int(min(c.cfg.hint, maxHintChunk))
	} else {
		if c.cfg.hint > 0 {
			i--
		}
		size = c.cfg.growth.Size(i)
	}
	if w := c.cfg.window; w > 0 {
		size = int(min(int64(size), max(w/4, 1)))
	}
	return max(size, c.minSpace)
}

// evict drops the chunks wholly before the window that ends at n.
func (c *Catcher) evict(r *rope, n int64) *rope {
	low := n - c.cfg.window
	drop := 0
	for drop+1 < len(r.chunks) && r.chunks[drop+1].start <= low {
		drop++
	}
	if drop == 0 {
		return r
	}
	// A fresh slice, so that the dropped chunks are not kept alive by
	// the backing array.
	kept := make([]*chunk, len(r.chunks)-drop, len(r.chunks)-drop+4)
	copy(kept, r.chunks[drop:])
	return &rope{chunks: kept}
}

// finalise copies the rope of n bytes into one chunk.
func finalise(r *rope, n int64) *rope {
	start := r.chunks[0].start
	buf := make([]byte, n-start)
	for i, ch := range r.chunks {
		copy(buf[ch.start-start:], ch.buf[:r.end(i, n)-ch.start])
	}
	return &rope{chunks: []*chunk{{start: start, buf: buf}}}
}

func evicted(off, oldest int64) error {
	return fmt.Errorf("%w: offset %d, oldest kept %d", ErrEvicted, off, oldest)
}
