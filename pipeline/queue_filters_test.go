//go:build cgo

package pipeline_test

import (
	"bytes"
	"context"
	"io"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/transform"
)

// filterTestLength is the length of the sources of the filter tests: 30
// s, 15 s with -short (the encodes of a few variants of it, under the race
// detector, are most of their time).
func filterTestLength() time.Duration {
	if testing.Short() {
		return 15 * time.Second
	}
	return 30 * time.Second
}

// normal is k with the defaults stated, as a Queue's State and events
// give it.
func normal(k pipeline.Key) pipeline.Key {
	k.Bitrate, k.Frame, k.Channels, k.Quality = 128000, 20*time.Millisecond, 2, transform.High
	return k
}

// seqOpener opens data, its opens numbered from 1: those in held give
// their first head bytes at once and the rest once released (a load whose
// encode has just started and goes no further), or nothing at all until
// then if head is 0 (a source that stalls); the others all of it.
type seqOpener struct {
	data     []byte
	head     int
	held     map[int]bool
	released chan struct{}
	once     sync.Once
	mu       sync.Mutex
	opens    int
}

// release lets the held opens read on; it may be called more than once.
func (o *seqOpener) release() { o.once.Do(func() { close(o.released) }) }

func (o *seqOpener) open(_ context.Context, _ string) (io.Reader, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.opens++
	r := bytes.NewReader(o.data)
	if o.held[o.opens] {
		return io.MultiReader(io.LimitReader(r, int64(o.head)), &gate{r: r, open: o.released}), nil
	}
	return r, nil
}

// filterEvents records a queue's events, for WithEventFunc.
type filterEvents struct {
	mu  sync.Mutex
	all []pipeline.Event
}

func (f *filterEvents) add(e pipeline.Event) { f.mu.Lock(); f.all = append(f.all, e); f.mu.Unlock() }

// filters returns the EventFilters told so far.
func (f *filterEvents) filters() []pipeline.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []pipeline.Event
	for _, e := range f.all {
		if e.Kind == pipeline.EventFilters {
			out = append(out, e)
		}
	}
	return out
}

// untilSwitch plays q until the packet at which its n-th EventFilters is
// told, and returns the packets played, that one last. It plays in real
// time (a packet every 20 ms), as a Scheduler would, so that the variant
// can catch up with the place it switches at.
func untilSwitch(t *testing.T, q *pipeline.Queue, ev *filterEvents, n int) []pipeline.Packet {
	t.Helper()
	var played []pipeline.Packet
	for len(ev.filters()) < n {
		if len(played) > 0 {
			time.Sleep(20 * time.Millisecond)
		}
		require.Less(t, len(played), 3000, "the switch made within 60 s of audio")
		ev.mu.Lock()
		for _, e := range ev.all {
			require.NotEqual(t, pipeline.EventEnded, e.Kind, "the entry ended: %v %v", e.Reason, e.Err)
		}
		ev.mu.Unlock()
		played = append(played, nextPacket(t, q))
	}
	return played
}

// waitDone waits for the end of the track of h, generously: an encode of
// 30 s of audio under the race detector, on a busy machine.
func waitDone(t *testing.T, h *pipeline.Hold) {
	t.Helper()
	select {
	case <-h.Track().Done():
	case <-time.After(5 * time.Minute):
		t.Fatal("track not finished")
	}
	require.NoError(t, h.Track().Err())
}

// speed125 is where a timescale of speed 1.25 puts position n of its
// input: ceil(n/1.25), as transform.Timescale writes ceil(n·pitch/speed)
// frames for n.
func speed125(n int64) int64 { return (4*n + 4) / 5 }

// unspeed125 is the least n that speed125 takes to p or past it.
func unspeed125(p int64) int64 {
	n := max(5*p/4-2, 0)
	for speed125(n) < p {
		n++
	}
	return n
}

