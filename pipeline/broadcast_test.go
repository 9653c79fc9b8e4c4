package pipeline_test

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/transform"
)

// A paced listener joins at the live point, with no burst; a buffered one
// gets a burst; a buffered listener that does not keep up skips ahead and
// is counted, or is dropped.
func TestBroadcast(t *testing.T) {
	tr, all := loaded(t)
	s, clock := fakeScheduler(t)
	tick := func(n int) {
		for range n {
			clock.Advance(20 * time.Millisecond)
			settle(t, clock)
		}
	}
	b := pipeline.NewBroadcast(s, tr, pipeline.WithBurst(4000), pipeline.WithQueueBound(8000, false))
	tick(50) // the broadcast has sent packets 0 to 49

	rec := &recorder{clock: clock}
	pl := b.JoinPaced(rec.send)
	slow := b.JoinBuffered() // never read: it skips ahead
	tick(1)
	require.Equal(t, 1, rec.count())
	assert.Equal(t, all[50], rec.got[0].Data, "the live point: the next packet, no burst")
	tick(9)
	assert.Equal(t, 10, rec.count())

	// A buffered listener joining now gets the last 4000 bytes first.
	bl := b.JoinBuffered()
	var burst [][]byte
	for {
		p, err := bl.Next()
		if err == pipeline.ErrUnderrun {
			break
		}
		require.NoError(t, err)
		burst = append(burst, p.Data)
	}
	size := 0
	for _, p := range burst {
		size += len(p)
	}
	assert.GreaterOrEqual(t, size, 4000-len(burst[0]), "a burst of about WithBurst bytes")
	assert.Equal(t, all[60-len(burst):60], burst, "the packets just sent, in order")

	tick(60)
	assert.Positive(t, slow.Skipped(), "the slow listener skipped ahead")
	assert.LessOrEqual(t, slow.Queued(), 8000)
	st := b.Stats()
	assert.Positive(t, st.Slow)
	assert.Equal(t, 1, st.Paced)
	// What the slow listener kept is the newest packets, contiguous.
	var kept [][]byte
	for {
		p, err := slow.Next()
		if err != nil {
			break
		}
		kept = append(kept, p.Data)
	}
	assert.Equal(t, all[120-len(kept):120], kept)

	pl.Leave()
	tick(1)
	<-pl.Done()
	assert.Equal(t, 0, b.Stats().Paced)

	// To the end: every listener ends.
	tick(40)
	<-b.Done()
	assert.NoError(t, b.Err())
	_, err := bl.NextContext(context.Background())
	for err == nil {
		_, err = bl.NextContext(context.Background())
	}
	assert.Equal(t, io.EOF, err)
}

func TestBroadcastDropsSlow(t *testing.T) {
	tr, _ := loaded(t)
	s, clock := fakeScheduler(t)
	b := pipeline.NewBroadcast(s, tr, pipeline.WithBurst(0), pipeline.WithQueueBound(3000, true))
	slow := b.JoinBuffered()
	for range 40 {
		clock.Advance(20 * time.Millisecond)
		settle(t, clock)
	}
	_, err := slow.Next()
	assert.ErrorIs(t, err, pipeline.ErrSlowListener)
	assert.Equal(t, int64(1), b.Stats().Dropped)
	b.Close()
}

// Two broadcasts of one track, at their own positions; a broadcast of a
// live track starts at its live edge.
func TestBroadcastsCoexistAndLive(t *testing.T) {
	tr, all := loaded(t)
	s, clock := fakeScheduler(t)
	tick := func(n int) {
		for range n {
			clock.Advance(20 * time.Millisecond)
			settle(t, clock)
		}
	}
	b1 := pipeline.NewBroadcast(s, tr)
	tick(30)
	b2 := pipeline.NewBroadcast(s, tr)
	r1, r2 := &recorder{clock: clock}, &recorder{clock: clock}
	b1.JoinPaced(r1.send)
	b2.JoinPaced(r2.send)
	tick(1)
	require.Equal(t, 1, r1.count())
	require.Equal(t, 1, r2.count())
	assert.Equal(t, all[30], r1.got[0].Data)
	assert.Equal(t, all[0], r2.got[0].Data, "the second started at the start")
	b1.Close()
	b2.Close()

	live := newTrack(t, &endless{}, pipeline.WithRawPCM(transform.Format{Rate: 48000, Channels: 2}), pipeline.WithLive(5*time.Second), pipeline.WithPacing(nil),
		pipeline.WithPool(pipeline.NewPool(1)))
	_, err := live.NewCursor().NextContext(context.Background())
	require.NoError(t, err)
	require.Eventually(t, func() bool { return live.Progress() > 8*time.Second }, 20*time.Second, time.Millisecond)
	bl := pipeline.NewBroadcast(s, live)
	r := &recorder{clock: clock}
	bl.JoinPaced(r.send)
	tick(1)
	require.Equal(t, 1, r.count())
	assert.Greater(t, r.got[0].Position, int64(7*48000), "at the live edge (past 8 s), not the window's start (3 s)")
	bl.Close()
}

