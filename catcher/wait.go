package catcher

// waiter is a wait for the byte at off (or for the end of the stream). A
// blocking read owns one and reuses it: its channel has a buffer of one and
// is signalled by a non-blocking send, so waiting allocates nothing; a
// stale signal left by a cancelled wait is drained before the next one. A
// waiter made by Ready is signalled by closing its channel instead.
type waiter struct {
	off   int64         // wake when the published length exceeds off, or at the end
	ch    chan struct{} // buffered (1) for reads; unbuffered and closed for Ready
	ready bool          // made by Ready: close ch, and drop it from the Ready map
	idx   int           // index in the heap, or -1 when not queued
}

func newWaiter() waiter { return waiter{ch: make(chan struct{}, 1), idx: -1} }

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