// A filter change mid-track, the variants encoded, lands at the same
// place in the music: the first packet of the variant is the one that
// holds the old variant's position (the end of its last packet given),
// scaled by the chains' timescales (speed 1.25: ceil(p/1.25), and back),
// exactly; it is a transition encoded from the old variant's audio into
// the new one's, within the seam bound, and the variant's own packets
// follow it. The queue holds the variant, and has let go of the old.
func TestQueueSetFiltersMidTrack(t *testing.T) {
	for _, tc := range []struct {
		name, chain string
		scale       func(int64) int64 // the position from no filters to chain
		back        func(int64) int64 // and back
	}{
		{"volume", "volume:volume=.5", func(p int64) int64 { return p }, func(p int64) int64 { return p }},
		{"timescale", "timescale:speed=1.25", speed125, unspeed125},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := &seqOpener{data: longMP3(t, filterTestLength())}
			lib := pipeline.NewLibrary(pipeline.WithOpener(o.open))
			defer lib.Close()
			plain := pipeline.Key{Source: "long"}
			c, err := transform.ParseChain(tc.chain)
			require.NoError(t, err)
			filtered := pipeline.Key{Source: "long", Filters: c.String()}
			plainN, filteredN := normal(plain), normal(filtered)
			var hs [2]*pipeline.Hold
			for k, key := range []pipeline.Key{plain, filtered} {
				h, err := lib.Get(context.Background(), key)
				require.NoError(t, err)
				defer h.Release()
				waitDone(t, h)
				hs[k] = h
			}
			own := [2][][]byte{packets(t, hs[0].Track()), packets(t, hs[1].Track())}
			x, _ := hs[1].Track().Index()
			pre, u := x.PreSkip(), int64(960)

			ev := &filterEvents{}
			q := pipeline.NewQueue(lib, pipeline.WithEventFunc(ev.add), pipeline.WithPositionEvery(0))
			defer q.Close()
			q.Enqueue(plain)
			var played []pipeline.Packet
			for range 250 {
				played = append(played, nextPacket(t, q))
			}
			withTimeout(t, "SetFilters", func() { require.NoError(t, q.SetFilters(tc.chain)) })
			played = append(played, untilSwitch(t, q, ev, 1)...)
			n := len(played)
			last, first := played[n-2], played[n-1]
			p := last.Position + last.Samples
			i := (tc.scale(p) + pre) / u
			assert.Equal(t, i*u-pre, first.Position, "the variant from the packet that holds %d scaled", p)
			e := ev.filters()[0]
			assert.Equal(t, first.Position, e.Position)
			assert.Equal(t, filteredN, e.Key, "the entry's key is the variant's")
			assert.True(t, first.Seam, "a transition into the variant")
			for range 100 {
				played = append(played, nextPacket(t, q))
			}
			seams := 0
			for k, pk := range played[n-1:] {
				require.Equal(t, first.Position+int64(k)*u, pk.Position, "packets on from the switch")
				if pk.Seam {
					seams++
					continue
				}
				assert.Equal(t, own[1][(pk.Position+pre)/u], pk.Data, "the variant's own packet at %d", pk.Position)
			}
			assert.Equal(t, 3, seams, "a transition of 60 ms")
			st := q.State()
			assert.Equal(t, c.String(), st.Filters)
			assert.Equal(t, filteredN, st.Current.Key)
			assert.Equal(t, int64(1), st.Stats.FilterChanges)
			assert.Equal(t, int64(3), lib.Stats().Holders, "the test's two holds and the queue's, of the variant")

			// The seam bound: what a receiver decodes from 10 ms before the
			// switch to 60 ms after it, against the larger side's peak.
			datas := make([][]byte, len(played))
			for k, pk := range played {
				datas[k] = pk.Data
			}
			rx := decodeAll(t, datas)
			ref := [2][]float64{decodeAll(t, own[0]), decodeAll(t, own[1])}
			b := (n - 1) * int(u)
			heard := peakOf(rx[b-480 : b+2880])
			at0, at1 := int(p+pre), int(i*u)
			side := max(peakOf(ref[0][at0-9600:at0]), peakOf(ref[1][at1:at1+9600]), math.Pow(10, -40.0/20))
			excess := testutil.DB(heard / side)
			t.Logf("the switch at %d (%d of the variant): %.2f dB over the larger side", p, i*u-pre, excess)
			assert.LessOrEqual(t, excess, 1.0, "the seam bound at the switch")

			// And back: no filters, the position scaled back.
			withTimeout(t, "SetFilters", func() { require.NoError(t, q.SetFilters("")) })
			back := append(played[len(played)-1:], untilSwitch(t, q, ev, 2)...)
			last, first = back[len(back)-2], back[len(back)-1]
			p = last.Position + last.Samples
			i = (tc.back(p) + pre) / u
			assert.Equal(t, i*u-pre, first.Position, "back from %d", p)
			assert.Equal(t, plainN, q.State().Current.Key)
		})
	}
}