// A paced listener's send may call its broadcast (Stats, JoinPaced, a
// Leave of its own): the broadcast does not hold its lock while sending.
func TestBroadcastPacedSendMayCallBroadcast(t *testing.T) {
	tr, _ := loaded(t)
	s, clock := fakeScheduler(t)
	b := pipeline.NewBroadcast(s, tr)
	var self pipeline.PacedListener
	var joined []pipeline.PacedListener
	n := 0
	self = b.JoinPaced(func(pipeline.Packet) error {
		n++
		_ = b.Stats()
		if n == 2 {
			joined = append(joined, b.JoinPaced(func(pipeline.Packet) error { return nil }))
		}
		if n == 3 {
			self.Leave()
		}
		return nil
	})
	for range 5 {
		clock.Advance(20 * time.Millisecond)
		settle(t, clock) // would time out with the shard stuck on the broadcast's lock
	}
	<-self.Done()
	require.NoError(t, self.Err())
	assert.Equal(t, 3, n, "no packet after its Leave")
	require.Len(t, joined, 1)
	st := b.Stats()
	assert.Equal(t, 1, st.Paced, "the listener it joined listens on")
	assert.Equal(t, int64(2), st.Joined)
	assert.Equal(t, int64(1), st.Left)
	self.Leave()
	assert.Equal(t, int64(1), b.Stats().Left, "a second Leave is not counted")
	b.Close()
}

// A buffered listener that has just joined has time to read its burst,
// even when the bound asked for is no larger than the burst; the burst
// itself is at most the bytes asked for.
func TestBroadcastBurstWithinBound(t *testing.T) {
	tr, _ := loaded(t)
	s, clock := fakeScheduler(t)
	b := pipeline.NewBroadcast(s, tr, pipeline.WithBurst(4000), pipeline.WithQueueBound(4000, true))
	for range 50 {
		clock.Advance(20 * time.Millisecond)
		settle(t, clock)
	}
	bl := b.JoinBuffered()
	queued := bl.Queued()
	assert.Positive(t, queued)
	assert.LessOrEqual(t, queued, 4000, "the burst is within the bytes asked for")
	clock.Advance(20 * time.Millisecond)
	settle(t, clock)
	got := 0
	for {
		p, err := bl.Next()
		if err == pipeline.ErrUnderrun {
			break
		}
		require.NoError(t, err, "a listener that has just joined is not dropped")
		got += len(p.Data)
	}
	assert.Greater(t, got, queued, "its burst and the packet after it")
	assert.Zero(t, b.Stats().Dropped)
	bl.Leave()
	bl.Leave()
	assert.Equal(t, int64(1), b.Stats().Left, "a second Leave is not counted")
	b.Close()
}

// Once a broadcast's Done is closed, each of its listeners has been ended.
func TestBroadcastDoneAfterListeners(t *testing.T) {
	tr, _ := loaded(t)
	s, clock := fakeScheduler(t)
	b := pipeline.NewBroadcast(s, tr)
	bl := b.JoinBuffered()
	pl := b.JoinPaced(func(pipeline.Packet) error { return nil })
	clock.Advance(20 * time.Millisecond)
	settle(t, clock)
	for {
		if _, err := bl.Next(); err != nil {
			break
		}
	}
	b.Close()
	clock.Advance(20 * time.Millisecond)
	settle(t, clock)
	<-b.Done()
	require.NoError(t, b.Err())
	_, err := bl.Next()
	assert.Equal(t, io.EOF, err)
	select {
	case <-pl.Done():
	default:
		t.Fatal("a paced listener not ended when its broadcast's Done is closed")
	}
	assert.NoError(t, pl.Err())
	st := b.Stats()
	assert.Zero(t, st.Paced+st.Buffered)
}

