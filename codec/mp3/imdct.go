package mp3

import (
	"math"
	"sync"
)

// The hybrid filter bank's second stage, inverted (ISO 11172-3
// 2.4.3.4.10): short block reordering, alias reduction, the IMDCT of each
// subband's 18 lines (one 36-point transform for long blocks, three
// 12-point ones for short blocks), windowing by block type, overlap-add
// with the granule before, and the inversion of the odd subbands' odd
// samples that the polyphase filter bank expects.
//
// The IMDCT x[i] = Σ X[k] cos(π/2n (2i + 1 + n/2)(2k + 1)), i < n, of n/2
// lines is a DCT-IV t of the lines, unfolded: x[i] = t[i + n/4] for
// i < n/4, -t[3n/4 - 1 - i] up to 3n/4, -t[i - 3n/4] above. The 18-point
// DCT-IV goes through an 18-point DCT-II (the recurrence of
// dct4ViaDct2), which splits into a 9-point DCT-II of sums and a 9-point
// DCT-IV of differences; the 9-point DCT-II folds its symmetric inputs.

var (
	imdctOnce sync.Once
	// aliasCS and aliasCA are the butterflies of alias reduction, from
	// the standard's coefficients c[i]: 1/√(1+c²) and c/√(1+c²).
	aliasCS, aliasCA [8]float32
	// window is the 36-sample window of block types 0, 1 and 3; window[2]
	// the 12-sample window of short blocks.
	window [4][36]float32
	// twiddle18 is 2cos(π(2n+1)/72), twiddle9 2cos(π(2n+1)/36), twiddle6
	// 2cos(π(2n+1)/24): the DCT-IV to DCT-II factors.
	twiddle18 [18]float32
	twiddle9  [9]float32
	// cos9 is cos(π/9 (n+½) k) for the 9-point DCT-II.
	cos9 [9][9]float32
	// cos6 is cos(π/6 (n+½) k) for the 6-point DCT-II.
	cos6     [6][6]float32
	twiddle6 [6]float32
)

// aliasCoef are the alias reduction coefficients c[i] of ISO 11172-3
// Table B.9.
var aliasCoef = [8]float64{-0.6, -0.535, -0.33, -0.185, -0.095, -0.041, -0.0142, -0.0037}

func initIMDCT() {
	imdctOnce.Do(func() {
		for i, c := range aliasCoef {
			s := math.Sqrt(1 + c*c)
			aliasCS[i], aliasCA[i] = float32(1/s), float32(c/s)
		}
		for i := range 36 {
			long := math.Sin(math.Pi / 36 * (float64(i) + 0.5))
			window[blockLong][i] = float32(long)
			switch {
			case i < 18:
				window[blockStart][i] = float32(long)
			case i < 24:
				window[blockStart][i] = 1
			case i < 30:
				window[blockStart][i] = float32(math.Sin(math.Pi / 12 * (float64(i-18) + 0.5)))
			}
			switch {
			case i < 6:
			case i < 12:
				window[blockStop][i] = float32(math.Sin(math.Pi / 12 * (float64(i-6) + 0.5)))
			case i < 18:
				window[blockStop][i] = 1
			default:
				window[blockStop][i] = float32(long)
			}
			if i < 12 {
				window[blockShort][i] = float32(math.Sin(math.Pi / 12 * (float64(i) + 0.5)))
			}
		}
		for n := range 18 {
			twiddle18[n] = float32(2 * math.Cos(math.Pi*float64(2*n+1)/72))
		}
		for n := range 9 {
			twiddle9[n] = float32(2 * math.Cos(math.Pi*float64(2*n+1)/36))
			for k := range 9 {
				cos9[k][n] = float32(math.Cos(math.Pi / 9 * (float64(n) + 0.5) * float64(k)))
			}
		}
		for n := range 6 {
			twiddle6[n] = float32(2 * math.Cos(math.Pi*float64(2*n+1)/24))
			for k := range 6 {
				cos6[k][n] = float32(math.Cos(math.Pi / 6 * (float64(n) + 0.5) * float64(k)))
			}
		}
	})
}

