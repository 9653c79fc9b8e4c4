package mp3

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeFactors writes n factors of w bits, counting 1, 2, 3... (modulo
// 1<<w), and returns them.
func writeFactors(bw *bitWriter, next *int, n, w int) []uint8 {
	var out []uint8
	for range n {
		*next++
		v := uint8(0)
		if w > 0 {
			v = uint8(*next % (1 << w))
		}
		bw.put(uint32(v), w)
		out = append(out, v)
	}
	return out
}

func TestScalefacsV1(t *testing.T) {
	b := bandsFor(44100)
	for sfc, slen := range slenV1 {
		s1, s2 := slen[0], slen[1]
		t.Run("long", func(t *testing.T) {
			var w bitWriter
			k := 0
			want := append(writeFactors(&w, &k, 11, s1), writeFactors(&w, &k, 10, s2)...)
			g := granuleInfo{scalefacCompress: sfc}
			var sf scalefacs
			r := bitReader{b: w.b}
			readScalefacsV1(&r, &g, &[4]bool{}, 0, b, &sf)
			assert.Equal(t, 11*s1+10*s2, r.pos, "compress %d", sfc)
			assert.Equal(t, want, sf.l[:21])
			assert.Zero(t, sf.l[21])
			// Granule 1 takes groups 0 and 2 (bands 0-5, 11-15) from
			// granule 0.
			var w1 bitWriter
			k = 100
			g1 := writeFactors(&w1, &k, 5, s1)
			g3 := writeFactors(&w1, &k, 5, s2)
			r = bitReader{b: w1.b}
			readScalefacsV1(&r, &g, &[4]bool{true, false, true, false}, 1, b, &sf)
			assert.Equal(t, 5*s1+5*s2, r.pos)
			assert.Equal(t, want[:6], sf.l[:6])
			assert.Equal(t, g1, sf.l[6:11])
			assert.Equal(t, want[11:16], sf.l[11:16])
			assert.Equal(t, g3, sf.l[16:21])
		})
		t.Run("short", func(t *testing.T) {
			var w bitWriter
			k := 0
			want := append(writeFactors(&w, &k, 18, s1), writeFactors(&w, &k, 18, s2)...)
			g := granuleInfo{scalefacCompress: sfc, blockType: blockShort}
			var sf scalefacs
			r := bitReader{b: w.b}
			// scfsi is not used with short blocks.
			readScalefacsV1(&r, &g, &[4]bool{true, true, true, true}, 1, b, &sf)
			assert.Equal(t, 18*(s1+s2), r.pos)
			for sfb := range 12 {
				assert.Equal(t, want[3*sfb:3*sfb+3], sf.s[sfb][:], "band %d", sfb)
			}
			assert.Zero(t, sf.s[12])
		})
		t.Run("mixed", func(t *testing.T) {
			var w bitWriter
			k := 0
			long := writeFactors(&w, &k, 8, s1)
			short := append(writeFactors(&w, &k, 9, s1), writeFactors(&w, &k, 18, s2)...)
			g := granuleInfo{scalefacCompress: sfc, blockType: blockShort, mixed: true}
			var sf scalefacs
			r := bitReader{b: w.b}
			readScalefacsV1(&r, &g, &[4]bool{}, 0, b, &sf)
			assert.Equal(t, 17*s1+18*s2, r.pos)
			assert.Equal(t, long, sf.l[:8])
			for sfb := 3; sfb < 12; sfb++ {
				assert.Equal(t, short[3*(sfb-3):3*(sfb-3)+3], sf.s[sfb][:], "band %d", sfb)
			}
		})
	}
}

func TestScalefacsLSF(t *testing.T) {
	b := bandsFor(22050)
	for _, tc := range []struct {
		name    string
		sfc     int
		isRight bool
		slen    [4]int
		row     int
		preflag bool
	}{
		// slen by ISO 13818-3 2.4.3.2, worked out by hand.
		{"sfc 399", 399, false, [4]int{4, 4, 3, 3}, 0, false},
		{"sfc 137", 137, false, [4]int{1, 3, 2, 1}, 0, false},
		{"sfc 450", 450, false, [4]int{2, 2, 2, 0}, 1, false},
		{"sfc 511", 511, false, [4]int{3, 2, 0, 0}, 2, true},
		{"intensity 359", 359, true, [4]int{4, 5, 5, 0}, 3, false},
		{"intensity 2*(180+45)", 450, true, [4]int{2, 3, 1, 0}, 4, false},
		{"intensity 2*254+1", 509, true, [4]int{3, 1, 0, 0}, 5, false},
	} {
		for kind, name := range []string{"long", "short", "mixed"} {
			t.Run(tc.name+" "+name, func(t *testing.T) {
				var w bitWriter
				k := 0
				var want []uint8
				bits := 0
				for i, n := range nrOfSfb[tc.row][kind] {
					want = append(want, writeFactors(&w, &k, n, tc.slen[i])...)
					bits += n * tc.slen[i]
				}
				g := granuleInfo{scalefacCompress: tc.sfc, blockType: [3]int{blockLong, blockShort, blockShort}[kind], mixed: kind == 2}
				var sf scalefacs
				r := bitReader{b: w.b}
				readScalefacsLSF(&r, &g, tc.isRight, b, &sf)
				assert.Equal(t, bits, r.pos)
				assert.Equal(t, tc.preflag, g.preflag)
				if tc.isRight {
					assert.Equal(t, tc.sfc&1, sf.isScale)
				}
				switch kind {
				case 0:
					require.Len(t, want, 21)
					assert.Equal(t, want, sf.l[:21])
					// The position that means "no intensity" is the
					// largest of the band's width.
					assert.Equal(t, uint8(1<<tc.slen[0]-1), sf.isMaxL[0])
				case 1:
					require.Len(t, want, 36)
					for sfb := range 12 {
						assert.Equal(t, want[3*sfb:3*sfb+3], sf.s[sfb][:], "band %d", sfb)
					}
				case 2:
					require.Len(t, want, 33)
					assert.Equal(t, want[:6], sf.l[:6])
					for sfb := 3; sfb < 12; sfb++ {
						assert.Equal(t, want[6+3*(sfb-3):6+3*(sfb-3)+3], sf.s[sfb][:], "band %d", sfb)
					}
				}
			})
		}
	}
}

// The scale factors of every granule of the fixtures fit in its
// part2_3_length.
func TestScalefacsFixtures(t *testing.T) {
	for _, fx := range mp3Fixtures {
		t.Run(fx.name, func(t *testing.T) {
			l := newLayer3()
			for i, f := range audioFrames(t, fx.name) {
				main, ok, err := l.prepare(f)
				require.NoError(t, err)
				require.True(t, ok)
				r := bitReader{b: main}
				for gr := range l.mode.granules {
					for ch := range l.mode.channels {
						g := &l.si.gr[gr][ch]
						start := r.pos
						if l.mode.lsf {
							readScalefacsLSF(&r, g, l.mode.is && ch == 1, bandsFor(f.h.rate), &l.sf[ch])
						} else {
							readScalefacsV1(&r, g, &l.si.scfsi[ch], gr, bandsFor(f.h.rate), &l.sf[ch])
						}
						require.LessOrEqual(t, r.pos-start, g.part23Len, "frame %d granule %d channel %d", i, gr, ch)
						r.pos = start + g.part23Len
					}
				}
			}
		})
	}
}

func TestMixedBands(t *testing.T) {
	for i := range bandTable {
		l, s := mixedBands(&bandTable[i])
		want := 36
		if i == 8 {
			want = 48 // 8 kHz
		}
		assert.Equal(t, want, bandTable[i].long[l], "table %d", i)
		assert.Equal(t, want, 3*bandTable[i].short[s], "table %d", i)
	}
}

// Table-driven requantisation matches the standard's formula, computed
// directly, for long, short and mixed blocks.
func TestRequantize(t *testing.T) {
	initRequant()
	rng := rand.New(rand.NewPCG(7, 8))
	for _, rate := range []int{44100, 22050, 8000} {
		b := bandsFor(rate)
		for kind := range 6 {
			n := 2 * rng.IntN(289)
			if kind >= 3 {
				kind -= 3
				n = 576
			}
			g := granuleInfo{globalGain: rng.IntN(256), scalefacScale: rng.IntN(2), preflag: rng.IntN(2) == 1}
			if kind > 0 {
				g.blockType, g.mixed = blockShort, kind == 2
				g.subblockGain = [3]int{rng.IntN(8), rng.IntN(8), rng.IntN(8)}
			}
			var sf scalefacs
			for i := range 21 {
				sf.l[i] = uint8(rng.IntN(32))
			}
			for i := range 12 {
				sf.s[i] = [3]uint8{uint8(rng.IntN(32)), uint8(rng.IntN(32)), uint8(rng.IntN(32))}
			}
			if n == 576 && kind > 0 {
				// The lowest gain of all: every factor at its largest.
				g.globalGain, g.scalefacScale, g.preflag = 0, 1, true
				g.subblockGain = [3]int{7, 7, 7}
				for i := range 21 {
					sf.l[i] = 31
				}
				for i := range 12 {
					sf.s[i] = [3]uint8{31, 31, 31}
				}
			}
			var is [576]int32
			for i := range is {
				is[i] = rng.Int32N(2*spectrumMax+1) - spectrumMax
				if rng.IntN(2) == 0 {
					is[i] = rng.Int32N(31) - 15
				}
			}
			var xr [576]float32
			for i := range xr {
				xr[i] = 7
			}
			requantize(&is, n, &g, &sf, b, &xr)
			longEnd, shortStart := 22, 13
			if kind > 0 {
				longEnd, shortStart = 0, 0
				if g.mixed {
					longEnd, shortStart = mixedBands(b)
				}
			}
			mult := 0.5 * float64(1+g.scalefacScale)
			for i := range 576 {
				want := 0.0
				if i < n {
					var e float64
					if i < b.long[longEnd] || longEnd == 22 {
						sfb := 0
						for b.long[sfb+1] <= i {
							sfb++
						}
						p := 0.0
						if g.preflag {
							p = float64(pretab[sfb])
						}
						e = 0.25*float64(g.globalGain-210) - mult*(float64(sf.l[sfb])+p)
					} else {
						sfb := shortStart
						for 3*b.short[sfb+1] <= i {
							sfb++
						}
						win := (i - 3*b.short[sfb]) / (b.short[sfb+1] - b.short[sfb])
						e = 0.25*float64(g.globalGain-210-8*g.subblockGain[win]) - mult*float64(sf.s[sfb][win])
					}
					v := float64(is[i])
					want = math.Copysign(math.Pow(math.Abs(v), 4.0/3), v) * math.Pow(2, e)
				}
				require.InEpsilon(t, want+1e-30, float64(xr[i])+1e-30, 1e-6, "rate %d kind %d line %d", rate, kind, i)
			}
		}
	}
}
