package transform

// The filter's sums. dot and dot2 run the vector code of the machine when
// it has one (useVector, set by the file for each architecture), else the
// portable code below; both take the same operands and differ only in the
// rounding of their sums.

// dot returns the sum of c[i]*x[i] for i < len(c) rounded down to a
// multiple of 4 (the filters' taps are). len(x) must be at least len(c).
func dot(c, x []float32) float32 {
	n := len(c) &^ 3
	c, x = c[:n], x[:n]
	if useVector {
		return dotVector(c, x)
	}
	return dotGo(c, x)
}

// dot2 is dot over two channels at once, loading each coefficient once.
// len(a) and len(b) must be at least len(c).
func dot2(c, a, b []float32) (float32, float32) {
	n := len(c) &^ 3
	c, a, b = c[:n], a[:n], b[:n]
	if useVector {
		return dot2Vector(c, a, b)
	}
	return dot2Go(c, a, b)
}

// dotGo is dot in Go, for lengths that are a multiple of 4. Four
// accumulators hide the latency of the additions.
func dotGo(c, x []float32) float32 {
	n := len(c) &^ 3
	c, x = c[:n], x[:n]
	var s0, s1, s2, s3 float32
	for i := 0; i+4 <= n; i += 4 {
		cc, xx := c[i:i+4:i+4], x[i:i+4:i+4]
		s0 += cc[0] * xx[0]
		s1 += cc[1] * xx[1]
		s2 += cc[2] * xx[2]
		s3 += cc[3] * xx[3]
	}
	return (s0 + s1) + (s2 + s3)
}

// dot2Go is dot2 in Go, for lengths that are a multiple of 4. Each step
// takes eight taps, summed by a tree into one accumulator a channel: the
// sixteen vector registers hold a step's values without spills. The slices
// are cut to one length first, so that the loop has no bounds checks.
func dot2Go(c, a, b []float32) (float32, float32) {
	n := len(c) &^ 3
	c, a, b = c[:n:n], a[:n:n], b[:n:n]
	var s, t float32
	i := 0
	for ; i <= n-8; i += 8 {
		cc, aa, bb := c[i:i+8:i+8], a[i:i+8:i+8], b[i:i+8:i+8]
		s += ((cc[0]*aa[0] + cc[1]*aa[1]) + (cc[2]*aa[2] + cc[3]*aa[3])) +
			((cc[4]*aa[4] + cc[5]*aa[5]) + (cc[6]*aa[6] + cc[7]*aa[7]))
		t += ((cc[0]*bb[0] + cc[1]*bb[1]) + (cc[2]*bb[2] + cc[3]*bb[3])) +
			((cc[4]*bb[4] + cc[5]*bb[5]) + (cc[6]*bb[6] + cc[7]*bb[7]))
	}
	if i < n {
		cc, aa, bb := c[i:i+4:i+4], a[i:i+4:i+4], b[i:i+4:i+4]
		s += (cc[0]*aa[0] + cc[1]*aa[1]) + (cc[2]*aa[2] + cc[3]*aa[3])
		t += (cc[0]*bb[0] + cc[1]*bb[1]) + (cc[2]*bb[2] + cc[3]*bb[3])
	}
	return s, t
}

// lerp sets dst[i] to a[i] + f*(b[i]-a[i]) for i < len(dst).
func lerp(dst, a, b []float32, f float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] + f*(b[i]-a[i])
	}
}
