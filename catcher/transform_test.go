package catcher_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/catcher"
)

// plusOne writes each input byte plus one: one byte out per byte in.
type plusOne struct{}

func (plusOne) MinSpace() int { return 1 }
func (plusOne) Transform(dst []byte, src io.Reader) (int, error) {
	n, err := src.Read(dst)
	for i := range dst[:n] {
		dst[i]++
	}
	return n, err
}

// fold writes the sum of each pair of input bytes: two bytes in per byte
// out. An odd last byte is dropped.
type fold struct{ buf []byte }

func (*fold) MinSpace() int { return 1 }
func (f *fold) Transform(dst []byte, src io.Reader) (int, error) {
	if len(f.buf) < 2*len(dst) {
		f.buf = make([]byte, 2*len(dst))
	}
	in, err := io.ReadAtLeast(src, f.buf[:2*len(dst)], 2)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	for i := 0; i < in/2; i++ {
		dst[i] = f.buf[2*i] + f.buf[2*i+1]
	}
	if in%2 == 1 && err == nil {
		// Read one more byte to complete the pair.
		_, err = io.ReadFull(src, f.buf[in:in+1])
		if err == nil {
			dst[in/2] = f.buf[in-1] + f.buf[in]
			return in/2 + 1, nil
		}
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
	}
	return in / 2, err
}

// countOnes copies its input and counts the bytes equal to 1 it has written:
// its State, published with the length.
type countOnes struct{ ones int }

func (*countOnes) MinSpace() int { return 1 }
func (c *countOnes) Transform(dst []byte, src io.Reader) (int, error) {
	n, err := src.Read(dst)
	c.ones += bytes.Count(dst[:n], []byte{1})
	return n, err
}
func (c *countOnes) State() any { return c.ones }

func plusOneRef(b []byte) []byte {
	out := make([]byte, len(b))
	for i, v := range b {
		out[i] = v + 1
	}
	return out
}

func foldRef(b []byte) []byte {
	out := make([]byte, len(b)/2)
	for i := range out {
		out[i] = b[2*i] + b[2*i+1]
	}
	return out
}

func TestTransforms(t *testing.T) {
	src := pattern(50_001)
	tests := []struct {
		name string
		t    func() catcher.Transform
		want []byte
	}{
		{"plus one", func() catcher.Transform { return plusOne{} }, plusOneRef(src)},
		{"fold", func() catcher.Transform { return &fold{} }, foldRef(src)},
		{"chain", func() catcher.Transform { return catcher.Chain(plusOne{}, &fold{}, plusOne{}) },
			plusOneRef(foldRef(plusOneRef(src)))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, g := range []catcher.Growth{catcher.Constant(1), catcher.Constant(777), {}} {
				c := newCatcher(t, iotest.HalfReader(bytes.NewReader(src)), catcher.WithTransform(tc.t()), catcher.WithGrowth(g))
				require.NoError(t, iotest.TestReader(c.NewReader(), tc.want), "growth %v", g)
			}
			require.NoError(t, iotest.TestReader(catcher.NewTransformReader(bytes.NewReader(src), tc.t()), tc.want),
				"as a plain reader")
		})
	}
}

func TestStateReadDuringFill(t *testing.T) {
	size := 200_000
	if testing.Short() {
		size = 30_000
	}
	src := make([]byte, size)
	for i := range src {
		src[i] = byte(i % 3) // a third are ones
	}
	ones := make([]int, len(src)+1) // ones[n]: ones in src[:n]
	for i, b := range src {
		ones[i+1] = ones[i]
		if b == 1 {
			ones[i+1]++
		}
	}
	c := newCatcher(t, iotest.OneByteReader(bytes.NewReader(src)),
		catcher.WithTransform(&countOnes{}), catcher.WithGrowth(catcher.Constant(1000)))
	st, n := c.State()
	assert.Nil(t, st)
	assert.Zero(t, n)

	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, err := io.Copy(io.Discard, c.NewReader())
		assert.NoError(t, err)
	}()
	checks := 0
	go func() {
		defer wg.Done()
		for !c.Finished() {
			st, n := c.State()
			if n > 0 {
				checks++
				if !assert.Equal(t, ones[n], st, "state published with %d bytes", n) {
					return
				}
			}
		}
	}()
	wg.Wait()
	st, n = c.State()
	assert.Equal(t, int64(len(src)), n)
	assert.Equal(t, ones[len(src)], st)
	t.Logf("state checked %d times during the fill", checks)
}

func TestChainState(t *testing.T) {
	src := []byte{0, 1, 1, 0, 2, 1}
	c := newCatcher(t, bytes.NewReader(src), catcher.WithTransform(catcher.Chain(&countOnes{}, plusOne{}, &countOnes{})))
	require.NoError(t, c.Load(context.Background()))
	st, n := c.State()
	assert.Equal(t, int64(6), n)
	assert.Equal(t, catcher.ChainState{3, nil, 2}, st)
	ones, _, ok := catcher.StateOf[int](c)
	assert.True(t, ok)
	assert.Equal(t, 2, ones, "StateOf finds the last stage's state of its type")
	_, _, ok = catcher.StateOf[string](c)
	assert.False(t, ok)
}

