package transform_test

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/transform"
)

// FuzzTransforms feeds arbitrary bytes, in arbitrary read sizes and into
// arbitrary dst sizes, to every transform of subjects(). None may panic; each
// must write whole frames, as many as the input's whole frames call for, and
// end with io.EOF, or with ErrPartialFrame when the input ends inside a
// frame.
func FuzzTransforms(f *testing.F) {
	ss := subjects()
	f.Add(uint8(0), uint64(0), []byte{})
	f.Add(uint8(1), uint64(1), []byte{1, 2, 3})
	f.Add(uint8(2), uint64(2), f32(0.5, -0.25, 1e30, -1e30))
	f.Add(uint8(4), uint64(3), []byte{0, 0, 0xc0, 0x7f, 0, 0, 0x80, 0x7f, 0, 0, 0x80, 0xff}) // NaN, +Inf, -Inf
	f.Add(uint8(7), uint64(4), noise(6*4*50+5, 1))
	for i := range ss {
		f.Add(uint8(i), uint64(i), noise(1000+i, uint64(i)))
	}
	f.Fuzz(func(t *testing.T, pick uint8, seed uint64, data []byte) {
		if len(data) > 1<<15 {
			data = data[:1<<15]
		}
		s := ss[int(pick)%len(ss)]
		tr := s.make()
		rng := rand.New(rand.NewPCG(seed, 4))
		out, err := drive(t, tr, newChoppy(bytes.NewReader(data), seed, 1+rng.IntN(3*s.inFrame+64)), rng, 1+rng.IntN(2048))
		if len(data)%s.inFrame == 0 {
			require.NoError(t, err)
		} else {
			require.ErrorIs(t, err, transform.ErrPartialFrame)
		}
		require.Len(t, out, int(tr.outFrames(int64(len(data)/s.inFrame)))*tr.MinSpace(), "%s over %d bytes", s.name, len(data))
	})
}
