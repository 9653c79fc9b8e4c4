package mp3

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The window as transcribed: every value a multiple of 2^-16, and, signs
// undone by blocks of 64, a smooth curve symmetric about D[256]: its
// fourth differences are no larger than rounding to 2^-16 makes them, so
// that no value is off by more than a few units of 2^-16.
func TestSynthWindow(t *testing.T) {
	initSynth()
	for i, d := range synthWindowHalf {
		u := d * 65536
		require.InDelta(t, math.Round(u), u, 0.01, "D[%d] = %v is not a multiple of 2^-16", i, d)
	}
	h := make([]float64, 512)
	for i := range 512 {
		h[i] = float64(synthD[i])
		if i/64%2 == 1 {
			h[i] = -h[i]
		}
	}
	for i := 1; i < 256; i++ {
		require.Equal(t, h[i], h[512-i], "symmetry at %d", i)
	}
	lsb := 1.0 / 65536
	for i := 2; i+2 < 512; i++ {
		d4 := h[i-2] - 4*h[i-1] + 6*h[i] - 4*h[i+1] + h[i+2]
		require.LessOrEqual(t, math.Abs(d4), 8*lsb+1e-9, "D[%d] is off the curve", i)
	}
	assert.InDelta(t, 1.144989014, synthD[256], 1e-7)
}

// The polyphase analysis filter bank of ISO 11172-3 Annex C (window
// C = D/32) followed by the synthesis filter bank gives back its input,
// delayed by 481 samples, to within the filter banks' design error.
func TestFilterbankReconstruction(t *testing.T) {
	initSynth()
	rng := rand.New(rand.NewPCG(33, 34))
	const n = 32 * 400
	in := make([]float64, n)
	for i := range in {
		in[i] = 0.5 * math.Sin(2*math.Pi*float64(i)*float64(i)/(2*n)) // a sweep over the whole band
		in[i] += 0.1 * rng.NormFloat64()
	}
	var x [512]float64
	var f synth
	out := make([]float32, n)
	for s := 0; s < n; s += 32 {
		copy(x[32:], x[:480])
		for i := range 32 {
			x[31-i] = in[s+i]
		}
		var y [64]float64
		for i := range 64 {
			for j := range 8 {
				y[i] += float64(synthD[i+64*j]) / 32 * x[i+64*j]
			}
		}
		var sub [32]float32
		for k := range 32 {
			var v float64
			for i := range 64 {
				v += math.Cos(float64((2*k+1)*(i-16))*math.Pi/64) * y[i]
			}
			sub[k] = float32(v)
		}
		f.slot(&sub, out[s:], 1)
	}
	const delay = 481
	var sig, noise float64
	for i := 2048; i < n; i++ {
		d := float64(out[i]) - in[i-delay]
		sig += in[i-delay] * in[i-delay]
		noise += d * d
	}
	snr := 10 * math.Log10(sig/noise)
	t.Logf("reconstruction SNR %.1f dB", snr)
	assert.Greater(t, snr, 80.0)
}

// The vector code of the synthesis window gives the Go code's bits, on V
// histories of every kind of value (large, tiny, subnormal, zero, of
// either sign), at every stride the decoder uses.
func TestSynthWindowVectorIsGo(t *testing.T) {
	initSynth()
	rng := rand.New(rand.NewPCG(5, 6))
	var v [1024]float32
	for round := range 200 {
		for i := range v {
			switch rng.IntN(8) {
			case 0:
				v[i] = 0
			case 1:
				v[i] = float32(rng.NormFloat64() * 1e-40)
			case 2:
				v[i] = float32(rng.NormFloat64() * 1e6)
			default:
				v[i] = float32(rng.NormFloat64())
			}
		}
		var o [32]float32
		synthWindowVector(&v, &o)
		for _, stride := range []int{1, 2} {
			want := make([]float32, 32*stride)
			synthWindow(&v, want, stride)
			for j := range 32 {
				require.Equal(t, math.Float32bits(want[j*stride]), math.Float32bits(o[j]), "round %d, sample %d", round, j)
			}
		}
	}
}
