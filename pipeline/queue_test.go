package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/pipeline/sink"
)

// queueTracks are the tracks of the queue tests: Ogg Opus links framed as
// they are, without transitions at jumps, so that every packet played is
// one of a link's own (testutil.OpusLink tells each apart by its serial
// number and its number in the link), with no pre-skip, so that packet i
// is at position 960·i.
type queueTracks struct {
	keys    []pipeline.Key
	packets [][][]byte // by track
	lib     *pipeline.Library
	o       *opener
}

// newQueueTracks makes a Library of tracks of the given numbers of
// packets, loaded (and held until the test's end) when loaded is true.
func newQueueTracks(t *testing.T, loaded bool, lens ...int) *queueTracks {
	t.Helper()
	qt := &queueTracks{o: &opener{data: map[string][]byte{}, opens: map[string]int{}, fail: map[string]int{}}}
	for i, n := range lens {
		l := testutil.OpusLink(t, uint32(i+1), 2, 0, n, true)
		src := fmt.Sprintf("track%d", i)
		qt.o.data[src] = l.Data
		qt.keys = append(qt.keys, pipeline.Key{Source: src})
		qt.packets = append(qt.packets, l.Packets)
	}
	qt.lib = newLibrary(t, qt.o, pipeline.WithTrackOptions(pipeline.WithSeams(false)))
	if loaded {
		for _, k := range qt.keys {
			h, err := qt.lib.Get(context.Background(), k)
			require.NoError(t, err)
			finished(t, h)
			t.Cleanup(h.Release)
		}
	}
	return qt
}

// which returns the track and packet number of a packet a queue gave, or
// -1, -1 for a silence frame.
func (qt *queueTracks) which(t *testing.T, pk pipeline.Packet) (int, int) {
	t.Helper()
	if pk.Silence {
		require.Equal(t, []byte(opus.SilenceFrame), pk.Data, "a silence frame")
		return -1, -1
	}
	for i, ps := range qt.packets {
		for j, p := range ps {
			if bytes.Equal(p, pk.Data) {
				return i, j
			}
		}
	}
	t.Fatalf("packet %x is no track's", pk.Data)
	return 0, 0
}

// withTimeout runs f and fails the test if it does not return within a
// generous time: it must not block.
func withTimeout(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s blocked", what)
	}
}

// Tracks follow each other packet after packet on one timeline: the next
// track's first packet is a silence frame in its place (the receiver's
// decoder holds the last track's state), no silence frames between
// tracks, five after the last, then idle; the events tell each start and
// end in order.
func TestQueuePlaysInOrder(t *testing.T) {
	qt := newQueueTracks(t, true, 4, 6)
	var events []pipeline.Event
	q := pipeline.NewQueue(qt.lib, pipeline.WithEventFunc(func(e pipeline.Event) { events = append(events, e) }), pipeline.WithPositionEvery(0))
	defer q.Close()
	_, err := q.Next()
	require.ErrorIs(t, err, pipeline.ErrIdle, "empty")
	require.ErrorIs(t, err, pipeline.ErrPaused, "idle is a kind of pause for drivers")
	a, b := q.Enqueue(qt.keys[0]), q.Enqueue(qt.keys[1])
	type played struct{ track, n int }
	var got []played
	var ts []int64
	for {
		pk, err := q.Next()
		if errors.Is(err, pipeline.ErrIdle) {
			break
		}
		require.NoError(t, err)
		tr, n := qt.which(t, pk)
		got = append(got, played{tr, n})
		ts = append(ts, pk.Timestamp)
	}
	want := []played{{0, 0}, {0, 1}, {0, 2}, {0, 3}, {-1, -1}, {1, 1}, {1, 2}, {1, 3}, {1, 4}, {1, 5}}
	for range 5 {
		want = append(want, played{-1, -1})
	}
	assert.Equal(t, want, got)
	for i, x := range ts {
		assert.Equal(t, int64(960*i), x, "packet %d on one timeline", i)
	}
	kinds := func(es []pipeline.Event) (out []string) {
		for _, e := range es {
			out = append(out, fmt.Sprintf("%d:%d:%d", e.Kind, e.ID, e.Reason))
		}
		return out
	}
	assert.Equal(t, kinds([]pipeline.Event{
		{Kind: pipeline.EventStarted, ID: a}, {Kind: pipeline.EventEnded, ID: a, Reason: pipeline.EndFinished},
		{Kind: pipeline.EventStarted, ID: b}, {Kind: pipeline.EventEnded, ID: b, Reason: pipeline.EndFinished},
	}), kinds(events))
	st := q.State()
	assert.Equal(t, int64(15), st.Stats.Packets)
	assert.Equal(t, int64(6), st.Stats.Silence)
	assert.Zero(t, st.Current.ID)
}

