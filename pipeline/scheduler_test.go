package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/transform"
)

// fakeScheduler is a scheduler of one shard on a fake clock, waiting for
// its next deadline.
func fakeScheduler(t *testing.T, opts ...pipeline.SchedulerOption) (*pipeline.Scheduler, *pipeline.FakeClock) {
	t.Helper()
	clock := pipeline.NewFakeClock(time.Unix(1_000_000, 0))
	s := pipeline.NewScheduler(append([]pipeline.SchedulerOption{pipeline.WithClock(clock), pipeline.WithShards(1)}, opts...)...)
	t.Cleanup(s.Close)
	settle(t, clock)
	return s, clock
}

// settle waits until the shard has done what the time asked.
func settle(t *testing.T, clock *pipeline.FakeClock) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, clock.BlockUntilWaiting(ctx, 1))
}

// recorder is a listener's callback that keeps what it was given, and
// when.
type recorder struct {
	mu    sync.Mutex
	clock pipeline.Clock
	got   []pipeline.Packet
	at    []time.Time
}

func (r *recorder) send(p pipeline.Packet) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, p)
	r.at = append(r.at, r.clock.Now())
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// On a fake clock: one packet a deadline, on the absolute grid; a shard
// that wakes late catches up by at most three packets; further behind, the
// listener is resynchronised and it is counted.
func TestSchedulerDeadlines(t *testing.T) {
	tr, all := loaded(t)
	s, clock := fakeScheduler(t)
	rec := &recorder{clock: clock}
	l := s.Add(tr.NewPlayer(), rec.send)
	start := clock.Now()
	for k := 1; k <= 10; k++ {
		clock.Advance(20 * time.Millisecond)
		settle(t, clock)
		require.Equal(t, k, rec.count(), "one packet at deadline %d", k)
	}
	for i, at := range rec.at {
		assert.Equal(t, start.Add(time.Duration(i+1)*20*time.Millisecond), at, "packet %d at its deadline", i)
		assert.Equal(t, all[i], rec.got[i].Data)
	}
	st := l.Stats()
	assert.Equal(t, int64(10), st.Packets)
	assert.Zero(t, st.Lateness.Max, "on time, exactly")
	assert.Equal(t, 20*time.Millisecond, st.First, "from Add to the first deadline")

	// The shard wakes 60 ms late: three packets at once, caught up.
	clock.Advance(60 * time.Millisecond)
	settle(t, clock)
	assert.Equal(t, 13, rec.count())
	assert.Zero(t, l.Stats().Resyncs)
	clock.Advance(20 * time.Millisecond)
	settle(t, clock)
	assert.Equal(t, 14, rec.count(), "back to one a deadline")

	// 200 ms late: too far behind; resynchronised, one packet now.
	clock.Advance(200 * time.Millisecond)
	settle(t, clock)
	assert.Equal(t, 15, rec.count())
	assert.Equal(t, int64(1), l.Stats().Resyncs)
	clock.Advance(20 * time.Millisecond)
	settle(t, clock)
	assert.Equal(t, 16, rec.count())
	for i, pk := range rec.got {
		assert.Equal(t, all[i], pk.Data, "no packet lost or repeated by catching up or resynchronising")
	}
	sh := s.Stats()[0]
	assert.Equal(t, int64(16), sh.Packets)
	assert.Equal(t, int64(1), sh.Resyncs)
	assert.Equal(t, int64(2), sh.Overruns, "the shard woke late twice")
}

// A player ahead of its encoding underruns: a gap, counted, and no burst
// after it. A paused one sends nothing. At the end: five silence frames,
// then the listener is done.
func TestSchedulerUnderrunPauseEnd(t *testing.T) {
	pr, pw := io.Pipe()
	tr := newTrack(t, pr, pipeline.WithRawPCM(transform.Format{Rate: 48000, Channels: 2}))
	s, clock := fakeScheduler(t)
	rec := &recorder{clock: clock}
	p := tr.NewPlayer()
	l := s.Add(p, rec.send)
	for range 3 {
		clock.Advance(20 * time.Millisecond)
		settle(t, clock)
	}
	assert.Zero(t, rec.count())
	assert.Equal(t, int64(3), l.Stats().Underruns)

	// 100 ms of PCM: five packets, one a deadline from now on.
	_, err := pw.Write(make([]byte, 5*3840))
	require.NoError(t, err)
	pw.Close()
	<-tr.Done()
	for k := 1; k <= 5; k++ {
		clock.Advance(20 * time.Millisecond)
		settle(t, clock)
		assert.Equal(t, k, rec.count(), "no burst after the underruns")
	}
	// The deadlines it could not serve passed on the player's clock: a
	// receiver hears a gap, not a delay it would buffer.
	assert.Equal(t, int64(3*960), rec.got[0].Timestamp, "the underruns' time")
	for i := 1; i < 5; i++ {
		assert.Equal(t, rec.got[i-1].Timestamp+960, rec.got[i].Timestamp)
	}
	// The last packet is the encoder's flush of its lookahead; then the
	// five silence frames, one a deadline, then the end.
	x, _ := tr.Index()
	// x.Packets()-5 packets left, five silence frames, then the end is seen at
	// the deadline after them.
	for range x.Packets() - 5 + 5 + 1 {
		clock.Advance(20 * time.Millisecond)
		settle(t, clock)
	}
	select {
	case <-l.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the listener did not end")
	}
	require.NoError(t, l.Err())
	silence := 0
	for _, pk := range rec.got {
		if pk.Silence {
			silence++
		}
	}
	assert.Equal(t, 5, silence)
	assert.Equal(t, x.Packets()+5, rec.count())
	assert.Equal(t, int64(5), l.Stats().Silence)
	assert.Equal(t, int64(5), s.Stats()[0].Silence)
}

