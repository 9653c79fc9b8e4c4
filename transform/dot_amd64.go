//go:build !purego

package transform

// useVector is set on machines with AVX2 and FMA, whose operating system
// saves the 256-bit registers.
var useVector = hasAVX2FMA()

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

// cpuid returns the registers that the CPUID instruction sets for leaf
// eaxArg, subleaf ecxArg.
func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

// xgetbv returns the extended control register XCR0: which register
// states the operating system saves.
func xgetbv() (eax, edx uint32)

func hasAVX2FMA() bool {
	if maxLeaf, _, _, _ := cpuid(0, 0); maxLeaf < 7 {
		return false
	}
	const (
		fma     = 1 << 12 // CPUID.1:ECX
		osxsave = 1 << 27 // CPUID.1:ECX: XGETBV is usable
		avx     = 1 << 28 // CPUID.1:ECX
		avx2    = 1 << 5  // CPUID.7.0:EBX
		sseYMM  = 1<<1 | 1<<2
	)
	if _, _, ecx, _ := cpuid(1, 0); ecx&(fma|osxsave|avx) != fma|osxsave|avx {
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&sseYMM != sseYMM {
		return false
	}
	_, ebx, _, _ := cpuid(7, 0)
	return ebx&avx2 != 0
}