// queueModel is what a queue should do, written as simply as it can be:
// the tracks as lists of packets, the state as indexes.
type queueModel struct {
	tracks     [][][]byte
	every      int // position events' rate
	entries    []mEntry
	cur        *mEntry
	pos        int // cur's next packet
	started    bool
	paused     bool
	loop       pipeline.LoopMode
	from, to   int64 // a section's, in samples
	seek       int64 // pending, in samples; -1 none
	silence    int
	audible    bool
	sincePos   int
	ts         int64
	rng        *rand.Rand
	events     []string
	commands   int64
	lastIDSeen pipeline.EntryID
}

type mEntry struct {
	id    pipeline.EntryID
	track int
}

// mCmd is a command as the test gave it.
type mCmd struct {
	op       string
	id, to   pipeline.EntryID
	track, n int
	d, d2    time.Duration
	loop     pipeline.LoopMode
}

func (m *queueModel) event(kind pipeline.EventKind, id pipeline.EntryID, reason pipeline.EndReason, pos int64) {
	m.events = append(m.events, fmt.Sprintf("kind %d id %d reason %d position %d", kind, id, reason, pos))
}

func (m *queueModel) end(r pipeline.EndReason) {
	if m.cur == nil {
		return
	}
	e := *m.cur
	m.cur, m.started, m.seek, m.sincePos = nil, false, -1, 0
	if m.loop == pipeline.LoopSection {
		m.loop = pipeline.LoopOff
	}
	if r == pipeline.EndFinished && m.loop == pipeline.LoopQueue {
		m.entries = append(m.entries, e)
	}
	m.event(pipeline.EventEnded, e.id, r, 0)
}

func (m *queueModel) drop(r pipeline.EndReason, f func(i int, e mEntry) bool) {
	var kept []mEntry
	for i, e := range m.entries {
		if f(i, e) {
			m.event(pipeline.EventEnded, e.id, r, 0)
		} else {
			kept = append(kept, e)
		}
	}
	m.entries = kept
}

func (m *queueModel) find(id pipeline.EntryID) int {
	return slices.IndexFunc(m.entries, func(e mEntry) bool { return e.id == id })
}

func (m *queueModel) apply(c mCmd) {
	m.commands++
	isCur := m.cur != nil && m.cur.id == c.id
	switch c.op {
	case "play":
		m.end(pipeline.EndReplaced)
		m.cur, m.pos = &mEntry{c.id, c.track}, 0
	case "enqueue":
		m.entries = append(m.entries, mEntry{c.id, c.track})
	case "next":
		m.entries = slices.Insert(m.entries, 0, mEntry{c.id, c.track})
	case "insert":
		i := m.find(c.to)
		if i < 0 {
			i = len(m.entries)
		}
		m.entries = slices.Insert(m.entries, i, mEntry{c.id, c.track})
	case "remove":
		if isCur {
			m.end(pipeline.EndRemoved)
			return
		}
		m.drop(pipeline.EndRemoved, func(_ int, e mEntry) bool { return e.id == c.id })
	case "move":
		i := m.find(c.id)
		if i < 0 || c.id == c.to {
			return
		}
		e := m.entries[i]
		m.entries = slices.Delete(m.entries, i, i+1)
		j := m.find(c.to)
		if j < 0 {
			j = len(m.entries)
		}
		m.entries = slices.Insert(m.entries, j, e)
	case "clear":
		m.drop(pipeline.EndRemoved, func(int, mEntry) bool { return true })
	case "shuffle":
		m.rng.Shuffle(len(m.entries), func(i, j int) { m.entries[i], m.entries[j] = m.entries[j], m.entries[i] })
	case "skip":
		m.end(pipeline.EndSkipped)
		m.drop(pipeline.EndSkipped, func(i int, _ mEntry) bool { return i < c.n-1 })
	case "skipto":
		i := m.find(c.id)
		if i < 0 {
			return
		}
		m.end(pipeline.EndSkipped)
		m.drop(pipeline.EndSkipped, func(j int, _ mEntry) bool { return j < i })
	case "stop":
		m.end(pipeline.EndStopped)
		m.drop(pipeline.EndStopped, func(int, mEntry) bool { return true })
		m.paused = false
	case "seek":
		if isCur {
			m.seek = opus.Samples(c.d)
		}
	case "pause":
		if !m.paused {
			m.paused = true
			if m.audible {
				m.silence = 5
			}
		}
	case "resume":
		if m.paused {
			m.paused, m.silence = false, 0
		}
	case "loop":
		m.loop = c.loop
	case "section":
		if isCur {
			m.loop, m.from, m.to = pipeline.LoopSection, opus.Samples(c.d), opus.Samples(c.d2)
		}
	}
}

