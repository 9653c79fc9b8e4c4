package catcher_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"
	"weak"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/catcher"
)

// guarded is an endless source that counts the Reads that start once
// closed is set: the test sets it when the Catcher's Close has returned.
type guarded struct {
	closed    atomic.Bool
	afterward atomic.Int64
	reads     atomic.Int64
}

func (g *guarded) Read(p []byte) (int, error) {
	if g.closed.Load() {
		g.afterward.Add(1)
		return 0, errors.New("read after Close")
	}
	g.reads.Add(1)
	for i := range p {
		p[i] = byte(i)
	}
	return len(p), nil
}

func (g *guarded) Close() error { return nil }

// The source is never read after Close returns, however busy the fill.
func TestNoReadAfterClose(t *testing.T) {
	trials := 2000
	if testing.Short() {
		trials = 300
	}
	for i := range trials {
		g := &guarded{}
		c := catcher.New(g, catcher.WithGrowth(catcher.Constant(512)))
		c.Preload()
		for g.reads.Load() < int64(i%7) {
			runtime.Gosched()
		}
		require.NoError(t, c.Close())
		g.closed.Store(true)
		_, err := c.ReadAt(make([]byte, 1), 0)
		require.ErrorIs(t, err, catcher.ErrClosed)
		require.Zero(t, g.afterward.Load(), "trial %d: the source was read after Close returned", i)
	}
}

// countCalls is a transform that counts its calls and makes endless output.
type countCalls struct {
	calls atomic.Int64
	after atomic.Int64
	done  atomic.Bool
}

func (*countCalls) MinSpace() int { return 1 }
func (c *countCalls) Transform(dst []byte, src io.Reader) (int, error) {
	if c.done.Load() {
		c.after.Add(1)
	}
	c.calls.Add(1)
	return len(dst), nil
}

func TestNoTransformCallAfterClose(t *testing.T) {
	for range 200 {
		tr := &countCalls{}
		c := catcher.New(bytes.NewReader(nil), catcher.WithTransform(tr))
		c.Preload()
		for tr.calls.Load() < 3 {
			runtime.Gosched()
		}
		require.NoError(t, c.Close())
		tr.done.Store(true)
		time.Sleep(50 * time.Microsecond)
		require.Zero(t, tr.after.Load(), "the transform was called after Close returned")
	}
}

// Close closes the source while the fill is blocked in it, and returns once
// the blocked Read has.
func TestCloseUnblocksTheFill(t *testing.T) {
	src := newStalled(pattern(100))
	c := catcher.New(src)
	r := c.NewReader()
	_, err := io.ReadFull(r, make([]byte, 100))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = r.ReadContext(ctx, make([]byte, 1))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NoError(t, c.Close())
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed by Close")
	}
}

// A wait that its context ends leaves no demand: the fill stops.
func TestCancelledWaitDropsDemand(t *testing.T) {
	const far = 400 << 20
	g := &guarded{}
	c := newCatcher(t, g, catcher.WithGrowth(catcher.Constant(64<<10)), catcher.WithReadAhead(0))
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	_, err := c.ReadAtContext(ctx, make([]byte, 1), far)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Eventually(t, func() bool {
		n := c.Len()
		time.Sleep(5 * time.Millisecond)
		return c.Len() == n
	}, 10*time.Second, time.Millisecond, "the fill stops")
	assert.Less(t, c.Len(), int64(far), "it did not go on to the cancelled offset")
}

// A read-ahead of math.MaxInt64 reads to the end (it does not overflow).
func TestReadAheadMax(t *testing.T) {
	src := pattern(1 << 20)
	c := newCatcher(t, bytes.NewReader(src), catcher.WithReadAhead(math.MaxInt64))
	_, err := c.NewReader().Read(make([]byte, 1))
	require.NoError(t, err)
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("did not read ahead to the end")
	}
	assert.Equal(t, int64(len(src)), c.Len())
}