// A broadcast on a closed scheduler ends at once, as its listeners do.
func TestBroadcastOnClosedScheduler(t *testing.T) {
	tr, _ := loaded(t)
	s, _ := fakeScheduler(t)
	s.Close()
	b := pipeline.NewBroadcast(s, tr)
	select {
	case <-b.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a broadcast on a closed scheduler did not end")
	}
	assert.ErrorIs(t, b.Err(), pipeline.ErrStopped)
	bl := b.JoinBuffered()
	_, err := bl.Next()
	assert.ErrorIs(t, err, pipeline.ErrStopped)
	pl := b.JoinPaced(func(pipeline.Packet) error { return nil })
	<-pl.Done()
	assert.ErrorIs(t, pl.Err(), pipeline.ErrStopped)
}

// Close returns once the broadcast has ended, without waiting for the
// scheduler's next deadline: its listeners are ended, Done is closed, its
// player is out of the scheduler and no goroutine of its own is left.
func TestBroadcastCloseEndsIt(t *testing.T) {
	tr, _ := loaded(t)
	s, clock := fakeScheduler(t)
	before := goleak.IgnoreCurrent()
	b := pipeline.NewBroadcast(s, tr)
	rec := &recorder{clock: clock}
	pl := b.JoinPaced(rec.send)
	bl := b.JoinBuffered()
	for range 3 {
		clock.Advance(20 * time.Millisecond)
		settle(t, clock)
	}
	require.Equal(t, 3, rec.count())

	b.Close() // the clock stands still: no deadline comes
	goleak.VerifyNone(t, before)
	select {
	case <-b.Done():
	default:
		t.Fatal("Close returned before the broadcast's Done was closed")
	}
	assert.NoError(t, b.Err())
	select {
	case <-pl.Done():
	default:
		t.Fatal("Close returned before its paced listener was ended")
	}
	assert.NoError(t, pl.Err())
	n := 0
	for {
		_, err := bl.Next()
		if err != nil {
			assert.Equal(t, io.EOF, err, "after its %d queued packets", n)
			break
		}
		n++
	}
	assert.Equal(t, 3, n)
	assert.Zero(t, s.Stats()[0].Listeners, "the broadcast's player is out of the scheduler")

	clock.Advance(20 * time.Millisecond)
	settle(t, clock)
	assert.Equal(t, 3, rec.count(), "no packet after Close")
	b.Close() // a second Close returns too
}

// Close waits for a delivery in progress: when it returns, no listener's
// send is running.
func TestBroadcastCloseWaitsForDelivery(t *testing.T) {
	tr, _ := loaded(t)
	s, clock := fakeScheduler(t)
	b := pipeline.NewBroadcast(s, tr)
	var (
		entered = make(chan struct{})
		release = make(chan struct{})
		inSend  atomic.Bool
		calls   atomic.Int64
	)
	b.JoinPaced(func(pipeline.Packet) error {
		if calls.Add(1) == 1 {
			inSend.Store(true)
			close(entered)
			<-release // a send that takes long, though it should not
			inSend.Store(false)
		}
		return nil
	})
	clock.Advance(20 * time.Millisecond)
	<-entered
	closed := make(chan bool)
	go func() {
		b.Close()
		closed <- inSend.Load()
	}()
	time.Sleep(50 * time.Millisecond) // for a Close that does not wait to return
	close(release)
	assert.False(t, <-closed, "Close returned while a listener's send was running")
	settle(t, clock)
	clock.Advance(20 * time.Millisecond)
	settle(t, clock)
	assert.Equal(t, int64(1), calls.Load(), "no packet after Close")
}

// liveRelay is a live channel relayed as the discordlike example relays
// one: Opus packets written, as they come, a page each, into an Ogg
// stream that a live Track reads. Packet n of the relay is the fixture's
// packet n mod 151.
type liveRelay struct {
	t   *testing.T
	tr  *pipeline.Track
	ow  *ogg.OpusWriter
	all [][]byte
	n   int // packets written
}

const relayPreSkip = 312

