package transform_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/catcher"
)

// s16 returns the samples as s16le bytes.
func s16(v ...int) []byte {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(int16(x)))
	}
	return b
}

// s24 returns the samples as s24le bytes.
func s24(v ...int) []byte {
	b := make([]byte, 3*len(v))
	for i, x := range v {
		b[3*i], b[3*i+1], b[3*i+2] = byte(x), byte(x>>8), byte(x>>16)
	}
	return b
}

// f32 returns the samples as f32le bytes.
func f32(v ...float64) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(x)))
	}
	return b
}

// cat joins byte slices.
func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

// run runs t over input as a plain reader and returns its output and the
// error that ended it (nil for a clean end).
func run(tr catcher.Transform, input []byte) ([]byte, error) {
	return io.ReadAll(catcher.NewTransformReader(bytes.NewReader(input), tr))
}

// runAll runs t over input as a plain reader and returns all its output.
func runAll(t testing.TB, tr catcher.Transform, input []byte) []byte {
	t.Helper()
	out, err := io.ReadAll(catcher.NewTransformReader(bytes.NewReader(input), tr))
	require.NoError(t, err)
	return out
}

// noise returns n bytes of a fixed pseudo-random stream.
func noise(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// choppy reads from r in pieces of random sizes from 0 to max bytes.
type choppy struct {
	r   io.Reader
	rng *rand.Rand
	max int
}

func newChoppy(r io.Reader, seed uint64, max int) *choppy {
	return &choppy{r: r, rng: rand.New(rand.NewPCG(seed, 2)), max: max}
}

func (c *choppy) Read(p []byte) (int, error) {
	n := c.rng.IntN(c.max + 1)
	if n == 0 && len(p) > 0 && c.rng.IntN(4) > 0 {
		n = 1
	}
	return c.r.Read(p[:min(n, len(p))])
}