func TestGrowthBounds(t *testing.T) {
	g := catcher.Geometric(catcher.MaxChunk/4, catcher.MaxChunk)
	for i, want := range []int{catcher.MaxChunk / 4, catcher.MaxChunk / 2, catcher.MaxChunk, catcher.MaxChunk} {
		assert.Equal(t, want, g.Size(i), "chunk %d", i)
	}
	assert.Equal(t, catcher.MaxChunk, g.Size(math.MaxInt))
	assert.Equal(t, catcher.MaxChunk, catcher.Linear(1, catcher.MaxChunk).Size(math.MaxInt))
	assert.Panics(t, func() { catcher.Geometric(1<<62, math.MaxInt) })
	assert.Panics(t, func() { catcher.Constant(catcher.MaxChunk + 1) })
	assert.Panics(t, func() { catcher.Linear(1, catcher.MaxChunk+1) })
}

// Stats.Waiting counts reads only, not Wait.
func TestWaitingCountsReads(t *testing.T) {
	src := newStalled(nil)
	c := newCatcher(t, src)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.Wait(ctx) }()
	go func() { defer wg.Done(); c.NewReader().ReadContext(ctx, make([]byte, 1)) }()
	require.Eventually(t, func() bool { return c.Stats().Waiting == 1 }, 10*time.Second, time.Millisecond)
	time.Sleep(10 * time.Millisecond)
	assert.Equal(t, 1, c.Stats().Waiting)
	cancel()
	wg.Wait()
	assert.Equal(t, 0, c.Stats().Waiting)
}

// closeCounter is a source that counts Close calls.
type closeCounter struct {
	io.Reader
	closes atomic.Int32
	err    error
}

func (c *closeCounter) Close() error {
	c.closes.Add(1)
	return c.err
}

// The end of the stream releases the source (closed once), the transform
// and the scratch buffer; Resident then counts the chunks and the state.
func TestReleaseAtEnd(t *testing.T) {
	src := &closeCounter{Reader: iotest.OneByteReader(bytes.NewReader(pattern(10_000)))}
	tr := &heavy{}
	wp := weak.Make(tr)
	c := catcher.New(src, catcher.WithTransform(tr), catcher.WithGrowth(catcher.Constant(4096)), catcher.WithReadAhead(0))
	tr = nil
	r := c.NewReader()
	_, err := io.ReadFull(r, make([]byte, 100))
	require.NoError(t, err)
	st := c.Stats()
	assert.GreaterOrEqual(t, st.Resident, st.Allocated+heavySize, "the transform's memory is counted while it runs")
	assert.Zero(t, src.closes.Load())

	_, err = io.Copy(io.Discard, r)
	require.NoError(t, err)
	<-c.Done()
	st = c.Stats()
	assert.Equal(t, st.Allocated+stateSize, st.Resident, "the chunks and the state, nothing else")
	assert.Equal(t, int32(1), src.closes.Load(), "the source is closed at the end")
	runtime.GC()
	assert.Nil(t, wp.Value(), "the transform is released at the end")
	require.NoError(t, c.Close())
	assert.Equal(t, int32(1), src.closes.Load(), "and not again by Close")
	assert.Zero(t, c.Stats().Resident, "Close releases everything")
}

// A failure to close the source at the end is the stream's error.
func TestCloseErrorAtEnd(t *testing.T) {
	boom := errors.New("exit status 1")
	src := &closeCounter{Reader: bytes.NewReader(pattern(100)), err: boom}
	c := newCatcher(t, src)
	b, err := io.ReadAll(c.NewReader())
	assert.Len(t, b, 100, "every byte first")
	assert.ErrorIs(t, err, boom)
	assert.ErrorIs(t, c.Err(), boom)
}

const (
	heavySize = 1 << 20
	stateSize = 64
)

// heavy copies its input and reports a large memory footprint, and a state
// of stateSize bytes.
type heavy struct {
	n int64
	_ [24]byte // not a tiny allocation, so that a weak pointer to it is cleared once it is unreachable
}

type heavyState struct{ n int64 }

func (heavyState) Size() int64 { return stateSize }

func (*heavy) MinSpace() int { return 1 }
func (h *heavy) Size() int64 { return heavySize }
func (h *heavy) State() any  { return heavyState{h.n} }
func (h *heavy) Transform(dst []byte, src io.Reader) (int, error) {
	n, err := src.Read(dst)
	h.n += int64(n)
	return n, err
}

