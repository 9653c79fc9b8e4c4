package catcher_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/catcher"
)

// pattern returns n bytes that differ at most offsets, so a byte read at
// the wrong offset shows.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*131 + i>>8 + i>>16)
	}
	return b
}

// newCatcher returns a Catcher closed when the test ends.
func newCatcher(t testing.TB, src io.Reader, opts ...catcher.Option) *catcher.Catcher {
	t.Helper()
	c := catcher.New(src, opts...)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestIOTestReader(t *testing.T) {
	src := pattern(100_000)
	configs := []struct {
		name string
		src  func() io.Reader
		opts []catcher.Option
	}{
		{"default", nil, nil},
		{"tiny constant chunks", nil, []catcher.Option{catcher.WithGrowth(catcher.Constant(1))}},
		{"constant", nil, []catcher.Option{catcher.WithGrowth(catcher.Constant(4096))}},
		{"linear", nil, []catcher.Option{catcher.WithGrowth(catcher.Linear(7, 3000))}},
		{"geometric", nil, []catcher.Option{catcher.WithGrowth(catcher.Geometric(3, 5000))}},
		{"exact hint", nil, []catcher.Option{catcher.WithLengthHint(int64(len(src)))}},
		{"short hint", nil, []catcher.Option{catcher.WithLengthHint(1000)}},
		{"long hint", nil, []catcher.Option{catcher.WithLengthHint(1 << 40)}},
		{"finalised", nil, []catcher.Option{catcher.WithGrowth(catcher.Constant(999)), catcher.WithFinalise(), catcher.WithPreload()}},
		{"not finalised", nil, []catcher.Option{catcher.WithGrowth(catcher.Constant(999)), catcher.WithPreload()}},
		{"window larger than stream", nil, []catcher.Option{catcher.WithWindow(200_000)}},
		{"one-byte source", func() io.Reader { return iotest.OneByteReader(bytes.NewReader(src)) },
			[]catcher.Option{catcher.WithGrowth(catcher.Constant(100))}},
		{"half source", func() io.Reader { return iotest.HalfReader(bytes.NewReader(src)) }, nil},
		{"data and EOF together", func() io.Reader { return iotest.DataErrReader(bytes.NewReader(src)) }, nil},
		{"transform", nil, []catcher.Option{catcher.WithTransform(&unit{size: 5})}},
		{"max bytes exactly", nil, []catcher.Option{catcher.WithMaxBytes(int64(len(src)))}},
	}
	for _, tc := range configs {
		t.Run(tc.name, func(t *testing.T) {
			var r io.Reader = bytes.NewReader(src)
			if tc.src != nil {
				r = tc.src()
			}
			c := newCatcher(t, r, tc.opts...)
			require.NoError(t, iotest.TestReader(c.NewReader(), src))
			require.NoError(t, c.Wait(context.Background()))
			assert.Equal(t, int64(len(src)), c.Len())
			assert.NoError(t, iotest.TestReader(io.NewSectionReader(c, 0, int64(len(src))), src))
		})
	}
}

func TestFinalisedIsOneChunk(t *testing.T) {
	src := pattern(10_000)
	c := newCatcher(t, bytes.NewReader(src), catcher.WithGrowth(catcher.Constant(100)), catcher.WithFinalise())
	r := c.NewReader()
	head := make([]byte, 150)
	_, err := io.ReadFull(r, head)
	require.NoError(t, err)
	require.NoError(t, c.Load(context.Background()))
	st := c.Stats()
	assert.Equal(t, 1, st.Chunks)
	assert.Equal(t, int64(len(src)), st.Allocated)
	rest, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, src, append(head, rest...))
}

func TestExactHintIsOneChunk(t *testing.T) {
	src := pattern(12_345)
	c := newCatcher(t, bytes.NewReader(src), catcher.WithLengthHint(int64(len(src))))
	require.NoError(t, c.Load(context.Background()))
	st := c.Stats()
	assert.Equal(t, 1, st.Chunks)
	assert.Equal(t, int64(len(src)), st.Allocated)
}

func TestGrowthSizes(t *testing.T) {
	tests := []struct {
		g    catcher.Growth
		want []int
	}{
		{catcher.Constant(5), []int{5, 5, 5, 5}},
		{catcher.Linear(3, 10), []int{3, 6, 9, 10, 10}},
		{catcher.Geometric(3, 20), []int{3, 6, 12, 20, 20}},
		{catcher.Growth{}, []int{4096, 8192, 16384}},
	}
	for _, tc := range tests {
		t.Run(tc.g.String(), func(t *testing.T) {
			for i, want := range tc.want {
				assert.Equal(t, want, tc.g.Size(i), "chunk %d", i)
			}
		})
	}
	assert.Panics(t, func() { catcher.Constant(0) })
	assert.Panics(t, func() { catcher.Linear(4, 3) })
	assert.Panics(t, func() { catcher.Geometric(-1, 3) })
	assert.Panics(t, func() { catcher.WithMaxBytes(-1) })
}

