package transform

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// convertF32ToS16Reference is the float to 16-bit conversion as process
// does it for every other pair of encodings, sample by sample: the
// reference the loops written for F32LE to S16LE must agree with, to the
// bit and in the dither drawn.
func convertF32ToS16Reference(dst, src []byte, t *tpdf) {
	for i := range len(src) / 4 {
		x := readSample(F32LE, src[4*i:]) * scale16
		if t != nil && x != math.Trunc(x) {
			x += t.next()
		}
		putS16(dst[2*i:], quantizeReference(x, -scale16, scale16-1))
	}
}

// quantizeReference is quantize with math.RoundToEven.
func quantizeReference(x float64, lo, hi int32) int32 {
	switch {
	case x != x:
		return 0
	case x >= float64(hi):
		return hi
	case x <= float64(lo):
		return lo
	}
	return int32(math.RoundToEven(x))
}

// quantize gives math.RoundToEven's integer, clipped, for every bound an
// encoding has and values of every kind: ties (halves, odd and even),
// just off them, within one step of the bounds, beyond them, huge,
// infinite, NaN, negative zero and subnormal.
func TestQuantizeIsRoundToEven(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	bounds := [][2]int32{{-scale16, scale16 - 1}, {-scale24, scale24 - 1}, {math.MinInt32, math.MaxInt32}}
	special := []float64{0, math.Copysign(0, -1), 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, math.Nextafter(0.5, 1), math.Nextafter(0.5, 0),
		5e-324, -5e-324, math.Inf(1), math.Inf(-1), math.NaN(), 1e300, -1e300}
	for _, b := range bounds {
		lo, hi := float64(b[0]), float64(b[1])
		xs := append([]float64{lo, hi, lo - 0.5, hi + 0.5, lo + 0.5, hi - 0.5, math.Nextafter(hi, 0), math.Nextafter(lo, 0)}, special...)
		for range 20000 {
			x := (rng.Float64()*2 - 1) * hi
			xs = append(xs, x, math.Floor(x)+0.5)
		}
		for _, x := range xs {
			require.Equal(t, quantizeReference(x, b[0], b[1]), quantize(x, b[0], b[1]), "%v in [%d, %d]", x, b[0], b[1])
		}
	}
}

// The F32LE to S16LE loops give the bytes of the general conversion, with
// and without dither, on samples of every kind: between steps, on steps
// (silence among them), beyond full scale, huge, infinite, NaN, negative
// zero and subnormal; and the dither generator ends in the same state.
func TestConvertF32ToS16MatchesReference(t *testing.T) {
	special := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 0.5, -0.5, 1.0 / scale16, -1.0 / scale16,
		0.5 / scale16, -0.5 / scale16, 1.5 / scale16, 2.5 / scale16, 32767.0 / scale16, 32767.5 / scale16,
		1e-40, -1e-40, 2, -2, 1 << 20, 1 << 40, -(1 << 40), 1 << 60, float32(math.MaxFloat32),
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	rng := rand.New(rand.NewPCG(1, 2))
	var samples []float32
	for range 20000 {
		switch rng.IntN(4) {
		case 0:
			samples = append(samples, special[rng.IntN(len(special))])
		case 1:
			samples = append(samples, float32(rng.IntN(1<<17)-1<<16)/scale16) // a step, or beyond the range
		default:
			samples = append(samples, float32(rng.NormFloat64()*0.3))
		}
	}
	src := make([]byte, 4*len(samples))
	for i, v := range samples {
		putF32(src[4*i:], v)
	}
	for _, dither := range []bool{false, true} {
		var opts []ConvertOption
		if dither {
			opts = append(opts, WithDither(7))
		}
		c, err := NewConvert(Format{Rate: 48000, Channels: 2, Encoding: F32LE}, S16LE, opts...)
		require.NoError(t, err)
		got := make([]byte, 2*len(samples))
		c.process(got, src)

		want := make([]byte, 2*len(samples))
		var ref *tpdf
		if dither {
			tp := newTPDF(7)
			ref = &tp
		}
		convertF32ToS16Reference(want, src, ref)
		require.Equal(t, want, got, "dither %v", dither)
		if dither {
			assert.Equal(t, ref.next(), c.tpdf.next(), "the dither drawn as often")
		}
	}
}
