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
// satisfied wait (see WithReadAhead), then exits.
//
// All methods are safe for concurrent use. Reading cached bytes takes no
// lock: it loads the published snapshot atomically and copies (or, with
// View, lends). Only the fill and the bookkeeping of waits take a mutex,
// never across a call into the source or the transform.
type Catcher struct {
	// snap is the published state. It is replaced, never modified, by the
	// filler and by Close, both under mu; readers load it without a lock.
	// Bytes below snap.n are immutable.
	snap atomic.Pointer[snapshot]

	cfg      config        // immutable after New
	minSpace int           // the transform's MinSpace; immutable
	done     chan struct{} // closed when the stream ends; see Done
	stop     atomic.Bool   // set by Close: no source Read starts once it is

	// fills counts the running fill goroutine (there is at most one). It
	// is added to under mu while closed is false, so that once Close has
	// set closed nothing is added and Close can wait for it.
	fills sync.WaitGroup

	mu      sync.Mutex        // guards the fields below
	waiters waitHeap          // waits for bytes not yet published
	ready   map[int64]*waiter // Ready waits by offset, so repeated calls share one
	blocked int               // reads among waiters (see Stats.Waiting)
	filling bool              // a fill goroutine is running; it owns f
	loadAll bool              // fill to the end whether or not anyone waits
	want    int64             // fill at least to here: the read-ahead past the furthest satisfied wait
	closed  bool
	src     io.Reader // the source, until it has been closed or released

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
	extra int64 // bytes held beyond the chunks: fill scratch, the transform (or, once done, its state)
}