// next is what the queue's Next gives: a packet (its track and number,
// -1 for a silence frame) or an error.
func (m *queueModel) next() (track, n int, err error) {
	for {
		if m.silence > 0 {
			m.silence--
			m.audible = false
			m.ts += 960
			return -1, -1, nil
		}
		if m.cur == nil {
			if len(m.entries) == 0 {
				if m.audible {
					m.silence = 5
					continue
				}
				return 0, 0, pipeline.ErrIdle
			}
			e := m.entries[0]
			m.entries = m.entries[1:]
			m.cur, m.pos = &e, 0
		}
		if m.paused {
			return 0, 0, pipeline.ErrPaused
		}
		ps := m.tracks[m.cur.track]
		if m.seek >= 0 {
			if m.seek < int64(len(ps))*960 {
				m.pos = int(m.seek / 960)
			}
			m.seek = -1
		}
		i := m.pos
		if m.loop == pipeline.LoopSection && int64(i)*960 >= m.to {
			i = int(m.from / 960)
		}
		if i >= len(ps) {
			switch {
			case m.loop == pipeline.LoopTrack:
				i = 0
			case m.loop == pipeline.LoopSection && m.from/960 < int64(len(ps)):
				i = int(m.from / 960)
			default:
				m.end(pipeline.EndFinished)
				continue
			}
		}
		m.pos = i + 1
		track, n = m.cur.track, i
		if !m.started {
			m.started = true
			if m.audible {
				track, n = -1, -1
			}
			m.event(pipeline.EventStarted, m.cur.id, 0, int64(i)*960)
		}
		m.audible = track >= 0
		m.ts += 960
		if m.every > 0 {
			m.sincePos++
			if m.sincePos >= m.every {
				m.sincePos = 0
				m.event(pipeline.EventPosition, m.cur.id, 0, int64(i)*960)
			}
		}
		return track, n, nil
	}
}

// The property test: commands from several goroutines, interleaved with
// the driver's Next calls, linearised in the order the queue records them
// (each goroutine gives its command and logs it under one lock, and the
// driver reads how many the queue has applied after each packet): the
// packets played are exactly the model's, in order, with their
// timestamps, and the events are the model's, in order.
func TestQueueModel(t *testing.T) {
	steps, workers := 4000, 3
	if testing.Short() {
		steps = 1000
	}
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { queueModelRun(t, seed, steps, workers) })
	}
}

