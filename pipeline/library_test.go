package pipeline_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec"
	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/transform"
)

// opener is a Library's opener over in-memory sources, counting opens.
type opener struct {
	mu    sync.Mutex
	data  map[string][]byte
	opens map[string]int
	fail  map[string]int                    // opens of a source still to fail
	wrap  func(string, io.Reader) io.Reader // a reader around the source's, if set
}

func newOpener(t *testing.T, sources ...string) *opener {
	mp3 := testutil.Fixture(t, "prog_48000.mp3")
	o := &opener{data: map[string][]byte{}, opens: map[string]int{}, fail: map[string]int{}}
	for _, s := range sources {
		o.data[s] = mp3
	}
	return o
}

func (o *opener) open(_ context.Context, source string) (io.Reader, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.opens[source]++
	if o.fail[source] > 0 {
		o.fail[source]--
		return nil, errors.New("no such source: " + source)
	}
	d, ok := o.data[source]
	if !ok {
		return nil, errors.New("no such source: " + source)
	}
	var r io.Reader = bytes.NewReader(d)
	if o.wrap != nil {
		r = o.wrap(source, r)
	}
	return r, nil
}

func (o *opener) count(source string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.opens[source]
}

func newLibrary(t *testing.T, o *opener, opts ...pipeline.LibraryOption) *pipeline.Library {
	t.Helper()
	lib := pipeline.NewLibrary(append([]pipeline.LibraryOption{pipeline.WithOpener(o.open)}, opts...)...)
	t.Cleanup(func() { lib.Close() })
	return lib
}

// playAll plays the track of a hold to its end and returns its packets.
func playAll(t *testing.T, h *pipeline.Hold) [][]byte {
	t.Helper()
	p := h.NewPlayer()
	defer p.Close()
	got, _, err := drain(t, p)
	require.Equal(t, io.EOF, err)
	out := make([][]byte, len(got))
	for i, pk := range got {
		out[i] = bytes.Clone(pk.Data)
	}
	return out
}

// finished waits for the track of h to be encoded to its end.
func finished(t *testing.T, h *pipeline.Hold) {
	t.Helper()
	select {
	case <-h.Track().Done():
	case <-time.After(30 * time.Second):
		t.Fatal("track not finished")
	}
	require.NoError(t, h.Track().Err())
}

// eventually waits for cond, polling.
func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	eventuallyWithin(t, 30*time.Second, cond, what)
}

// eventuallyWithin is eventually with a bound of d, for waits on work
// that takes seconds of a quiet machine's time (an encode of a minute of
// audio under the race detector).
func eventuallyWithin(t *testing.T, d time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		require.False(t, time.Now().After(deadline), what)
		time.Sleep(time.Millisecond)
	}
}

// A hundred concurrent Gets of one key make one load; they share its
// track.
func TestLibraryCollapsesLoads(t *testing.T) {
	o := newOpener(t, "a")
	lib := newLibrary(t, o)
	key := pipeline.Key{Source: "a"}
	holds := make([]*pipeline.Hold, 100)
	var wg sync.WaitGroup
	for i := range holds {
		wg.Go(func() {
			h, err := lib.Get(context.Background(), key)
			assert.NoError(t, err)
			holds[i] = h
		})
	}
	wg.Wait()
	for _, h := range holds {
		require.NotNil(t, h)
		assert.Same(t, holds[0].Track(), h.Track())
	}
	st := lib.Stats()
	assert.Equal(t, 1, o.count("a"))
	assert.Equal(t, int64(1), st.Loads)
	assert.Equal(t, int64(1), st.Misses)
	assert.Equal(t, int64(99), st.Hits)
	assert.Equal(t, int64(100), st.Holders)

	// The defaults stated are the same key.
	h, err := lib.Get(context.Background(), pipeline.Key{Source: "a", Bitrate: 128000, Frame: 20 * time.Millisecond, Channels: 2})
	require.NoError(t, err)
	assert.Same(t, holds[0].Track(), h.Track())
	h.Release()
	h.Release() // idempotent
	for _, h := range holds {
		h.Release()
	}
	assert.Zero(t, lib.Stats().Holders)

	// Another encoding of the same source is another track.
	h, err = lib.Get(context.Background(), pipeline.Key{Source: "a", Bitrate: 64000})
	require.NoError(t, err)
	defer h.Release()
	assert.NotSame(t, holds[0].Track(), h.Track())
	assert.Equal(t, 64000, h.Track().Metadata().Bitrate)
	assert.Equal(t, 2, o.count("a"))
}

// gate is a source that gives nothing until it is opened.
type gate struct {
	r    io.Reader
	open chan struct{}
}

func (g *gate) Read(p []byte) (int, error) {
	<-g.open
	return g.r.Read(p)
}

// A Get whose context ends stops its own wait, not the load that another
// Get still waits for.
func TestLibraryCancelledWaiter(t *testing.T) {
	o := newOpener(t, "a")
	open := make(chan struct{})
	o.wrap = func(_ string, r io.Reader) io.Reader { return &gate{r: r, open: open} }
	lib := newLibrary(t, o)
	key := pipeline.Key{Source: "a"}

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := lib.Get(ctx, key)
		first <- err
	}()
	second := make(chan *pipeline.Hold, 1)
	go func() {
		h, err := lib.Get(context.Background(), key)
		assert.NoError(t, err)
		second <- h
	}()
	eventually(t, func() bool { return lib.Stats().Holders == 2 }, "two waiters")
	cancel()
	require.ErrorIs(t, <-first, context.Canceled)
	assert.Equal(t, int64(1), lib.Stats().Holders, "the cancelled wait let go")
	close(open)
	h := <-second
	require.NotNil(t, h)
	defer h.Release()
	finished(t, h)
	assert.Len(t, playAll(t, h), 151)
	assert.Equal(t, int64(1), lib.Stats().Loads)

	// A cancelled wait that was the only one leaves the load going on too.
	open2 := make(chan struct{})
	o.wrap = func(_ string, r io.Reader) io.Reader { return &gate{r: r, open: open2} }
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := lib.Get(ctx, pipeline.Key{Source: "a", Bitrate: 96000})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	close(open2)
	h2, err := lib.Get(context.Background(), pipeline.Key{Source: "a", Bitrate: 96000})
	require.NoError(t, err)
	defer h2.Release()
	assert.Equal(t, int64(2), lib.Stats().Loads, "the same load, not a second")
}

