//go:build cgo

package pipeline_test

import (
	"context"
	"errors"
	"io"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/codec/libopus"
	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline"
)

// joinTracks is a Library of two raw PCM tracks, "a" and "b", through
// opener o, both held (and waited for, but a b whose source o holds back),
// with the holds and keys.
func joinTracks(t *testing.T, o *opener, waitB bool) (*pipeline.Library, *pipeline.Hold, *pipeline.Hold, pipeline.Key, pipeline.Key) {
	t.Helper()
	lib := newLibrary(t, o, pipeline.WithTrackOptions(pipeline.WithRawPCM(f32)))
	ka, kb := pipeline.Key{Source: "a"}, pipeline.Key{Source: "b"}
	ha, err := lib.Get(context.Background(), ka)
	require.NoError(t, err)
	t.Cleanup(ha.Release)
	hb, err := lib.Get(context.Background(), kb)
	require.NoError(t, err)
	t.Cleanup(hb.Release)
	finished(t, ha)
	if waitB {
		finished(t, hb)
	}
	return lib, ha, hb, ka, kb
}

// A queue goes from each track to the next through their join: the
// stream it gives is exactly a's packets to the join's ALast, the join's
// transition, and b's from BFirst (what TestJoinGapless and
// TestJoinCrossfade check a receiver hears: gapless, or the crossfade,
// within the seam bound), then the five silence frames; b is started by
// the join, and counted.
func TestQueueJoins(t *testing.T) {
	for _, fade := range []time.Duration{0, 200 * time.Millisecond} {
		t.Run("fade="+fade.String(), func(t *testing.T) {
			o := &opener{data: map[string][]byte{
				"a": tone(2, 0, 48000+317, 440, 0.5), // not whole packets: the join's shift
				"b": tone(2, 0, 36011, 660, 0.5),
			}, opens: map[string]int{}, fail: map[string]int{}}
			lib, ha, hb, ka, kb := joinTracks(t, o, true)

			var events []pipeline.Event
			q := pipeline.NewQueue(lib, pipeline.WithCrossfade(fade), pipeline.WithEndWhenEmpty(), pipeline.WithPositionEvery(0),
				pipeline.WithEventFunc(func(e pipeline.Event) { events = append(events, e) }))
			defer q.Close()
			ida, idb := q.Enqueue(ka), q.Enqueue(kb)
			first, err := q.Next()
			require.NoError(t, err)
			got := [][]byte{first.Data}
			// The queue asks for the join once a plays; wait for it, so that
			// a driver faster than real time finds it ready.
			select {
			case <-pipeline.PrepareJoin(ha.Track(), hb.Track(), fade):
			case <-time.After(joinWait):
				t.Fatal("the join was not made")
			}
			plan, ok := pipeline.JoinNow(ha.Track(), hb.Track(), fade)
			require.True(t, ok)
			require.False(t, plan.Cut, "a join, not a cut: %v", plan.Err)
			var silence int
			for {
				pk, err := q.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				require.NoError(t, err)
				if pk.Silence {
					silence++
					continue
				}
				require.Zero(t, silence, "no silence frame between the tracks")
				got = append(got, pk.Data)
			}
			assert.Equal(t, 5, silence, "the five silence frames at the end")
			want, err := pipeline.JoinedPackets(ha.Track(), hb.Track(), plan)
			require.NoError(t, err)
			assert.Equal(t, want, got, "a's packets, the join's, b's")
			st := q.State().Stats
			assert.EqualValues(t, 1, st.Joins)
			assert.EqualValues(t, 2, st.Tracks)

			var kinds []string
			for _, e := range events {
				kind := map[pipeline.EventKind]string{pipeline.EventStarted: "started", pipeline.EventEnded: "ended"}[e.Kind]
				kinds = append(kinds, kind+" "+map[pipeline.EntryID]string{ida: "a", idb: "b"}[e.ID])
			}
			assert.Equal(t, []string{"started a", "ended a", "started b", "ended b"}, kinds)
		})
	}
}