// A filter change at a place the variant has not encoded (its source held
// after its first bytes) is made from a segment encoded from there,
// filtered: a silence frame in place of its first packet, at the old
// variant's position, the segment's packets after it, their audio 6 dB
// under the unfiltered track's at the same positions (volume 0.5).
func TestQueueSetFiltersSegment(t *testing.T) {
	// Opens: the unfiltered track's, the variant's (held), the segment's.
	o := &seqOpener{data: longMP3(t, filterTestLength()), head: 16 << 10, held: map[int]bool{2: true}, released: make(chan struct{})}
	defer o.release()
	lib := pipeline.NewLibrary(pipeline.WithOpener(o.open))
	defer lib.Close()
	plain := pipeline.Key{Source: "long"}
	hp, err := lib.Get(context.Background(), plain)
	require.NoError(t, err)
	defer hp.Release()
	waitDone(t, hp)

	ev := &filterEvents{}
	q := pipeline.NewQueue(lib, pipeline.WithEventFunc(ev.add))
	defer q.Close()
	q.Enqueue(plain)
	var played []pipeline.Packet
	for range 500 {
		played = append(played, nextPacket(t, q))
	}
	require.NoError(t, q.SetFilters("volume:volume=0.5"))
	played = append(played, untilSwitch(t, q, ev, 1)...)
	n := len(played)
	last, first := played[n-2], played[n-1]
	assert.Equal(t, last.Position+last.Samples, first.Position, "the same position: volume keeps the time")
	assert.True(t, first.Silence, "a silence frame in place of the segment's first packet")
	for range 100 {
		played = append(played, nextPacket(t, q))
	}
	for k, pk := range played[n-1:] {
		require.Equal(t, first.Position+int64(k)*960, pk.Position)
		if k > 0 {
			require.False(t, pk.Silence)
		}
	}
	hv, err := lib.Get(context.Background(), pipeline.Key{Source: "long", Filters: "volume:volume=0.5"})
	require.NoError(t, err)
	defer hv.Release()
	assert.Equal(t, int64(1), pipeline.SegmentsMade(hv.Track()), "the variant's segment")
	x, _ := hv.Track().Index()
	assert.Less(t, int64(x.Packets())*960, first.Position, "the variant's own encode is not there")

	datas := make([][]byte, len(played))
	for k, pk := range played {
		datas[k] = pk.Data
	}
	rx := decodeAll(t, datas)
	ref := decodeAll(t, packets(t, hp.Track()))
	// rx is the queue's stream from the track's start: its sample j is
	// the unfiltered track's decoded sample j.
	b := (n - 1) * 960
	from, to := b+10*960, len(rx)
	gain := testutil.DB(testutil.RMS(rx, from, to) / testutil.RMS(ref, from, to))
	t.Logf("after the switch: %.2f dB against the unfiltered track", gain)
	assert.InDelta(t, 20*math.Log10(0.5), gain, 0.5, "volume 0.5")
	heard := peakOf(rx[b-480 : b+2880])
	side := max(peakOf(ref[b-9600:b]), 0.5*peakOf(ref[b:b+9600]), math.Pow(10, -40.0/20))
	excess := testutil.DB(heard / side)
	t.Logf("the switch: %.2f dB over the larger side", excess)
	assert.LessOrEqual(t, excess, 1.0, "the seam bound at the switch")

	o.release()
	waitDone(t, hv)
}