// unit writes whole units of size bytes and records the smallest dst it
// was given.
type unit struct {
	size   int
	minDst int
}

func (u *unit) MinSpace() int { return u.size }
func (u *unit) Transform(dst []byte, src io.Reader) (int, error) {
	if u.minDst == 0 || len(dst) < u.minDst {
		u.minDst = len(dst)
	}
	n, err := io.ReadFull(src, dst[:u.size])
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}

func TestMinSpaceAtChunkBoundaries(t *testing.T) {
	src := pattern(10_000)
	u := &unit{size: 7}
	c := newCatcher(t, bytes.NewReader(src), catcher.WithTransform(u), catcher.WithGrowth(catcher.Constant(10)))
	got, err := io.ReadAll(c.NewReader())
	require.NoError(t, err)
	assert.Equal(t, src, got)
	assert.GreaterOrEqual(t, u.minDst, 7, "every dst holds a whole unit")
	st := c.Stats()
	assert.Equal(t, (len(src)+6)/7, st.Chunks, "a 10-byte chunk holds one 7-byte unit")
}

// script is a transform that returns a fixed sequence of results.
type script struct {
	steps []func(dst []byte, src io.Reader) (int, error)
}

func (s *script) MinSpace() int { return 4 }
func (s *script) Transform(dst []byte, src io.Reader) (int, error) {
	if len(s.steps) == 0 {
		return 0, io.EOF
	}
	f := s.steps[0]
	s.steps = s.steps[1:]
	return f(dst, src)
}

func write(b string) func([]byte, io.Reader) (int, error) {
	return func(dst []byte, _ io.Reader) (int, error) { return copy(dst, b), nil }
}

func TestTransformContract(t *testing.T) {
	boom := errors.New("boom")
	consume := func(dst []byte, src io.Reader) (int, error) { return 0, nil }
	var waitForInput []func([]byte, io.Reader) (int, error)
	for i := 0; i < 500; i++ {
		waitForInput = append(waitForInput, func(dst []byte, src io.Reader) (int, error) {
			_, err := src.Read(dst[:1]) // consumes input, writes nothing
			return 0, err
		})
	}
	tests := []struct {
		name    string
		steps   []func([]byte, io.Reader) (int, error)
		want    string
		wantErr error
	}{
		{"wrote n", []func([]byte, io.Reader) (int, error){write("ab"), write("cd")}, "abcd", nil},
		{"bytes with EOF", []func([]byte, io.Reader) (int, error){write("ab"),
			func(dst []byte, _ io.Reader) (int, error) { return copy(dst, "cd"), io.EOF }}, "abcd", nil},
		{"bytes with error", []func([]byte, io.Reader) (int, error){write("ab"),
			func(dst []byte, _ io.Reader) (int, error) { return copy(dst, "cd"), boom }}, "abcd", boom},
		{"needs more input", append(waitForInput, write("ab")), "ab", nil},
		{"no progress", append(make([]func([]byte, io.Reader) (int, error), 0), repeat(consume, 200)...), "", io.ErrNoProgress},
		{"too many bytes", []func([]byte, io.Reader) (int, error){write("ab"),
			func(dst []byte, _ io.Reader) (int, error) { return len(dst) + 1, nil }}, "ab", catcher.ErrBadSource},
		{"negative", []func([]byte, io.Reader) (int, error){
			func(dst []byte, _ io.Reader) (int, error) { return -1, nil }}, "", catcher.ErrBadSource},
		{"panic", []func([]byte, io.Reader) (int, error){write("ab"),
			func(dst []byte, _ io.Reader) (int, error) { panic("bug") }}, "ab", catcher.ErrBadSource},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := bytes.NewReader(make([]byte, 1000))
			c := newCatcher(t, src, catcher.WithTransform(&script{steps: tc.steps}))
			got, err := io.ReadAll(c.NewReader())
			assert.Equal(t, tc.want, string(got))
			if tc.wantErr == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tc.wantErr)
			}

			src = bytes.NewReader(make([]byte, 1000))
			got, err = io.ReadAll(catcher.NewTransformReader(src, &script{steps: tc.steps}))
			assert.Equal(t, tc.want, string(got), "as a plain reader")
			if tc.wantErr == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tc.wantErr)
			}
		})
	}
}

func repeat(f func([]byte, io.Reader) (int, error), n int) []func([]byte, io.Reader) (int, error) {
	s := make([]func([]byte, io.Reader) (int, error), n)
	for i := range s {
		s[i] = f
	}
	return s
}

type panicState struct{ plusOne }

func (panicState) State() any { panic("state bug") }

func TestStatePanics(t *testing.T) {
	c := newCatcher(t, bytes.NewReader([]byte("abc")), catcher.WithTransform(panicState{}))
	_, err := io.ReadAll(c.NewReader())
	assert.ErrorIs(t, err, catcher.ErrBadSource)
}
