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