// A failed load is not kept: the next Get tries again. So is a track that
// fails while it encodes.
func TestLibraryFailedLoadRetried(t *testing.T) {
	o := newOpener(t, "a")
	o.fail["a"] = 1
	o.data["bad"] = []byte("not audio at all, and long enough to be looked at: " + string(make([]byte, 9000)))
	lib := newLibrary(t, o)
	_, err := lib.Get(context.Background(), pipeline.Key{Source: "a"})
	require.ErrorContains(t, err, "no such source")
	h, err := lib.Get(context.Background(), pipeline.Key{Source: "a"})
	require.NoError(t, err, "tried again")
	h.Release()
	assert.Equal(t, 2, o.count("a"))

	_, err = lib.Get(context.Background(), pipeline.Key{Source: "bad"})
	require.Error(t, err)
	eventually(t, func() bool { return lib.Stats().Tracks == 1 }, "the failed track forgotten")
	_, err = lib.Get(context.Background(), pipeline.Key{Source: "bad"})
	require.Error(t, err)
	assert.Equal(t, 2, o.count("bad"), "the failed track was loaded again")
	eventually(t, func() bool { return lib.Stats().Failures == 3 }, "three failures")
	assert.Zero(t, lib.Stats().Holders)
}

// trackSize is the resident size of one finished track of the fixture.
func trackSize(t *testing.T) int64 {
	lib := newLibrary(t, newOpener(t, "x"))
	h, err := lib.Get(context.Background(), pipeline.Key{Source: "x"})
	require.NoError(t, err)
	defer h.Release()
	finished(t, h)
	return lib.Stats().Resident
}

// Under the budget, the least recently used track no one holds goes
// first; one that is held is never evicted.
func TestLibraryEvictionOrder(t *testing.T) {
	size := trackSize(t)
	o := newOpener(t, "a", "b", "c", "d")
	lib := newLibrary(t, o, pipeline.WithBudget(size*5/2))
	get := func(s string) *pipeline.Hold {
		t.Helper()
		h, err := lib.Get(context.Background(), pipeline.Key{Source: s})
		require.NoError(t, err)
		finished(t, h)
		// The budget is kept once the load has ended.
		eventually(t, func() bool { return lib.Stats().Loading == 0 }, "the load ended")
		return h
	}
	get("a").Release()
	get("b").Release()
	get("a").Release() // a is now more recent than b
	get("c").Release() // over the budget: b goes
	st := lib.Stats()
	assert.Equal(t, 2, st.Tracks)
	assert.Equal(t, int64(1), st.Evictions)
	assert.LessOrEqual(t, st.Resident, size*5/2)
	get("a").Release()
	assert.Equal(t, 1, o.count("a"), "a was kept")
	get("b").Release()
	assert.Equal(t, 2, o.count("b"), "b was evicted, and loaded again")

	// Now a and b, c evicted when b came back. c's load evicts a (b is
	// more recent); c is held, so d's load evicts b, not c.
	held := get("c")
	assert.Equal(t, int64(3), lib.Stats().Evictions, "a evicted once c is loaded")
	get("d").Release()
	st = lib.Stats()
	assert.Equal(t, int64(4), st.Evictions)
	assert.Equal(t, 2, st.Tracks)
	get("c").Release()
	assert.Equal(t, 2, o.count("c"), "c kept while held, though the least recently got")
	get("d").Release()
	assert.Equal(t, 1, o.count("d"))
	held.Release()
}

// A track evicted while held plays to its end for its players, counts in
// the budget until they let go, and is freed then.
func TestLibraryEvictedTrackPlaysOn(t *testing.T) {
	o := newOpener(t, "a")
	lib := newLibrary(t, o)
	key := pipeline.Key{Source: "a"}
	p, err := lib.Play(context.Background(), key)
	require.NoError(t, err)
	require.True(t, lib.Evict(key))
	assert.False(t, lib.Evict(key))
	st := lib.Stats()
	assert.Equal(t, 0, st.Tracks)
	assert.Equal(t, 1, st.Evicted)
	assert.Positive(t, st.Resident, "its bytes still count")
	assert.Equal(t, int64(1), st.Holders)

	got, silence, err := drain(t, p)
	require.Equal(t, io.EOF, err)
	assert.Len(t, got, 151, "played to its end")
	assert.Equal(t, 5, silence)
	tr := p.Track()
	require.NoError(t, p.Close())
	require.NoError(t, p.Close())
	_, err = p.Next()
	assert.ErrorIs(t, err, pipeline.ErrPlayerClosed)
	st = lib.Stats()
	assert.Zero(t, st.Evicted)
	assert.Zero(t, st.Resident, "freed once its last player closed")
	assert.Zero(t, st.Holders)
	// Closed away from the library's lock, at once.
	require.Eventually(t, func() bool { return errors.Is(tr.Err(), catcher.ErrClosed) }, 30*time.Second, time.Millisecond)
}