func TestSchedulerPausedSendsNothing(t *testing.T) {
	tr, _ := loaded(t)
	s, clock := fakeScheduler(t)
	rec := &recorder{clock: clock}
	p := tr.NewPlayer()
	p.Pause()
	l := s.Add(p, rec.send)
	for range 20 {
		clock.Advance(20 * time.Millisecond)
		settle(t, clock)
	}
	assert.Equal(t, 5, rec.count(), "the five silence frames, then nothing")
	assert.Zero(t, l.Stats().Underruns)
	l.Remove()
	clock.Advance(20 * time.Millisecond)
	settle(t, clock)
	<-l.Done()
	assert.NoError(t, l.Err())
}

// A listener whose send fails is dropped with the error; Close ends the
// others with ErrStopped.
func TestSchedulerSendFailsAndClose(t *testing.T) {
	tr, _ := loaded(t)
	clock := pipeline.NewFakeClock(time.Unix(0, 0))
	s := pipeline.NewScheduler(pipeline.WithClock(clock), pipeline.WithShards(1))
	settle(t, clock)
	boom := errors.New("connection reset")
	bad := s.Add(tr.NewPlayer(), func(pipeline.Packet) error { return boom })
	good := s.Add(tr.NewPlayer(), func(pipeline.Packet) error { return nil })
	clock.Advance(20 * time.Millisecond)
	settle(t, clock)
	<-bad.Done()
	assert.ErrorIs(t, bad.Err(), boom)
	s.Close()
	<-good.Done()
	assert.ErrorIs(t, good.Err(), pipeline.ErrStopped)
}

// With the system clock, many listeners over a few shards all get every
// packet, in order.
func TestSchedulerRealClock(t *testing.T) {
	tr, all := loaded(t)
	s := pipeline.NewScheduler()
	defer s.Close()
	var listeners []*pipeline.Listener
	var recs []*recorder
	for range 50 {
		rec := &recorder{clock: pipeline.SystemClock{}}
		p := tr.NewPlayer()
		require.NoError(t, p.Seek(context.Background(), 2800*time.Millisecond))
		recs = append(recs, rec)
		listeners = append(listeners, s.Add(p, rec.send))
	}
	for i, l := range listeners {
		<-l.Done()
		require.NoError(t, l.Err())
		got := recs[i].got
		require.Len(t, got, 151-(134400+312)/960+5)
		for j, pk := range got[:len(got)-5] {
			assertPacket(t, all[(134400+312)/960+j], pk, j)
			assert.Equal(t, j < pipeline.SeamPackets, pk.Seam, "the seek's transition first")
		}
	}
	var sent atomic.Int64
	for _, st := range s.Stats() {
		sent.Add(st.Packets)
	}
	assert.Equal(t, int64(50*len(recs[0].got)), sent.Load())
}

// With a number of phases that does not divide the frame, each listener
// is still served on its exact 20 ms grid: advanced to each deadline in
// turn, the clock finds every packet on time.
func TestSchedulerUnevenPhases(t *testing.T) {
	tr, _ := loaded(t)
	s, clock := fakeScheduler(t, pipeline.WithPhases(3))
	rec := &recorder{clock: clock}
	l := s.Add(tr.NewPlayer(), rec.send)
	step := 20 * time.Millisecond / 3
	for k := 1; k <= 60; k++ {
		// deadline k: frame k/3, at the phase's offset within it
		next := time.Duration(k/3)*20*time.Millisecond + time.Duration(k%3)*step
		prev := time.Duration((k-1)/3)*20*time.Millisecond + time.Duration((k-1)%3)*step
		clock.Advance(next - prev)
		settle(t, clock)
	}
	st := l.Stats()
	assert.InDelta(t, 20, rec.count(), 1, "a packet a frame")
	assert.Zero(t, st.Lateness.Max, "each served at its deadline")
	assert.Zero(t, st.Late)
}

