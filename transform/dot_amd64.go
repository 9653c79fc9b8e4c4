//go:build !purego

package transform

import "golang.org/x/sys/cpu"

// useVector is set on machines with AVX2 and FMA, whose operating system
// saves the 256-bit registers (x/sys/cpu checks XGETBV too).
var useVector = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// dotVector is dot in AVX2 and FMA instructions (dot_amd64.s), for lengths
// that are a multiple of 4, len(x) at least len(c).
//
//go:noescape
func dotVector(c, x []float32) float32

// dot2Vector is dot2 in AVX2 and FMA instructions (dot_amd64.s), for
// lengths that are a multiple of 4, len(a) and len(b) at least len(c).
//
//go:noescape
func dot2Vector(c, a, b []float32) (s, t float32)

// dot2PairVector is two dot2Vector at once, the same sums to the bit:
// (s, t) over c, a and b, (u, v) over d, e and f, in AVX2 and FMA
// instructions (dot_amd64.s). len(c) == len(d), a multiple of 4; the
// others at least as long.
//
//go:noescape
func dot2PairVector(c, a, b, d, e, f []float32) (s, t, u, v float32)