// A Reader stopped by Close does not keep the cache's memory alive.
func TestClosedReaderReleasesChunk(t *testing.T) {
	const size = 64 << 20
	c := catcher.New(bytes.NewReader(make([]byte, size)), catcher.WithLengthHint(size))
	r := c.NewReader()
	_, err := io.Copy(io.Discard, r)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	_, err = r.Read(make([]byte, 1))
	require.ErrorIs(t, err, catcher.ErrClosed)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	assert.Less(t, ms.HeapAlloc, uint64(size/2), "the chunk is freed though the Reader is alive")
	runtime.KeepAlive(r)
}

// A transform that ends the stream past MaxBytes leaves a state that
// describes the published bytes only.
func TestStateExactAtMaxBytes(t *testing.T) {
	c := newCatcher(t, bytes.NewReader(pattern(1000)), catcher.WithTransform(&heavy{}), catcher.WithMaxBytes(906),
		catcher.WithGrowth(catcher.Constant(100)))
	err := c.Load(context.Background())
	require.ErrorIs(t, err, catcher.ErrTooLong)
	st, n, ok := catcher.StateOf[heavyState](c)
	require.True(t, ok)
	assert.Equal(t, n, st.n, "the state describes exactly the published bytes")
	assert.Equal(t, int64(906), n)
}

// A panicking State publishes neither the new bytes nor a state.
func TestStatePanicKeepsState(t *testing.T) {
	tr := &flakyState{}
	c := newCatcher(t, bytes.NewReader(pattern(1000)), catcher.WithTransform(tr), catcher.WithGrowth(catcher.Constant(100)))
	err := c.Load(context.Background())
	require.ErrorIs(t, err, catcher.ErrBadSource)
	st, n, ok := catcher.StateOf[int64](c)
	require.True(t, ok)
	assert.Equal(t, n, st)
	assert.Equal(t, int64(300), n)
}

// flakyState copies 100 bytes a call and panics in its fourth State.
type flakyState struct{ n, calls int64 }

func (*flakyState) MinSpace() int { return 1 }
func (f *flakyState) Transform(dst []byte, src io.Reader) (int, error) {
	n, err := io.ReadFull(src, dst[:min(len(dst), 100)])
	f.n += int64(n)
	return n, err
}
func (f *flakyState) State() any {
	if f.calls++; f.calls == 4 {
		panic("state bug")
	}
	return f.n
}

// blockingSrc blocks in Read until released, saying when it is inside.
type blockingSrc struct {
	entered chan struct{}
	release chan struct{}
	inRead  atomic.Bool
}

func (b *blockingSrc) Read(p []byte) (int, error) {
	b.inRead.Store(true)
	close(b.entered)
	<-b.release
	b.inRead.Store(false)
	return 0, io.EOF
}

// Every Close, not only the first, returns only once no call into the
// source is in progress.
func TestSecondCloseWaits(t *testing.T) {
	src := &blockingSrc{entered: make(chan struct{}), release: make(chan struct{})}
	c := catcher.New(src)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.NewReader().ReadContext(ctx, make([]byte, 1))
	<-src.entered
	closed := make(chan bool, 2)
	for range 2 {
		go func() {
			c.Close()
			closed <- src.inRead.Load()
		}()
	}
	time.Sleep(20 * time.Millisecond)
	select {
	case <-closed:
		t.Fatal("a Close returned while the source's Read was in progress")
	default:
	}
	close(src.release)
	assert.False(t, <-closed)
	assert.False(t, <-closed)
}

// endless is an endless source of zeros.
type endless struct{}

