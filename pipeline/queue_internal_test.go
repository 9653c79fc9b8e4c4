package pipeline

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cacheLine is the line size the layouts below are counted in.
const cacheLine = 64

// span is a field's place in its allocation: its offset and size.
type span struct {
	name      string
	off, size uintptr
}

// linesOf is the set of cache lines the spans touch, their allocation
// starting at base bytes past a line's start.
func linesOf(base uintptr, ss []span) map[uintptr]bool {
	ls := map[uintptr]bool{}
	for _, s := range ss {
		for b := base + s.off; b < base+s.off+s.size; b = (b/cacheLine + 1) * cacheLine {
			ls[b/cacheLine] = true
		}
	}
	return ls
}

// fewestLines is the fewest cache lines the spans touch, at the best of
// the places an allocator may put their allocation (8-byte aligned).
func fewestLines(ss []span) int {
	n := len(ss) + 1
	for base := uintptr(0); base < cacheLine; base += 8 {
		n = min(n, len(linesOf(base, ss)))
	}
	return n
}

// listenerSpans is what a shard reads and writes of a listener at each
// deadline that gives it a packet, on time (tick, serve).
func listenerSpans(off uintptr) []span {
	var l Listener
	f := func(name string, o, s uintptr) span { return span{"Listener." + name, off + o, s} }
	return []span{
		f("removed", unsafe.Offsetof(l.removed), unsafe.Sizeof(l.removed)),
		f("started", unsafe.Offsetof(l.started), unsafe.Sizeof(l.started)),
		f("attached", unsafe.Offsetof(l.attached), unsafe.Sizeof(l.attached)),
		f("hasOps", unsafe.Offsetof(l.hasOps), unsafe.Sizeof(l.hasOps)),
		f("live", unsafe.Offsetof(l.live), unsafe.Sizeof(l.live)),
		f("following", unsafe.Offsetof(l.following), unsafe.Sizeof(l.following)), // a live listener's
		f("p", unsafe.Offsetof(l.p), unsafe.Sizeof(l.p)),
		f("q", unsafe.Offsetof(l.q), unsafe.Sizeof(l.q)),
		f("next", unsafe.Offsetof(l.next), unsafe.Sizeof(l.next)),
		f("send", unsafe.Offsetof(l.send), unsafe.Sizeof(l.send)),
		f("first", unsafe.Offsetof(l.first), unsafe.Sizeof(l.first)),
		f("sent", unsafe.Offsetof(l.sent), unsafe.Sizeof(l.sent)),
		f("lateness.buckets[0]", unsafe.Offsetof(l.lateness)+unsafe.Offsetof(l.lateness.buckets), unsafe.Sizeof(l.lateness.buckets[0])),
		f("lateness.max", unsafe.Offsetof(l.lateness)+unsafe.Offsetof(l.lateness.max), unsafe.Sizeof(l.lateness.max)),
		f("liveSkips", unsafe.Offsetof(l.liveSkips), unsafe.Sizeof(l.liveSkips)),
		f("skips", unsafe.Offsetof(l.skips), unsafe.Sizeof(l.skips)),
		f("silence", unsafe.Offsetof(l.silence), unsafe.Sizeof(l.silence)),
	}
}

// playerSpans is what a looping player's Next reads and writes for a
// packet of its track in the middle of it (the track's own fields and
// its cache's, shared by every player of the track, not counted).
func playerSpans(prefix string, off uintptr) []span {
	var p Player
	f := func(name string, o, s uintptr) span { return span{prefix + name, off + o, s} }
	return []span{
		f("silence", unsafe.Offsetof(p.silence), unsafe.Sizeof(p.silence)),
		f("state", unsafe.Offsetof(p.state), unsafe.Sizeof(p.state)),
		f("seg", unsafe.Offsetof(p.seg), unsafe.Sizeof(p.seg)),
		f("cur", unsafe.Offsetof(p.cur), unsafe.Sizeof(p.cur)),
		f("to", unsafe.Offsetof(p.to), unsafe.Sizeof(p.to)),
		f("from", unsafe.Offsetof(p.from), unsafe.Sizeof(p.from)),
		f("loops", unsafe.Offsetof(p.loops), unsafe.Sizeof(p.loops)),
		f("t", unsafe.Offsetof(p.t), unsafe.Sizeof(p.t)),
		f("reset", unsafe.Offsetof(p.reset), unsafe.Sizeof(p.reset)),
		f("last", unsafe.Offsetof(p.last), unsafe.Sizeof(p.last)),
		f("seam", unsafe.Offsetof(p.seam), unsafe.Sizeof(p.seam)),
		f("ts", unsafe.Offsetof(p.ts), unsafe.Sizeof(p.ts)),
		f("stats.Packets", unsafe.Offsetof(p.stats)+unsafe.Offsetof(p.stats.Packets), unsafe.Sizeof(p.stats.Packets)),
		f("stats.Skips", unsafe.Offsetof(p.stats)+unsafe.Offsetof(p.stats.Skips), unsafe.Sizeof(p.stats.Skips)),
		f("stats.Silence", unsafe.Offsetof(p.stats)+unsafe.Offsetof(p.stats.Silence), unsafe.Sizeof(p.stats.Silence)), // counts
	}
}