// dct2x9 is the 9-point DCT-II, y[k] = Σ x[n] cos(π/9 (n+½) k): the
// cosines of n and 8-n are equal for even k and opposite for odd k.
func dct2x9(x *[9]float32, y *[9]float32) {
	var s, d [4]float32
	for n := range 4 {
		s[n], d[n] = x[n]+x[8-n], x[n]-x[8-n]
	}
	m := x[4]
	for k := 0; k < 9; k += 2 {
		c := &cos9[k]
		v := s[0]*c[0] + s[1]*c[1] + s[2]*c[2] + s[3]*c[3]
		if k%4 == 0 { // cos(π/2 k) for the middle input
			v += m
		} else {
			v -= m
		}
		y[k] = v
	}
	for k := 1; k < 9; k += 2 {
		c := &cos9[k]
		y[k] = d[0]*c[0] + d[1]*c[1] + d[2]*c[2] + d[3]*c[3]
	}
}

// dct4x18 is the 18-point DCT-IV, y[k] = Σ x[n] cos(π/18 (n+½)(k+½)).
func dct4x18(x *[18]float32, y *[18]float32) {
	// DCT-IV through DCT-II: with v[n] = 2cos(π(2n+1)/72) x[n] and w its
	// DCT-II, y[0] = w[0]/2 and y[k] = w[k] - y[k-1]. The 18-point
	// DCT-II's even outputs w[2m] = e[m] are the 9-point DCT-II of
	// a[n] = v[n] + v[17-n]; its odd ones w[2m+1] = o[m] come from the
	// 9-point DCT-II of b[n] = (v[n] - v[17-n]) 2cos(π(2n+1)/36), by the
	// same recurrence. Written out (dct2x9 twice), in registers.
	v0, w0 := x[0]*twiddle18[0], x[17]*twiddle18[17]
	a0, b0 := v0+w0, (v0-w0)*twiddle9[0]
	v1, w1 := x[1]*twiddle18[1], x[16]*twiddle18[16]
	a1, b1 := v1+w1, (v1-w1)*twiddle9[1]
	v2, w2 := x[2]*twiddle18[2], x[15]*twiddle18[15]
	a2, b2 := v2+w2, (v2-w2)*twiddle9[2]
	v3, w3 := x[3]*twiddle18[3], x[14]*twiddle18[14]
	a3, b3 := v3+w3, (v3-w3)*twiddle9[3]
	v4, w4 := x[4]*twiddle18[4], x[13]*twiddle18[13]
	a4, b4 := v4+w4, (v4-w4)*twiddle9[4]
	v5, w5 := x[5]*twiddle18[5], x[12]*twiddle18[12]
	a5, b5 := v5+w5, (v5-w5)*twiddle9[5]
	v6, w6 := x[6]*twiddle18[6], x[11]*twiddle18[11]
	a6, b6 := v6+w6, (v6-w6)*twiddle9[6]
	v7, w7 := x[7]*twiddle18[7], x[10]*twiddle18[10]
	a7, b7 := v7+w7, (v7-w7)*twiddle9[7]
	v8, w8 := x[8]*twiddle18[8], x[9]*twiddle18[9]
	a8, b8 := v8+w8, (v8-w8)*twiddle9[8]
	es0 := a0 + a8
	ed0 := a0 - a8
	es1 := a1 + a7
	ed1 := a1 - a7
	es2 := a2 + a6
	ed2 := a2 - a6
	es3 := a3 + a5
	ed3 := a3 - a5
	e0 := es0*cos9[0][0] + es1*cos9[0][1] + es2*cos9[0][2] + es3*cos9[0][3] + a4
	e1 := ed0*cos9[1][0] + ed1*cos9[1][1] + ed2*cos9[1][2] + ed3*cos9[1][3]
	e2 := es0*cos9[2][0] + es1*cos9[2][1] + es2*cos9[2][2] + es3*cos9[2][3] - a4
	e3 := ed0*cos9[3][0] + ed1*cos9[3][1] + ed2*cos9[3][2] + ed3*cos9[3][3]
	e4 := es0*cos9[4][0] + es1*cos9[4][1] + es2*cos9[4][2] + es3*cos9[4][3] + a4
	e5 := ed0*cos9[5][0] + ed1*cos9[5][1] + ed2*cos9[5][2] + ed3*cos9[5][3]
	e6 := es0*cos9[6][0] + es1*cos9[6][1] + es2*cos9[6][2] + es3*cos9[6][3] - a4
	e7 := ed0*cos9[7][0] + ed1*cos9[7][1] + ed2*cos9[7][2] + ed3*cos9[7][3]
	e8 := es0*cos9[8][0] + es1*cos9[8][1] + es2*cos9[8][2] + es3*cos9[8][3] + a4
	os0 := b0 + b8
	od0 := b0 - b8
	os1 := b1 + b7
	od1 := b1 - b7
	os2 := b2 + b6
	od2 := b2 - b6
	os3 := b3 + b5
	od3 := b3 - b5
	o0 := os0*cos9[0][0] + os1*cos9[0][1] + os2*cos9[0][2] + os3*cos9[0][3] + b4
	o1 := od0*cos9[1][0] + od1*cos9[1][1] + od2*cos9[1][2] + od3*cos9[1][3]
	o2 := os0*cos9[2][0] + os1*cos9[2][1] + os2*cos9[2][2] + os3*cos9[2][3] - b4
	o3 := od0*cos9[3][0] + od1*cos9[3][1] + od2*cos9[3][2] + od3*cos9[3][3]
	o4 := os0*cos9[4][0] + os1*cos9[4][1] + os2*cos9[4][2] + os3*cos9[4][3] + b4
	o5 := od0*cos9[5][0] + od1*cos9[5][1] + od2*cos9[5][2] + od3*cos9[5][3]
	o6 := os0*cos9[6][0] + os1*cos9[6][1] + os2*cos9[6][2] + os3*cos9[6][3] - b4
	o7 := od0*cos9[7][0] + od1*cos9[7][1] + od2*cos9[7][2] + od3*cos9[7][3]
	o8 := os0*cos9[8][0] + os1*cos9[8][1] + os2*cos9[8][2] + os3*cos9[8][3] + b4
	o0 /= 2
	o1 -= o0
	o2 -= o1
	o3 -= o2
	o4 -= o3
	o5 -= o4
	o6 -= o5
	o7 -= o6
	o8 -= o7
	y[0] = e0 / 2
	y[1] = o0 - y[0]
	y[2] = e1 - y[1]
	y[3] = o1 - y[2]
	y[4] = e2 - y[3]
	y[5] = o2 - y[4]
	y[6] = e3 - y[5]
	y[7] = o3 - y[6]
	y[8] = e4 - y[7]
	y[9] = o4 - y[8]
	y[10] = e5 - y[9]
	y[11] = o5 - y[10]
	y[12] = e6 - y[11]
	y[13] = o6 - y[12]
	y[14] = e7 - y[13]
	y[15] = o7 - y[14]
	y[16] = e8 - y[15]
	y[17] = o8 - y[16]
}

