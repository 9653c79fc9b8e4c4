package catcher

import (
	"context"
	"sync"
)

// waiter is a wait for the byte at off (or for the end of the stream). A
// blocking read owns one and reuses it: its channel has a buffer of one and
// is signalled by a non-blocking send, so waiting allocates nothing; a
// stale signal left by a cancelled wait is drained before the next one. A
// waiter made by Ready is signalled by closing its channel instead.
type waiter struct {
	off   int64         // wake when the published length exceeds off, or at the end
	ch    chan struct{} // buffered (1) for reads; unbuffered and closed for Ready
	ready bool          // made by Ready: close ch, and drop it from the Ready map
	read  bool          // made by a read: counted in Catcher.blocked
	idx   int           // index in the heap, or -1 when not queued
}

func newWaiter() waiter { return waiter{ch: make(chan struct{}, 1), idx: -1} }

// newReadWaiter returns the waiter of a Reader: its waits are reads.
func newReadWaiter() waiter {
	w := newWaiter()
	w.read = true
	return w
}

// drain discards a stale signal. The waiter must not be queued.
func (w *waiter) drain() {
	select {
	case <-w.ch:
	default:
	}
}

func (w *waiter) signal() {
	if w.ready {
		close(w.ch)
		return
	}
	select {
	case w.ch <- struct{}{}:
	default:
	}
}

// waitHeap is a min-heap of waiters by offset, so that a publish wakes only
// the waits it satisfies, in O(log n) each. It is guarded by Catcher.mu.
type waitHeap []*waiter

func (h *waitHeap) push(w *waiter) {
	w.idx = len(*h)
	*h = append(*h, w)
	h.up(w.idx)
}

// popBelow removes and returns the waiter with the smallest offset if that
// offset is below n, or nil.
func (h *waitHeap) popBelow(n int64) *waiter {
	if len(*h) == 0 || (*h)[0].off >= n {
		return nil
	}
	return h.remove(0)
}

func (h *waitHeap) remove(i int) *waiter {
	s := *h
	w := s[i]
	last := len(s) - 1
	if i != last {
		s[i] = s[last]
		s[i].idx = i
	}
	s[last] = nil
	*h = s[:last]
	if i != last {
		h.down(i)
		h.up(i)
	}
	w.idx = -1
	return w
}

func (h waitHeap) less(i, j int) bool { return h[i].off < h[j].off }

func (h waitHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx = i
	h[j].idx = j
}

func (h waitHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h waitHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h.swap(i, m)
		i = m
	}
}

// closedChan is a channel that is always ready.
var closedChan = func() chan struct{} { ch := make(chan struct{}); close(ch); return ch }()

// Ready returns a channel that is closed once the byte at off is cached or
// the stream has ended (so that reading at off will not block). It asks the
// fill for that byte, and never blocks. Calls for the same offset while it is
// pending share one channel. The demand lasts until the byte comes or the
// stream ends, whether or not anyone still watches the channel.
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
	c.startFillLocked()
	return w.ch
}

var waiterPool = sync.Pool{New: func() any { w := newWaiter(); return &w }}

// waitGlobal waits with a pooled waiter, for callers that have no Reader.
// read says whether the wait is a read's, counted in Stats.Waiting.
func (c *Catcher) waitGlobal(ctx context.Context, off int64, read bool) (*snapshot, error) {
	w := waiterPool.Get().(*waiter)
	w.read = read
	s, err := c.wait(ctx, w, off)
	waiterPool.Put(w)
	return s, err
}

// wait blocks until the byte at off is published or the stream has ended,
// and returns the snapshot that shows it; or until ctx ends. w must not be
// queued; it is not queued on return. A wait that ends with ctx leaves no
// demand behind: the fill stops once nobody waits.
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
		if w.read {
			c.blocked++
		}
		c.startFillLocked()
		c.mu.Unlock()

		select {
		case <-w.ch:
		case <-ctx.Done():
			c.mu.Lock()
			if w.idx >= 0 {
				c.waiters.remove(w.idx)
				if w.read {
					c.blocked--
				}
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

// wakeLocked signals every waiter that s satisfies: all of them once the
// stream has ended. A wait satisfied by new bytes sets the read-ahead: the
// fill goes on past it, since its reader is likely to read on. c.mu must be
// held.
func (c *Catcher) wakeLocked(s *snapshot) {
	if s.done {
		for len(c.waiters) > 0 {
			c.release(c.waiters.remove(len(c.waiters) - 1))
		}
		return
	}
	for w := c.waiters.popBelow(s.n); w != nil; w = c.waiters.popBelow(s.n) {
		c.want = max(c.want, satAdd(w.off+1, c.cfg.readAhead))
		c.release(w)
	}
}

// release signals a waiter just removed from the heap. c.mu must be held.
func (c *Catcher) release(w *waiter) {
	if w.ready {
		delete(c.ready, w.off)
	} else if w.read {
		c.blocked--
	}
	w.signal()
}