// When the tracks held fill the budget, a load is refused with
// ErrOverBudget, and counted; tracks in memory are still served.
func TestLibraryOverBudget(t *testing.T) {
	size := trackSize(t)
	o := newOpener(t, "a", "b")
	lib := newLibrary(t, o, pipeline.WithBudget(size/2))
	a, err := lib.Get(context.Background(), pipeline.Key{Source: "a"})
	require.NoError(t, err)
	finished(t, a)
	_, err = lib.Get(context.Background(), pipeline.Key{Source: "b"})
	require.ErrorIs(t, err, pipeline.ErrOverBudget)
	assert.Equal(t, 0, o.count("b"))
	again, err := lib.Get(context.Background(), pipeline.Key{Source: "a"})
	require.NoError(t, err, "a track in memory is served")
	again.Release()
	a.Release() // a is idle now, and over the budget: evicted
	st := lib.Stats()
	assert.Equal(t, int64(1), st.Refusals)
	assert.Equal(t, 0, st.Tracks)
	b, err := lib.Get(context.Background(), pipeline.Key{Source: "b"})
	require.NoError(t, err)
	b.Release()
}

// A finished track is written to the store; a new Library on the same
// store plays it from there, the same packets, with no encoding, seeking
// by time as before.
func TestLibraryStoreRoundTrip(t *testing.T) {
	dir := t.TempDir()
	key := pipeline.Key{Source: "a"}
	store, err := pipeline.NewDirStore(dir, 0)
	require.NoError(t, err)
	o := newOpener(t, "a")
	lib := newLibrary(t, o, pipeline.WithStore(store))
	h, err := lib.Get(context.Background(), key)
	require.NoError(t, err)
	finished(t, h)
	want := playAll(t, h)
	wantMeta := h.Track().Metadata()
	wantDur, _ := h.Track().Duration()
	seekWant := seekPosition(t, h, 1500*time.Millisecond)
	h.Release()
	eventually(t, func() bool { return lib.Stats().Writes == 1 }, "the track written")
	assert.Equal(t, 1, store.Len())
	assert.Positive(t, lib.Stats().Stored)
	require.NoError(t, lib.Close())

	store2, err := pipeline.NewDirStore(dir, 0)
	require.NoError(t, err)
	o2 := newOpener(t) // no source: it must not be opened
	lib2 := newLibrary(t, o2, pipeline.WithStore(store2))
	start := time.Now()
	h2, err := lib2.Get(context.Background(), key)
	require.NoError(t, err)
	defer h2.Release()
	t.Logf("first packet from the store after %v", time.Since(start))
	finished(t, h2)
	assert.Equal(t, want, playAll(t, h2), "identical packets")
	st := lib2.Stats()
	assert.Equal(t, int64(1), st.DiskHits)
	assert.Zero(t, st.Encodes)
	assert.Zero(t, o2.count("a"))
	dur, exact := h2.Track().Duration()
	assert.True(t, exact)
	assert.Equal(t, wantDur, dur)
	assert.Equal(t, wantMeta, h2.Track().Metadata())
	assert.Equal(t, seekWant, seekPosition(t, h2, 1500*time.Millisecond))
	// Eviction keeps the stored copy.
	h2.Release()
	require.True(t, lib2.Evict(key))
	assert.Equal(t, 1, store2.Len())
}

func seekPosition(t *testing.T, h *pipeline.Hold, d time.Duration) int64 {
	p := h.NewPlayer()
	defer p.Close()
	require.NoError(t, p.Seek(context.Background(), d))
	pk, err := p.Next()
	require.NoError(t, err)
	return pk.Position
}

// storedFile makes a store holding the fixture's track under key, and
// returns the store's directory and the stored file's path.
func storedFile(t *testing.T, key pipeline.Key) (string, string) {
	dir := t.TempDir()
	store, err := pipeline.NewDirStore(dir, 0)
	require.NoError(t, err)
	lib := pipeline.NewLibrary(pipeline.WithOpener(newOpener(t, key.Source).open), pipeline.WithStore(store))
	defer lib.Close()
	h, err := lib.Get(context.Background(), key)
	require.NoError(t, err)
	finished(t, h)
	h.Release()
	eventually(t, func() bool { return lib.Stats().Writes == 1 }, "the track written")
	return dir, filepath.Join(dir, key.StoreName()+".sct")
}