// imdct36 computes the windowed 36-point IMDCT of 18 lines (x is
// overwritten) with window win, adds its first half to overlap into out,
// and keeps its second half in overlap.
func imdct36(x *[18]float32, win *[36]float32, overlap *[18]float32, out *[18]float32) {
	var t [18]float32
	dct4x18(x, &t)
	for i := range 9 {
		// x[i] = t[i+9] for i < 9; x[i] = -t[26-i] for 9 <= i < 27;
		// x[i] = -t[i-27] above.
		out[i] = overlap[i] + t[i+9]*win[i]
		out[i+9] = overlap[i+9] - t[17-i]*win[i+9]
		overlap[i] = -t[8-i] * win[i+18]
		overlap[i+9] = -t[i] * win[i+27]
	}
}

// dct4x6 is the 6-point DCT-IV, through the 6-point DCT-II.
func dct4x6(x *[6]float32, y *[6]float32) {
	var v [6]float32
	for n := range 6 {
		v[n] = x[n] * twiddle6[n]
	}
	prev := float32(0)
	for k := range 6 {
		c := &cos6[k]
		w := v[0]*c[0] + v[1]*c[1] + v[2]*c[2] + v[3]*c[3] + v[4]*c[4] + v[5]*c[5]
		if k == 0 {
			prev = w / 2
		} else {
			prev = w - prev
		}
		y[k] = prev
	}
}

