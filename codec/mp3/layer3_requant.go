package mp3

import (
	"math"
	"sync"
)

// Requantisation (ISO 11172-3 2.4.3.4.7): a line's value is
// sign(is) * |is|^(4/3) * 2^(e/4), where e, in quarter powers of two, is
// global_gain - 210, less 8 * subblock_gain of its window (short blocks),
// less 2 * (1 + scalefac_scale) * (its band's scale factor, plus pretab
// if preflag). Both factors come from tables.

// gainMin is the lowest e: global_gain 0, subblock gain 7, scale factor
// 31 (LSF intensity stereo rows have 5-bit factors) plus pretab 3,
// scalefac_scale 1.
const gainMin = -210 - 8*7 - 4*(31+3)

// gainMax is the highest e: global_gain 255.
const gainMax = 255 - 210

var (
	requantOnce sync.Once
	pow43       [pow43Len]float32 // i^(4/3), for i up to spectrumMax

	gainPow [gainMax - gainMin + 1]float32
)

// pow43Len is the length of pow43: the power of two above spectrumMax,
// so that a masked index needs no bounds check.
const pow43Len = 1 << 14

func initRequant() {
	requantOnce.Do(func() {
		for i := range spectrumMax + 1 {
			pow43[i] = float32(math.Pow(float64(i), 4.0/3))
		}
		for e := gainMin; e <= gainMax; e++ {
			gainPow[e-gainMin] = float32(math.Exp2(float64(e) / 4))
		}
	})
}

// requantLines scales lines [from, to) of is into xr with exponent e.
func requantLines(is *[576]int32, xr *[576]float32, from, to, e int) {
	g := gainPow[e-gainMin]
	if from >= to {
		return
	}
	in, out := is[from:to], xr[from:to]
	out = out[:len(in)]
	for i, v := range in {
		// |v| from the sign's mask; the sign put back on the float's bit.
		m := v >> 31
		x := pow43[uint32((v^m)-m)&(pow43Len-1)] * g
		out[i] = math.Float32frombits(math.Float32bits(x) ^ uint32(m)&(1<<31))
	}
}

// requantize turns the first n quantized lines of a granule into
// spectral values, the rest zero. Short blocks' lines stay in the coded
// order (band, window, line).
func requantize(is *[576]int32, n int, g *granuleInfo, sf *scalefacs, b *scaleBands, xr *[576]float32) {
	base := g.globalGain - 210
	shift := 2 * (1 + g.scalefacScale)
	longEnd, shortStart := 22, 13
	if g.blockType == blockShort {
		longEnd, shortStart = 0, 0
		if g.mixed {
			longEnd, shortStart = mixedBands(b)
		}
	}
	for sfb := 0; sfb < longEnd && b.long[sfb] < n; sfb++ {
		s := int(sf.l[sfb])
		if g.preflag {
			s += int(pretab[sfb])
		}
		requantLines(is, xr, b.long[sfb], min(b.long[sfb+1], n), base-shift*s)
	}
	for sfb := shortStart; sfb < 13 && 3*b.short[sfb] < n; sfb++ {
		w := b.short[sfb+1] - b.short[sfb]
		at := 3 * b.short[sfb]
		for win := range 3 {
			e := base - 8*g.subblockGain[win] - shift*int(sf.s[sfb][win])
			requantLines(is, xr, at, min(at+w, n), e)
			at += w
		}
	}
	clear(xr[n:])
}