// No command waits for a variant that is loading, or whose source stalls:
// SetFilters, the other commands and Next return at once, the queue
// playing on with the old variant, packet after packet, until the
// variant's source gives; then it switches.
func TestQueueSetFiltersNeverBlocks(t *testing.T) {
	o := &seqOpener{data: longMP3(t, filterTestLength()), held: map[int]bool{2: true}, released: make(chan struct{})}
	defer o.release()
	lib := pipeline.NewLibrary(pipeline.WithOpener(o.open))
	defer lib.Close()
	plain := pipeline.Key{Source: "long"}
	hp, err := lib.Get(context.Background(), plain)
	require.NoError(t, err)
	defer hp.Release()
	waitDone(t, hp) // the old variant is there throughout
	ev := &filterEvents{}
	q := pipeline.NewQueue(lib, pipeline.WithEventFunc(ev.add))
	defer q.Close()
	id := q.Enqueue(plain)
	prev := nextPacket(t, q)
	withTimeout(t, "SetFilters", func() { require.NoError(t, q.SetFilters("volume:volume=0.5")) })
	for k := range 100 {
		withTimeout(t, "Next", func() {
			pk, err := q.Next()
			require.NoError(t, err, "Next %d: the old variant plays on", k)
			if k != 51 { // the seek below
				assert.Equal(t, prev.Position+960, pk.Position)
			}
			prev = pk
		})
		if k == 50 {
			withTimeout(t, "the commands", func() {
				require.NoError(t, q.SetFilters("volume:volume=0.25"))
				require.NoError(t, q.SetFilters("volume:volume=0.5"))
				q.Seek(id, 5*time.Second)
				q.Pause()
				q.Resume()
				_ = q.State()
			})
		}
	}
	assert.Empty(t, ev.filters(), "not switched: the variant's source gives nothing")
	assert.Equal(t, normal(plain), q.State().Current.Key)
	assert.Equal(t, "volume:volume=0.5", q.State().Filters)
	o.release()
	untilSwitch(t, q, ev, 1)
	assert.Equal(t, "volume:volume=0.5", q.State().Current.Key.Filters)
	assert.Equal(t, int64(3), q.State().Stats.FilterChanges)
}

// SetFilters refuses an invalid chain at once, with an error wrapping
// transform.ErrFilterParam, and the queue is unchanged. A valid one is
// the queue's: entries queued before and after it play their variants
// with it (told at once by EventFilters, with no entry to switch).
func TestQueueSetFiltersEntries(t *testing.T) {
	o := newOpener(t, "a", "b", "c")
	lib := newLibrary(t, o)
	ev := &filterEvents{}
	q := pipeline.NewQueue(lib, pipeline.WithEventFunc(ev.add))
	defer q.Close()
	err := q.SetFilters("volume:volume=99")
	require.ErrorIs(t, err, transform.ErrFilterParam)
	require.ErrorIs(t, q.SetFilters("nope"), transform.ErrFilterParam)
	a := q.Enqueue(pipeline.Key{Source: "a"})
	b := q.Enqueue(pipeline.Key{Source: "b", Filters: "karaoke"})
	nextPacket(t, q)
	st := q.State()
	assert.Equal(t, "", st.Filters)
	assert.Zero(t, st.Stats.FilterChanges)
	assert.Equal(t, "karaoke", st.Entries[0].Key.Filters, "its own filters, before the queue has any")

	require.NoError(t, q.SetFilters("volume:volume=0.5"))
	q.Remove(a) // the current one: b plays
	cID := q.Enqueue(pipeline.Key{Source: "c", Filters: "karaoke"})
	nextPacket(t, q)
	st = q.State()
	assert.Equal(t, "volume:volume=0.5", st.Filters)
	assert.Equal(t, pipeline.QueueEntry{ID: b, Key: normal(pipeline.Key{Source: "b", Filters: "volume:volume=0.5"})}, st.Current)
	require.Len(t, st.Entries, 1)
	assert.Equal(t, pipeline.QueueEntry{ID: cID, Key: normal(pipeline.Key{Source: "c", Filters: "volume:volume=0.5"})}, st.Entries[0], "queued after: the queue's chain")
	require.NoError(t, q.SetFilters(""))
	nextPacket(t, q)
	assert.Equal(t, "", q.State().Entries[0].Key.Filters, "no filters: the queue's too")
}