// imdct12x3 computes the three windowed 12-point IMDCTs of a short block
// subband, whose lines x holds interleaved (line k of window w at 3k+w),
// places them 6 samples apart from sample 6 of 36, adds the first half to
// overlap into out and keeps the second half in overlap.
func imdct12x3(x *[18]float32, overlap *[18]float32, out *[18]float32) {
	var z [36]float32
	win := &window[blockShort]
	for w := range 3 {
		var in, t [6]float32
		for k := range 6 {
			in[k] = x[3*k+w]
		}
		dct4x6(&in, &t)
		// 12 samples: t[i+3] for i < 3, -t[8-i] up to 9, -t[i-9] above.
		at := 6 + 6*w
		for i := range 3 {
			z[at+i] += t[i+3] * win[i]
			z[at+i+9] -= t[i] * win[i+9]
		}
		for i := 3; i < 9; i++ {
			z[at+i] -= t[8-i] * win[i]
		}
	}
	for i := range 18 {
		out[i] = overlap[i] + z[i]
		overlap[i] = z[i+18]
	}
}

// reorder puts the short bands' lines of xr from the coded order (band,
// window, line) into the IMDCT's (band, line, window), from short band
// first on.
func reorder(xr *[576]float32, b *scaleBands, first int) {
	var tmp [576]float32
	start := 3 * b.short[first]
	for sfb := first; sfb < 13; sfb++ {
		at := 3 * b.short[sfb]
		width := b.short[sfb+1] - b.short[sfb]
		for w := range 3 {
			for j := range width {
				tmp[at+3*j+w] = xr[at+w*width+j]
			}
		}
	}
	copy(xr[start:], tmp[start:])
}

// aliasReduce applies the alias reduction butterflies between subbands
// sb-1 and sb, for sb from 1 below limit.
func aliasReduce(xr *[576]float32, limit int) {
	for sb := 1; sb < limit; sb++ {
		at := 18 * sb
		for i := range 8 {
			a, b := xr[at-1-i], xr[at+i]
			xr[at-1-i] = a*aliasCS[i] - b*aliasCA[i]
			xr[at+i] = b*aliasCS[i] + a*aliasCA[i]
		}
	}
}

// hybrid turns a channel's granule of spectral values (xr, of which nz
// lines can be non-zero) into 18 samples of each of the 32 subbands,
// out[t][sb], with the channel's overlap from the granule before.
func hybrid(xr *[576]float32, nz int, g *granuleInfo, b *scaleBands, overlap *[32][18]float32, out *[18][32]float32) {
	short := g.blockType == blockShort
	longSB := 32 // subbands with long blocks
	if short {
		longSB = 0
		first := 0
		if g.mixed {
			longSB = 2
			_, first = mixedBands(b)
		}
		reorder(xr, b, first)
		// Reordering keeps lines within their band: the last non-zero
		// one is below the end of its band.
		if at := 3 * b.short[first]; nz > at {
			sfb := first
			for 3*b.short[sfb+1] < nz {
				sfb++
			}
			nz = 3 * b.short[sfb+1]
		}
	}
	// Alias reduction between long subbands, up to one past the last
	// non-zero line (its butterflies reach 8 lines into the next).
	sbs := min(32, (nz+17)/18+1)
	aliasReduce(xr, min(sbs, longSB))
	var x, res [18]float32
	for sb := range 32 {
		if sb >= sbs {
			// No lines: the overlap is the output.
			for t := range 18 {
				out[t][sb] = overlap[sb][t]
			}
			overlap[sb] = [18]float32{}
			continue
		}
		copy(x[:], xr[18*sb:18*sb+18])
		switch {
		case sb < longSB && g.mixed:
			imdct36(&x, &window[blockLong], &overlap[sb], &res)
		case sb < longSB:
			imdct36(&x, &window[g.blockType], &overlap[sb], &res)
		default:
			imdct12x3(&x, &overlap[sb], &res)
		}
		for t := range 18 {
			out[t][sb] = res[t]
		}
	}
	// Frequency inversion: odd samples of odd subbands.
	for t := 1; t < 18; t += 2 {
		for sb := 1; sb < 32; sb += 2 {
			out[t][sb] = -out[t][sb]
		}
	}
}