// New returns a Catcher over src. Nothing is read until a reader asks, or
// until Preload or Load. If src is an io.Closer the Catcher owns it: it
// closes it when the stream ends, or at Close. New panics if an option is
// invalid (a programmer's mistake, such as a negative size).
func New(src io.Reader, opts ...Option) *Catcher {
	c := &Catcher{src: src, cfg: config{readAhead: defaultReadAhead}, done: make(chan struct{})}
	for _, o := range opts {
		o(&c.cfg)
	}
	if w := c.cfg.window; w > 0 {
		// Reading ahead must not evict what a reader that keeps up has
		// yet to read.
		c.cfg.readAhead = min(c.cfg.readAhead, w/2)
	}
	t := c.cfg.transform
	c.cfg.transform = nil // the filler holds it, until the end or Close
	if t == nil {
		t = plainSource{}
	}
	c.minSpace = checkMinSpace(t)
	c.f = filler{t: t, src: countingReader{r: src, stop: &c.stop}}
	c.snap.Store(&snapshot{rope: &rope{}, extra: sizeOf(t)})
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
	return &Reader{c: c, w: newReadWaiter()}
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

// Done returns a channel that is closed when the stream has ended: cleanly,
// with an error, or by Close. Err then says which. It is the same channel on
// every call.
func (c *Catcher) Done() <-chan struct{} { return c.done }

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
// transform is not a Stater. It never blocks and takes no lock. StateOf is
// the typed form.
func (c *Catcher) State() (state any, n int64) {
	s := c.snap.Load()
	return s.state, s.n
}

// StateOf returns the state of type T published by c's transform, and the
// number of bytes it describes, as State does. When the transform is a
// Chain (or a Deferred one built as a Chain), it is the state of the last
// stage whose state is a T. ok is false if there is none (yet).
//
//	x, n, ok := catcher.StateOf[framed.Index](c)
func StateOf[T any](c *Catcher) (v T, n int64, ok bool) {
	s := c.snap.Load()
	v, ok = findState[T](s.state)
	return v, s.n, ok
}

func findState[T any](st any) (T, bool) {
	// ChainState first: a static type assertion is cheaper than one to T.
	if cs, ok := st.(ChainState); ok {
		for i := len(cs) - 1; i >= 0; i-- {
			if v, ok := findState[T](cs[i]); ok {
				return v, true
			}
		}
	}
	v, ok := st.(T)
	return v, ok
}

// Stats describes a Catcher at one moment.
type Stats struct {
	Len       int64 // bytes cached so far
	Oldest    int64 // first offset still held (window mode frees older ones)
	Allocated int64 // bytes of chunk memory held
	Chunks    int   // chunks held
	// Resident is every byte the Catcher holds: the chunks, the fill's
	// scratch buffer and, while the stream goes on, the transform's own
	// memory as far as it reports it (see Sizer); once the stream has
	// ended, the transform is released and only its state is counted.
	Resident int64
	Finished bool  // the stream has ended
	Err      error // as Catcher.Err
	// Waiting is the number of reads (by Readers, ReadAt and WaitFor)
	// blocked waiting for bytes. Wait, Load, Seek from the end and Ready
	// are not counted.
	Waiting int
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
	st.Resident = st.Allocated + s.extra
	c.mu.Lock()
	st.Waiting = c.blocked
	c.mu.Unlock()
	return st
}

// Waiters returns the number of waits, of every kind (reads, WaitFor,
// Ready), for bytes not cached yet: whether anyone is waiting on the fill
// now, as a scheduler of fills wants to know.
func (c *Catcher) Waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
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
	s, err := c.waitGlobal(ctx, math.MaxInt64, false)
	if err != nil {
		return err
	}
	if s.err == io.EOF {
		return nil
	}
	return s.err
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
			if s, err = c.waitGlobal(ctx, off, true); err != nil {
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

// WaitFor waits until the byte at off is cached or the stream has ended
// (cleanly, with an error, or by Close), reading the source as needed, and
// returns nil; or until ctx ends, and returns ctx's error. Unlike Ready's,
// its demand ends with it: a wait that ctx ends leaves the fill nothing to
// do for it.
func (c *Catcher) WaitFor(ctx context.Context, off int64) error {
	if off < 0 {
		return fmt.Errorf("%w: WaitFor(%d)", ErrNegativeOffset, off)
	}
	_, err := c.waitGlobal(ctx, off, true)
	return err
}

// View lends the n cached bytes at [off, off+n) as a slice of the cache
// itself, without copying. It never blocks and takes no lock.
//
// The slice stays valid for as long as the caller holds it, whatever
// happens to the Catcher afterwards: chunks never move and bytes below the
// published length never change, so even after eviction or Close the bytes
// are those of the stream (holding the slice keeps its chunk's memory
// alive). This is a stronger promise than bufio.Reader.Peek's, whose slice
// is valid only until the next read. The caller must not modify the slice;
// its capacity ends with it, so appending to it copies.
//
// The range must lie within one chunk: a Transform's units always do (see
// MinSpace); a range of a plain stream may not, which is
// ErrNotContiguous. Other errors: ErrNotCached while some of the bytes
// have yet to come (Ready and Reader.Ready say when they have); at the end
// of the stream, io.EOF for a range starting at the end, io.ErrUnexpectedEOF
// for one running past it, or the stream's error if it failed; ErrEvicted
// (wrapped) for a range before the window; ErrClosed after Close;
// ErrNegativeOffset for a negative off or n.
func (c *Catcher) View(off int64, n int) ([]byte, error) {
	if off < 0 || n < 0 {
		return nil, fmt.Errorf("%w: View(%d, %d)", ErrNegativeOffset, off, n)
	}
	s := c.snap.Load()
	if s.done && s.err == ErrClosed {
		return nil, ErrClosed
	}
	end := off + int64(n)
	if end > s.n || end < off {
		switch {
		case !s.done:
			return nil, ErrNotCached
		case s.err != io.EOF:
			return nil, s.err
		case off >= s.n:
			return nil, io.EOF
		default:
			return nil, io.ErrUnexpectedEOF
		}
	}
	if old := s.rope.oldest(s.n); off < old {
		return nil, evicted(off, old)
	}
	if n == 0 {
		return []byte{}, nil
	}
	i := s.rope.find(off, -1)
	ch := s.rope.chunks[i]
	if end > s.rope.end(i, s.n) {
		return nil, fmt.Errorf("%w: [%d, %d) crosses the chunk ending at %d", ErrNotContiguous, off, end, s.rope.end(i, s.n))
	}
	lo, hi := off-ch.start, end-ch.start
	return ch.buf[lo:hi:hi], nil
}

// Close ends the stream: waiting and later reads, on every Reader and on
// ReadAt, return ErrClosed, and the cache's memory is released. If the
// source is an io.Closer that the Catcher has not already closed at the end
// of the stream, Close closes it, possibly while the fill goroutine is
// blocked in its Read (os.File, net.Conn and io.Pipe allow that, and the
// Read then returns).
//
// Once Close has begun, no new Read of the source starts (the transform's
// reads get ErrClosed). Close returns only when the fill goroutine, the one
// goroutine a Catcher starts, has ended: no call into the source or the
// transform is then in progress, none will be made, and the transform and
// the fill's buffers are released (unreachable from the Catcher and its
// Readers). To end a fill blocked in the source's Read, Close closes the
// source first and then waits; the source's Close must therefore be safe
// to call while a Read is in progress, as os.File's, net.Conn's,
// io.Pipe's and http.Response.Body's are.
//
// Close waits for as long as that Read takes to return. A source that is
// not an io.Closer (or whose Close does not end a Read in progress) and
// blocks in Read forever blocks Close forever; wrap such a source in a type
// whose Close unblocks its Read, or do not call Close from a goroutine that
// must not block. Close must not be called from inside the fill (from the
// source's Read or Close, or the transform): it would wait for itself.
// Calls after the first wait as the first does and return nil.
func (c *Catcher) Close() error {
	c.mu.Lock()
	if c.closed {
		// Another Close is done or under way: wait as it does.
		c.mu.Unlock()
		c.fills.Wait()
		return nil
	}
	c.closed = true
	c.stop.Store(true)
	c.publishLocked(&snapshot{rope: &rope{}, done: true, err: ErrClosed})
	if !c.filling {
		c.f = filler{} // the transform and scratch; a running fill drops them as it exits
	}
	cl := c.takeSourceLocked()
	c.mu.Unlock()
	var err error
	if cl != nil {
		err = cl.Close()
	}
	c.fills.Wait()
	return err
}

// takeSourceLocked returns the source to close, if it is an io.Closer that
// nobody has closed yet, and forgets it. c.mu must be held.
func (c *Catcher) takeSourceLocked() io.Closer {
	cl, _ := c.src.(io.Closer)
	c.src = nil
	return cl
}

// publishLocked makes s the published state and wakes the waits it
// satisfies. c.mu must be held.
func (c *Catcher) publishLocked(s *snapshot) {
	c.snap.Store(s)
	c.wakeLocked(s)
	if s.done {
		select {
		case <-c.done:
		default:
			close(c.done)
		}
	}
}

func evicted(off, oldest int64) error {
	return fmt.Errorf("%w: offset %d, oldest kept %d", ErrEvicted, off, oldest)
}