// A pause in the middle of a join's transition cuts it short: the pause's
// silence frames, then b's own packets from where the transition was (as
// after any resume), to b's end.
func TestQueueJoinPaused(t *testing.T) {
	const fade = 200 * time.Millisecond
	o := &opener{data: map[string][]byte{"a": tone(2, 0, 48000, 440, 0.5), "b": tone(2, 0, 48000, 660, 0.5)},
		opens: map[string]int{}, fail: map[string]int{}}
	lib, ha, hb, ka, kb := joinTracks(t, o, true)
	q := pipeline.NewQueue(lib, pipeline.WithCrossfade(fade), pipeline.WithEndWhenEmpty(), pipeline.WithPositionEvery(0))
	defer q.Close()
	q.Enqueue(ka)
	idb := q.Enqueue(kb)
	_, err := q.Next()
	require.NoError(t, err)
	<-pipeline.PrepareJoin(ha.Track(), hb.Track(), fade)
	plan, ok := pipeline.JoinNow(ha.Track(), hb.Track(), fade)
	require.True(t, ok)
	require.False(t, plan.Cut)
	require.Greater(t, len(plan.Packets), 2)
	// Drive to the join's second transition packet, then pause.
	seen := 0
	for seen < 2 {
		_, err := q.Next()
		require.NoError(t, err)
		if q.State().Current.ID == idb {
			seen++
		}
	}
	require.EqualValues(t, 1, q.State().Stats.Joins, "b started by the join, whose transition is under way")
	q.Pause()
	var last []byte
	for {
		pk, err := q.Next()
		if errors.Is(err, pipeline.ErrPaused) {
			q.Resume()
			continue
		}
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if !pk.Silence {
			last = pk.Data
		}
	}
	xb, _ := hb.Track().Index()
	wantLast, err := pipeline.JoinedPackets(hb.Track(), hb.Track(), pipeline.JoinPlan{ALast: xb.Packets() - 1, BFirst: xb.Packets()})
	require.NoError(t, err)
	assert.Equal(t, wantLast[len(wantLast)-1], last, "b plays to its last packet")
}

// A Queue's seek past what a paced stored track has read (its read-ahead
// follows a clock, stopped here) lands without the clock: the queue asks
// the fill for the packets the seek waits for.
func TestQueueSeekStoredPaced(t *testing.T) {
	key, raw, o, dir, _, _, _ := longStored(t) // 10 s of noise, stored
	store, err := pipeline.NewDirStore(dir, 0)
	require.NoError(t, err)
	clock := pipeline.NewFakeClock(time.Unix(0, 0))
	lib := newLibrary(t, o, raw, pipeline.WithStore(store), pipeline.WithStoreReadAhead(25, clock))
	q := pipeline.NewQueue(lib, pipeline.WithPositionEvery(0))
	defer q.Close()
	id := q.Enqueue(key)
	var pk pipeline.Packet
	for n := 0; ; n++ {
		require.Less(t, n, 100000, "the track never started")
		if pk, err = q.Next(); err == nil {
			break
		}
		require.ErrorIs(t, err, pipeline.ErrUnderrun)
	}
	require.EqualValues(t, 1, lib.Stats().DiskHits, "played from the store")
	target := 9 * time.Second
	q.Seek(id, target)
	for n := 0; ; n++ {
		require.Less(t, n, 100000, "the seek never landed, the clock stopped")
		pk, err = q.Next()
		if errors.Is(err, pipeline.ErrUnderrun) {
			continue
		}
		require.NoError(t, err)
		if pk.Position >= opus.Samples(target)-960 {
			break
		}
	}
	assert.LessOrEqual(t, pk.Position, opus.Samples(target))
}

// gateAfter gives the first n bytes of r at once and the rest once open
// is closed.
type gateAfter struct {
	r    io.Reader
	n    int64
	open chan struct{}
}

func (g *gateAfter) Read(p []byte) (int, error) {
	if g.n <= 0 {
		<-g.open
		return g.r.Read(p)
	}
	if int64(len(p)) > g.n {
		p = p[:g.n]
	}
	k, err := g.r.Read(p)
	g.n -= int64(k)
	return k, err
}

// A seek made during a join's transition, to a place of b not encoded
// yet, waits for the transition's end: the join's packets are all given,
// in order, then b's own from bFirst (not b's bFirst straight after a
// transition cut short, which the receiver's decoder, partway through
// the transition, was not coded for).
func TestQueueJoinSeekWaits(t *testing.T) {
	const fade = 200 * time.Millisecond
	open := make(chan struct{})
	defer close(open)
	o := &opener{data: map[string][]byte{"a": tone(2, 0, 48000, 440, 0.5), "b": tone(2, 0, 3*48000, 660, 0.5)},
		opens: map[string]int{}, fail: map[string]int{},
		wrap: func(src string, r io.Reader) io.Reader {
			if src == "b" {
				return &gateAfter{r: r, n: 8 * 48000, open: open} // b's first second
			}
			return r
		}}
	lib, ha, hb, ka, kb := joinTracks(t, o, false)
	q := pipeline.NewQueue(lib, pipeline.WithCrossfade(fade), pipeline.WithPositionEvery(0))
	defer q.Close()
	q.Enqueue(ka)
	idb := q.Enqueue(kb)
	_, err := q.Next()
	require.NoError(t, err)
	select {
	case <-pipeline.PrepareJoin(ha.Track(), hb.Track(), fade):
	case <-time.After(joinWait):
		t.Fatal("the join was not made")
	}
	plan, ok := pipeline.JoinNow(ha.Track(), hb.Track(), fade)
	require.True(t, ok)
	require.False(t, plan.Cut, "%v", plan.Err)
	require.Greater(t, len(plan.Packets), 3)
	var got [][]byte
	for len(got) < 2 {
		pk, err := q.Next()
		require.NoError(t, err)
		if q.State().Current.ID == idb {
			got = append(got, pk.Data)
		}
	}
	q.Seek(idb, 2500*time.Millisecond) // b's encode is held at its first second
	for len(got) < len(plan.Packets)+1 {
		pk, err := q.Next()
		require.NoError(t, err)
		got = append(got, pk.Data)
	}
	xb, _ := hb.Track().Index()
	first, err := pipeline.JoinedPackets(hb.Track(), hb.Track(), pipeline.JoinPlan{ALast: -1, BFirst: plan.BFirst})
	require.NoError(t, err)
	require.Greater(t, xb.Packets(), plan.BFirst)
	assert.Equal(t, plan.Packets, got[:len(plan.Packets)], "the join's transition, whole")
	assert.Equal(t, first[0], got[len(plan.Packets)], "then b's packet bFirst")
}