func queueModelRun(t *testing.T, seed uint64, steps, workers int) {
	lens := []int{3, 5, 8, 13}
	qt := newQueueTracks(t, true, lens...)
	var events []string
	q := pipeline.NewQueue(qt.lib, pipeline.WithShuffleSeed(seed), pipeline.WithPositionEvery(3),
		pipeline.WithEventFunc(func(e pipeline.Event) {
			pos := e.Position
			if e.Kind == pipeline.EventEnded {
				pos = 0
			}
			events = append(events, fmt.Sprintf("kind %d id %d reason %d position %d", e.Kind, e.ID, e.Reason, pos))
		}))
	defer q.Close()
	m := &queueModel{tracks: qt.packets, every: 3, seek: -1, rng: rand.New(rand.NewPCG(seed, seed))}

	var (
		mu   sync.Mutex // the log's, and the order of the commands given
		log  []mCmd
		ids  []pipeline.EntryID
		stop = make(chan struct{})
		wg   sync.WaitGroup
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(w)+100))
			for {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				c := queueCommand(q, r, ids, len(lens))
				if c.op != "" {
					log = append(log, c)
					if c.id != 0 && !slices.Contains(ids, c.id) {
						ids = append(ids, c.id)
					}
				}
				mu.Unlock()
				time.Sleep(time.Duration(r.IntN(200)) * time.Microsecond)
			}
		}()
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()

	applied := 0
	played := 0
	var trace []string // what happened, told if the test fails
	defer func() {
		if t.Failed() {
			t.Logf("the last steps:\n%s", strings.Join(trace[max(0, len(trace)-30):], "\n"))
		}
	}()
	for step := range steps {
		pk, err := q.Next()
		st := q.State()
		mu.Lock()
		require.LessOrEqual(t, int(st.Stats.Commands), len(log))
		for _, c := range log[applied:st.Stats.Commands] {
			m.apply(c)
			trace = append(trace, fmt.Sprintf("  %+v", c))
		}
		applied = int(st.Stats.Commands)
		mu.Unlock()
		wantTrack, wantN, wantErr := m.next()
		tr, n := -2, -2
		if err == nil {
			tr, n = qt.which(t, pk)
		}
		trace = append(trace, fmt.Sprintf("step %d: got %d/%d %v, want %d/%d %v; entries %v cur %v", step, tr, n, err, wantTrack, wantN, wantErr, m.entries, m.cur))
		if wantErr != nil {
			require.Equal(t, wantErr, err, "step %d", step)
		} else {
			require.NoError(t, err, "step %d", step)
			tr, n := qt.which(t, pk)
			require.Equal(t, [2]int{wantTrack, wantN}, [2]int{tr, n}, "step %d: track and packet", step)
			require.Equal(t, m.ts-960, pk.Timestamp, "step %d: timestamp", step)
			played++
		}
		require.Equal(t, m.events, events, "step %d: events", step)
		if m.cur != nil {
			require.Equal(t, m.cur.id, st.Current.ID, "step %d: current", step)
		} else {
			require.Zero(t, st.Current.ID, "step %d: current", step)
		}
		var want []pipeline.EntryID
		for _, e := range m.entries {
			want = append(want, e.id)
		}
		var got []pipeline.EntryID
		for _, e := range st.Entries {
			got = append(got, e.ID)
		}
		require.Equal(t, want, got, "step %d: entries", step)
		if step%40 == 39 {
			time.Sleep(time.Millisecond) // let the commands pile up
		}
	}
	t.Logf("%d commands applied, %d packets played, %d events", applied, played, len(events))
	assert.Greater(t, applied, steps/10, "commands were given while it played")
}

// queueCommand gives q a random command, and returns it as the model
// takes it.
func queueCommand(q *pipeline.Queue, r *rand.Rand, ids []pipeline.EntryID, tracks int) mCmd {
	anyID := func() pipeline.EntryID {
		if len(ids) == 0 || r.IntN(8) == 0 {
			return pipeline.EntryID(r.IntN(3)) // none, or one not given yet
		}
		return ids[r.IntN(len(ids))]
	}
	curID := func() pipeline.EntryID {
		if r.IntN(4) == 0 {
			return anyID()
		}
		return q.State().Current.ID // what a user sees, and names
	}
	tr := r.IntN(tracks)
	key := pipeline.Key{Source: fmt.Sprintf("track%d", tr)}
	switch x := r.IntN(100); {
	case x < 22:
		return mCmd{op: "enqueue", id: q.Enqueue(key), track: tr}
	case x < 26:
		return mCmd{op: "play", id: q.Play(key), track: tr}
	case x < 30:
		return mCmd{op: "next", id: q.PlayNext(key), track: tr}
	case x < 34:
		before := anyID()
		return mCmd{op: "insert", id: q.InsertBefore(key, before), to: before, track: tr}
	case x < 41:
		id := curID()
		if r.IntN(2) == 0 {
			id = anyID()
		}
		q.Remove(id)
		return mCmd{op: "remove", id: id}
	case x < 48:
		id, before := anyID(), anyID()
		q.Move(id, before)
		return mCmd{op: "move", id: id, to: before}
	case x < 50:
		q.Clear()
		return mCmd{op: "clear"}
	case x < 54:
		q.Shuffle()
		return mCmd{op: "shuffle"}
	case x < 60:
		n := r.IntN(3)
		q.Skip(n)
		return mCmd{op: "skip", n: max(n, 1)}
	case x < 63:
		id := anyID()
		q.SkipTo(id)
		return mCmd{op: "skipto", id: id}
	case x < 65:
		q.Stop()
		return mCmd{op: "stop"}
	case x < 74:
		id, d := curID(), time.Duration(r.IntN(300))*time.Millisecond
		q.Seek(id, d)
		return mCmd{op: "seek", id: id, d: d}
	case x < 79:
		q.Pause()
		return mCmd{op: "pause"}
	case x < 86:
		q.Resume()
		return mCmd{op: "resume"}
	case x < 92:
		m := []pipeline.LoopMode{pipeline.LoopOff, pipeline.LoopTrack, pipeline.LoopQueue}[r.IntN(3)]
		q.Loop(m)
		return mCmd{op: "loop", loop: m}
	default:
		id := curID()
		from := time.Duration(r.IntN(15)) * 10 * time.Millisecond
		to := from + time.Duration(1+r.IntN(15))*10*time.Millisecond
		if err := q.LoopSection(id, from, to); err != nil {
			panic(err) // never empty
		}
		return mCmd{op: "section", id: id, d: from, d2: to}
	}
}

