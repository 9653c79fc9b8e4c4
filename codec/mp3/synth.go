package mp3

import (
	"math"
	"sync"
)

// The polyphase synthesis filter bank (ISO 11172-3 2.4.3.2.2, Figure
// A.2): each time slot's 32 subband samples S are matrixed into 64 values
// V[i] = Σ S[k] cos((16 + i)(2k + 1)π/64), shifted into a 1024-value
// history, and 32 PCM samples are the sums of 16 of its values each,
// weighted by the window D of Table B.3.
//
// The matrixing is a 32-point DCT-II C[m] = Σ S[k] cos(π/32 m (k+½)),
// unfolded: V[i] = C[16+i] for i < 16, V[16] = 0, -C[48-i] up to 47,
// V[48] = -C[0], -C[i-48] above. The DCT-II is Lee's: an n-point one is
// an n/2-point one of sums and an n/2-point one of differences scaled by
// 1/(2cos(π(2i+1)/2n)), whose neighbouring outputs add up to the odd
// outputs.

// synthWindowText is the window D[i], i < 512, of ISO 11172-3 Table B.3.
// It is not yet transcribed here: until it is, synthesis gives silence
// and the decoder refuses to run (errNoTable).
var synthWindowText [512]float64

var (
	synthOnce sync.Once
	// leeFactor[n] holds 1/(2cos(π(2i+1)/2n)), i < n/2, for the n-point
	// step of the DCT-II.
	leeFactor [33][]float32
	synthD    [512]float32
)

func initSynth() {
	synthOnce.Do(func() {
		for n := 2; n <= 32; n *= 2 {
			f := make([]float32, n/2)
			for i := range f {
				f[i] = float32(1 / (2 * math.Cos(math.Pi*float64(2*i+1)/float64(2*n))))
			}
			leeFactor[n] = f
		}
		for i, d := range synthWindowText {
			synthD[i] = float32(d)
		}
	})
}

// synthWindowReady reports whether the window's data is present.
func synthWindowReady() bool {
	for _, d := range synthWindowText {
		if d != 0 {
			return true
		}
	}
	return false
}

// dct2 computes the DCT-II y[k] = Σ x[n] cos(π/n (n+½) k) of x in place,
// for len(x) a power of two up to 32, with tmp (as long) as scratch.
func dct2(x, tmp []float32) {
	n := len(x)
	if n == 1 {
		return
	}
	h := n / 2
	f := leeFactor[n]
	for i := range h {
		a, b := x[i], x[n-1-i]
		tmp[i] = a + b
		tmp[h+i] = (a - b) * f[i]
	}
	dct2(tmp[:h], x[:h])
	dct2(tmp[h:], x[h:])
	for k := range h - 1 {
		x[2*k] = tmp[k]
		x[2*k+1] = tmp[h+k] + tmp[h+k+1]
	}
	x[n-2] = tmp[h-1]
	x[n-1] = tmp[n-1]
}

// matrix computes V (64 values) of one time slot's subband samples s.
func matrix(s *[32]float32, v []float32) {
	var c, tmp [32]float32
	c = *s
	dct2(c[:], tmp[:])
	for i := range 16 {
		v[i] = c[16+i]
	}
	v[16] = 0
	for i := 17; i < 48; i++ {
		v[i] = -c[48-i]
	}
	v[48] = -c[0]
	for i := 49; i < 64; i++ {
		v[i] = -c[i-48]
	}
}

// synth is one channel's synthesis filter bank state.
type synth struct {
	v   [1024]float32 // V history: the newest 64 at off
	off int
}

// slot filters one time slot of 32 subband samples into 32 PCM samples,
// out[0], out[stride], ....
func (f *synth) slot(s *[32]float32, out []float32, stride int) {
	f.off = (f.off - 64) & 1023
	matrix(s, f.v[f.off:f.off+64])
	for j := range 32 {
		var sum float32
		for i := range 8 {
			sum += f.v[(f.off+128*i+j)&1023]*synthD[64*i+j] + f.v[(f.off+128*i+96+j)&1023]*synthD[64*i+32+j]
		}
		out[j*stride] = sum
	}
}

// reset clears the filter's history.
func (f *synth) reset() { *f = synth{} }