// loopSource gives data again and again, without end: a radio.
type loopSource struct {
	data []byte
	at   int
}

func (l *loopSource) Read(p []byte) (int, error) {
	n := copy(p, l.data[l.at:])
	l.at = (l.at + n) % len(l.data)
	return n, nil
}

// A filter chain on a live track (a radio) is one filtered live track,
// encoded once, shared by every queue with that chain; another chain is
// another. A queue that changes its chain on a live track goes on to the
// variant at its live edge.
func TestQueueSetFiltersLive(t *testing.T) {
	one := testutil.Fixture(t, "prog_notag.mp3")
	var mu sync.Mutex
	opens := 0
	open := func(context.Context, string) (io.Reader, error) {
		mu.Lock()
		opens++
		mu.Unlock()
		return &loopSource{data: one}, nil
	}
	lib := pipeline.NewLibrary(pipeline.WithOpener(open), pipeline.WithTrackOptions(pipeline.WithLive(10*time.Second)))
	defer lib.Close()
	radio := pipeline.Key{Source: "radio"}
	var qs []*pipeline.Queue
	for _, chain := range []string{"volume:volume=0.5", "volume:volume=.5", "volume:volume=0.25", ""} {
		q := pipeline.NewQueue(lib)
		defer q.Close()
		require.NoError(t, q.SetFilters(chain))
		q.Enqueue(radio)
		nextPacket(t, q)
		qs = append(qs, q)
	}
	st := lib.Stats()
	assert.Equal(t, int64(3), st.Loads, "a live track a chain: two queues share one")
	assert.Equal(t, int64(3), st.Encodes)
	mu.Lock()
	assert.Equal(t, 3, opens)
	mu.Unlock()

	// The unfiltered queue switches to the chain the first two share:
	// no new load.
	ev := &filterEvents{}
	q := pipeline.NewQueue(lib, pipeline.WithEventFunc(ev.add))
	defer q.Close()
	q.Enqueue(radio)
	nextPacket(t, q)
	require.NoError(t, q.SetFilters("volume:volume=0.5"))
	sw := untilSwitch(t, q, ev, 1)
	assert.True(t, sw[len(sw)-1].Silence, "another live stream: a silence frame in place of its first packet")
	assert.Equal(t, int64(3), lib.Stats().Loads)
	assert.Equal(t, "volume:volume=0.5", q.State().Current.Key.Filters)
	for range 5 {
		assert.False(t, nextPacket(t, q).Silence)
	}
}

// A queue that a Scheduler drives switches filters on its shard, while
// other goroutines read its State and Playing (the race detector checks
// the entry's key, which the switch changes, against the published state
// they read): the switch is heard in the next packet, the state shows the
// variant once it is.
func TestQueueSetFiltersScheduled(t *testing.T) {
	o := newOpener(t, "a")
	lib := newLibrary(t, o)
	plain := pipeline.Key{Source: "a"}
	half := pipeline.Key{Source: "a", Filters: "volume:volume=0.5"}
	for _, k := range []pipeline.Key{plain, half} {
		getFinished(t, lib, k) // both encoded: the switch is made at once
	}
	s, clock := fakeScheduler(t)
	ev := &filterEvents{}
	q := pipeline.NewQueue(lib, pipeline.WithEventFunc(ev.add))
	defer q.Close()
	rec := &recorder{clock: clock}
	s.AddQueue(q, rec.send)
	tick := func(n int) {
		t.Helper()
		for range n {
			clock.Advance(20 * time.Millisecond)
			settle(t, clock)
		}
	}
	q.Enqueue(plain)
	tick(10)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = q.State()
			_ = q.Playing()
		}
	}()
	withTimeout(t, "SetFilters", func() { require.NoError(t, q.SetFilters("volume:volume=.5")) })
	tick(1)
	require.Len(t, ev.filters(), 1, "the switch in the next packet")
	tick(5)
	close(stop)
	wg.Wait()
	assert.Equal(t, normal(half), q.State().Current.Key)
	assert.Equal(t, normal(half), q.Playing().Key)
	assert.Equal(t, "volume:volume=0.5", q.State().Filters)
}