// A stored file truncated, extended or with one byte flipped anywhere is
// found out, reported, removed and encoded again; the track then plays
// whole and is stored anew.
func TestLibraryStoreDamage(t *testing.T) {
	key := pipeline.Key{Source: "a"}
	_, path := storedFile(t, key)
	whole, err := os.ReadFile(path)
	require.NoError(t, err)
	l := layoutOf(t, whole)
	damages := map[string]func([]byte) []byte{
		"truncated":       func(b []byte) []byte { return b[:len(b)-1] },
		"cut in half":     func(b []byte) []byte { return b[:len(b)/2] },
		"extended":        func(b []byte) []byte { return append(b, 0) },
		"empty":           func(b []byte) []byte { return nil },
		"magic":           flip(0),
		"header":          flip(20),
		"metadata":        flip(60),
		"index":           flip(l.index + 4*75),
		"index checksum":  flip(l.index + 4*l.packets),
		"block checksums": flip(l.sums),
		"first data byte": flip(l.data),
		"last data byte":  flipFromEnd(1),
		"middle":          flip(l.data + (len(whole)-l.data)/2),
		// Whole-file checks all pass: the sizes add up, every CRC is right.
		"two index entries swapped": func(b []byte) []byte { return swapEntries(t, b, l) },
	}
	for name, damage := range damages {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, filepath.Base(path))
			require.NoError(t, os.WriteFile(path, damage(bytes.Clone(whole)), 0o644))
			store, err := pipeline.NewDirStore(dir, 0)
			require.NoError(t, err)
			var logged []error
			var mu sync.Mutex
			o := newOpener(t, "a")
			lib := newLibrary(t, o, pipeline.WithStore(store), pipeline.WithErrorLog(func(_ pipeline.Key, err error) {
				mu.Lock()
				logged = append(logged, err)
				mu.Unlock()
			}))
			h, err := lib.Get(context.Background(), key)
			require.NoError(t, err)
			finished(t, h)
			assert.Len(t, playAll(t, h), 151)
			h.Release()
			st := lib.Stats()
			assert.Equal(t, int64(1), st.Corrupt)
			assert.Equal(t, int64(1), st.Encodes, "encoded again")
			assert.Zero(t, st.DiskHits)
			mu.Lock()
			require.NotEmpty(t, logged)
			assert.ErrorIs(t, logged[0], pipeline.ErrCorruptTrack)
			t.Logf("reported: %v", logged[0])
			mu.Unlock()
			eventually(t, func() bool { return lib.Stats().Writes == 1 }, "stored anew")
			again, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, whole, again)
		})
	}
}

// swapEntries swaps the first two index entries of a stored file that
// differ, and writes the index's checksum again: the damage of a file
// rewritten by something that knows its format but not its meaning.
func swapEntries(t *testing.T, b []byte, l layout) []byte {
	idx := b[l.index : l.index+4*l.packets]
	j := 1
	for j < l.packets && bytes.Equal(idx[0:4], idx[4*j:4*j+4]) {
		j++
	}
	require.Less(t, j, l.packets, "two entries that differ")
	e := bytes.Clone(idx[0:4])
	copy(idx[0:4], idx[4*j:4*j+4])
	copy(idx[4*j:4*j+4], e)
	binary.LittleEndian.PutUint32(b[l.index+4*l.packets:], crc32.Checksum(idx, crc32.MakeTable(crc32.Castagnoli)))
	return b
}

func flipAt(b []byte, i int) []byte {
	b[i] ^= 0x10
	return b
}

func flip(i int) func([]byte) []byte { return func(b []byte) []byte { return flipAt(b, i) } }

func flipFromEnd(i int) func([]byte) []byte {
	return func(b []byte) []byte { return flipAt(b, len(b)-i) }
}

// layout is where a stored file's parts are (see trackfile.go).
type layout struct{ packets, index, sums, data int }

func layoutOf(t *testing.T, file []byte) layout {
	require.Greater(t, len(file), 48)
	le := func(at, n int) int {
		v := 0
		for i := n - 1; i >= 0; i-- {
			v = v<<8 | int(file[at+i])
		}
		return v
	}
	m, p, d := le(8, 4), le(16, 8), le(24, 8)
	l := layout{packets: p, index: 52 + m}
	l.sums = l.index + 4*p + 4
	l.data = len(file) - d
	require.Equal(t, l.sums+4*((d+65535)/65536)+4, l.data)
	return l
}

// A crash between the writing of a stored track and its rename leaves a
// temporary file, which no Open takes for whole, and which the next
// NewDirStore removes.
func TestDirStoreCrashBeforeRename(t *testing.T) {
	key := pipeline.Key{Source: "a"}
	dir, path := storedFile(t, key)
	whole, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.Remove(path))

	store, err := pipeline.NewDirStore(dir, 0)
	require.NoError(t, err)
	w, err := store.Create(context.Background(), key.StoreName())
	require.NoError(t, err)
	_, err = w.Write(whole) // the whole file, even: but never renamed
	require.NoError(t, err)
	// The process dies here: no Commit, no Abort.
	_, err = store.Open(context.Background(), key.StoreName())
	require.ErrorIs(t, err, fs.ErrNotExist)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "the temporary file")

	store2, err := pipeline.NewDirStore(dir, 0)
	require.NoError(t, err)
	entries, err = os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "the temporary file removed")
	o := newOpener(t, "a")
	lib := newLibrary(t, o, pipeline.WithStore(store2))
	h, err := lib.Get(context.Background(), key)
	require.NoError(t, err)
	h.Release()
	assert.Equal(t, int64(1), lib.Stats().Encodes, "encoded, not taken from a half file")
	assert.Zero(t, lib.Stats().Corrupt)
}

