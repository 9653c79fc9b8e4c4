package catcher_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/catcher"
)

func TestView(t *testing.T) {
	src := pattern(1000)
	c := newCatcher(t, iotest.HalfReader(bytes.NewReader(src)), catcher.WithGrowth(catcher.Constant(300)),
		catcher.WithReadAhead(0))

	_, err := c.View(0, 10)
	assert.ErrorIs(t, err, catcher.ErrNotCached, "nothing read yet")

	require.NoError(t, c.Load(context.Background()))
	v, err := c.View(310, 50)
	require.NoError(t, err)
	assert.Equal(t, src[310:360], v)
	assert.Equal(t, 50, cap(v), "appending to a view copies: it never writes into the cache")
	v = append(v, 0xff)
	w, err := c.View(360, 1)
	require.NoError(t, err)
	assert.Equal(t, src[360], w[0])

	_, err = c.View(290, 20)
	assert.ErrorIs(t, err, catcher.ErrNotContiguous, "crosses the chunk at 300")
	_, err = c.View(1000, 1)
	assert.ErrorIs(t, err, io.EOF)
	_, err = c.View(990, 20)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	_, err = c.View(-1, 1)
	assert.ErrorIs(t, err, catcher.ErrNegativeOffset)
	e, err := c.View(1000, 0)
	assert.NoError(t, err)
	assert.Empty(t, e)

	// A view outlives Close with its bytes intact.
	kept, err := c.View(0, 300)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	assert.Equal(t, src[:300], kept)
	_, err = c.View(0, 1)
	assert.ErrorIs(t, err, catcher.ErrClosed)
}

func TestViewFailedStream(t *testing.T) {
	boom := errors.New("boom")
	c := newCatcher(t, io.MultiReader(bytes.NewReader(pattern(100)), iotest.ErrReader(boom)))
	assert.ErrorIs(t, c.Load(context.Background()), boom)
	v, err := c.View(0, 100)
	require.NoError(t, err)
	assert.Equal(t, pattern(100), v)
	_, err = c.View(50, 51)
	assert.ErrorIs(t, err, boom)
}

// A window's evicted bytes are ErrEvicted, and a view taken before the
// eviction still holds them.
func TestViewWindow(t *testing.T) {
	src := pattern(100_000)
	c := newCatcher(t, bytes.NewReader(src), catcher.WithWindow(10_000), catcher.WithGrowth(catcher.Constant(1000)))
	r := c.NewReader()
	_, err := io.ReadFull(r, make([]byte, 1000))
	require.NoError(t, err)
	early, err := c.View(0, 1000)
	require.NoError(t, err)
	require.NoError(t, c.Load(context.Background()))
	_, err = c.View(0, 1)
	assert.ErrorIs(t, err, catcher.ErrEvicted)
	assert.Equal(t, src[:1000], early)
	late, err := c.View(99_000, 1000)
	require.NoError(t, err)
	assert.Equal(t, src[99_000:], late)
}

// A Chain whose later stage consumes what an earlier one buffered, and
// writes nothing for many calls, is not taken for one that makes no
// progress.
func TestChainBufferedStagesProgress(t *testing.T) {
	// 1000 zero bytes, then "end": the dropper writes nothing for the
	// zeros, a byte a call; the buffering stage reads all the source in
	// its first call.
	src := append(make([]byte, 1000), "end"...)
	ch := catcher.Chain(&slurp{}, dropZeros{})
	c := newCatcher(t, bytes.NewReader(src), catcher.WithTransform(ch))
	got, err := io.ReadAll(c.NewReader())
	require.NoError(t, err)
	assert.Equal(t, "end", string(got))

	// The same by hand, as the reference.
	got, err = io.ReadAll(catcher.NewTransformReader(catcher.NewTransformReader(bytes.NewReader(src), &slurp{}), dropZeros{}))
	require.NoError(t, err)
	assert.Equal(t, "end", string(got))
}

// slurp reads its whole source on its first call and then hands it out a
// byte a call.
type slurp struct {
	buf  []byte
	read bool
}

func (*slurp) MinSpace() int { return 1 }
func (s *slurp) Transform(dst []byte, src io.Reader) (int, error) {
	if !s.read {
		b, err := io.ReadAll(src)
		if err != nil {
			return 0, err
		}
		s.buf, s.read = b, true
	}
	if len(s.buf) == 0 {
		return 0, io.EOF
	}
	dst[0] = s.buf[0]
	s.buf = s.buf[1:]
	return 1, nil
}

// dropZeros reads one byte a call and writes it unless it is zero.
type dropZeros struct{}

func (dropZeros) MinSpace() int { return 1 }
func (dropZeros) Transform(dst []byte, src io.Reader) (int, error) {
	n, err := src.Read(dst[:1])
	if n == 1 && dst[0] == 0 {
		return 0, err
	}
	return n, err
}

func TestDeferred(t *testing.T) {
	src := &closeCounter{Reader: bytes.NewReader(append([]byte{3}, pattern(99)...))}
	built := 0
	// The first byte says how many bytes each unit has: the built
	// transform's MinSpace.
	d := catcher.Deferred(8, func(r io.Reader) (catcher.Transform, io.Reader, error) {
		built++
		var h [1]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return nil, nil, err
		}
		return &unit{size: int(h[0])}, r, nil
	})
	c := catcher.New(src, catcher.WithTransform(d))
	defer c.Close()
	assert.Zero(t, built, "New reads nothing")
	got, err := io.ReadAll(c.NewReader())
	require.NoError(t, err)
	assert.Equal(t, pattern(99), got)
	assert.Equal(t, 1, built)

	// The build's error ends the stream; so does a MinSpace too large.
	boom := errors.New("bad header")
	c = newCatcher(t, bytes.NewReader(nil), catcher.WithTransform(catcher.Deferred(1,
		func(io.Reader) (catcher.Transform, io.Reader, error) { return nil, nil, boom })))
	assert.ErrorIs(t, c.Load(context.Background()), boom)
	c = newCatcher(t, bytes.NewReader(nil), catcher.WithTransform(catcher.Deferred(4,
		func(r io.Reader) (catcher.Transform, io.Reader, error) { return &unit{size: 5}, nil, nil })))
	assert.ErrorIs(t, c.Load(context.Background()), catcher.ErrBadSource)
	assert.Panics(t, func() { catcher.Deferred(0, nil) })

	// State passes through, typed, and a build may give back what it read.
	c = newCatcher(t, bytes.NewReader([]byte{0, 1, 1, 2}), catcher.WithTransform(catcher.Deferred(1,
		func(r io.Reader) (catcher.Transform, io.Reader, error) {
			var h [1]byte
			io.ReadFull(r, h[:])
			return catcher.Chain(plusOne{}, &countOnes{}), io.MultiReader(bytes.NewReader(h[:]), r), nil
		})))
	got, err = io.ReadAll(c.NewReader())
	require.NoError(t, err)
	assert.Equal(t, []byte{1, 2, 2, 3}, got)
	ones, n, ok := catcher.StateOf[int](c)
	assert.True(t, ok)
	assert.Equal(t, 1, ones)
	assert.Equal(t, int64(4), n)
}
