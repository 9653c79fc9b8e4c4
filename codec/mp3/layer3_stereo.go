package mp3

import (
	"math"
	"sync"
)

// Joint stereo (ISO 11172-3 2.4.3.4.9, ISO 13818-3 2.4.3.4.9).
//
// Mid/side: left = (m + s)/√2, right = (m - s)/√2.
//
// Intensity: above the last non-zero line of the right channel (per
// window for short blocks), the left channel carries both, and the right
// channel's scale factors are positions that split it: in MPEG-1 by the
// ratio tan(pos·π/12) (pos 7 means none); in LSF by powers of 2^-1/4 or
// 2^-1/2 (intensity_scale), odd positions lowering the left channel, even
// ones the right (the largest value of the band's width means none).
// Bands without a position are coded as the rest (mid/side if on).

var (
	stereoOnce sync.Once
	// isRatioV1 holds the left and right factors of MPEG-1 positions 0-6.
	isRatioV1 [7][2]float32
	// isRatioLSF holds them by intensity_scale and position.
	isRatioLSF [2][32][2]float32
)

func initStereo() {
	stereoOnce.Do(func() {
		for p := range 7 {
			if p == 6 {
				isRatioV1[p] = [2]float32{1, 0} // tan(π/2): all left
				continue
			}
			r := math.Tan(float64(p) * math.Pi / 12)
			isRatioV1[p] = [2]float32{float32(r / (1 + r)), float32(1 / (1 + r))}
		}
		for s := range 2 {
			io := math.Exp2(-0.25 * float64(s+1))
			for p := range 32 {
				switch {
				case p == 0:
					isRatioLSF[s][p] = [2]float32{1, 1}
				case p%2 == 1:
					isRatioLSF[s][p] = [2]float32{float32(math.Pow(io, float64(p+1)/2)), 1}
				default:
					isRatioLSF[s][p] = [2]float32{1, float32(math.Pow(io, float64(p)/2))}
				}
			}
		}
	})
}

// midSide decodes lines [from, to) of a mid/side pair.
func midSide(l, r *[576]float32, from, to int) {
	const k = 1 / math.Sqrt2
	for i := from; i < to; i++ {
		m, s := l[i], r[i]
		l[i], r[i] = (m+s)*k, (m-s)*k
	}
}

// stereoBand decodes lines [from, to) of one band: intensity stereo at
// position pos (max, or above it, which only MPEG-1's 4-bit factors can
// reach: none), else mid/side if ms.
func (l *layer3) stereoBand(from, to int, pos, max uint8, ms bool, sf *scalefacs) {
	if pos >= max {
		if ms {
			midSide(&l.xr[0], &l.xr[1], from, to)
		}
		return
	}
	var k [2]float32
	if l.mode.lsf {
		k = isRatioLSF[sf.isScale][pos]
	} else {
		k = isRatioV1[pos]
	}
	left, right := &l.xr[0], &l.xr[1]
	for i := from; i < to; i++ {
		v := left[i]
		left[i], right[i] = v*k[0], v*k[1]
	}
}

// lastNonZero returns the last line in [from, to) of x that is not zero,
// or from-1.
func lastNonZero(x *[576]float32, from, to int) int {
	for i := to - 1; i >= from; i-- {
		if x[i] != 0 {
			return i
		}
	}
	return from - 1
}

// stereo applies the frame's joint stereo coding to granule gr's two
// channels, whose block types are the same (the standard requires it).
func (l *layer3) stereo(gr int, b *scaleBands) {
	m := l.mode
	if m.mode != modeJoint || !m.ms && !m.is {
		return
	}
	n := max(l.nz[0], l.nz[1])
	if !m.is {
		midSide(&l.xr[0], &l.xr[1], 0, n)
		l.nz[0], l.nz[1] = n, n
		return
	}
	g := &l.si.gr[gr][1]
	sf := &l.sf[1]
	maxV1 := uint8(7)
	isMaxL := func(sfb int) uint8 {
		if m.lsf {
			return sf.isMaxL[sfb]
		}
		return maxV1
	}
	isMaxS := func(sfb int) uint8 {
		if m.lsf {
			return sf.isMaxS[sfb]
		}
		return maxV1
	}
	right := &l.xr[1]
	longEnd, shortStart := 22, 13
	if g.blockType == blockShort {
		longEnd, shortStart = 0, 0
		if g.mixed {
			longEnd, shortStart = mixedBands(b)
		}
	}
	// Short bands, window by window; the long part of mixed blocks is
	// intensity coded only when no window is.
	longIS := true
	if shortStart < 13 {
		for w := range 3 {
			first := 13 // the first short band of the intensity region
			for sfb := 12; sfb >= shortStart; sfb-- {
				width := b.short[sfb+1] - b.short[sfb]
				at := 3*b.short[sfb] + w*width
				if lastNonZero(right, at, at+width) >= at {
					break
				}
				first = sfb
			}
			if first > shortStart {
				longIS = false
			}
			for sfb := shortStart; sfb < 13; sfb++ {
				width := b.short[sfb+1] - b.short[sfb]
				at := 3*b.short[sfb] + w*width
				if sfb < first {
					if m.ms {
						midSide(&l.xr[0], right, at, at+width)
					}
					continue
				}
				p := min(sfb, 11) // band 12 takes band 11's position
				l.stereoBand(at, at+width, sf.s[p][w], isMaxS(p), m.ms, sf)
			}
		}
	}
	if longEnd > 0 {
		first := longEnd
		if longIS {
			last := lastNonZero(right, 0, b.long[longEnd])
			first = 0
			for b.long[first] <= last {
				first++
			}
		}
		if m.ms {
			midSide(&l.xr[0], right, 0, b.long[first])
		}
		for sfb := first; sfb < longEnd; sfb++ {
			p := min(sfb, 20) // band 21 takes band 20's position
			l.stereoBand(b.long[sfb], b.long[sfb+1], sf.l[p], isMaxL(p), m.ms, sf)
		}
	}
	l.nz[0], l.nz[1] = 576, 576
}