// A queue that comes to the join's ALast while the transition of a resume
// is under way does not play the join (made for a receiver that heard a's
// own packets): a's packets to its end and the cut, as without a join;
// what a receiver hears keeps the seam bound, where the join came out
// about 4 dB too loud.
func TestQueueJoinInTransition(t *testing.T) {
	o := &opener{data: map[string][]byte{
		"a": testutil.Fixture(t, "tone1k_s16_48000_2.wav"),
		"b": testutil.Fixture(t, "prog.opus"),
	}, opens: map[string]int{}, fail: map[string]int{}}
	lib := newLibrary(t, o)
	ka, kb := pipeline.Key{Source: "a"}, pipeline.Key{Source: "b"}
	ha, err := lib.Get(context.Background(), ka)
	require.NoError(t, err)
	defer ha.Release()
	hb, err := lib.Get(context.Background(), kb)
	require.NoError(t, err)
	defer hb.Release()
	finished(t, ha)
	finished(t, hb)
	q := pipeline.NewQueue(lib, pipeline.WithEndWhenEmpty(), pipeline.WithPositionEvery(0))
	defer q.Close()
	q.Enqueue(ka)
	q.Enqueue(kb)
	dec, err := libopus.NewPacketDecoder(2)
	require.NoError(t, err)
	var heard []float64 // per packet
	give := func() (pipeline.Packet, bool) {
		pk, err := q.Next()
		if errors.Is(err, io.EOF) {
			return pk, false
		}
		require.NoError(t, err)
		pcm, err := dec.Decode(pk.Data)
		require.NoError(t, err)
		heard = append(heard, peak(appendPeaks(nil, pcm), 0, len(pcm)))
		return pk, true
	}
	give()
	select {
	case <-pipeline.PrepareJoin(ha.Track(), hb.Track(), 0):
	case <-time.After(joinWait):
		t.Fatal("the join was not made")
	}
	plan, ok := pipeline.JoinNow(ha.Track(), hb.Track(), 0)
	require.True(t, ok)
	require.False(t, plan.Cut, "a join, not a cut: %v", plan.Err)
	xa, _ := ha.Track().Index()
	for {
		pk, ok := give()
		require.True(t, ok)
		if pk.Position == xa.Entry(plan.ALast-1).Start-xa.PreSkip() {
			break // the packet before ALast given
		}
	}
	q.Pause()
	pk, _ := give()
	require.True(t, pk.Silence, "a pause's first silence frame")
	q.Resume()
	from := len(heard)
	pk, _ = give()
	require.True(t, pk.Seam, "ALast, in the resume's transition")
	for {
		if _, ok := give(); !ok {
			break
		}
	}
	assert.Zero(t, q.State().Stats.Joins, "no join from within a transition")
	side := max(peak(appendPeaks(nil, decodeAll16(t, packets(t, ha.Track()))), 0, math.MaxInt), 0.01)
	excess := testutil.DB(peak(heard, from, len(heard)) / side)
	assert.LessOrEqual(t, excess, seamBound, "the resume and the tracks after it, over a's peak")
	t.Logf("from the resume on, %+.1f dB over a's peak", excess)
}

// decodeAll16 decodes packets with one stereo decoder.
func decodeAll16(t *testing.T, packets [][]byte) []int16 {
	t.Helper()
	dec, err := libopus.NewPacketDecoder(2)
	require.NoError(t, err)
	var out []int16
	for _, p := range packets {
		pcm, err := dec.Decode(p)
		require.NoError(t, err)
		out = append(out, pcm...)
	}
	return out
}