// A DirStore keeps within its budget by removing the files least recently
// opened or written, an order that survives a restart; a blob larger than
// the budget is refused; files that are not the store's are left alone.
func TestDirStoreBudget(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(other, make([]byte, 5000), 0o644))
	store, err := pipeline.NewDirStore(dir, 3000)
	require.NoError(t, err)
	ctx := context.Background()
	put := func(s *pipeline.DirStore, name string, n int) error {
		w, err := s.Create(ctx, name)
		require.NoError(t, err)
		_, err = w.Write(bytes.Repeat([]byte{1}, n))
		require.NoError(t, err)
		return w.Commit()
	}
	has := func(s *pipeline.DirStore, name string) bool {
		b, err := s.Open(ctx, name)
		if err != nil {
			require.ErrorIs(t, err, fs.ErrNotExist)
			return false
		}
		b.Close()
		return true
	}
	require.NoError(t, put(store, "a", 1000))
	time.Sleep(10 * time.Millisecond) // file times of their own
	require.NoError(t, put(store, "b", 1000))
	time.Sleep(10 * time.Millisecond)
	require.True(t, has(store, "a")) // a is now more recent than b
	time.Sleep(10 * time.Millisecond)
	require.NoError(t, put(store, "c", 1500)) // 3500 > 3000: b goes
	assert.False(t, has(store, "b"))
	assert.Equal(t, int64(2500), store.Bytes())
	assert.Equal(t, 2, store.Len())

	// After a restart, the order is the files' times: a (opened before c was
	// written) goes before c.
	time.Sleep(10 * time.Millisecond)
	store2, err := pipeline.NewDirStore(dir, 3000)
	require.NoError(t, err)
	assert.Equal(t, int64(2500), store2.Bytes())
	require.NoError(t, put(store2, "d", 1000))
	assert.False(t, has(store2, "a"))
	assert.True(t, has(store2, "c"))
	assert.True(t, has(store2, "d"))

	require.ErrorIs(t, put(store2, "huge", 3001), pipeline.ErrStoreFull)
	assert.False(t, has(store2, "huge"))
	_, err = os.Stat(other)
	assert.NoError(t, err, "a file not the store's is kept")
	for _, bad := range []string{"", "../x", "a/b", ".hidden"} {
		_, err := store2.Open(ctx, bad)
		assert.Error(t, err, "%q", bad)
	}
	require.NoError(t, store2.Remove(ctx, "c"))
	require.NoError(t, store2.Remove(ctx, "c"))
	assert.Equal(t, int64(1000), store2.Bytes())
}

// Close closes every track, held or not; a Get after it is refused.
func TestLibraryClose(t *testing.T) {
	o := newOpener(t, "a", "b")
	lib := pipeline.NewLibrary(pipeline.WithOpener(o.open))
	p, err := lib.Play(context.Background(), pipeline.Key{Source: "a"})
	require.NoError(t, err)
	lib.Preload(pipeline.Key{Source: "b"})
	require.NoError(t, lib.Close())
	require.NoError(t, lib.Close())
	_, err = lib.Get(context.Background(), pipeline.Key{Source: "a"})
	assert.ErrorIs(t, err, pipeline.ErrLibraryClosed)
	assert.ErrorIs(t, p.Track().Err(), catcher.ErrClosed)
	p.Close()
	assert.Zero(t, lib.Stats().Resident)
}

// Every Close, not only the first, returns only once the loads in
// progress have ended, even a load whose opener is slow to return.
func TestLibraryEveryCloseWaits(t *testing.T) {
	mp3 := testutil.Fixture(t, "prog_48000.mp3")
	var (
		entered = make(chan struct{})
		release = make(chan struct{})
		inOpen  atomic.Bool
	)
	lib := pipeline.NewLibrary(pipeline.WithOpener(func(context.Context, string) (io.Reader, error) {
		inOpen.Store(true)
		close(entered)
		<-release // an opener that does not heed its context
		inOpen.Store(false)
		return bytes.NewReader(mp3), nil
	}))
	lib.Preload(pipeline.Key{Source: "a"})
	<-entered
	closed := make(chan bool, 2)
	for range 2 {
		go func() {
			assert.NoError(t, lib.Close())
			closed <- inOpen.Load()
		}()
	}
	time.Sleep(50 * time.Millisecond) // for a Close that does not wait to return
	close(release)
	assert.False(t, <-closed, "a Close returned while a load was in progress")
	assert.False(t, <-closed, "a Close returned while a load was in progress")
}

// Preload loads tracks no one holds: a Get later finds them in memory.
func TestLibraryPreload(t *testing.T) {
	o := newOpener(t, "a", "b")
	lib := newLibrary(t, o)
	lib.Preload(pipeline.Key{Source: "a"}, pipeline.Key{Source: "b"})
	eventually(t, func() bool { return lib.Stats().Tracks == 2 }, "both loading")
	st := lib.Stats()
	assert.Equal(t, int64(2), st.Loads)
	assert.Zero(t, st.Holders)
	h, err := lib.Get(context.Background(), pipeline.Key{Source: "b"})
	require.NoError(t, err)
	h.Release()
	assert.Equal(t, 1, o.count("b"))
	assert.Equal(t, int64(1), lib.Stats().Hits)
}

// Many goroutines getting, playing, evicting and releasing tracks under a
// tight budget: no hold leaks, every track played whole, nothing left
// resident once all have let go.
func TestLibraryConcurrentChurn(t *testing.T) {
	size := trackSize(t)
	sources := []string{"a", "b", "c", "d", "e"}
	o := newOpener(t, sources...)
	lib := newLibrary(t, o, pipeline.WithBudget(size*3))
	var refused atomic.Int64
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 6 {
				key := pipeline.Key{Source: sources[(g+i)%len(sources)]}
				p, err := lib.Play(context.Background(), key)
				if errors.Is(err, pipeline.ErrOverBudget) {
					refused.Add(1)
					continue
				}
				if !assert.NoError(t, err) {
					return
				}
				if i%3 == 0 {
					lib.Evict(key)
				}
				got, _, err := drain(t, p)
				assert.Equal(t, io.EOF, err)
				assert.Len(t, got, 151)
				p.Close()
			}
		})
	}
	wg.Wait()
	eventually(t, func() bool { return lib.Stats().Loading == 0 }, "the loads ended")
	st := lib.Stats()
	t.Logf("%+v, refused %d", st, refused.Load())
	assert.Zero(t, st.Holders)
	assert.Zero(t, st.Evicted)
	assert.LessOrEqual(t, st.Resident, size*3)
}

// changingStore is a Store whose blobs read one byte of their data
// differently: a file that changed after the checks of its opening (its
// header and index) had passed.
type changingStore struct {
	pipeline.Store
	at int64 // the byte's offset in the file
}