// queueSpans is what a steady packet of a queue a Scheduler drives reads
// of its hot allocation but its listener (nextPacket, queueDriver.counts),
// and its cold pointer, which a shard reads ahead of a command's packet
// (prefetchAhead).
func queueSpans() []span {
	var q Queue
	f := func(name string, o, s uintptr) span { return span{"Queue." + name, o, s} }
	return append([]span{
		f("pending", unsafe.Offsetof(q.pending), unsafe.Sizeof(q.pending)),
		f("live", unsafe.Offsetof(q.live), unsafe.Sizeof(q.live)),
		f("steady", unsafe.Offsetof(q.steady), unsafe.Sizeof(q.steady)),
		f("posLeft", unsafe.Offsetof(q.posLeft), unsafe.Sizeof(q.posLeft)),
		f("ts", unsafe.Offsetof(q.ts), unsafe.Sizeof(q.ts)),
		f("packets", unsafe.Offsetof(q.packets), unsafe.Sizeof(q.packets)),
		f("silent", unsafe.Offsetof(q.silent), unsafe.Sizeof(q.silent)),
		f("skips", unsafe.Offsetof(q.skips), unsafe.Sizeof(q.skips)),
		f("inHand", unsafe.Offsetof(q.inHand), unsafe.Sizeof(q.inHand)),
		f("pubBase", unsafe.Offsetof(q.pubBase), unsafe.Sizeof(q.pubBase)),
		f("evOn", unsafe.Offsetof(q.evOn), unsafe.Sizeof(q.evOn)),
		f("queueCold", unsafe.Offsetof(q.queueCold), unsafe.Sizeof(q.queueCold)),
	}, playerSpans("Queue.pl.", unsafe.Offsetof(q.pl))...)
}

// baseOf is where alloc's objects start in their cache line: the same
// for each (an allocation of their size class, and its header).
func baseOf[T any](t *testing.T, alloc func() *T) uintptr {
	t.Helper()
	keep := make([]*T, 16)
	for i := range keep {
		keep[i] = alloc()
	}
	base := uintptr(unsafe.Pointer(keep[0])) % cacheLine
	for _, x := range keep {
		require.Equal(t, base, uintptr(unsafe.Pointer(x))%cacheLine, "%T's allocations start at one place in a line", x)
	}
	return base
}

// A Queue's steady packet (in the middle of a track, driven by a
// Scheduler) touches no more cache lines of its own than a Player's
// packet does: the listener's lines, its player's, and the queue's
// steady fields on a line with neither (counted from the fields the code
// reads: a field added to the path, or moved off its line, fails here).
// The Player is counted at its best place in a line; the queue and the
// listeners where the allocator puts them (checked).
func TestQueueSteadyCacheLines(t *testing.T) {
	var q Queue
	var p Player

	// A Player's listener: its Listener and its Player, two allocations.
	player := playerSpans("Player.", 0)
	lisBase := baseOf(t, func() *Listener { return new(Listener) })
	playerLines := len(linesOf(lisBase, listenerSpans(0))) + fewestLines(player)

	// A Queue's: its hot allocation (nextPacket, queueDriver.counts).
	queue := append(queueSpans(), listenerSpans(unsafe.Offsetof(q.lis))...)
	queueBase := baseOf(t, func() *Queue { return NewQueue(nil) })
	queueLines := len(linesOf(queueBase, queue))

	t.Logf("cache lines of a steady packet: Player %d, Queue %d (Queue: %d bytes at %d in a line, pl at %d, lis at %d; a Listener at %d in a line)",
		playerLines, queueLines, unsafe.Sizeof(q), queueBase, unsafe.Offsetof(q.pl), unsafe.Offsetof(q.lis), lisBase)
	assert.LessOrEqual(t, queueLines, playerLines, "a Queue's steady packet touches more cache lines than a Player's")
	assert.Equal(t, len(linesOf(lisBase, listenerSpans(0))), len(linesOf(queueBase, listenerSpans(unsafe.Offsetof(q.lis)))),
		"a Queue's listener touches as many lines as a Player's")
	assert.Zero(t, (queueBase+unsafe.Offsetof(q.pl))%cacheLine, "the queue's player starts a line: the steady fields fill the one before")
	// Dense: a Queue's hot allocation is no bigger than a Player's and its
	// listener's together, to within a size class (see Queue).
	assert.LessOrEqual(t, unsafe.Sizeof(q), unsafe.Sizeof(p)+unsafe.Sizeof(Listener{})+64, "a Queue's hot allocation")
	assert.LessOrEqual(t, unsafe.Sizeof(queueCmd{}), uintptr(cacheLine), "a command is more than a line to record and to apply")
}

