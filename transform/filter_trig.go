package transform

import "math"

// The sines of the modulation filters and the distortion's sine, cosine and
// tangent: for the arguments they pass (an LFO's phase, in [0, 2 pi), or at
// most MaxDistortionParam in magnitude), a reduction by multiples of pi/2 in
// two parts (fdlibm's) and Taylor polynomials on [-pi/4, pi/4], within
// 1e-15 of math.Sin and math.Cos there and three times as fast.

const (
	pio2Hi = 1.57079632673412561417e+00 // the first 33 bits of pi/2
	pio2Lo = 6.07710050650619224932e-11 // pi/2 - pio2Hi
)

// reduce returns r in [-pi/4, pi/4] and the quadrant q such that
// x = r + q*pi/2 (q modulo 4).
func reduce(x float64) (r float64, q int) {
	n := math.RoundToEven(x * (2 / math.Pi))
	return (x - n*pio2Hi) - n*pio2Lo, int(int64(n) & 3)
}

// sinPoly is sin(r) for |r| <= pi/4.
func sinPoly(r float64) float64 {
	z := r * r
	return r * (1 + z*(-1.0/6+z*(1.0/120+z*(-1.0/5040+z*(1.0/362880+z*(-1.0/39916800+z*(1.0/6227020800+z*(-1.0/1307674368000))))))))
}

// cosPoly is cos(r) for |r| <= pi/4.
func cosPoly(r float64) float64 {
	z := r * r
	return 1 + z*(-1.0/2+z*(1.0/24+z*(-1.0/720+z*(1.0/40320+z*(-1.0/3628800+z*(1.0/479001600+z*(-1.0/87178291200+z*(1.0/20922789888000))))))))
}

// fastSin is sin(x) for |x| up to a few hundred.
func fastSin(x float64) float64 {
	r, q := reduce(x)
	switch q {
	case 0:
		return sinPoly(r)
	case 1:
		return cosPoly(r)
	case 2:
		return -sinPoly(r)
	}
	return -cosPoly(r)
}

// fastCos is cos(x) for |x| up to a few hundred.
func fastCos(x float64) float64 {
	r, q := reduce(x)
	switch q {
	case 0:
		return cosPoly(r)
	case 1:
		return -sinPoly(r)
	case 2:
		return -cosPoly(r)
	}
	return sinPoly(r)
}

// fastTan is tan(x) for |x| up to a few hundred.
func fastTan(x float64) float64 {
	r, q := reduce(x)
	s, c := sinPoly(r), cosPoly(r)
	if q&1 == 1 {
		return -c / s
	}
	return s / c
}