func (endless) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// Close releases the transform, so that Readers kept by listeners do not
// keep its memory alive: when Close returns, whatever the fill was doing.
func TestCloseReleasesTransform(t *testing.T) {
	cases := []struct {
		name  string
		src   io.Reader
		start func(t *testing.T, c *catcher.Catcher, r *catcher.Reader)
	}{
		{"unread", endless{}, func(*testing.T, *catcher.Catcher, *catcher.Reader) {}},
		{"after a read", bytes.NewReader(pattern(100_000)), func(t *testing.T, _ *catcher.Catcher, r *catcher.Reader) {
			_, err := r.Read(make([]byte, 10))
			require.NoError(t, err)
		}},
		{"while filling", endless{}, func(_ *testing.T, c *catcher.Catcher, _ *catcher.Reader) { c.Preload() }},
		{"while a read waits", endless{}, func(_ *testing.T, _ *catcher.Catcher, r *catcher.Reader) {
			go r.Read(make([]byte, 1<<20))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for range 20 {
				tr := &heavy{}
				wp := weak.Make(tr)
				c := catcher.New(tc.src, catcher.WithTransform(tr), catcher.WithReadAhead(0))
				tr = nil
				r := c.NewReader()
				tc.start(t, c, r)
				require.NoError(t, c.Close())
				runtime.GC()
				require.Nil(t, wp.Value(), "the transform is reachable after Close returned")
				assert.Zero(t, c.Stats().Resident)
				_, err := c.View(0, 0)
				assert.ErrorIs(t, err, catcher.ErrClosed)
				runtime.KeepAlive(r)
			}
		})
	}
}

// Close returns only once the fill goroutine has ended, even one that has
// been started but has not yet begun to fill: the fill here is held at its
// start until Close returns (or, as Close must wait, for a moment), and
// Close must not return before it goes on and ends.
func TestCloseWaitsForTheFill(t *testing.T) {
	for range 5 {
		var (
			c        *catcher.Catcher
			started  = make(chan struct{})
			returned = make(chan struct{})
			ended    atomic.Bool
		)
		restore := catcher.SetFillStartHook(func(f *catcher.Catcher) {
			if f != c {
				return
			}
			close(started)
			select {
			case <-returned: // Close returned without waiting: too early
			case <-time.After(100 * time.Millisecond):
			}
			ended.Store(true)
		})
		tr := &heavy{}
		wp := weak.Make(tr)
		c = catcher.New(endless{}, catcher.WithTransform(tr))
		tr = nil
		c.Preload()
		<-started
		require.NoError(t, c.Close())
		fillEnded := ended.Load()
		close(returned)
		runtime.GC()
		transformHeld := wp.Value() != nil
		restore()
		require.True(t, fillEnded, "Close returned while the fill goroutine was still running")
		require.False(t, transformHeld, "the transform is reachable after Close returned")
	}
}

// WaitFor ends with its context, leaving no demand behind.
func TestWaitFor(t *testing.T) {
	g := &guarded{}
	c := newCatcher(t, g, catcher.WithGrowth(catcher.Constant(64<<10)), catcher.WithReadAhead(0))
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, c.WaitFor(ctx, 400<<20), context.DeadlineExceeded)
	require.Eventually(t, func() bool {
		n := c.Len()
		time.Sleep(5 * time.Millisecond)
		return c.Len() == n
	}, 10*time.Second, time.Millisecond, "the fill stops")
	assert.Less(t, c.Len(), int64(400<<20))
	require.NoError(t, c.WaitFor(context.Background(), 1000))
	assert.Greater(t, c.Len(), int64(1000))
	assert.ErrorIs(t, c.WaitFor(context.Background(), -1), catcher.ErrNegativeOffset)
}

// A Reader left behind a window's eviction does not keep its chunk alive.
func TestEvictedReaderReleasesChunk(t *testing.T) {
	c := newCatcher(t, bytes.NewReader(pattern(200_000)), catcher.WithWindow(20_000), catcher.WithGrowth(catcher.Constant(5000)))
	r := c.NewReader()
	_, err := io.ReadFull(r, make([]byte, 100))
	require.NoError(t, err)
	v, err := c.View(0, 1)
	require.NoError(t, err)
	first := weak.Make(&v[0]) // the first chunk, which r is reading
	v = nil
	require.NoError(t, c.Load(context.Background()))
	_, err = r.Read(make([]byte, 1))
	require.ErrorIs(t, err, catcher.ErrEvicted)
	runtime.GC()
	assert.Nil(t, first.Value(), "the evicted chunk is freed though the Reader is alive")
	runtime.KeepAlive(r)
}