func (s changingStore) Open(ctx context.Context, name string) (pipeline.Blob, error) {
	b, err := s.Store.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return &changingBlob{Blob: b, at: s.at}, nil
}

type changingBlob struct {
	pipeline.Blob
	at int64
}

func (b *changingBlob) ReadAt(p []byte, off int64) (int, error) {
	n, err := b.Blob.ReadAt(p, off)
	if off <= b.at && b.at < off+int64(n) {
		p[b.at-off] ^= 0x10
	}
	return n, err
}

// storeOf stores the track of key, read from o, in a new directory with
// the library options given, and returns the directory, the stored file
// and the track's packets.
func storeOf(t *testing.T, o *opener, key pipeline.Key, opts ...pipeline.LibraryOption) (string, string, [][]byte) {
	dir := t.TempDir()
	store, err := pipeline.NewDirStore(dir, 0)
	require.NoError(t, err)
	lib := pipeline.NewLibrary(append([]pipeline.LibraryOption{pipeline.WithOpener(o.open), pipeline.WithStore(store)}, opts...)...)
	defer lib.Close()
	h, err := lib.Get(context.Background(), key)
	require.NoError(t, err)
	finished(t, h)
	want := playAll(t, h)
	h.Release()
	eventually(t, func() bool { return lib.Stats().Writes == 1 }, "the track written")
	return dir, filepath.Join(dir, key.StoreName()+".sct"), want
}

// loggedErrors is a WithErrorLog that keeps what it is told.
type loggedErrors struct {
	mu   sync.Mutex
	errs []error
}

func (l *loggedErrors) log(_ pipeline.Key, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
}

func (l *loggedErrors) get() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.errs)
}

// A stored track whose first block fails its check as it is read, after
// the checks of its opening passed, is counted, reported, removed and
// encoded again, within the Get that met it: the Get returns the track
// whole, its packets those of the first encoding.
func TestLibraryStoreCorruptAtRead(t *testing.T) {
	key := pipeline.Key{Source: "a"}
	o := newOpener(t, "a")
	dir, path, want := storeOf(t, o, key)
	whole, err := os.ReadFile(path)
	require.NoError(t, err)
	l := layoutOf(t, whole)

	store, err := pipeline.NewDirStore(dir, 0)
	require.NoError(t, err)
	var logged loggedErrors
	lib := newLibrary(t, o, pipeline.WithStore(changingStore{Store: store, at: int64(l.data + 10)}), pipeline.WithErrorLog(logged.log))
	h, err := lib.Get(context.Background(), key)
	require.NoError(t, err, "the track encoded again")
	defer h.Release()
	finished(t, h)
	assert.Equal(t, want, playAll(t, h))
	st := lib.Stats()
	assert.Equal(t, int64(1), st.Corrupt)
	assert.Equal(t, int64(1), st.Encodes, "encoded again")
	assert.Zero(t, st.Failures)
	errs := logged.get()
	require.NotEmpty(t, errs)
	assert.ErrorIs(t, errs[0], pipeline.ErrCorruptTrack)
	t.Logf("reported: %v", errs[0])
	eventually(t, func() bool { return lib.Stats().Writes == 1 }, "stored anew")
	again, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, whole, again)
}

// noise is n seconds of pseudo-random 16-bit stereo PCM at 48 kHz, which
// codes at about its bitrate: a stored track of several checksum blocks.
func noise(seconds int) []byte {
	b := make([]byte, 4*48000*seconds)
	x := uint32(1)
	for i := 0; i < len(b); i += 2 {
		x = x*1664525 + 1013904223
		binary.LittleEndian.PutUint16(b[i:], uint16(x>>16)/4)
	}
	return b
}

// longStored stores a 10-second encoding of noise (raw PCM, "long") in a
// new directory, and returns its key, its Library option, the opener,
// the directory and file, its packets and the file's layout; the data
// holds three 64 KiB blocks at least.
func longStored(t *testing.T) (pipeline.Key, pipeline.LibraryOption, *opener, string, string, [][]byte, layout) {
	t.Helper()
	key := pipeline.Key{Source: "long"}
	raw := pipeline.WithTrackOptions(pipeline.WithRawPCM(transform.Format{Rate: 48000, Channels: 2, Encoding: transform.S16LE}))
	o := newOpener(t)
	o.data["long"] = noise(10)
	dir, path, want := storeOf(t, o, key, raw)
	whole, err := os.ReadFile(path)
	require.NoError(t, err)
	l := layoutOf(t, whole)
	require.Greater(t, len(whole)-l.data, 2*65536, "three blocks of data at least")
	return key, raw, o, dir, path, want, l
}