// stalled is a source that gives nothing until it is closed (the track's
// Close closes it).
type stalled struct {
	once   sync.Once
	closed chan struct{}
}

func newStalled() *stalled { return &stalled{closed: make(chan struct{})} }

func (s *stalled) Read([]byte) (int, error) {
	<-s.closed
	return 0, io.ErrClosedPipe
}

func (s *stalled) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

// No command waits for a track that is loading, or whose source stalls:
// each returns at once, Next gives underruns (and tells EventStuck once,
// after WithStuckAfter of them), a seek past what is encoded is kept for
// later, a track that comes in later plays, and Close returns.
func TestQueueNeverBlocks(t *testing.T) {
	qt := newQueueTracks(t, true, 5)
	released := make(chan struct{})
	qt.o.data["stalled"] = nil
	qt.o.data["gated"] = testutil.OpusLink(t, 9, 2, 0, 4, true).Data
	qt.o.wrap = func(src string, r io.Reader) io.Reader {
		switch src {
		case "stalled":
			return newStalled()
		case "gated":
			return &gate{r: r, open: released}
		}
		return r
	}
	var (
		mu     sync.Mutex
		events []pipeline.Event
	)
	q := pipeline.NewQueue(qt.lib, pipeline.WithStuckAfter(5), pipeline.WithPositionEvery(0),
		pipeline.WithEventFunc(func(e pipeline.Event) { mu.Lock(); events = append(events, e); mu.Unlock() }))
	closed := false
	defer func() {
		if !closed {
			q.Close()
		}
	}()
	var stuckID pipeline.EntryID
	withTimeout(t, "Enqueue", func() { stuckID = q.Enqueue(pipeline.Key{Source: "stalled"}) })
	for i := range 8 {
		withTimeout(t, "Next", func() {
			_, err := q.Next()
			assert.Equal(t, pipeline.ErrUnderrun, err, "Next %d: the track is not there", i)
		})
	}
	withTimeout(t, "the commands", func() {
		q.Seek(stuckID, time.Minute)
		q.Pause()
		q.Resume()
		q.LoopSection(stuckID, time.Second, 2*time.Second)
		q.Loop(pipeline.LoopTrack)
		q.Loop(pipeline.LoopOff)
		q.Enqueue(pipeline.Key{Source: "gated"})
		q.Shuffle()
		_ = q.State()
	})
	withTimeout(t, "Next", func() {
		_, err := q.Next()
		assert.Equal(t, pipeline.ErrUnderrun, err)
	})
	mu.Lock()
	var stuck []pipeline.Event
	for _, e := range events {
		if e.Kind == pipeline.EventStuck {
			stuck = append(stuck, e)
		}
	}
	mu.Unlock()
	require.Len(t, stuck, 1, "told once a stall")
	assert.Equal(t, stuckID, stuck[0].ID)
	assert.Equal(t, 5*20*time.Millisecond, stuck[0].Stalled)

	// Skipped: the gated track, loading, underruns in turn; once its
	// source gives, it plays, its first packet as it is (nothing was
	// heard before it).
	withTimeout(t, "Skip", func() { q.Skip(1) })
	withTimeout(t, "Next", func() {
		_, err := q.Next()
		assert.Equal(t, pipeline.ErrUnderrun, err)
	})
	close(released)
	var got []int
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < 4 {
		require.False(t, time.Now().After(deadline), "the gated track plays")
		withTimeout(t, "Next", func() {
			pk, err := q.Next()
			if err == pipeline.ErrUnderrun {
				time.Sleep(time.Millisecond)
				return
			}
			require.NoError(t, err)
			require.False(t, pk.Silence)
			got = append(got, int(pk.Position/960))
		})
	}
	assert.Equal(t, []int{0, 1, 2, 3}, got)

	// A seek past the encoded point of a loading track does not wait:
	// the queue plays on where it was.
	withTimeout(t, "Play", func() { stuckID = q.Play(pipeline.Key{Source: "stalled"}) })
	withTimeout(t, "Seek", func() { q.Seek(stuckID, time.Minute) })
	withTimeout(t, "Next", func() {
		_, err := q.Next()
		assert.Equal(t, pipeline.ErrUnderrun, err)
	})
	withTimeout(t, "Close", func() { q.Close() })
	closed = true
	_, err := q.Next()
	assert.ErrorIs(t, err, pipeline.ErrQueueClosed)
	assert.ErrorIs(t, err, pipeline.ErrClosed)
	assert.Zero(t, qt.lib.Stats().Holders-int64(len(qt.keys)), "the queue's holds released; the test's own remain")
}

