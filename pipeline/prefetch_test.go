package pipeline

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

// The lines a shard asks for ahead of a listener (prefetchAhead) hold
// every field a steady packet reads of it: its Listener's first
// listenerHot bytes, and its Player, or its Queue's fields before the
// queue's listener (the spans TestQueueSteadyCacheLines counts). A field
// added to the path outside them, or a Listener field a packet reads moved
// after lateness, fails here.
func TestPrefetchCoversSteadyPacket(t *testing.T) {
	within := func(what string, n uintptr, ss []span) {
		t.Helper()
		for _, s := range ss {
			assert.LessOrEqual(t, s.off+s.size, n, "%s: %s is past the %d bytes asked for", what, s.name, n)
		}
	}
	within("a Listener", listenerHot, listenerSpans(0))

	p := new(Player)
	at, n := (&Listener{p: p}).target()
	assert.Equal(t, unsafe.Pointer(p), at, "a Player's listener asks for its player")
	var ps Player
	within("a Player", n, append(playerSpans("Player.", 0),
		span{"Player.stats.Silence", unsafe.Offsetof(ps.stats) + unsafe.Offsetof(ps.stats.Silence), unsafe.Sizeof(ps.stats.Silence)}))

	q := NewQueue(nil)
	defer q.Close()
	at, n = (&Listener{q: q}).target() // as AddQueue sets up q.lis
	assert.Equal(t, unsafe.Pointer(q), at, "a Queue's listener asks for its queue")
	f := func(name string, o, s uintptr) span { return span{"Queue." + name, o, s} }
	within("a Queue", n, append([]span{
		f("pending", unsafe.Offsetof(q.pending), unsafe.Sizeof(q.pending)),
		f("live", unsafe.Offsetof(q.live), unsafe.Sizeof(q.live)),
		f("steady", unsafe.Offsetof(q.steady), unsafe.Sizeof(q.steady)),
		f("ts", unsafe.Offsetof(q.ts), unsafe.Sizeof(q.ts)),
		f("packets", unsafe.Offsetof(q.packets), unsafe.Sizeof(q.packets)),
		f("silent", unsafe.Offsetof(q.silent), unsafe.Sizeof(q.silent)),
		f("skips", unsafe.Offsetof(q.skips), unsafe.Sizeof(q.skips)),
		f("inHand", unsafe.Offsetof(q.inHand), unsafe.Sizeof(q.inHand)),
		f("pubBase", unsafe.Offsetof(q.pubBase), unsafe.Sizeof(q.pubBase)),
		f("evOn", unsafe.Offsetof(q.evOn), unsafe.Sizeof(q.evOn)),
		f("queueCold", unsafe.Offsetof(q.queueCold), unsafe.Sizeof(q.queueCold)), // for a pending command's cold lines
	}, playerSpans("Queue.pl.", unsafe.Offsetof(q.pl))...))
}

// Asking for lines never faults, wherever they are: prefetchAhead asks
// for those of listeners that may have been removed, and a prefetch is
// a hint.
func TestPrefetchNeverFaults(t *testing.T) {
	prefetchLines(0, 4)
	prefetchLines(^uintptr(0)&^(cacheLineSize-1), 1)
	prefetchLines(0, 0)
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
