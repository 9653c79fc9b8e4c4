package pipeline_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline"
)

// waiting waits until n goroutines wait on clock, or until done is
// closed and m do.
func waiting(t *testing.T, clock *pipeline.FakeClock, n int, done <-chan struct{}, m int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	inner, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		select {
		case <-done:
			stop()
		case <-inner.Done():
		}
	}()
	if clock.BlockUntilWaiting(inner, n) == nil {
		return
	}
	require.NoError(t, clock.BlockUntilWaiting(ctx, m))
}

// A file made a live track is encoded in real time on its clock: packet
// k (20 ms each) is there once the clock is k×20 ms past the first, and
// not before.
func TestLiveTrackPaced(t *testing.T) {
	data := testutil.Fixture(t, "prog_48000.mp3")
	clock := pipeline.NewFakeClock(time.Unix(1_000_000, 0))
	tr := newTrack(t, bytes.NewReader(data), pipeline.WithLive(5*time.Second), pipeline.WithPacing(clock))
	packets := func() int { x, _ := tr.Index(); return x.Packets() }
	waiting(t, clock, 1, tr.Done(), 0) // packet 0 made, packet 1 waited for
	require.Equal(t, 1, packets())
	for k := 1; ; k++ {
		clock.Advance(10 * time.Millisecond)
		waiting(t, clock, 1, tr.Done(), 0)
		require.Equal(t, k, packets(), "%v in: no packet before its time", time.Duration(k)*20*time.Millisecond-10*time.Millisecond)
		clock.Advance(10 * time.Millisecond)
		waiting(t, clock, 1, tr.Done(), 0)
		select {
		case <-tr.Done():
			require.NoError(t, tr.Err())
			assert.Equal(t, 151, packets())
			assert.Equal(t, 151, k, "the last packet's wait, then the end")
			return
		default:
		}
		require.Equal(t, k+1, packets(), "%v in", time.Duration(k)*20*time.Millisecond)
	}
}

// A broadcast of a file made a live track delivers the whole file, as a
// radio playing it would.
func TestLiveTrackBroadcastWhole(t *testing.T) {
	_, all := loaded(t)
	s, clock := fakeScheduler(t)
	tr := newTrack(t, bytes.NewReader(testutil.Fixture(t, "prog_48000.mp3")), pipeline.WithLive(5*time.Second), pipeline.WithPacing(clock))
	// The broadcast starts once the track has made all it will before its
	// time has come: its first packet (unpaced, it would be the whole
	// file, and the broadcast would start at its live edge, the end).
	waiting(t, clock, 2, tr.Done(), 1) // the scheduler's shard, and the track's pacing
	b := pipeline.NewBroadcast(s, tr)
	rec := &recorder{clock: clock}
	b.JoinPaced(rec.send)
	for i := 0; ; i++ {
		require.Less(t, i, 10*len(all), "the broadcast did not end")
		clock.Advance(20 * time.Millisecond)
		waiting(t, clock, 2, tr.Done(), 1) // the scheduler's shard and the track's pacing
		select {
		case <-b.Done():
		default:
			continue
		}
		break
	}
	require.NoError(t, b.Err())
	var got [][]byte
	for _, p := range rec.got {
		if !p.Silence {
			got = append(got, p.Data)
		}
	}
	require.Len(t, got, len(all), "every packet")
	for i := range all {
		require.True(t, bytes.Equal(all[i], got[i]), "packet %d, in order", i)
	}
}

// WithLive alone paces by the system's clock: what is encoded is never
// more than the time since the track was made (a bound a slow machine
// keeps too).
func TestLiveTrackPacedBySystemClock(t *testing.T) {
	start := time.Now()
	tr := newTrack(t, bytes.NewReader(testutil.Fixture(t, "prog_48000.mp3")), pipeline.WithLive(5*time.Second))
	select {
	case <-tr.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("not ready")
	}
	time.Sleep(300 * time.Millisecond)
	x, _ := tr.Index()
	elapsed := time.Since(start)
	encoded := time.Duration(x.DecodedSamples()) * time.Second / 48000
	t.Logf("%v encoded in %v", encoded, elapsed)
	assert.LessOrEqual(t, encoded, elapsed+20*time.Millisecond)
}