// A seek past what is encoded of the current track is made at the first
// packet boundary at which the target is encoded; meanwhile the queue
// plays on from where it was.
func TestQueueSeekWaitsForEncoding(t *testing.T) {
	link := testutil.OpusLink(t, 3, 2, 0, 600, true)
	qt := newQueueTracks(t, false)
	qt.o.data["piped"] = link.Data
	released := make(chan struct{})
	// The headers and the first 60 pages (300 packets, past what a
	// track reads to know its input) at once; the rest when released.
	cut := link.Pages[2+60]
	qt.o.wrap = func(_ string, r io.Reader) io.Reader {
		return io.MultiReader(io.LimitReader(r, int64(cut)), &gate{r: r, open: released})
	}
	q := pipeline.NewQueue(qt.lib)
	defer q.Close()
	id := q.Enqueue(pipeline.Key{Source: "piped"})
	next := func() pipeline.Packet {
		t.Helper()
		return nextPacket(t, q)
	}
	assert.Zero(t, next().Position)
	q.Seek(id, 11*time.Second) // packet 550: not read yet
	for i := 1; i < 40; i++ {
		pk := next()
		assert.Equal(t, int64(960*i), pk.Position, "plays on")
	}
	close(released)
	h, err := qt.lib.Get(context.Background(), pipeline.Key{Source: "piped"})
	require.NoError(t, err)
	defer h.Release()
	finished(t, h)
	assert.Equal(t, int64(550*960), next().Position, "the seek made at the next boundary once encoded")
	assert.Equal(t, int64(551*960), next().Position)
}

// A Scheduler drives a Queue as one listener, on a fake clock: a command
// given from another goroutine shows in the next packet sent; an idle or
// paused queue leaves gaps, and its listener goes on; Close ends it.
func TestSchedulerDrivesQueue(t *testing.T) {
	qt := newQueueTracks(t, true, 20, 20)
	s, clock := fakeScheduler(t)
	q := pipeline.NewQueue(qt.lib)
	rec := &recorder{clock: clock}
	l := s.AddQueue(q, rec.send)
	tick := func(n int) {
		t.Helper()
		for range n {
			clock.Advance(20 * time.Millisecond)
			settle(t, clock)
		}
	}
	last := func() (int, int) {
		t.Helper()
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return qt.which(t, rec.got[len(rec.got)-1])
	}
	tick(3)
	assert.Zero(t, rec.count(), "idle: nothing sent")
	assert.Zero(t, l.Stats().Underruns)

	var a pipeline.EntryID
	withTimeout(t, "Enqueue", func() { a = q.Enqueue(qt.keys[0]) })
	tick(1)
	require.Equal(t, 1, rec.count())
	tr, n := last()
	assert.Equal(t, [2]int{0, 0}, [2]int{tr, n})
	tick(2)

	withTimeout(t, "Seek", func() { q.Seek(a, 300*time.Millisecond) })
	tick(1)
	tr, n = last()
	assert.Equal(t, [2]int{0, 15}, [2]int{tr, n}, "the seek in the next packet")

	withTimeout(t, "Play", func() { q.Play(qt.keys[1]) })
	tick(2)
	rec.mu.Lock()
	first := rec.got[len(rec.got)-2]
	rec.mu.Unlock()
	assert.True(t, first.Silence, "the next packet: the new track's first, as a silence frame")
	assert.Zero(t, first.Position)
	tr, n = last()
	assert.Equal(t, [2]int{1, 1}, [2]int{tr, n})

	withTimeout(t, "Pause", func() { q.Pause() })
	before := rec.count()
	tick(8)
	assert.Equal(t, before+5, rec.count(), "five silence frames, then nothing")
	withTimeout(t, "Resume", func() { q.Resume() })
	tick(1)
	tr, n = last()
	assert.Equal(t, [2]int{1, 2}, [2]int{tr, n}, "where it was")

	rec.mu.Lock()
	for i, pk := range rec.got[1:] {
		assert.Greater(t, pk.Timestamp, rec.got[i].Timestamp, "one timeline")
	}
	rec.mu.Unlock()
	select {
	case <-l.Done():
		t.Fatal("the listener ended")
	default:
	}
	q.Close()
	tick(1)
	select {
	case <-l.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the listener goes on after the queue's Close")
	}
	assert.ErrorIs(t, l.Err(), pipeline.ErrQueueClosed)
}