func TestChunkSizesFollowGrowth(t *testing.T) {
	src := pattern(3 + 6 + 12 + 20 + 20 + 5)
	c := newCatcher(t, bytes.NewReader(src), catcher.WithGrowth(catcher.Geometric(3, 20)))
	require.NoError(t, c.Load(context.Background()))
	st := c.Stats()
	assert.Equal(t, 6, st.Chunks)
	assert.Equal(t, int64(3+6+12+20+20+20), st.Allocated)
}

func TestSeek(t *testing.T) {
	src := pattern(5000)
	c := newCatcher(t, bytes.NewReader(src), catcher.WithGrowth(catcher.Constant(64)))
	r := c.NewReader()
	read := func(n int) []byte {
		t.Helper()
		p := make([]byte, n)
		_, err := io.ReadFull(r, p)
		require.NoError(t, err)
		return p
	}
	pos, err := r.Seek(1000, io.SeekStart)
	require.NoError(t, err)
	assert.Equal(t, int64(1000), pos)
	assert.Equal(t, src[1000:1100], read(100))

	pos, err = r.Seek(-600, io.SeekCurrent)
	require.NoError(t, err)
	assert.Equal(t, int64(500), pos)
	assert.Equal(t, src[500:510], read(10))

	pos, err = r.Seek(-10, io.SeekEnd)
	require.NoError(t, err)
	assert.Equal(t, int64(4990), pos)
	assert.Equal(t, src[4990:], read(10))
	n, err := r.Read(make([]byte, 1))
	assert.Equal(t, 0, n)
	assert.Equal(t, io.EOF, err)

	_, err = r.Seek(-1, io.SeekStart)
	assert.ErrorIs(t, err, catcher.ErrNegativeOffset)
	_, err = r.Seek(-6000, io.SeekEnd)
	assert.ErrorIs(t, err, catcher.ErrNegativeOffset)
	_, err = r.Seek(0, 42)
	assert.ErrorIs(t, err, catcher.ErrInvalidWhence)
	assert.Equal(t, int64(5000), r.Offset(), "a failed seek leaves the offset")

	pos, err = r.Seek(100, io.SeekEnd)
	require.NoError(t, err)
	assert.Equal(t, int64(5100), pos)
	n, err = r.Read(make([]byte, 1))
	assert.Equal(t, 0, n)
	assert.Equal(t, io.EOF, err)

	_, err = c.ReadAt(make([]byte, 1), -1)
	assert.ErrorIs(t, err, catcher.ErrNegativeOffset)
}

func TestReadAtParallel(t *testing.T) {
	src := pattern(200_000)
	c := newCatcher(t, iotest.HalfReader(bytes.NewReader(src)), catcher.WithGrowth(catcher.Geometric(16, 4096)))
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				off := (g*7919 + i*104729) % len(src)
				p := make([]byte, 1+(i*37)%3000)
				n, err := c.ReadAt(p, int64(off))
				want := src[off:min(off+len(p), len(src))]
				if !assert.Equal(t, want, p[:n]) {
					return
				}
				if n < len(p) {
					assert.Equal(t, io.EOF, err)
				} else {
					assert.NoError(t, err)
				}
			}
		}()
	}
	wg.Wait()
}

func TestClone(t *testing.T) {
	src := pattern(3000)
	c := newCatcher(t, bytes.NewReader(src), catcher.WithGrowth(catcher.Constant(100)))
	r := c.NewReader()
	_, err := io.ReadFull(r, make([]byte, 1234))
	require.NoError(t, err)
	r2 := r.Clone()
	assert.Equal(t, int64(1234), r2.Offset())
	rest1, err := io.ReadAll(r)
	require.NoError(t, err)
	rest2, err := io.ReadAll(r2)
	require.NoError(t, err)
	assert.Equal(t, src[1234:], rest1)
	assert.Equal(t, src[1234:], rest2)
}