// A stored track whose second block fails its check as it is read, while
// its listeners play the first, ends for them with ErrCorruptTrack after
// the first block's packets (the very packets of the encoding, never one
// that failed a check); it is counted, reported and removed, and the next
// Get encodes it again.
func TestLibraryStoreCorruptMidTrack(t *testing.T) {
	key, raw, o, dir, path, want, l := longStored(t)

	store, err := pipeline.NewDirStore(dir, 0)
	require.NoError(t, err)
	var logged loggedErrors
	lib := newLibrary(t, o, raw, pipeline.WithStore(changingStore{Store: store, at: int64(l.data + 65536 + 10)}), pipeline.WithErrorLog(logged.log))
	h, err := lib.Get(context.Background(), key)
	require.NoError(t, err)
	select {
	case <-h.Track().Done():
	case <-time.After(30 * time.Second):
		t.Fatal("track not ended")
	}
	require.ErrorIs(t, h.Track().Err(), pipeline.ErrCorruptTrack)
	p := h.NewPlayer()
	got, _, err := drain(t, p)
	p.Close()
	assert.ErrorIs(t, err, pipeline.ErrCorruptTrack)
	require.NotEmpty(t, got, "the first block's packets")
	require.Less(t, len(got), len(want))
	for i, pk := range got {
		require.Equal(t, want[i], pk.Data, "packet %d", i)
	}
	h.Release()
	eventually(t, func() bool { return lib.Stats().Corrupt == 1 }, "counted as corrupt")
	errs := logged.get()
	require.NotEmpty(t, errs)
	assert.ErrorIs(t, errs[0], pipeline.ErrCorruptTrack)
	t.Logf("reported: %v", errs[0])
	_, err = os.Stat(path)
	assert.ErrorIs(t, err, fs.ErrNotExist, "removed from the store")

	h2, err := lib.Get(context.Background(), key)
	require.NoError(t, err)
	defer h2.Release()
	finished(t, h2)
	assert.Equal(t, want, playAll(t, h2))
	st := lib.Stats()
	assert.Equal(t, int64(1), st.Encodes, "encoded again")
	assert.Equal(t, int64(1), st.Corrupt)
	assert.Zero(t, st.Failures)
}

// The encoding settings are a Key's alone: WithTrackOptions given one of
// them is refused when the Library is made, naming it, rather than
// overridden in silence by the Key's (a library told 32000 bit/s used to
// encode at 128000). Options that are not a Key's are taken.
func TestLibraryKeyAloneSetsEncoding(t *testing.T) {
	for _, tt := range []struct {
		name string
		opt  pipeline.TrackOption
	}{
		{"WithBitrate", pipeline.WithBitrate(32000)},
		{"WithFrameDuration", pipeline.WithFrameDuration(40 * time.Millisecond)},
		{"WithChannels", pipeline.WithChannels(1)},
		{"WithQuality", pipeline.WithQuality(transform.Fast)},
		{"WithCBR", pipeline.WithCBR(true)},
		{"WithCBR", pipeline.WithCBR(false)},
		{"WithApplication", pipeline.WithApplication(opus.AppVoIP)},
		{"WithName", pipeline.WithName("x")},
		{"WithFilters", pipeline.WithFilters(transform.Chain{Volume: &transform.VolumeConfig{Volume: 0.5}})},
		{"WithFilters", pipeline.WithFilters(transform.Chain{})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				require.NotNil(t, r, "refused")
				assert.Contains(t, r, tt.name)
				t.Logf("%v", r)
			}()
			pipeline.NewLibrary(pipeline.WithTrackOptions(pipeline.WithPool(pipeline.NewPool(1)), tt.opt)).Close()
		})
	}

	o := newOpener(t, "a")
	assert.NotPanics(t, func() {
		newLibrary(t, o, pipeline.WithTrackOptions(pipeline.WithPool(pipeline.NewPool(1)), pipeline.WithMaxBytes(1<<20)))
	})
	lib := newLibrary(t, o)
	bytesOf := func(key pipeline.Key) (int, []int) {
		h, err := lib.Get(context.Background(), key)
		require.NoError(t, err)
		defer h.Release()
		finished(t, h)
		assert.Equal(t, key.Bitrate, h.Track().Metadata().Bitrate)
		n, sizes := 0, []int{}
		for _, p := range playAll(t, h) {
			n += len(p)
			sizes = append(sizes, len(p))
		}
		return n, sizes
	}
	low, _ := bytesOf(pipeline.Key{Source: "a", Bitrate: 32000})
	high, _ := bytesOf(pipeline.Key{Source: "a", Bitrate: 128000})
	assert.Less(t, low, high/2, "32 kbit/s codes in less than half of 128")

	// CBR, in one sense from the Key to the encoder: every 20 ms packet of
	// a 64 kbit/s CBR track is 160 bytes; a VBR one's vary.
	_, cbr := bytesOf(pipeline.Key{Source: "a", Bitrate: 64000, CBR: true})
	for i, n := range cbr {
		require.Equal(t, 160, n, "packet %d", i)
	}
	_, vbr := bytesOf(pipeline.Key{Source: "a", Bitrate: 64000})
	assert.NotEqual(t, slices.Min(vbr), slices.Max(vbr), "VBR")
}

// A FLAC track is stored and read back with its kind and exact duration.
func TestLibraryStoreFLAC(t *testing.T) {
	dir := t.TempDir()
	key := pipeline.Key{Source: "f"}
	store, err := pipeline.NewDirStore(dir, 0)
	require.NoError(t, err)
	o := newOpener(t)
	o.data["f"] = testutil.Fixture(t, "tone_s24_44100_2.flac")
	lib := newLibrary(t, o, pipeline.WithStore(store))
	h, err := lib.Get(context.Background(), key)
	require.NoError(t, err)
	finished(t, h)
	want := playAll(t, h)
	wantMeta := h.Track().Metadata()
	require.Equal(t, codec.KindFLAC, wantMeta.Kind)
	h.Release()
	eventually(t, func() bool { return lib.Stats().Writes == 1 }, "the track written")
	require.NoError(t, lib.Close())

	store2, err := pipeline.NewDirStore(dir, 0)
	require.NoError(t, err)
	lib2 := newLibrary(t, newOpener(t), pipeline.WithStore(store2))
	h2, err := lib2.Get(context.Background(), key)
	require.NoError(t, err)
	defer h2.Release()
	finished(t, h2)
	assert.Equal(t, want, playAll(t, h2), "identical packets")
	assert.Equal(t, int64(1), lib2.Stats().DiskHits)
	assert.Equal(t, wantMeta, h2.Track().Metadata(), "the kind kept")
	dur, exact := h2.Track().Duration()
	assert.True(t, exact)
	assert.Equal(t, 100*time.Millisecond, dur, "4410 samples at 44.1 kHz")
}

