package pipeline

import (
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The lines a shard asks for ahead of a listener hold every field a
// steady packet reads of it (but the lateness bucket it counts in: see
// listenerHot): its Listener's first listenerHot bytes, in two lines where
// the allocator puts a Listener, and its Player, or its Queue's fields
// before the queue's listener (the spans TestQueueSteadyCacheLines
// counts). A field added to the path outside them, or a Listener field a
// packet reads moved after its lateness, fails here.
func TestPrefetchCoversSteadyPacket(t *testing.T) {
	within := func(what string, n uintptr, ss []span) {
		t.Helper()
		for _, s := range ss {
			assert.LessOrEqual(t, s.off+s.size, n, "%s: %s is past the %d bytes asked for", what, s.name, n)
		}
	}
	var fields []span
	for _, s := range listenerSpans(0) {
		if !strings.HasPrefix(s.name, "Listener.lateness.buckets") { // asked for on their own
			fields = append(fields, s)
		}
	}
	within("a Listener", listenerHot, fields)
	lisBase := baseOf(t, func() *Listener { return new(Listener) })
	assert.LessOrEqual(t, len(linesOf(lisBase, []span{{"hot", 0, listenerHot}})), 2, "a Listener's packet reads two lines")

	p := new(Player)
	at, n := (&Listener{p: p}).target()
	assert.Equal(t, unsafe.Pointer(p), at, "a Player's listener asks for its player")
	within("a Player", n, playerSpans("Player.", 0))

	q := NewQueue(nil)
	defer q.Close()
	at, n = (&Listener{q: q}).target() // as AddQueue sets up q.lis
	assert.Equal(t, unsafe.Pointer(q), at, "a Queue's listener asks for its queue")
	within("a Queue", n, queueSpans())
}

// prefetchAhead asks, serving the i-th listener, for the Listener of the
// one listenerAhead on, what the one targetAhead on drives, and the cold
// lines of the queue coldAhead on if it has a command pending or a live
// track; nothing past the end.
func TestPrefetchAhead(t *testing.T) {
	var ls []*Listener
	var queues []*Queue
	for i := range 12 {
		if i%3 == 0 {
			ls = append(ls, &Listener{p: new(Player)})
			continue
		}
		q := NewQueue(nil)
		queues = append(queues, q)
		q.lis = Listener{q: q}
		ls = append(ls, &q.lis)
		switch {
		case i%3 == 1:
			q.Pause() // a command pending
		case i%2 == 0:
			q.live.Store(true)
		}
	}
	defer func() {
		for _, q := range queues {
			q.Close()
		}
	}()
	ours := map[unsafe.Pointer]bool{}
	for _, l := range ls {
		ours[unsafe.Pointer(l)] = true
		p, _ := l.target()
		ours[p] = true
		if l.q != nil {
			ours[unsafe.Pointer(l.q.queueCold)] = true
		}
	}
	var mu sync.Mutex
	var got []memSpan
	hook := func(p unsafe.Pointer, n uintptr) {
		if ours[p] { // not another test's shard's
			mu.Lock()
			got = append(got, memSpan{p, n})
			mu.Unlock()
		}
	}
	prefetchHook.Store(&hook)
	defer prefetchHook.Store(nil)
	asked := 0
	for i := range ls {
		var want []memSpan
		if j := i + listenerAhead; j < len(ls) {
			want = append(want, memSpan{unsafe.Pointer(ls[j]), listenerHot})
		}
		if j := i + targetAhead; j < len(ls) {
			p, n := ls[j].target()
			want = append(want, memSpan{p, n})
		}
		if j := i + coldAhead; j < len(ls) {
			if q := ls[j].q; q != nil && (q.pending.Load() != 0 || q.live.Load()) {
				want = append(want, memSpan{unsafe.Pointer(q.queueCold), unsafe.Sizeof(queueCold{})})
				asked++
			}
		}
		mu.Lock()
		got = got[:0]
		mu.Unlock()
		prefetchAhead(ls, i)
		mu.Lock()
		assert.ElementsMatch(t, want, got, "serving listener %d", i)
		mu.Unlock()
	}
	assert.Equal(t, 6, asked, "queues with a command pending or a live track had their cold lines asked for")
	require.Less(t, targetAhead, listenerAhead, "a Listener's lines are asked for before it is read for its target")
	require.Less(t, coldAhead, targetAhead, "a queue's pending word is asked for before it is read")
}

// memSpan is n bytes at p.
type memSpan struct {
	p unsafe.Pointer
	n uintptr
}

// Asking for lines never faults, wherever they are: prefetchAhead asks
// for those of listeners that may have been removed, and a prefetch is
// a hint.
func TestPrefetchNeverFaults(t *testing.T) {
	prefetchLines(0, 4)
	prefetchLines(^uintptr(0)&^(cacheLineSize-1), 1)
	prefetchLines(0, 0)
	prefetchLines(0, -1)
	prefetchSpan(nil, 100)
	var ls []*Listener
	for i := range 5 {
		if i%2 == 0 {
			ls = append(ls, &Listener{p: new(Player)})
		} else {
			ls = append(ls, &Listener{q: NewQueue(nil)})
		}
	}
	for i := range ls {
		prefetchAhead(ls, i)
	}
	for _, l := range ls {
		if l.q != nil {
			l.q.Close()
		}
	}
}
