package mp3

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func randVec(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// near checks that got is want within tol, relative to want's largest
// magnitude.
func near(t *testing.T, want []float64, got []float32, tol float64, msg string) {
	t.Helper()
	require.Len(t, got, len(want))
	scale := 1e-9
	for _, w := range want {
		scale = max(scale, math.Abs(w))
	}
	for i := range want {
		if d := math.Abs(want[i] - float64(got[i])); d > tol*scale {
			t.Fatalf("%s: value %d is %g, want %g (off by %.2g of the largest)", msg, i, got[i], want[i], d/scale)
		}
	}
}

func TestDCT(t *testing.T) {
	initIMDCT()
	initSynth()
	rng := rand.New(rand.NewPCG(9, 10))
	for range 20 {
		x9 := randVec(rng, 9)
		var in9, out9 [9]float32
		copy(in9[:], x9)
		dct2x9(&in9, &out9)
		want := make([]float64, 9)
		for k := range 9 {
			for n := range 9 {
				want[k] += float64(x9[n]) * math.Cos(math.Pi/9*(float64(n)+0.5)*float64(k))
			}
		}
		near(t, want, out9[:], 1e-6, "9-point DCT-II")

		x18 := randVec(rng, 18)
		var in18, out18 [18]float32
		copy(in18[:], x18)
		dct4x18(&in18, &out18)
		want = make([]float64, 18)
		for k := range 18 {
			for n := range 18 {
				want[k] += float64(x18[n]) * math.Cos(math.Pi/18*(float64(n)+0.5)*(float64(k)+0.5))
			}
		}
		near(t, want, out18[:], 1e-5, "18-point DCT-IV")

		x32 := randVec(rng, 32)
		got := append([]float32(nil), x32...)
		dct32((*[32]float32)(got))
		want = make([]float64, 32)
		for k := range 32 {
			for n := range 32 {
				want[k] += float64(x32[n]) * math.Cos(math.Pi/32*(float64(n)+0.5)*float64(k))
			}
		}
		near(t, want, got, 1e-5, "32-point DCT-II")
	}
}

// naiveIMDCT is the standard's formula: n outputs of n/2 lines.
func naiveIMDCT(x []float32, n int) []float64 {
	out := make([]float64, n)
	for i := range n {
		for k := range n / 2 {
			out[i] += float64(x[k]) * math.Cos(math.Pi/float64(2*n)*float64(2*i+1+n/2)*float64(2*k+1))
		}
	}
	return out
}

// naiveSubband is one subband's granule by the standard's formulas: the
// 36 windowed samples of its IMDCT(s).
func naiveSubband(x []float32, blockType int) []float64 {
	z := make([]float64, 36)
	if blockType != blockShort {
		y := naiveIMDCT(x, 36)
		for i := range 36 {
			z[i] = y[i] * float64(window[blockType][i])
		}
		return z
	}
	for w := range 3 {
		in := make([]float32, 6)
		for k := range 6 {
			in[k] = x[3*k+w]
		}
		y := naiveIMDCT(in, 12)
		for i := range 12 {
			z[6+6*w+i] += y[i] * math.Sin(math.Pi/12*(float64(i)+0.5))
		}
	}
	return z
}

func TestWindows(t *testing.T) {
	initIMDCT()
	// The standard's windows, sample by sample at their joins.
	assert.InDelta(t, math.Sin(math.Pi/36*0.5), window[blockLong][0], 1e-7)
	assert.Equal(t, float32(1), window[blockStart][18])
	assert.Equal(t, float32(1), window[blockStart][23])
	assert.InDelta(t, math.Sin(math.Pi/12*6.5), window[blockStart][24], 1e-7)
	assert.Zero(t, window[blockStart][30])
	assert.Zero(t, window[blockStop][5])
	assert.InDelta(t, math.Sin(math.Pi/12*0.5), window[blockStop][6], 1e-7)
	assert.Equal(t, float32(1), window[blockStop][17])
	assert.InDelta(t, math.Sin(math.Pi/36*18.5), window[blockStop][18], 1e-7)
	// Princen-Bradley: a window's halves overlap-add to unity power.
	for i := range 18 {
		w := float64(window[blockLong][i])
		v := float64(window[blockLong][i+18])
		assert.InDelta(t, 1, w*w+v*v, 1e-6)
	}
}

func TestIMDCT(t *testing.T) {
	initIMDCT()
	rng := rand.New(rand.NewPCG(11, 12))
	for _, bt := range []int{blockLong, blockStart, blockShort, blockStop} {
		var overlap, out [18]float32
		prev := make([]float64, 18)
		for round := range 3 {
			x := randVec(rng, 18)
			var in [18]float32
			copy(in[:], x)
			if bt == blockShort {
				imdct12x3(&in, &overlap, &out)
			} else {
				imdct36(&in, &window[bt], &overlap, &out)
			}
			z := naiveSubband(x, bt)
			want := make([]float64, 18)
			for i := range 18 {
				want[i] = z[i] + prev[i]
			}
			near(t, want, out[:], 1e-5, "block type output")
			near(t, z[18:], overlap[:], 1e-5, "block type overlap")
			prev = z[18:]
			_ = round
		}
	}
}

// hybrid matches the standard's steps done one by one (reorder, alias
// reduction, IMDCT, windowing, overlap, frequency inversion), granule
// after granule, through every block type and mixed blocks.
func TestHybrid(t *testing.T) {
	initIMDCT()
	rng := rand.New(rand.NewPCG(13, 14))
	for _, rate := range []int{44100, 22050, 8000} {
		b := bandsFor(rate)
		var overlap [32][18]float32
		prev := make([][]float64, 32)
		for sb := range prev {
			prev[sb] = make([]float64, 18)
		}
		for _, g := range []granuleInfo{
			{blockType: blockLong}, {blockType: blockStart}, {blockType: blockShort},
			{blockType: blockShort, mixed: true}, {blockType: blockStop}, {blockType: blockLong},
		} {
			nz := 576
			if g.blockType == blockLong {
				nz = 2 * rng.IntN(289) // the lines above are zero
			}
			var xr [576]float32
			copy(xr[:nz], randVec(rng, nz))
			ref := xr
			// Reorder the short bands: line j of window w of a band to
			// 3j+w.
			longSB, first := 32, 13
			if g.blockType == blockShort {
				longSB, first = 0, 0
				if g.mixed {
					longSB = 2
					_, first = mixedBands(b)
				}
			}
			coded := ref
			for sfb := first; sfb < 13; sfb++ {
				at, width := 3*b.short[sfb], b.short[sfb+1]-b.short[sfb]
				for w := range 3 {
					for j := range width {
						ref[at+3*j+w] = coded[at+w*width+j]
					}
				}
			}
			for sb := 1; sb < longSB; sb++ {
				for i := range 8 {
					c := aliasCoef[i]
					cs, ca := 1/math.Sqrt(1+c*c), c/math.Sqrt(1+c*c)
					a, bb := float64(ref[18*sb-1-i]), float64(ref[18*sb+i])
					ref[18*sb-1-i] = float32(a*cs - bb*ca)
					ref[18*sb+i] = float32(bb*cs + a*ca)
				}
			}
			var out [18][32]float32
			hybrid(&xr, nz, &g, b, &overlap, &out)
			for sb := range 32 {
				bt := g.blockType
				if sb < longSB && g.mixed {
					bt = blockLong
				} else if sb >= longSB {
					bt = blockShort
				}
				z := naiveSubband(ref[18*sb:18*sb+18], bt)
				want := make([]float64, 18)
				got := make([]float32, 18)
				for i := range 18 {
					want[i] = z[i] + prev[sb][i]
					if sb%2 == 1 && i%2 == 1 {
						want[i] = -want[i]
					}
					got[i] = out[i][sb]
				}
				near(t, want, got, 1e-4, "subband")
				prev[sb] = z[18:]
			}
		}
	}
}

// The matrixing gives the standard's V[i] = Σ S[k] cos((16+i)(2k+1)π/64).
func TestMatrix(t *testing.T) {
	initSynth()
	rng := rand.New(rand.NewPCG(15, 16))
	for range 10 {
		var s [32]float32
		copy(s[:], randVec(rng, 32))
		v := make([]float32, 64)
		matrix(&s, v)
		want := make([]float64, 64)
		for i := range 64 {
			for k := range 32 {
				want[i] += float64(s[k]) * math.Cos(float64((16+i)*(2*k+1))*math.Pi/64)
			}
		}
		near(t, want, v, 2e-5, "V")
	}
}

// One time slot after another, the filter bank gives what the standard's
// algorithm (shift V by 64, matrix, build U, window, sum) gives, with
// any window D.
func TestSynthSlot(t *testing.T) {
	initSynth()
	saved := synthD
	defer func() { synthD = saved; arrangeSynthWindow() }()
	rng := rand.New(rand.NewPCG(17, 18))
	for i := range synthD {
		synthD[i] = float32(rng.NormFloat64())
	}
	arrangeSynthWindow()
	var f synth
	V := make([]float64, 1024)
	out := make([]float32, 64)
	for slot := range 40 {
		var s [32]float32
		copy(s[:], randVec(rng, 32))
		f.slot(&s, out[1:], 2)
		copy(V[64:], V[:960])
		for i := range 64 {
			V[i] = 0
			for k := range 32 {
				V[i] += float64(s[k]) * math.Cos(float64((16+i)*(2*k+1))*math.Pi/64)
			}
		}
		want := make([]float64, 32)
		got := make([]float32, 32)
		for j := range 32 {
			for i := range 8 {
				want[j] += V[128*i+j]*float64(synthD[64*i+j]) + V[128*i+96+j]*float64(synthD[64*i+32+j])
			}
			got[j] = out[1+2*j]
		}
		near(t, want, got, 1e-4, "slot")
		_ = slot
	}
}