// gatedStore is a Store whose blobs' reads at or past an offset wait
// until its gate is opened: a store slow to send a track's later blocks.
type gatedStore struct {
	pipeline.Store
	from int64
	gate chan struct{}
}

func (s gatedStore) Open(ctx context.Context, name string) (pipeline.Blob, error) {
	b, err := s.Store.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return gatedBlob{Blob: b, s: s}, nil
}

type gatedBlob struct {
	pipeline.Blob
	s gatedStore
}

func (b gatedBlob) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > b.s.from {
		<-b.s.gate
	}
	return b.Blob.ReadAt(p, off)
}

// A stored track is served once its header and index are read and
// checked, and its first block: its later blocks, which the store is slow
// to send, are not waited for; they are checked as they come, and the
// track plays whole.
func TestLibraryStoreServedBeforeData(t *testing.T) {
	key, raw, o, dir, _, want, l := longStored(t)

	store, err := pipeline.NewDirStore(dir, 0)
	require.NoError(t, err)
	gate := make(chan struct{})
	lib := newLibrary(t, o, raw, pipeline.WithStore(gatedStore{Store: store, from: int64(l.data + 65536), gate: gate}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := lib.Get(ctx, key)
	if err != nil {
		close(gate)
		require.NoError(t, err, "served before its later blocks were read")
	}
	defer h.Release()
	p := h.NewPlayer()
	pk, err := p.Next()
	p.Close()
	require.NoError(t, err)
	assert.Equal(t, want[0], pk.Data)
	assert.False(t, h.Track().Finished(), "the later blocks not read yet")
	close(gate)
	finished(t, h)
	assert.Equal(t, want, playAll(t, h))
	st := lib.Stats()
	assert.Equal(t, int64(1), st.DiskHits)
	assert.Zero(t, st.Encodes)
	assert.Zero(t, st.Corrupt)
}

// failingStore is a Store whose blobs' reads at or past an offset fail:
// a store gone away while a track is read.
type failingStore struct {
	pipeline.Store
	from int64
}

var errStoreGone = errors.New("the store went away")

func (s failingStore) Open(ctx context.Context, name string) (pipeline.Blob, error) {
	b, err := s.Store.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return failingBlob{Blob: b, from: s.from}, nil
}

type failingBlob struct {
	pipeline.Blob
	from int64
}

func (b failingBlob) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > b.from {
		return 0, errStoreGone
	}
	return b.Blob.ReadAt(p, off)
}

// A stored track whose data cannot be read, before its first packet, is
// not corrupt: it is kept in the store, the Get encodes the track, and
// counts a store error; the error is reported.
func TestLibraryStoreReadError(t *testing.T) {
	key := pipeline.Key{Source: "a"}
	o := newOpener(t, "a")
	dir, path, want := storeOf(t, o, key)
	whole, err := os.ReadFile(path)
	require.NoError(t, err)
	l := layoutOf(t, whole)

	store, err := pipeline.NewDirStore(dir, 0)
	require.NoError(t, err)
	var logged loggedErrors
	lib := newLibrary(t, o, pipeline.WithStore(failingStore{Store: store, from: int64(l.data)}), pipeline.WithErrorLog(logged.log))
	h, err := lib.Get(context.Background(), key)
	require.NoError(t, err)
	defer h.Release()
	finished(t, h)
	assert.Equal(t, want, playAll(t, h))
	st := lib.Stats()
	assert.Equal(t, int64(1), st.Encodes, "encoded")
	assert.Equal(t, int64(1), st.StoreErrors)
	assert.Zero(t, st.Corrupt, "not corrupt")
	assert.Zero(t, st.Failures)
	errs := logged.get()
	require.NotEmpty(t, errs)
	assert.ErrorIs(t, errs[0], errStoreGone)
	assert.NotErrorIs(t, errs[0], pipeline.ErrCorruptTrack)
	again, err := os.ReadFile(path)
	require.NoError(t, err, "kept in the store")
	assert.Equal(t, whole, again)
}

// TestLibraryGetAfterFailure: a Get made as soon as a track has failed
// after its first packets (its players have the error) loads it again,
// rather than giving the failed track, whose load may not have forgotten
// it yet. Each round races the load's goroutine; without the Get's own
// check, some rounds got the failed track.
func TestLibraryGetAfterFailure(t *testing.T) {
	o := newOpener(t, "a")
	var broken atomic.Bool
	broken.Store(true)
	o.wrap = func(_ string, r io.Reader) io.Reader {
		if broken.Load() {
			return io.MultiReader(io.LimitReader(r, 20_000), iotest.ErrReader(errors.New("the source failed")))
		}
		return r
	}
	lib := newLibrary(t, o)
	key := pipeline.Key{Source: "a"}
	for round := range 30 {
		broken.Store(true)
		h, err := lib.Get(context.Background(), key)
		require.NoError(t, err, "round %d", round)
		<-h.Track().Done()
		require.Error(t, h.Track().Err())
		h.Release()
		broken.Store(false)
		h, err = lib.Get(context.Background(), key)
		require.NoError(t, err, "round %d", round)
		assert.NoError(t, h.Track().Err(), "round %d: a new load, not the failed track", round)
		<-h.Track().Done()
		require.NoError(t, h.Track().Err(), "round %d", round)
		h.Release()
		lib.Evict(key)
	}
}