// Packets shorter than the frame are sent as their time comes: a second
// of clock sends a second of audio, 5 ms or 10 ms packets alike.
func TestSchedulerShortPackets(t *testing.T) {
	for _, frame := range []time.Duration{5 * time.Millisecond, 10 * time.Millisecond} {
		t.Run(frame.String(), func(t *testing.T) {
			tr := newTrack(t, bytes.NewReader(testutil.Fixture(t, "prog_48000.mp3")), pipeline.WithFrameDuration(frame))
			<-tr.Done()
			s, clock := fakeScheduler(t)
			rec := &recorder{clock: clock}
			l := s.Add(tr.NewPlayer(), rec.send)
			for range 50 {
				clock.Advance(20 * time.Millisecond)
				settle(t, clock)
			}
			var samples int64
			for _, p := range rec.got {
				samples += p.Samples
			}
			st := l.Stats()
			assert.InDelta(t, 48000, samples, float64(2*opus.Samples(frame)+960), "a second of audio in a second")
			assert.Zero(t, st.Resyncs)
			assert.Less(t, st.Lateness.Max, 20*time.Millisecond, "within the clock's step")
		})
	}
}

// A listener added to a closed scheduler ends at once, with ErrStopped.
func TestSchedulerAddAfterClose(t *testing.T) {
	tr, _ := loaded(t)
	s, _ := fakeScheduler(t)
	s.Close()
	l := s.Add(tr.NewPlayer(), func(pipeline.Packet) error { return nil })
	select {
	case <-l.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a listener added after Close never ended")
	}
	assert.ErrorIs(t, l.Err(), pipeline.ErrStopped)
}

// Do is how another goroutine resumes a player the scheduler drives (its
// callback is not called while it is paused): it runs on the shard, with
// no race.
func TestListenerDoResumes(t *testing.T) {
	tr, _ := loaded(t)
	s, clock := fakeScheduler(t)
	var real atomic.Int64
	var l *pipeline.Listener
	l = s.Add(tr.NewPlayer(), func(p pipeline.Packet) error {
		if !p.Silence && real.Add(1) == 3 {
			l.Player().Pause()
		}
		return nil
	})
	for range 20 {
		clock.Advance(20 * time.Millisecond)
		settle(t, clock)
	}
	require.Equal(t, int64(3), real.Load(), "paused after three packets")
	ran := make(chan struct{})
	l.Do(func(p *pipeline.Player) {
		assert.True(t, p.Paused())
		p.Resume()
		close(ran)
	})
	for range 10 {
		clock.Advance(20 * time.Millisecond)
		settle(t, clock)
	}
	<-ran
	assert.InDelta(t, 13, real.Load(), 1, "playing again from the next deadline")
}

// A live track's listener is held to the live edge only once it has
// followed it: a player that starts at the oldest packet kept, or that Do
// seeks back into the window or pauses, plays on from where it was put,
// one packet a deadline, none passed over; a player Do moves to the edge
// is held there, its late packets passed over after a stall.
func TestSchedulerLiveTimeshift(t *testing.T) {
	r := newLiveRelay(t)
	s, clock := fakeScheduler(t)
	<-r.tr.Ready()
	rec := &recorder{clock: clock}
	l := s.Add(r.tr.NewPlayer(), rec.send)
	step := func(in, n int) {
		for range n {
			r.write(0, in)
			clock.Advance(20 * time.Millisecond)
			settle(t, clock)
		}
	}
	numbers := func(from int) []int {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		var out []int
		for _, p := range rec.got[from:] {
			out = append(out, number(p))
		}
		return out
	}
	run := func(from, n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = from + i
		}
		return out
	}
	step(1, 10)
	assert.Equal(t, run(0, 10), numbers(0), "from the oldest packet, a packet a deadline")

	// Moved to the edge: held there; a stall's late packets passed over.
	l.Do(func(p *pipeline.Player) { p.SkipToLive() })
	step(1, 5)
	step(0, 10)
	step(10, 1)
	got := numbers(15)
	assert.Equal(t, r.n-1, got[len(got)-1], "back at the live edge after the stall")
	st := l.Stats()
	assert.Equal(t, int64(1), st.Resyncs)
	assert.Equal(t, int64(9), st.Skips, "the late packets but the newest")

	// Sought back into the window: plays on from there.
	n := rec.count()
	back := r.n - 50
	l.Do(func(p *pipeline.Player) {
		assert.NoError(t, p.Seek(context.Background(), opus.Duration(int64(back)*960)))
	})
	step(1, 20)
	assert.Equal(t, run(back, 20), numbers(n), "from where it was sought, none passed over")

	// Paused and resumed: on from where it was.
	n = rec.count()
	l.Do(func(p *pipeline.Player) { p.Pause() })
	step(1, 10)
	l.Do(func(p *pipeline.Player) { p.Resume() })
	step(1, 10)
	got = numbers(n)
	require.Len(t, got, 5+10, "five silence frames, then ten packets")
	assert.Equal(t, run(back+20, 10), got[5:], "on from where it paused")
	st = l.Stats()
	assert.Equal(t, int64(1), st.Resyncs, "no resynchronisation since")
	assert.Equal(t, int64(9), st.Skips, "no packet passed over since")
}