func newLiveRelay(t *testing.T) *liveRelay {
	t.Helper()
	_, all := loaded(t)
	pr, pw := io.Pipe()
	// Unpaced: the packets are in the track as soon as they are relayed,
	// as a paced track's are when they come late.
	tr := newTrack(t, pr, pipeline.WithLive(10*time.Second), pipeline.WithPacing(nil), pipeline.WithPool(pipeline.NewPool(1)))
	t.Cleanup(func() { pw.Close() })
	r := &liveRelay{t: t, tr: tr, all: all}
	done := make(chan error, 1)
	go func() {
		var err error
		r.ow, err = ogg.NewOpusWriter(pw, ogg.OpusHead{Version: 1, Channels: 2, PreSkip: relayPreSkip, InputRate: 48000},
			ogg.OpusTags{Vendor: "test"})
		done <- err
	}()
	require.NoError(t, <-done)
	// A track reads the first 8 KiB or so before it knows its input's
	// format: until then, nothing is indexed.
	size := 0
	for size < 10<<10 {
		size += len(all[r.n%len(all)])
		r.write(1, 1)
	}
	r.write(0, 0)
	return r
}

// write relays n packets at once, and waits for the track to have all
// but the last lag.
func (r *liveRelay) write(lag, n int) {
	r.t.Helper()
	for range n {
		require.NoError(r.t, r.ow.WritePacket(r.all[r.n%len(r.all)]))
		require.NoError(r.t, r.ow.Flush())
		r.n++
	}
	if lag > 0 {
		return
	}
	require.Eventually(r.t, func() bool { x, _ := r.tr.Index(); return x.Packets() >= r.n }, 10*time.Second, time.Millisecond,
		"the track has the %d packets relayed", r.n)
}

// number is the relay's number of a packet the track gave.
func number(p pipeline.Packet) int { return int((p.Position + relayPreSkip) / 960) }

// A paced listener of a broadcast of a live track, relayed as the
// discordlike example relays a voice channel, joins at the live point and
// is never given more than real time: one packet a 20 ms deadline at most,
// when the relay's input comes in pairs, stalls and then comes in a
// burst, or the scheduler wakes late. It is brought back to the live edge
// instead of being given the late packets, and that is counted; input
// that only jitters loses nothing.
func TestBroadcastLiveNoBurst(t *testing.T) {
	r := newLiveRelay(t)
	s, clock := fakeScheduler(t)
	<-r.tr.Ready()
	b := pipeline.NewBroadcast(s, r.tr)
	newest := map[time.Time]int{} // the newest packet relayed when the clock was moved to a time
	step := func(in int, d time.Duration) {
		r.write(0, in)
		clock.Advance(d)
		newest[clock.Now()] = r.n - 1
		settle(t, clock)
	}
	for range 25 {
		step(1, 20*time.Millisecond)
	}
	rec := &recorder{clock: clock}
	b.JoinPaced(rec.send)
	for range 10 {
		step(1, 20*time.Millisecond)
	}
	require.Equal(t, 10, rec.count(), "a packet a deadline")

	// Input in pairs, 40 ms apart: jitter within the catch-up, no skip.
	for range 10 {
		step(2, 20*time.Millisecond)
		step(0, 20*time.Millisecond)
	}
	assert.Equal(t, 30, rec.count(), "a packet a deadline")
	assert.Zero(t, s.Stats()[0].Skips, "jittery input plays whole")

	// 300 ms without input, then those packets at once.
	for range 15 {
		step(0, 20*time.Millisecond)
	}
	step(15, 20*time.Millisecond)
	for range 5 {
		step(1, 20*time.Millisecond)
	}
	// The shard wakes 60 ms late.
	step(3, 60*time.Millisecond)
	for range 5 {
		step(1, 20*time.Millisecond)
	}
	// Two deadlines without input, the shard 50 ms late, then a burst.
	step(0, 20*time.Millisecond)
	step(0, 20*time.Millisecond)
	step(0, 50*time.Millisecond)
	step(4, 10*time.Millisecond)
	for range 10 {
		step(1, 20*time.Millisecond)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	for i, p := range rec.got {
		n, at := number(p), rec.at[i]
		assert.LessOrEqual(t, newest[at]-n, 3, "packet %d, at %v: no further from the live edge (%d) than the catch-up", n, at.Sub(rec.at[0]), newest[at])
		if i == 0 {
			continue
		}
		assert.GreaterOrEqual(t, at.Sub(rec.at[i-1]), 20*time.Millisecond, "packet %d, at %v: no more than real time", n, at.Sub(rec.at[0]))
		assert.Greater(t, n, number(rec.got[i-1]), "in order, none repeated")
	}
	st := s.Stats()[0]
	assert.GreaterOrEqual(t, st.Resyncs, int64(3), "the burst, the late wakes: each a resynchronisation")
	assert.GreaterOrEqual(t, st.Skips, int64(11), "the late packets of the stall passed over")
}
