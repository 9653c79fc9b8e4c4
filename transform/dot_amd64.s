//go:build !purego

#include "textflag.h"

// func dotVector(c, x []float32) float32
//
// Sixteen taps a step into two accumulators of eight lanes, then eight,
// then four, then the lanes summed.
TEXT ·dotVector(SB), NOSPLIT, $0-52
	MOVQ c_base+0(FP), SI
	MOVQ c_len+8(FP), CX
	MOVQ x_base+24(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	XORQ AX, AX

loop16:
	LEAQ 16(AX), BX
	CMPQ BX, CX
	JGT  tail8
	VMOVUPS (SI)(AX*4), Y4
	VMOVUPS 32(SI)(AX*4), Y5
	VFMADD231PS (DI)(AX*4), Y4, Y0
	VFMADD231PS 32(DI)(AX*4), Y5, Y1
	MOVQ BX, AX
	JMP  loop16

tail8:
	LEAQ 8(AX), BX
	CMPQ BX, CX
	JGT  tail4
	VMOVUPS (SI)(AX*4), Y4
	VFMADD231PS (DI)(AX*4), Y4, Y0
	MOVQ BX, AX

tail4:
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	CMPQ AX, CX
	JGE  sum
	VMOVUPS (SI)(AX*4), X4
	VFMADD231PS (DI)(AX*4), X4, X0

sum:
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VMOVSS X0, ret+48(FP)
	VZEROUPPER
	RET

// func dot2Vector(c, a, b []float32) (s, t float32)
//
// dotVector over two channels, each coefficient loaded once: sixteen taps
// a step into two accumulators a channel.
TEXT ·dot2Vector(SB), NOSPLIT, $0-80
	MOVQ c_base+0(FP), SI
	MOVQ c_len+8(FP), CX
	MOVQ a_base+24(FP), DI
	MOVQ b_base+48(FP), DX
	VXORPS Y0, Y0, Y0 // a
	VXORPS Y1, Y1, Y1 // b
	VXORPS Y2, Y2, Y2 // a
	VXORPS Y3, Y3, Y3 // b
	XORQ AX, AX

loop16:
	LEAQ 16(AX), BX
	CMPQ BX, CX
	JGT  tail8
	VMOVUPS (SI)(AX*4), Y4
	VMOVUPS 32(SI)(AX*4), Y5
	VFMADD231PS (DI)(AX*4), Y4, Y0
	VFMADD231PS (DX)(AX*4), Y4, Y1
	VFMADD231PS 32(DI)(AX*4), Y5, Y2
	VFMADD231PS 32(DX)(AX*4), Y5, Y3
	MOVQ BX, AX
	JMP  loop16

tail8:
	LEAQ 8(AX), BX
	CMPQ BX, CX
	JGT  tail4
	VMOVUPS (SI)(AX*4), Y4
	VFMADD231PS (DI)(AX*4), Y4, Y0
	VFMADD231PS (DX)(AX*4), Y4, Y1
	MOVQ BX, AX

tail4:
	VADDPS Y2, Y0, Y0
	VADDPS Y3, Y1, Y1
	VEXTRACTF128 $1, Y0, X2
	VEXTRACTF128 $1, Y1, X3
	VADDPS X2, X0, X0
	VADDPS X3, X1, X1
	CMPQ AX, CX
	JGE  sum
	VMOVUPS (SI)(AX*4), X4
	VFMADD231PS (DI)(AX*4), X4, X0
	VFMADD231PS (DX)(AX*4), X4, X1

sum:
	VHADDPS X1, X0, X0 // a0+a1, a2+a3, b0+b1, b2+b3
	VHADDPS X0, X0, X0 // a, b, a, b
	VMOVSS X0, s+72(FP)
	VEXTRACTPS $1, X0, t+76(FP)
	VZEROUPPER
	RET

// func dot2PairVector(c, a, b, d, e, f []float32) (s, t, u, v float32)
//
// Two dot2Vector at once, (s, t) of c over a and b and (u, v) of d over e
// and f, each computed by dot2Vector's very steps (so to the same bits),
// interleaved so that the two sums' additions overlap. c and d have one
// length, a multiple of 4; the others are at least as long.
TEXT ·dot2PairVector(SB), NOSPLIT, $0-160
	MOVQ c_base+0(FP), SI
	MOVQ c_len+8(FP), CX
	MOVQ a_base+24(FP), DI
	MOVQ b_base+48(FP), DX
	MOVQ d_base+72(FP), R8
	MOVQ e_base+96(FP), R9
	MOVQ f_base+120(FP), R10
	VXORPS Y0, Y0, Y0 // a
	VXORPS Y1, Y1, Y1 // b
	VXORPS Y2, Y2, Y2 // a
	VXORPS Y3, Y3, Y3 // b
	VXORPS Y6, Y6, Y6 // e
	VXORPS Y7, Y7, Y7 // f
	VXORPS Y8, Y8, Y8 // e
	VXORPS Y9, Y9, Y9 // f
	XORQ AX, AX

loop16:
	LEAQ 16(AX), BX
	CMPQ BX, CX
	JGT  tail8
	VMOVUPS (SI)(AX*4), Y4
	VMOVUPS 32(SI)(AX*4), Y5
	VMOVUPS (R8)(AX*4), Y10
	VMOVUPS 32(R8)(AX*4), Y11
	VFMADD231PS (DI)(AX*4), Y4, Y0
	VFMADD231PS (R9)(AX*4), Y10, Y6
	VFMADD231PS (DX)(AX*4), Y4, Y1
	VFMADD231PS (R10)(AX*4), Y10, Y7
	VFMADD231PS 32(DI)(AX*4), Y5, Y2
	VFMADD231PS 32(R9)(AX*4), Y11, Y8
	VFMADD231PS 32(DX)(AX*4), Y5, Y3
	VFMADD231PS 32(R10)(AX*4), Y11, Y9
	MOVQ BX, AX
	JMP  loop16

tail8:
	LEAQ 8(AX), BX
	CMPQ BX, CX
	JGT  tail4
	VMOVUPS (SI)(AX*4), Y4
	VMOVUPS (R8)(AX*4), Y10
	VFMADD231PS (DI)(AX*4), Y4, Y0
	VFMADD231PS (R9)(AX*4), Y10, Y6
	VFMADD231PS (DX)(AX*4), Y4, Y1
	VFMADD231PS (R10)(AX*4), Y10, Y7
	MOVQ BX, AX

tail4:
	VADDPS Y2, Y0, Y0
	VADDPS Y8, Y6, Y6
	VADDPS Y3, Y1, Y1
	VADDPS Y9, Y7, Y7
	VEXTRACTF128 $1, Y0, X2
	VEXTRACTF128 $1, Y6, X8
	VEXTRACTF128 $1, Y1, X3
	VEXTRACTF128 $1, Y7, X9
	VADDPS X2, X0, X0
	VADDPS X8, X6, X6
	VADDPS X3, X1, X1
	VADDPS X9, X7, X7
	CMPQ AX, CX
	JGE  sum
	VMOVUPS (SI)(AX*4), X4
	VMOVUPS (R8)(AX*4), X10
	VFMADD231PS (DI)(AX*4), X4, X0
	VFMADD231PS (R9)(AX*4), X10, X6
	VFMADD231PS (DX)(AX*4), X4, X1
	VFMADD231PS (R10)(AX*4), X10, X7

sum:
	VHADDPS X1, X0, X0 // a0+a1, a2+a3, b0+b1, b2+b3
	VHADDPS X7, X6, X6 // e0+e1, e2+e3, f0+f1, f2+f3
	VHADDPS X0, X0, X0 // a, b, a, b
	VHADDPS X6, X6, X6 // e, f, e, f
	VMOVSS X0, s+144(FP)
	VEXTRACTPS $1, X0, t+148(FP)
	VMOVSS X6, u+152(FP)
	VEXTRACTPS $1, X6, v+156(FP)
	VZEROUPPER
	RET