// A Queue is a sink.Source: disgo's frame provider takes it as it takes
// a Player, an idle queue giving empty frames; its Close closes the
// queue.
func TestQueueFrameProvider(t *testing.T) {
	qt := newQueueTracks(t, true, 3, 2)
	q := pipeline.NewQueue(qt.lib)
	fp := sink.NewFrameProvider(q)
	frame, err := fp.ProvideOpusFrame()
	require.NoError(t, err)
	assert.Nil(t, frame, "idle: an empty frame")
	q.Enqueue(qt.keys[0])
	q.Enqueue(qt.keys[1])
	var want [][]byte
	want = append(want, qt.packets[0]...)
	want = append(want, []byte(opus.SilenceFrame), qt.packets[1][1])
	for range 5 {
		want = append(want, []byte(opus.SilenceFrame))
	}
	want = append(want, nil)
	var got [][]byte
	for range want {
		frame, err := fp.ProvideOpusFrame()
		require.NoError(t, err)
		got = append(got, frame)
	}
	assert.Equal(t, want, got)
	fp.Close()
	_, err = fp.ProvideOpusFrame()
	assert.ErrorIs(t, err, pipeline.ErrQueueClosed)
	assert.Equal(t, int64(len(qt.keys)), qt.lib.Stats().Holders, "the queue's holds released")
}

// Events on a channel: the driver never waits for the reader; when the
// buffer is full, position events are dropped, the oldest first, and
// counted; starts and ends never are, and come in order.
func TestQueueEventsChannel(t *testing.T) {
	qt := newQueueTracks(t, true, 6, 9)
	q := pipeline.NewQueue(qt.lib, pipeline.WithEvents(4), pipeline.WithPositionEvery(1), pipeline.WithEndWhenEmpty())
	a, b := q.Enqueue(qt.keys[0]), q.Enqueue(qt.keys[1])
	n := 0
	withTimeout(t, "playing with no reader", func() {
		for {
			_, err := q.Next()
			if err == io.EOF {
				return
			}
			require.NoError(t, err)
			n++
		}
	})
	assert.Equal(t, 6+9+5, n, "the tracks, and the silence frames of the end")
	var got []pipeline.Event
	var positions []int64
	dropped := q.State().Stats.EventsDropped // final: the driver is done
	assert.Positive(t, dropped)
	for len(got) < 4 || int64(len(positions))+dropped < 6+9 {
		select {
		case e := <-q.Events():
			if e.Kind == pipeline.EventPosition {
				positions = append(positions, e.Position)
				continue
			}
			got = append(got, e)
		case <-time.After(10 * time.Second):
			t.Fatalf("events %v, positions %v, %d dropped: not all there", got, positions, dropped)
		}
	}
	var kinds []string
	for _, e := range got {
		kinds = append(kinds, fmt.Sprintf("%d:%d:%d", e.Kind, e.ID, e.Reason))
	}
	assert.Equal(t, []string{
		fmt.Sprintf("%d:%d:0", pipeline.EventStarted, a), fmt.Sprintf("%d:%d:%d", pipeline.EventEnded, a, pipeline.EndFinished),
		fmt.Sprintf("%d:%d:0", pipeline.EventStarted, b), fmt.Sprintf("%d:%d:%d", pipeline.EventEnded, b, pipeline.EndFinished),
	}, kinds)
	assert.Equal(t, int64(6+9), int64(len(positions))+dropped, "each position event delivered or counted as dropped")
	q.Close()
	_, open := <-q.Events()
	assert.False(t, open, "closed by Close")
}

