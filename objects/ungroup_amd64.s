#include "textflag.h"

// Byte-plane interleaving for Ungroup with SSE2 (baseline on amd64): n
// blocks of 16 elements from the planes p0.. into dst, XORed with base
// unless base is nil.

// func ungroup4(dst, p0, p1, p2, p3, base *byte, n int)
TEXT ·ungroup4(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ p0+8(FP), SI
	MOVQ p1+16(FP), R8
	MOVQ p2+24(FP), R9
	MOVQ p3+32(FP), R10
	MOVQ base+40(FP), BX
	MOVQ n+48(FP), CX
loop4:
	TESTQ CX, CX
	JZ done4
	MOVOU (SI), X0
	MOVOU (R8), X1
	MOVOU (R9), X2
	MOVOU (R10), X3
	MOVO X0, X4
	PUNPCKLBW X1, X0
	PUNPCKHBW X1, X4
	MOVO X2, X5
	PUNPCKLBW X3, X2
	PUNPCKHBW X3, X5
	MOVO X0, X6
	PUNPCKLWL X2, X0
	PUNPCKHWL X2, X6
	MOVO X4, X7
	PUNPCKLWL X5, X4
	PUNPCKHWL X5, X7
	TESTQ BX, BX
	JZ store4
	MOVOU 0(BX), X8
	MOVOU 16(BX), X9
	MOVOU 32(BX), X10
	MOVOU 48(BX), X11
	PXOR X8, X0
	PXOR X9, X6
	PXOR X10, X4
	PXOR X11, X7
	ADDQ $64, BX
store4:
	MOVOU X0, 0(DI)
	MOVOU X6, 16(DI)
	MOVOU X4, 32(DI)
	MOVOU X7, 48(DI)
	ADDQ $16, SI
	ADDQ $16, R8
	ADDQ $16, R9
	ADDQ $16, R10
	ADDQ $64, DI
	DECQ CX
	JMP loop4
done4:
	RET

// func ungroup2(dst, p0, p1, base *byte, n int)
TEXT ·ungroup2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ p0+8(FP), SI
	MOVQ p1+16(FP), R8
	MOVQ base+24(FP), BX
	MOVQ n+32(FP), CX
loop2:
	TESTQ CX, CX
	JZ done2
	MOVOU (SI), X0
	MOVOU (R8), X1
	MOVO X0, X2
	PUNPCKLBW X1, X0
	PUNPCKHBW X1, X2
	TESTQ BX, BX
	JZ store2
	MOVOU 0(BX), X8
	MOVOU 16(BX), X9
	PXOR X8, X0
	PXOR X9, X2
	ADDQ $32, BX
store2:
	MOVOU X0, 0(DI)
	MOVOU X2, 16(DI)
	ADDQ $16, SI
	ADDQ $16, R8
	ADDQ $32, DI
	DECQ CX
	JMP loop2
done2:
	RET

// Byte-plane grouping for Group with SSE2: n blocks of 16 elements from
// src (XORed with base first unless base is nil) into planes stride bytes
// apart at dst.

// func group4Xor(dst, src, base *byte, n, stride int)
TEXT ·group4Xor(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ base+16(FP), BX
	MOVQ n+24(FP), CX
	MOVQ stride+32(FP), DX

	PCMPEQL X15, X15
	PSRLL $24, X15
	LEAQ (DI)(DX*1), R8
	LEAQ (R8)(DX*1), R9
	LEAQ (R9)(DX*1), R10
loopg4:
	TESTQ CX, CX
	JZ doneg4
	MOVOU 0(SI), X0
	MOVOU 16(SI), X1
	MOVOU 32(SI), X2
	MOVOU 48(SI), X3
	TESTQ BX, BX
	JZ g4noxor
	MOVOU 0(BX), X8
	MOVOU 16(BX), X9
	MOVOU 32(BX), X10
	MOVOU 48(BX), X11
	PXOR X8, X0
	PXOR X9, X1
	PXOR X10, X2
	PXOR X11, X3
	ADDQ $64, BX
g4noxor:
	// plane 0
	MOVO X0, X4
	MOVO X1, X5
	MOVO X2, X6
	MOVO X3, X7
	PAND X15, X4
	PAND X15, X5
	PAND X15, X6
	PAND X15, X7
	PACKSSLW X5, X4
	PACKSSLW X7, X6
	PACKUSWB X6, X4
	MOVOU X4, (DI)
	// plane 1
	MOVO X0, X4
	MOVO X1, X5
	MOVO X2, X6
	MOVO X3, X7
	PSRLL $8, X4
	PSRLL $8, X5
	PSRLL $8, X6
	PSRLL $8, X7
	PAND X15, X4
	PAND X15, X5
	PAND X15, X6
	PAND X15, X7
	PACKSSLW X5, X4
	PACKSSLW X7, X6
	PACKUSWB X6, X4
	MOVOU X4, (R8)
	// plane 2
	MOVO X0, X4
	MOVO X1, X5
	MOVO X2, X6
	MOVO X3, X7
	PSRLL $16, X4
	PSRLL $16, X5
	PSRLL $16, X6
	PSRLL $16, X7
	PAND X15, X4
	PAND X15, X5
	PAND X15, X6
	PAND X15, X7
	PACKSSLW X5, X4
	PACKSSLW X7, X6
	PACKUSWB X6, X4
	MOVOU X4, (R9)
	// plane 3
	PSRLL $24, X0
	PSRLL $24, X1
	PSRLL $24, X2
	PSRLL $24, X3
	PACKSSLW X1, X0
	PACKSSLW X3, X2
	PACKUSWB X2, X0
	MOVOU X0, (R10)
	ADDQ $64, SI
	ADDQ $16, DI
	ADDQ $16, R8
	ADDQ $16, R9
	ADDQ $16, R10
	DECQ CX
	JMP loopg4
doneg4:
	RET

// func group2Xor(dst, src, base *byte, n, stride int)
TEXT ·group2Xor(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ base+16(FP), BX
	MOVQ n+24(FP), CX
	MOVQ stride+32(FP), DX

	PCMPEQW X15, X15
	PSRLW $8, X15
	LEAQ (DI)(DX*1), R8
loopg2:
	TESTQ CX, CX
	JZ doneg2
	MOVOU 0(SI), X0
	MOVOU 16(SI), X1
	TESTQ BX, BX
	JZ g2noxor
	MOVOU 0(BX), X8
	MOVOU 16(BX), X9
	PXOR X8, X0
	PXOR X9, X1
	ADDQ $32, BX
g2noxor:
	MOVO X0, X4
	MOVO X1, X5
	PAND X15, X4
	PAND X15, X5
	PACKUSWB X5, X4
	MOVOU X4, (DI)
	PSRLW $8, X0
	PSRLW $8, X1
	PACKUSWB X1, X0
	MOVOU X0, (R8)
	ADDQ $32, SI
	ADDQ $16, DI
	ADDQ $16, R8
	DECQ CX
	JMP loopg2
doneg2:
	RET