// A steady packet writes nothing on the queue's own line (the fields
// before pl): the player's clock and count are the queue's too, while
// steady (see Queue.clock), so that a queue dirties no more lines a
// packet than a Player does. Its timestamps and counts go on as before:
// continuous, and State's count every packet sent.
func TestQueueSteadyWritesNothing(t *testing.T) {
	key, clock, s, q := scheduledQueue(t)
	id := q.Enqueue(key)
	q.Loop(LoopTrack)
	got := make(chan Packet, 100)
	s.AddQueue(q, func(pk Packet) error { got <- pk; return nil })
	line := func() []byte {
		b := unsafe.Slice((*byte)(unsafe.Pointer(q)), unsafe.Offsetof(q.pl))
		return append([]byte(nil), b[unsafe.Offsetof(q.pending):]...)
	}
	var last Packet
	received := int64(0)
	take := func(pk Packet) {
		if received > 0 {
			require.Equal(t, last.Timestamp+last.Samples, pk.Timestamp, "the queue's clock goes on")
		}
		last = pk
		received++
	}
	tick := func() {
		t.Helper()
		require.NoError(t, clock.BlockUntilWaiting(t.Context(), 1))
		clock.Advance(20 * time.Millisecond)
		select {
		case pk := <-got:
			take(pk)
		case <-time.After(time.Minute):
			t.Fatal("no packet")
		}
		require.NoError(t, clock.BlockUntilWaiting(t.Context(), 1)) // the shard is done with the deadline
		for len(got) > 0 {
			take(<-got) // the first deadline's, if the listener was taken in at it
		}
	}
	for range 5 { // started, steady
		tick()
	}
	before := line()
	steady := 0
	for range 40 { // within the 3 s track: no loop back
		tick()
		if !last.Silence && last.Position > 0 {
			steady++
		}
	}
	require.Equal(t, 40, steady, "steady packets")
	assert.Equal(t, before, line(), "a steady packet wrote the queue's line")
	assert.Equal(t, received, q.State().Stats.Packets, "State's count: every packet sent")

	// Out of the steady run and back (a seek, a pause): the clock goes on
	// from where the steady packets left it (take checks each packet),
	// and the count is every packet's.
	q.Seek(id, 2*time.Second)
	for range 5 {
		tick()
	}
	q.Pause()
	for range 8 { // five silence frames, then ErrPaused: no packet, the clock passes
		clock.Advance(20 * time.Millisecond)
		require.NoError(t, clock.BlockUntilWaiting(t.Context(), 1))
		for len(got) > 0 {
			take(<-got)
		}
	}
	q.Resume()
	for range 5 {
		tick()
	}
	assert.Equal(t, received, q.State().Stats.Packets, "State's count after a seek and a pause")

	// The track's end from a steady run: the player's answer is not
	// audio (missed), and the queue's silence frames follow on.
	q.Loop(LoopOff)
	for range 80 { // past the 3 s track's end, its silence frames, then idle
		clock.Advance(20 * time.Millisecond)
		require.NoError(t, clock.BlockUntilWaiting(t.Context(), 1))
		for len(got) > 0 {
			take(<-got)
		}
	}
	require.True(t, last.Silence, "the queue ended in silence frames")
	assert.Equal(t, received, q.State().Stats.Packets, "State's count after the track's end")
}

