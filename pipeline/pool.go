package pipeline

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
)

// Pool bounds how many tracks encode at once, so that encoding (minutes of
// CPU a track) does not starve the real-time work of sending. A track takes
// a slot of the pool for each step of its encoding (a packet, about a
// fraction of a millisecond of work; a pipelined track, one for each step
// of either side: see WithPipelined) and gives it back after it; when the
// slots are taken, a track that a listener is waiting on (or a live one)
// goes before one that is only being preloaded, and tracks of one kind go
// in turn. A Pool is safe for concurrent use.
type Pool struct {
	mu      sync.Mutex // guards the fields below
	slots   int
	busy    int
	waiting []*poolWait // in order of arrival
	stats   PoolStats
}

// poolWait is a track waiting for a slot.
type poolWait struct {
	urgent func() bool
	ready  chan struct{} // closed when granted
	done   bool          // granted
}

// PoolStats counts a pool's work.
type PoolStats struct {
	Slots     int   // the bound
	Busy      int   // slots taken now
	Waiting   int   // tracks waiting for a slot now
	Grants    int64 // slots given
	Queued    int64 // grants that had to wait
	Jumped    int64 // grants to an urgent track ahead of tracks that came before it
	Cancelled int64 // waits ended by their context
}

// NewPool returns a pool of n slots; n <= 0 means runtime.GOMAXPROCS(0).
func NewPool(n int) *Pool {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	return &Pool{slots: n}
}

// defaultPool is the pool of tracks made without WithPool.
var defaultPool = sync.OnceValue(func() *Pool { return NewPool(0) })

// Stats returns the pool's counts at this moment.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.stats
	st.Slots, st.Busy, st.Waiting = p.slots, p.busy, len(p.waiting)
	return st
}

// spare reports whether two slots are free now, with no track waiting:
// one for a step of a track's encoding and one for a second goroutine of
// it (see pipelined.go).
func (p *Pool) spare() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.slots-p.busy >= 2 && len(p.waiting) == 0
}

// acquire takes a slot, waiting until one is free and it is this track's
// turn, or until ctx ends. urgent says whether the track is wanted now; it
// is asked when slots are handed out, so it must be cheap and not block.
func (p *Pool) acquire(ctx context.Context, urgent func() bool) error {
	p.mu.Lock()
	if p.busy < p.slots && len(p.waiting) == 0 {
		p.busy++
		p.stats.Grants++
		p.mu.Unlock()
		return nil
	}
	w := &poolWait{urgent: urgent, ready: make(chan struct{})}
	p.waiting = append(p.waiting, w)
	p.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		if w.done { // granted meanwhile: give it back
			p.mu.Unlock()
			p.release()
		} else {
			p.remove(w)
			p.stats.Cancelled++
			p.mu.Unlock()
		}
		return ctx.Err()
	}
}

// release gives a slot back and hands it to the next track: the first
// urgent one, else the first.
func (p *Pool) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.busy--
	if p.busy < 0 {
		panic(fmt.Sprintf("pipeline: pool released more than taken (%d)", p.busy))
	}
	for p.busy < p.slots && len(p.waiting) > 0 {
		i := 0
		for j, w := range p.waiting {
			if w.urgent() {
				i = j
				if j > 0 {
					p.stats.Jumped++
				}
				break
			}
		}
		w := p.waiting[i]
		p.remove(w)
		w.done = true
		p.busy++
		p.stats.Grants++
		p.stats.Queued++
		close(w.ready)
	}
}

// remove drops w from the queue. p.mu must be held.
func (p *Pool) remove(w *poolWait) {
	if i := slices.Index(p.waiting, w); i >= 0 {
		p.waiting = slices.Delete(p.waiting, i, i+1)
	}
}
