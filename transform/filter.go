package transform

import (
	"math"
	"strconv"
)

// Quality selects a resampler preset: the length and window of its filter.
// The table in the package documentation gives each preset's measured
// figures.
//
// The zero Quality is Medium.
type Quality int

const (
	// Fast is for speech and previews: 16 taps per phase.
	Fast Quality = iota + 1
	// Medium is for music played to listeners: 40 taps per phase.
	Medium
	// High is for material that is processed further: 76 taps per phase,
	// 100 dB of rejection.
	High
)

// String returns "fast", "medium" or "high".
func (q Quality) String() string {
	switch q {
	case Fast:
		return "fast"
	case 0, Medium:
		return "medium"
	case High:
		return "high"
	}
	return "Quality(" + strconv.Itoa(int(q)) + ")"
}

// preset is the design of one Quality. The filter is a Kaiser-windowed sinc
// whose cutoff (its -6 dB point) is the lower of the two Nyquist
// frequencies; pass and stop, as fractions of that Nyquist frequency, are
// where the design keeps its ripple and its rejection (measured, in the
// package's tests).
type preset struct {
	taps   int     // taps per phase when not downsampling; a multiple of 4
	beta   float64 // Kaiser window's beta
	phases int     // phases of the interpolated bank, for ratios with too many exact phases
	pass   float64 // passband edge
	stop   float64 // stopband edge
}

var presets = [...]preset{
	Fast:   {taps: 16, beta: 6, phases: 64, pass: 0.70, stop: 1.24},
	Medium: {taps: 40, beta: 9, phases: 256, pass: 0.85, stop: 1.15},
	High:   {taps: 76, beta: 10.8, phases: 1024, pass: 0.907, stop: 1.09},
}

// maxBank bounds the coefficients of an exact filter bank (one phase for
// each output phase): 2 MiB of float32. A ratio that needs more uses the
// preset's interpolated bank.
const maxBank = 1 << 19

// kernel is the continuous impulse response of the resampling filter, in
// units of input frames: a sinc with cutoff s (as a fraction of the input
// Nyquist frequency) under a Kaiser window of half-width half.
type kernel struct {
	s, half, beta, i0beta float64
}

func newKernel(s float64, half int, beta float64) kernel {
	return kernel{s: s, half: float64(half), beta: beta, i0beta: besselI0(beta)}
}

func (k kernel) at(t float64) float64 {
	r := t / k.half
	if r <= -1 || r >= 1 {
		return 0
	}
	return k.s * sinc(k.s*t) * besselI0(k.beta*math.Sqrt(1-r*r)) / k.i0beta
}

// sinc is sin(pi x)/(pi x), exactly 0 at the nonzero integers, so that an
// upsampler by an integer factor passes the input samples through.
func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	if x == math.Trunc(x) {
		return 0
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// besselI0 is the modified Bessel function of the first kind, order 0, by
// its power series (which converges fast for the betas used here).
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	q := x * x / 4
	for k := 1; k < 500; k++ {
		term *= q / float64(k*k)
		sum += term
		if term < sum*1e-17 {
			break
		}
	}
	return sum
}

// makeBank returns phases filter phases of taps coefficients each (plus one
// more when extra is set, for interpolation): phase q holds the kernel at
// q/phases + taps/2 - 1 - j for j in [0, taps), each phase scaled to a DC
// gain of exactly 1.
func makeBank(k kernel, taps, phases int, extra bool) []float32 {
	n := phases
	if extra {
		n++
	}
	bank := make([]float32, n*taps)
	half := taps / 2
	vals := make([]float64, taps)
	for q := range n {
		off := float64(q) / float64(phases)
		row := bank[q*taps : (q+1)*taps]
		var sum float64
		for j := range taps {
			vals[j] = k.at(off + float64(half-1-j))
			sum += vals[j]
		}
		for j, v := range vals {
			row[j] = float32(v / sum)
		}
	}
	return bank
}
