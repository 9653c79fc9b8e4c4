package mp3

import (
	"math"
	"math/rand/v2"
	"testing"
)

// isFactors are the left and right factors of an intensity position, by
// the standard's formulas.
func isFactors(lsf bool, pos, scale int) (float64, float64) {
	if !lsf {
		if pos == 6 {
			return 1, 0
		}
		r := math.Tan(float64(pos) * math.Pi / 12)
		return r / (1 + r), 1 / (1 + r)
	}
	io := math.Pow(2, -0.25*float64(scale+1))
	switch {
	case pos == 0:
		return 1, 1
	case pos%2 == 1:
		return math.Pow(io, float64(pos+1)/2), 1
	default:
		return 1, math.Pow(io, float64(pos)/2)
	}
}

func TestStereo(t *testing.T) {
	initStereo()
	b := bandsFor(44100)
	rng := rand.New(rand.NewPCG(19, 20))
	type bandKind int
	const (
		ms bandKind = iota
		plain
		intensity
	)
	for _, tc := range []struct {
		name   string
		ms, is bool
		lsf    bool
		short  bool
		mixed  bool
		// The right channel is non-zero below long band rightLong and,
		// in each window, below short band rightEnd[w].
		rightLong int
		rightEnd  [3]int
	}{
		{name: "mid/side", ms: true, rightLong: 22},
		{name: "intensity", is: true, rightLong: 5},
		{name: "intensity and mid/side", ms: true, is: true, rightLong: 9},
		{name: "intensity, no right channel", is: true, rightLong: 0},
		{name: "LSF intensity", is: true, lsf: true, rightLong: 7},
		{name: "LSF intensity and mid/side", ms: true, is: true, lsf: true, rightLong: 3},
		{name: "short intensity", is: true, short: true, rightEnd: [3]int{4, 0, 11}},
		{name: "short intensity and mid/side", ms: true, is: true, short: true, rightEnd: [3]int{13, 2, 6}},
		{name: "mixed, right in long bands only", ms: true, is: true, short: true, mixed: true, rightLong: 5, rightEnd: [3]int{3, 3, 3}},
		{name: "mixed, right in a short band", ms: true, is: true, short: true, mixed: true, rightLong: 4, rightEnd: [3]int{3, 5, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &layer3{mode: frameMode{mode: modeJoint, ms: tc.ms, is: tc.is, lsf: tc.lsf, channels: 2}}
			g := &l.si.gr[0][1]
			longEnd, shortStart := 22, 13
			if tc.short {
				g.blockType, g.mixed = blockShort, tc.mixed
				longEnd, shortStart = 0, 0
				if tc.mixed {
					longEnd, shortStart = mixedBands(b)
				}
			}
			sf := &l.sf[1]
			sf.isScale = rng.IntN(2)
			top := uint8(7)
			if tc.lsf {
				top = 15
			}
			// Positions: every value, the "none" one included.
			for sfb := range 22 {
				sf.l[sfb] = uint8(rng.IntN(int(top) + 1))
				sf.isMaxL[sfb] = top
			}
			sf.l[3], sf.l[10] = top, top
			if !tc.lsf {
				sf.l[12] = 12 // MPEG-1's 4-bit factors go past 7: none either
			}
			for sfb := range 13 {
				for w := range 3 {
					sf.s[sfb][w] = uint8(rng.IntN(int(top) + 1))
				}
				sf.isMaxS[sfb] = top
			}
			sf.s[5][1] = top
			// where is line i: a long band, or a short band and window
			where := func(i int) (long bool, sfb, w int) {
				if i < b.long[longEnd] {
					for b.long[sfb+1] <= i {
						sfb++
					}
					return true, sfb, 0
				}
				sfb = shortStart
				for 3*b.short[sfb+1] <= i {
					sfb++
				}
				return false, sfb, (i - 3*b.short[sfb]) / (b.short[sfb+1] - b.short[sfb])
			}
			line := func(i int) bool { // right channel non-zero at line i?
				long, sfb, w := where(i)
				if long {
					return sfb < tc.rightLong
				}
				return sfb < tc.rightEnd[w]
			}
			longIS := true
			for w := range 3 {
				if tc.short && tc.rightEnd[w] > shortStart {
					longIS = false
				}
			}
			var kind [576]bandKind
			var pos [576]int
			for i := range 576 {
				long, sfb, w := where(i)
				var p uint8
				if long {
					p = sf.l[min(sfb, 20)]
				} else {
					p = sf.s[min(sfb, 11)][w]
				}
				switch {
				case !tc.is || line(i) || p >= top || long && !longIS:
					kind[i] = plain
					if tc.ms {
						kind[i] = ms
					}
				default:
					kind[i], pos[i] = intensity, int(p)
				}
			}
			for i := range 576 {
				l.xr[0][i] = float32(rng.NormFloat64())
				if line(i) {
					l.xr[1][i] = float32(rng.NormFloat64())
				}
			}
			// The last line of each part of the right channel is
			// non-zero, so that the bounds are where the case says.
			in := l.xr
			l.nz = [2]int{576, 576}
			l.stereo(0, b)
			for i := range 576 {
				a, c := float64(in[0][i]), float64(in[1][i])
				var wl, wr float64
				switch kind[i] {
				case plain:
					wl, wr = a, c
				case ms:
					wl, wr = (a+c)/math.Sqrt2, (a-c)/math.Sqrt2
				case intensity:
					kl, kr := isFactors(tc.lsf, pos[i], sf.isScale)
					wl, wr = a*kl, a*kr
				}
				if math.Abs(wl-float64(l.xr[0][i])) > 1e-5 || math.Abs(wr-float64(l.xr[1][i])) > 1e-5 {
					t.Fatalf("line %d (kind %d, position %d): got %g, %g; want %g, %g", i, kind[i], pos[i], l.xr[0][i], l.xr[1][i], wl, wr)
				}
			}
		})
	}
}
