//go:build !amd64 || purego

package transform

// useVector is false: there is no vector code for this architecture. (A
// variable, so that the tests can set it on every architecture.)
var useVector = false

func dotVector(c, x []float32) float32 { return dotGo(c, x) }

func dot2Vector(c, a, b []float32) (float32, float32) { return dot2Go(c, a, b) }

func dot2PairVector(c, a, b, d, e, f []float32) (s, t, u, v float32) {
	s, t = dot2Go(c, a, b)
	u, v = dot2Go(d, e, f)
	return s, t, u, v
}
