package transform

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The vector code gives the sums of the Go code, up to rounding: within
// 1e-6 of the sum of the products' magnitudes, over every length the
// filters use and every alignment of the history.
func TestDotVectorAgreesWithGo(t *testing.T) {
	if !useVector {
		t.Skip("no vector code on this machine")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	mag := func(c, x []float32) float64 {
		var m float64
		for i := range c {
			m += math.Abs(float64(c[i]) * float64(x[i]))
		}
		return m
	}
	a, b := random(1100), random(1100)
	for n := 0; n <= 1024; n += 4 {
		c := random(n)
		for off := range 9 {
			x, y := a[off:off+n], b[off:off+n]
			tol := 1e-6*max(mag(c, x), mag(c, y)) + 1e-30
			assert.InDelta(t, dotGo(c, x), dotVector(c, x), tol, "dot, %d taps at %d", n, off)
			s, u := dot2Go(c, x, y)
			sv, uv := dot2Vector(c, x, y)
			assert.InDelta(t, s, sv, tol, "dot2 first channel, %d taps at %d", n, off)
			assert.InDelta(t, u, uv, tol, "dot2 second channel, %d taps at %d", n, off)
		}
	}
}

// dot2PairVector gives the bits of two dot2Vector calls, over every
// length the filters use and every alignment of the history.
func TestDot2PairVectorIsTwoDot2Vector(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	random := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	a, b := random(1100), random(1100)
	for n := 0; n <= 1024; n += 4 {
		c, d := random(n), random(n)
		for off := range 9 {
			s, u := dot2Vector(c, a[off:off+n], b[off:off+n])
			v, w := dot2Vector(d, a[off+3:off+3+n], b[off+3:off+3+n])
			ps, pu, pv, pw := dot2PairVector(c, a[off:off+n], b[off:off+n], d, a[off+3:off+3+n], b[off+3:off+3+n])
			require.Equal(t, [4]uint32{math.Float32bits(s), math.Float32bits(u), math.Float32bits(v), math.Float32bits(w)},
				[4]uint32{math.Float32bits(ps), math.Float32bits(pu), math.Float32bits(pv), math.Float32bits(pw)}, "%d taps at %d", n, off)
		}
	}
}

// A Resampler gives the same output, up to rounding, whichever code runs
// its sums.
func TestResamplerVectorAgreesWithGo(t *testing.T) {
	if !useVector {
		t.Skip("no vector code on this machine")
	}
	cases := []struct {
		name    string
		in      Format
		outRate int
		q       Quality
	}{
		{"44.1k to 48k stereo high", Format{Rate: 44100, Channels: 2, Encoding: F32LE}, 48000, High},
		{"48k to 16k mono high", Format{Rate: 48000, Channels: 1, Encoding: F32LE}, 16000, High},
		{"22.05k to 48k 3 ch medium", Format{Rate: 22050, Channels: 3, Encoding: F32LE}, 48000, Medium},
		{"44.1k to 48001 stereo fast", Format{Rate: 44100, Channels: 2, Encoding: F32LE}, 48001, Fast},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			frames := tc.in.Rate / 4
			in := make([]byte, 4*tc.in.Channels*frames)
			rng := rand.New(rand.NewPCG(3, 4))
			for i := range len(in) / 4 {
				v := 0.5*math.Sin(float64(i)/7) + 0.3*(rng.Float64()*2-1)
				binary.LittleEndian.PutUint32(in[4*i:], math.Float32bits(float32(v)))
			}
			vec := resampleAll(t, tc.in, tc.outRate, tc.q, in)
			useVector = false
			defer func() { useVector = true }()
			gen := resampleAll(t, tc.in, tc.outRate, tc.q, in)
			require.Len(t, vec, len(gen))
			var worst float64
			for i := 0; i < len(gen); i += 4 {
				g := math.Float32frombits(binary.LittleEndian.Uint32(gen[i:]))
				v := math.Float32frombits(binary.LittleEndian.Uint32(vec[i:]))
				worst = max(worst, math.Abs(float64(g)-float64(v)))
			}
			assert.LessOrEqual(t, worst, 1e-6, "largest difference")
		})
	}
}

func resampleAll(t *testing.T, in Format, outRate int, q Quality, b []byte) []byte {
	t.Helper()
	r, err := NewResampler(in, outRate, q)
	require.NoError(t, err)
	src := bytes.NewReader(b)
	var out []byte
	dst := make([]byte, 4096)
	for {
		n, err := r.Transform(dst, src)
		out = append(out, dst[:n]...)
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
	}
}