// nextPacket drives q until it gives a packet (underruns waited out).
func nextPacket(t *testing.T, q *pipeline.Queue) pipeline.Packet {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; {
		pk, err := q.Next()
		if err == pipeline.ErrUnderrun {
			require.False(t, time.Now().After(deadline), "a packet")
			time.Sleep(time.Millisecond)
			continue
		}
		require.NoError(t, err)
		return pk
	}
}

// Playing is the entry of the last packet given, whatever the queue is
// on: the silence frame in place of an entry's first packet is that
// entry's, a pause's silence frames the paused entry's, the queue's own
// after a stop no entry's; an entry made current by Play during a pause
// is not playing until its first packet. Read from another goroutine
// meanwhile, it is always one of those.
func TestQueuePlaying(t *testing.T) {
	qt := newQueueTracks(t, true, 4, 6, 3)
	q := pipeline.NewQueue(qt.lib, pipeline.WithPositionEvery(0))
	defer q.Close()
	assert.Zero(t, q.Playing(), "nothing given yet")
	a, b := q.Enqueue(qt.keys[0]), q.Enqueue(qt.keys[1])

	stop := make(chan struct{})
	seen := make(chan map[pipeline.EntryID]bool)
	go func() { // a "now playing" display, polling
		ids := map[pipeline.EntryID]bool{}
		for {
			select {
			case <-stop:
				seen <- ids
				return
			default:
				ids[q.Playing().ID] = true
			}
		}
	}()

	type given struct {
		track int
		id    pipeline.EntryID
	}
	next := func() given {
		t.Helper()
		pk, err := q.Next()
		require.NoError(t, err)
		tr, _ := qt.which(t, pk)
		return given{tr, q.Playing().ID}
	}
	var got []given
	for range 4 + 3 { // a's packets, b's first (a silence frame), b's next two
		got = append(got, next())
	}
	assert.Equal(t, []given{{0, a}, {0, a}, {0, a}, {0, a}, {-1, b}, {1, b}, {1, b}}, got)

	q.Pause()
	for range opus.SilenceFrames {
		assert.Equal(t, given{-1, b}, next(), "a pause's silence frames are the paused entry's")
	}
	c := q.Play(qt.keys[2])
	_, err := q.Next()
	require.ErrorIs(t, err, pipeline.ErrPaused)
	assert.Equal(t, c, q.State().Current.ID, "the queue is on c")
	assert.Equal(t, b, q.Playing().ID, "but the last packet given was b's")
	q.Resume()
	assert.Equal(t, given{2, c}, next(), "c's first packet (after silence: its own)")
	assert.Equal(t, qt.keys[2].Source, q.Playing().Key.Source)

	q.Stop()
	for range opus.SilenceFrames {
		assert.Equal(t, given{-1, 0}, next(), "the queue's own silence after a stop")
	}
	_, err = q.Next()
	require.ErrorIs(t, err, pipeline.ErrIdle)
	assert.Zero(t, q.Playing().ID)
	assert.Zero(t, q.Playing().Key)
	close(stop)
	ids := <-seen
	for id := range ids {
		assert.Contains(t, []pipeline.EntryID{0, a, b, c}, id)
	}
}

// TestQueueCloseFromEventFunc: an event function may close its queue: the
// call returns, the queue is closed as that Next ends (its holds given
// back), and Next then gives ErrQueueClosed; State from the function
// neither blocks.
func TestQueueCloseFromEventFunc(t *testing.T) {
	qt := newQueueTracks(t, true, 4)
	var q *pipeline.Queue
	closed := false
	q = pipeline.NewQueue(qt.lib, pipeline.WithEventFunc(func(ev pipeline.Event) {
		if ev.Kind == pipeline.EventStarted && !closed {
			closed = true
			_ = q.State()
			require.NoError(t, q.Close())
		}
	}))
	q.Enqueue(qt.keys[0])
	deadline := time.Now().Add(time.Minute)
	for !closed {
		require.False(t, time.Now().After(deadline), "the track started")
		_, err := q.Next()
		if err != nil {
			require.ErrorIs(t, err, pipeline.ErrUnderrun)
			time.Sleep(time.Millisecond)
		}
	}
	_, err := q.Next()
	require.ErrorIs(t, err, pipeline.ErrQueueClosed)
	require.NoError(t, q.Close(), "again, from the test's goroutine")
}