// scheduledQueue returns a Queue (no position events) on a Library of
// the 48 kHz MP3 fixture, loaded, and a Scheduler of one shard and one
// phase on a fake clock, all closed at the test's end.
func scheduledQueue(t *testing.T) (Key, *FakeClock, *Scheduler, *Queue) {
	t.Helper()
	lib := NewLibrary()
	t.Cleanup(func() { lib.Close() })
	key := Key{Source: "../testdata/prog_48000.mp3"}
	h, err := lib.Get(t.Context(), key)
	require.NoError(t, err)
	t.Cleanup(h.Release)
	<-h.Track().Done()
	clock := NewFakeClock(time.Unix(0, 0))
	s := NewScheduler(WithClock(clock), WithShards(1), WithPhases(1))
	t.Cleanup(func() { s.Close() })
	q := NewQueue(lib, WithPositionEvery(0))
	t.Cleanup(func() { q.Close() })
	return key, clock, s, q
}

// A Scheduler's shard drives a Queue without its lock: a queue whose lock
// another goroutine holds (here, the test) still gets its packets, a
// command given meanwhile shows at the next one, and State and Playing
// read what the driver published at its last packet.
func TestSchedulerDrivesQueueWithoutLock(t *testing.T) {
	key, clock, s, q := scheduledQueue(t)
	id := q.Enqueue(key)
	got := make(chan Packet, 1000)
	l := s.AddQueue(q, func(pk Packet) error {
		got <- pk
		assert.Equal(t, id, q.Playing().ID, "Playing from the send function: the packet in hand's entry")
		return nil
	})
	require.Same(t, &q.lis, l, "the queue's first listener is in its allocation")
	received := int64(0)
	tick := func() Packet {
		t.Helper()
		require.NoError(t, clock.BlockUntilWaiting(t.Context(), 1))
		clock.Advance(20 * time.Millisecond)
		select {
		case pk := <-got:
			received++
			return pk
		case <-time.After(10 * time.Second):
			t.Fatalf("no packet; %+v %+v", l.Stats(), s.Stats())
			return Packet{}
		}
	}
	// settled waits for the shard to wait for its next deadline, and
	// returns the last packet it sent: State is then as of that packet.
	settled := func(last Packet) Packet {
		t.Helper()
		require.NoError(t, clock.BlockUntilWaiting(t.Context(), 1))
		for {
			select {
			case pk := <-got:
				received++
				last = pk
			default:
				return last
			}
		}
	}
	first := tick()
	for range 10 {
		tick()
	}

	q.drive.Lock() // held by the test: the shard does not take it
	locked := true
	defer func() {
		if locked {
			q.drive.Unlock()
		}
	}()
	var last Packet
	for range 5 {
		last = tick()
	}
	assert.Equal(t, first.Position+15*960, last.Position, "packets given while the queue's lock is held")
	q.Seek(id, time.Second)
	pk := tick()
	assert.True(t, pk.Position <= 48000 && 48000 < pk.Position+pk.Samples, "the command in the next packet: got %d + %d; want the packet that holds 48000", pk.Position, pk.Samples)
	pk = settled(tick())
	q.drive.Unlock()
	locked = false

	st := q.State()
	assert.Equal(t, pk.Position+pk.Samples, st.Position, "State: as of the last packet")
	assert.Equal(t, received, st.Stats.Packets, "State: every packet sent")
	assert.Equal(t, int64(2), st.Stats.Commands, "Enqueue, Seek")
	assert.Equal(t, int64(1), st.Stats.Tracks)
	assert.Equal(t, id, q.Playing().ID)
	id2 := q.Enqueue(key)
	for range 3 {
		pk = tick()
	}
	pk = settled(pk)
	st = q.State()
	assert.Equal(t, []QueueEntry{{id2, key.normal()}}, st.Entries, "the entry queued, published")
	assert.Equal(t, received, st.Stats.Packets, "State: every packet sent")
	assert.Equal(t, pk.Position+pk.Samples, st.Position)
	q.Close()
	clock.Advance(20 * time.Millisecond)
	select {
	case <-l.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the listener goes on after the queue's Close")
	}
	assert.ErrorIs(t, l.Err(), ErrQueueClosed)
}

