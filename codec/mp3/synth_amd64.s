//go:build !purego

#include "textflag.h"

// SUM4 sets A to the sum, left to right, of four products: the V values
// at V, V+384, V+512 and V+896 bytes past SI, times the coefficients at K,
// K+128, K+256 and K+384 bytes past DI (AX past each); B is scratch.
#define SUM4(V, K, A, B) \
	VMOVUPS (V)(SI)(AX*1), A \
	VMULPS (K)(DI)(AX*1), A, A \
	VMOVUPS (V+384)(SI)(AX*1), B \
	VMULPS (K+128)(DI)(AX*1), B, B \
	VADDPS B, A, A \
	VMOVUPS (V+512)(SI)(AX*1), B \
	VMULPS (K+256)(DI)(AX*1), B, B \
	VADDPS B, A, A \
	VMOVUPS (V+896)(SI)(AX*1), B \
	VMULPS (K+384)(DI)(AX*1), B, B \
	VADDPS B, A, A

// func synthWindowVector(v *[1024]float32, out *[32]float32)
//
// The synthesis window of synth.slot, eight output samples at a time:
// sample j is (s0 + s1) + (s2 + s3), each s the sum, left to right, of
// four products of a V value and a coefficient of synthK, as the Go code
// computes it (multiplications and additions rounded one by one, no fused
// multiply-add), so that every lane gives the Go code's bits.
TEXT ·synthWindowVector(SB), NOSPLIT, $0-16
	MOVQ v+0(FP), SI
	MOVQ out+8(FP), DX
	LEAQ ·synthK(SB), DI
	XORQ AX, AX

loop:
	SUM4(0, 0, Y0, Y1)
	SUM4(1024, 512, Y2, Y3)
	SUM4(2048, 1024, Y4, Y5)
	SUM4(3072, 1536, Y6, Y7)
	VADDPS Y2, Y0, Y0
	VADDPS Y6, Y4, Y4
	VADDPS Y4, Y0, Y0
	VMOVUPS Y0, (DX)(AX*1)
	ADDQ $32, AX
	CMPQ AX, $128
	JLT  loop
	VZEROUPPER
	RET
