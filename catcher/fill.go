package catcher

import (
	"fmt"
	"io"
	"math"
)

// filler is the state of the fill, owned by one fill goroutine at a time.
// It is released (zeroed) when the stream ends.
type filler struct {
	t       Transform
	src     countingReader
	chunks  int    // chunks allocated so far, for the Growth
	scratch []byte // output at a chunk boundary, before a chunk is allocated for it
	empty   int    // transform calls in a row that made no progress
}

// defaultReadAhead is the read-ahead without WithReadAhead.
const defaultReadAhead = 1 << 20

// maxStep bounds the output of one fill step between publishes.
const maxStep = 64 << 10

// probeSize bounds the output taken at a chunk boundary before a chunk is
// allocated for it.
const probeSize = 4096

// startFillLocked starts a fill goroutine if none runs and there is
// anything left to fill. c.mu must be held.
func (c *Catcher) startFillLocked() {
	if c.filling || c.closed || c.snap.Load().done {
		return
	}
	c.filling = true
	c.fills.Go(c.fill)
}

// fillStartHook, if not nil, is called by every fill goroutine as it
// starts, before it takes c.mu. Tests set it to hold a fill at that point.
var fillStartHook func(*Catcher)

// needFillLocked reports whether the fill should go on from s: someone
// waits, Preload asked for everything, or the read-ahead is not reached.
// c.mu must be held.
func (c *Catcher) needFillLocked(s *snapshot) bool {
	return !s.done && (len(c.waiters) > 0 || c.loadAll || s.n < c.want)
}

// fill is the fill goroutine: it reads from the source and publishes, one
// step at a time, while anyone waits (or loadAll, or the read-ahead is not
// reached), and exits when no one does, when the stream ends, or on Close.
// It runs under c.fills, which Close waits for; on Close it releases the
// fill state before it exits.
func (c *Catcher) fill() {
	if h := fillStartHook; h != nil {
		h(c)
	}
	c.mu.Lock()
	for {
		s := c.snap.Load()
		if c.closed || !c.needFillLocked(s) {
			if c.closed {
				c.f = filler{} // release the transform and the scratch
			}
			c.filling = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()

		next := c.step(s)
		if next.done {
			c.finish(next)
		}

		c.mu.Lock()
		if !c.closed && next != s {
			c.publishLocked(next)
		}
	}
}

// finish releases what the fill holds once the stream has ended, before
// next, the last snapshot, is published: the source is closed (if the
// Catcher owns it and Close has not taken it), the transform and the
// scratch buffer are dropped, and only the state's size is left counted.
// A failure to close the source replaces a clean end.
func (c *Catcher) finish(next *snapshot) {
	c.mu.Lock()
	cl := c.takeSourceLocked()
	c.mu.Unlock()
	if cl != nil {
		if err := cl.Close(); err != nil && next.err == io.EOF {
			next.err = fmt.Errorf("catcher: closing the source at the end of the stream: %w", err)
		}
	}
	c.f = filler{}
	next.extra = sizeOf(next.state)
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
	var broken bool // the output was refused: the transform's state no longer matches it
	newChunk := false
	if len(spare) >= c.minSpace {
		// Publish at least every maxStep bytes, so that readers work on
		// what is in while the fill goes on.
		k, err, broken = callTransform(f.t, spare[:min(len(spare), max(maxStep, c.minSpace))], &f.src, &f.empty)
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
		k, err, broken = callTransform(f.t, f.scratch[:probe], &f.src, &f.empty)
		if int64(k) > room {
			k, err, broken = 0, fmt.Errorf("%w (%d bytes)", ErrTooLong, c.cfg.maxBytes), true
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
	if st, ok := f.t.(Stater); ok && !broken {
		v, serr := callState(st)
		if serr != nil {
			// The bytes written have no state to describe them: they
			// are not published, and the stream ends.
			next = &snapshot{n: n, rope: s.rope, state: s.state, done: true, err: serr}
		} else {
			next.state = v
		}
	}
	if c.cfg.window > 0 {
		next.rope = c.evict(next.rope, next.n)
	} else if next.done && c.cfg.finalise && len(next.rope.chunks) > 1 {
		next.rope = finalise(next.rope, next.n)
	}
	next.extra = int64(cap(f.scratch)) + sizeOf(f.t)
	return next
}

// callState calls st.State, turning a panic into an error.
func callState(st Stater) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("%w: %T.State panicked: %v", ErrBadSource, st, r)
		}
	}()
	return st.State(), nil
}

// satAdd is a+b for non-negative a and b, saturating at math.MaxInt64.
func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

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