func TestWriteTo(t *testing.T) {
	src := pattern(70_000)
	c := newCatcher(t, iotest.HalfReader(bytes.NewReader(src)), catcher.WithGrowth(catcher.Constant(1000)))
	r := c.NewReader()
	_, err := r.Seek(10, io.SeekStart)
	require.NoError(t, err)
	var buf bytes.Buffer
	n, err := io.Copy(&buf, r)
	require.NoError(t, err)
	assert.Equal(t, int64(len(src)-10), n)
	assert.Equal(t, src[10:], buf.Bytes())

	// A writer that fails stops WriteTo with its error, the offset after
	// what it took.
	r2 := c.NewReader()
	boom := errors.New("boom")
	n, err = r2.WriteTo(&failAfter{n: 2500, err: boom})
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, int64(2500), n)
	assert.Equal(t, int64(2500), r2.Offset())
}

type failAfter struct {
	n   int
	err error
}

func (w *failAfter) Write(p []byte) (int, error) {
	if len(p) <= w.n {
		w.n -= len(p)
		return len(p), nil
	}
	n := w.n
	w.n = 0
	return n, w.err
}

// stalled is a source that hands out its bytes, then blocks in Read until
// it is closed.
type stalled struct {
	data   []byte
	closed chan struct{}
	once   sync.Once
	mu     sync.Mutex // guards data
}

func newStalled(data []byte) *stalled {
	return &stalled{data: data, closed: make(chan struct{})}
}

func (s *stalled) Read(p []byte) (int, error) {
	s.mu.Lock()
	if len(s.data) > 0 {
		n := copy(p, s.data)
		s.data = s.data[n:]
		s.mu.Unlock()
		return n, nil
	}
	s.mu.Unlock()
	<-s.closed
	return 0, errors.New("stalled source closed")
}

func (s *stalled) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

func TestStalledSource(t *testing.T) {
	head := pattern(10_000)
	src := newStalled(head)
	c := newCatcher(t, src, catcher.WithGrowth(catcher.Constant(4096)))
	_, err := io.ReadFull(c.NewReader(), make([]byte, len(head)))
	require.NoError(t, err)

	// Readers wait past the head while the fill is blocked in the source.
	ctx, cancel := context.WithCancel(context.Background())
	const waiters = 16
	errs := make(chan error, waiters)
	for i := 0; i < waiters; i++ {
		go func() {
			r := c.NewReader()
			_, err := r.Seek(int64(len(head)-i), io.SeekStart)
			if err != nil {
				errs <- err
				return
			}
			_, err = io.ReadAll(readerCtx{ctx, r})
			errs <- err
		}()
	}
	require.Eventually(t, func() bool { return c.Stats().Waiting == waiters }, 10*time.Second, time.Millisecond)

	// Cached bytes are read without waiting for the source.
	got := make([]byte, len(head))
	n, err := c.ReadAtContext(ctxTimeout(t, 10*time.Second), got, 0)
	require.NoError(t, err)
	assert.Equal(t, head, got[:n])
	ready := c.Ready(int64(len(head)))
	select {
	case <-ready:
		t.Fatal("Ready closed for a byte the source has not given")
	default:
	}

	cancel()
	for i := 0; i < waiters; i++ {
		assert.ErrorIs(t, <-errs, context.Canceled)
	}
	assert.Equal(t, 0, c.Stats().Waiting)
	assert.False(t, c.Finished())

	// Close wakes a new waiter, and Ready, with ErrClosed.
	go func() {
		_, err := io.ReadAll(c.NewReader())
		errs <- err
	}()
	require.Eventually(t, func() bool { return c.Stats().Waiting == 1 }, 10*time.Second, time.Millisecond)
	require.NoError(t, c.Close())
	assert.ErrorIs(t, <-errs, catcher.ErrClosed)
	<-ready
	assert.ErrorIs(t, c.Err(), catcher.ErrClosed)
	_, err = c.ReadAt(got, 0)
	assert.ErrorIs(t, err, catcher.ErrClosed, "Close releases the cached bytes")
}

// readerCtx reads r with a context.
type readerCtx struct {
	ctx context.Context
	r   *catcher.Reader
}

func (r readerCtx) Read(p []byte) (int, error) { return r.r.ReadContext(r.ctx, p) }

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestCancelledContextStillReadsCached(t *testing.T) {
	src := pattern(1000)
	c := newCatcher(t, bytes.NewReader(src))
	require.NoError(t, c.Load(context.Background()))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got, err := io.ReadAll(readerCtx{ctx, c.NewReader()})
	require.NoError(t, err)
	assert.Equal(t, src, got)
}

