//go:build !purego

#include "textflag.h"

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
	VMOVUPS 0(SI)(AX*1), Y0
	VMULPS 0(DI)(AX*1), Y0, Y0
	VMOVUPS 384(SI)(AX*1), Y1
	VMULPS 128(DI)(AX*1), Y1, Y1
	VADDPS Y1, Y0, Y0
	VMOVUPS 512(SI)(AX*1), Y1
	VMULPS 256(DI)(AX*1), Y1, Y1
	VADDPS Y1, Y0, Y0
	VMOVUPS 896(SI)(AX*1), Y1
	VMULPS 384(DI)(AX*1), Y1, Y1
	VADDPS Y1, Y0, Y0
	VMOVUPS 1024(SI)(AX*1), Y2
	VMULPS 512(DI)(AX*1), Y2, Y2
	VMOVUPS 1408(SI)(AX*1), Y3
	VMULPS 640(DI)(AX*1), Y3, Y3
	VADDPS Y3, Y2, Y2
	VMOVUPS 1536(SI)(AX*1), Y3
	VMULPS 768(DI)(AX*1), Y3, Y3
	VADDPS Y3, Y2, Y2
	VMOVUPS 1920(SI)(AX*1), Y3
	VMULPS 896(DI)(AX*1), Y3, Y3
	VADDPS Y3, Y2, Y2
	VMOVUPS 2048(SI)(AX*1), Y4
	VMULPS 1024(DI)(AX*1), Y4, Y4
	VMOVUPS 2432(SI)(AX*1), Y5
	VMULPS 1152(DI)(AX*1), Y5, Y5
	VADDPS Y5, Y4, Y4
	VMOVUPS 2560(SI)(AX*1), Y5
	VMULPS 1280(DI)(AX*1), Y5, Y5
	VADDPS Y5, Y4, Y4
	VMOVUPS 2944(SI)(AX*1), Y5
	VMULPS 1408(DI)(AX*1), Y5, Y5
	VADDPS Y5, Y4, Y4
	VMOVUPS 3072(SI)(AX*1), Y6
	VMULPS 1536(DI)(AX*1), Y6, Y6
	VMOVUPS 3456(SI)(AX*1), Y7
	VMULPS 1664(DI)(AX*1), Y7, Y7
	VADDPS Y7, Y6, Y6
	VMOVUPS 3584(SI)(AX*1), Y7
	VMULPS 1792(DI)(AX*1), Y7, Y7
	VADDPS Y7, Y6, Y6
	VMOVUPS 3968(SI)(AX*1), Y7
	VMULPS 1920(DI)(AX*1), Y7, Y7
	VADDPS Y7, Y6, Y6
	VADDPS Y2, Y0, Y0
	VADDPS Y6, Y4, Y4
	VADDPS Y4, Y0, Y0
	VMOVUPS Y0, (DX)(AX*1)
	ADDQ $32, AX
	CMPQ AX, $128
	JLT  loop
	VZEROUPPER
	RET