// State read in a Scheduler's send function, and from another goroutine
// meanwhile, is the state as of the packet in hand, as of the last sent:
// through steady packets (published by the listener's count alone),
// loops back to the track's start, a seek and a pause.
func TestSchedulerQueueStateInSend(t *testing.T) {
	key, clock, s, q := scheduledQueue(t)
	id := q.Enqueue(key)
	q.Loop(LoopTrack)
	var sent, checked atomic.Int64 // the send function's
	got := make(chan struct{}, 1)
	l := s.AddQueue(q, func(pk Packet) error {
		n := sent.Add(1)
		st := q.State()
		if assert.Equal(t, n, st.Stats.Packets, "packet %d: State's count in the send function", n) && !pk.Silence {
			assert.Equal(t, pk.Position+pk.Samples, st.Position, "packet %d: State's position in the send function", n)
			checked.Add(1)
		}
		got <- struct{}{}
		return nil
	})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() { // State from elsewhere: never a count that goes back
		var last int64
		for {
			select {
			case <-stop:
				return
			default:
			}
			n := q.State().Stats.Packets
			assert.GreaterOrEqual(t, n, last, "State's count went back")
			last = n
			runtime.Gosched()
		}
	})
	tick := func() {
		t.Helper()
		require.NoError(t, clock.BlockUntilWaiting(t.Context(), 1))
		clock.Advance(20 * time.Millisecond)
		select {
		case <-got:
		case <-time.After(time.Minute):
			t.Fatalf("no packet; %+v %+v", l.Stats(), s.Stats())
		}
	}
	for i := range 400 { // 150 packets a loop of the track
		switch i {
		case 200:
			q.Seek(id, 2500*time.Millisecond)
		case 300:
			q.Play(key) // the same track, a new entry: a new player
		}
		tick()
	}
	close(stop)
	wg.Wait()
	assert.Greater(t, checked.Load(), int64(300), "audio packets checked")
}

// A Queue a Scheduler drives, closed from its listener's send function
// (on the shard's goroutine, which Close cannot wait for), is closed at
// its next deadline: the listener ends with ErrQueueClosed and the
// queue's hold on its track is given back. Added again once its listener
// has been removed, a queue goes on where it was, its second listener
// giving nothing until the first has ended.
func TestSchedulerQueueCloseFromSendAndAddAgain(t *testing.T) {
	lib := NewLibrary()
	defer lib.Close()
	key := Key{Source: "../testdata/prog_48000.mp3"}
	h, err := lib.Get(t.Context(), key)
	require.NoError(t, err)
	<-h.Track().Done()
	h.Release()

	clock := NewFakeClock(time.Unix(0, 0))
	s := NewScheduler(WithClock(clock), WithShards(1), WithPhases(1))
	defer s.Close()
	q := NewQueue(lib, WithPositionEvery(0))
	defer q.Close()
	q.Enqueue(key)
	var mu sync.Mutex
	var got []Packet
	closeAt := -1
	send := func(pk Packet) error {
		mu.Lock()
		got = append(got, pk)
		n := len(got)
		mu.Unlock()
		if n == closeAt {
			assert.NoError(t, q.Close())
		}
		return nil
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(got)
	}
	tick := func(n int) {
		t.Helper()
		for range n {
			require.NoError(t, clock.BlockUntilWaiting(t.Context(), 1))
			clock.Advance(20 * time.Millisecond)
		}
		require.NoError(t, clock.BlockUntilWaiting(t.Context(), 1))
	}
	require.NoError(t, clock.BlockUntilWaiting(t.Context(), 1)) // past the first deadline
	l1 := s.AddQueue(q, send)
	tick(5)
	require.Equal(t, 5, count())
	l2 := s.AddQueue(q, send) // while l1 drives it
	require.NotSame(t, l1, l2, "a new listener")
	tick(1)
	require.Equal(t, 6, count(), "l1's packet; l2 gives nothing while l1 drives the queue")
	l1.Remove()
	tick(1)
	<-l1.Done()
	assert.NoError(t, l1.Err())
	tick(2)
	mu.Lock()
	require.Len(t, got, 9, "l2 took the queue over at the deadline l1 ended at")
	for i := 1; i < len(got); i++ {
		assert.Equal(t, got[i-1].Position+got[i-1].Samples, got[i].Position, "packet %d: where the queue was", i)
	}
	closeAt = len(got) + 2
	mu.Unlock()

	tick(2)
	select {
	case <-l2.Done():
		t.Fatal("ended before the deadline after the Close")
	default:
	}
	tick(1)
	select {
	case <-l2.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the listener goes on after the queue's Close")
	}
	assert.ErrorIs(t, l2.Err(), ErrQueueClosed)
	assert.Equal(t, 11, count(), "nothing after the Close")
	st := lib.Stats()
	assert.Zero(t, st.Holders, "the queue's hold given back: %+v", st)
}