// A filter change whose variant the Library refuses (its budget full of
// tracks in use) leaves the entry playing as it was: EventFilters tells
// the error, no entry ends, the packets go on from where they were.
func TestQueueSetFiltersRefusedPlaysOn(t *testing.T) {
	o := &seqOpener{data: longMP3(t, 10*time.Second)}
	lib := pipeline.NewLibrary(pipeline.WithOpener(o.open), pipeline.WithBudget(1))
	defer lib.Close()
	h, err := lib.Get(context.Background(), pipeline.Key{Source: "long"})
	require.NoError(t, err)
	waitDone(t, h)
	h.Release()
	ev := &filterEvents{}
	q := pipeline.NewQueue(lib, pipeline.WithEventFunc(ev.add), pipeline.WithPositionEvery(0))
	defer q.Close()
	id := q.Enqueue(pipeline.Key{Source: "long"})
	var last pipeline.Packet
	for range 50 {
		last = nextPacket(t, q)
	}
	require.NoError(t, q.SetFilters("volume:volume=.5"))
	for range 20 {
		pk := nextPacket(t, q)
		require.False(t, pk.Silence, "no silence: the entry plays on")
		require.Equal(t, last.Position+last.Samples, pk.Position, "the packets go on from where they were")
		last = pk
	}
	fs := ev.filters()
	require.Len(t, fs, 1)
	assert.ErrorIs(t, fs[0].Err, pipeline.ErrOverBudget, "EventFilters tells why")
	assert.Equal(t, id, fs[0].ID)
	assert.Empty(t, fs[0].Key.Filters, "the entry plays on as it was")
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for _, e := range ev.all {
		assert.NotEqual(t, pipeline.EventEnded, e.Kind, "no entry ends: %v %v", e.Reason, e.Err)
	}
	assert.Equal(t, "volume:volume=0.5", q.State().Filters, "the queue's chain, for the entries after")
}

// A LoopSection's bounds go with the music through a switch to a
// timescale: the section 2 s to 4 s of the source is 1 s to 2 s of its
// variant at speed 2.
func TestQueueSetFiltersScalesSection(t *testing.T) {
	o := &seqOpener{data: longMP3(t, 12*time.Second)}
	lib := pipeline.NewLibrary(pipeline.WithOpener(o.open))
	defer lib.Close()
	for _, k := range []pipeline.Key{{Source: "long"}, {Source: "long", Filters: "timescale:speed=2"}} {
		h, err := lib.Get(context.Background(), k)
		require.NoError(t, err)
		defer h.Release()
		waitDone(t, h)
	}
	ev := &filterEvents{}
	q := pipeline.NewQueue(lib, pipeline.WithEventFunc(ev.add), pipeline.WithPositionEvery(0))
	defer q.Close()
	id := q.Enqueue(pipeline.Key{Source: "long"})
	nextPacket(t, q)
	require.NoError(t, q.LoopSection(id, 2*time.Second, 4*time.Second))
	for range 150 { // into the section
		nextPacket(t, q)
	}
	require.NoError(t, q.SetFilters("timescale:speed=2"))
	untilSwitch(t, q, ev, 1)
	minPos, maxPos := int64(math.MaxInt64), int64(0)
	for range 200 { // 4 s: the 1 s section four times
		pk := nextPacket(t, q)
		minPos, maxPos = min(minPos, pk.Position), max(maxPos, pk.Position)
	}
	assert.GreaterOrEqual(t, minPos, int64(48000-960), "the section's start, scaled: 1 s")
	assert.Less(t, maxPos, int64(2*48000), "the section's end, scaled: 2 s")
}