func TestLoadContext(t *testing.T) {
	src := newStalled(pattern(100))
	c := newCatcher(t, src)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, c.Load(ctx), context.Canceled)
	require.Eventually(t, func() bool { return c.Len() == 100 }, 10*time.Second, time.Millisecond,
		"loading goes on in the background")
}

func TestFailingSource(t *testing.T) {
	src := pattern(5000)
	boom := errors.New("disk on fire")
	fail := io.MultiReader(bytes.NewReader(src), iotest.ErrReader(boom))
	c := newCatcher(t, fail, catcher.WithGrowth(catcher.Constant(700)))

	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := io.ReadAll(c.NewReader())
			assert.ErrorIs(t, err, boom)
			assert.Equal(t, src, got, "bytes before the error are intact")
		}()
	}
	wg.Wait()
	assert.True(t, c.Finished())
	assert.ErrorIs(t, c.Err(), boom)
	assert.ErrorIs(t, c.Wait(context.Background()), boom)

	// A reader that seeks before the error reads to it, then gets it again.
	r := c.NewReader()
	_, err := r.Seek(4990, io.SeekStart)
	require.NoError(t, err)
	got, err := io.ReadAll(r)
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, src[4990:], got)
	_, err = r.Read(make([]byte, 10))
	assert.ErrorIs(t, err, boom)
	n, err := c.ReadAt(make([]byte, 20), 4990)
	assert.Equal(t, 10, n)
	assert.ErrorIs(t, err, boom)
}

func TestMaxBytes(t *testing.T) {
	src := pattern(10_000)
	for _, max := range []int64{1, 999, 4096, 9_999} {
		c := newCatcher(t, bytes.NewReader(src), catcher.WithMaxBytes(max), catcher.WithGrowth(catcher.Constant(1000)))
		got, err := io.ReadAll(c.NewReader())
		assert.ErrorIs(t, err, catcher.ErrTooLong, "max %d", max)
		assert.Equal(t, src[:max], got, "max %d", max)
		assert.LessOrEqual(t, c.Stats().Allocated, max, "no chunk past MaxBytes")
	}
	c := newCatcher(t, bytes.NewReader(src), catcher.WithMaxBytes(10_000))
	got, err := io.ReadAll(c.NewReader())
	require.NoError(t, err)
	assert.Equal(t, src, got, "a stream of exactly MaxBytes is fine")
}

func TestMaxBytesWholeUnits(t *testing.T) {
	// With a transform of 100-byte units and room for 2.5 units, the third
	// unit is not split: the stream holds 200 bytes, then ErrTooLong.
	src := pattern(1000)
	c := newCatcher(t, bytes.NewReader(src), catcher.WithTransform(&unit{size: 100}), catcher.WithMaxBytes(250))
	got, err := io.ReadAll(c.NewReader())
	assert.ErrorIs(t, err, catcher.ErrTooLong)
	assert.Equal(t, src[:200], got)

	// A short last unit that fits is kept.
	c = newCatcher(t, bytes.NewReader(src[:230]), catcher.WithTransform(&unit{size: 100}), catcher.WithMaxBytes(250))
	got, err = io.ReadAll(c.NewReader())
	require.NoError(t, err)
	assert.Equal(t, src[:230], got)
}

func TestReadyAndBuffered(t *testing.T) {
	pr, pw := io.Pipe()
	c := newCatcher(t, pr)
	r := c.NewReader()
	assert.Equal(t, int64(0), r.Buffered())
	ready := c.Ready(0)
	assert.Equal(t, ready, c.Ready(0), "calls for one offset share a channel")
	go pw.Write([]byte("hello"))
	<-ready
	assert.Equal(t, int64(5), r.Buffered())
	<-r.Ready()
	p := make([]byte, 10)
	n, err := r.Read(p)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(p[:n]))
	ready = r.Ready()
	go pw.CloseWithError(io.EOF)
	<-ready
	_, err = r.Read(p)
	assert.Equal(t, io.EOF, err)
	assert.True(t, c.Finished())
	assert.NoError(t, c.Err())
}

func TestCloseIsIdempotentAndClosesSource(t *testing.T) {
	src := newStalled(nil)
	c := catcher.New(src)
	require.NoError(t, c.Close())
	require.NoError(t, c.Close())
	select {
	case <-src.closed:
	default:
		t.Fatal("Close did not close the source")
	}
	_, err := c.NewReader().Read(make([]byte, 1))
	assert.ErrorIs(t, err, catcher.ErrClosed)
	assert.ErrorIs(t, c.Load(context.Background()), catcher.ErrClosed)
	_, err = c.NewReader().Seek(0, io.SeekEnd)
	assert.ErrorIs(t, err, catcher.ErrClosed)
}

func TestReaderClose(t *testing.T) {
	c := newCatcher(t, bytes.NewReader(pattern(10)))
	r := c.NewReader()
	require.NoError(t, r.Close())
	_, err := r.Read(make([]byte, 1))
	assert.ErrorIs(t, err, catcher.ErrClosed)
	_, err = r.Seek(0, io.SeekStart)
	assert.ErrorIs(t, err, catcher.ErrClosed)
	_, err = r.WriteTo(io.Discard)
	assert.ErrorIs(t, err, catcher.ErrClosed)
	got, err := io.ReadAll(c.NewReader())
	require.NoError(t, err)
	assert.Equal(t, pattern(10), got, "closing a Reader leaves the Catcher")
}

func TestWindowSlowReader(t *testing.T) {
	const window = 4096
	src := pattern(100_000)
	c := newCatcher(t, iotest.HalfReader(bytes.NewReader(src)), catcher.WithWindow(window))
	slow := c.NewReader()
	p := make([]byte, 100)
	_, err := io.ReadFull(slow, p)
	require.NoError(t, err)

	fast, err := io.ReadAll(c.NewReader())
	require.NoError(t, err)
	assert.Equal(t, src, fast)
	st := c.Stats()
	assert.GreaterOrEqual(t, st.Len-st.Oldest, int64(window), "keeps at least the window")
	assert.LessOrEqual(t, st.Allocated, int64(window+window/4+window/4), "frees what is older")

	_, err = slow.Read(p)
	require.ErrorIs(t, err, catcher.ErrEvicted)
	assert.Equal(t, int64(100), slow.Offset(), "an evicted read leaves the offset")
	_, err = c.ReadAt(p, 0)
	assert.ErrorIs(t, err, catcher.ErrEvicted)

	old := c.Oldest()
	_, err = slow.Seek(old, io.SeekStart)
	require.NoError(t, err)
	rest, err := io.ReadAll(slow)
	require.NoError(t, err)
	assert.Equal(t, src[old:], rest)
}

func TestSourceBreaksContract(t *testing.T) {
	for name, src := range map[string]io.Reader{
		"negative count": badReader(-1),
		"count too big":  badReader(1 << 30),
		"panics":         panicReader{},
		"no progress":    badReader(0),
	} {
		t.Run(name, func(t *testing.T) {
			c := newCatcher(t, src)
			_, err := io.ReadAll(c.NewReader())
			require.Error(t, err)
			if name == "no progress" {
				assert.ErrorIs(t, err, io.ErrNoProgress)
			} else {
				assert.ErrorIs(t, err, catcher.ErrBadSource)
			}
		})
	}
}

type badReader int

func (b badReader) Read(p []byte) (int, error) { return int(b), nil }

type panicReader struct{}

func (panicReader) Read(p []byte) (int, error) { panic("oops") }

func TestStats(t *testing.T) {
	src := pattern(1000)
	c := newCatcher(t, bytes.NewReader(src), catcher.WithGrowth(catcher.Constant(300)))
	st := c.Stats()
	assert.Equal(t, catcher.Stats{}, st)
	require.NoError(t, c.Load(context.Background()))
	st = c.Stats()
	assert.Equal(t, catcher.Stats{Len: 1000, Allocated: 1200, Chunks: 4, Resident: 1200, Finished: true}, st)
}

func TestReadAhead(t *testing.T) {
	src := pattern(4 << 20)
	for _, tc := range []struct {
		name      string
		opts      []catcher.Option
		ahead     int64
		stepBound int64 // the most one fill step adds
	}{
		{"default", nil, 1 << 20, 64 << 10},
		{"256 KiB", []catcher.Option{catcher.WithReadAhead(256 << 10)}, 256 << 10, 64 << 10},
		{"none", []catcher.Option{catcher.WithReadAhead(0)}, 0, 4 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCatcher(t, bytes.NewReader(src), tc.opts...)
			_, err := c.NewReader().Read(make([]byte, 1))
			require.NoError(t, err)
			want := 1 + tc.ahead
			require.Eventually(t, func() bool { return c.Len() >= want }, 10*time.Second, time.Millisecond,
				"the fill reads ahead of the reader")
			require.Eventually(t, func() bool { return c.Stats().Waiting == 0 }, 10*time.Second, time.Millisecond)
			assert.LessOrEqual(t, c.Len(), want+tc.stepBound, "and stops there")
			assert.False(t, c.Finished())
		})
	}
	assert.Panics(t, func() { catcher.WithReadAhead(-1) })
}
