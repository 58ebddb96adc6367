#include "textflag.h"

// Byte-plane interleaving for Ungroup with SSE2 (baseline on amd64).
// Each routine handles n blocks of 16 elements; planes are stride bytes
// apart in src. The Xor forms XOR the result with base before storing.

// func ungroup4(dst, src *byte, n, stride int)
TEXT ·ungroup4(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ stride+24(FP), DX
	LEAQ (SI)(DX*1), R8
	LEAQ (R8)(DX*1), R9
	LEAQ (R9)(DX*1), R10
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

// func ungroup4Xor(dst, src, base *byte, n, stride int)
TEXT ·ungroup4Xor(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ base+16(FP), BX
	MOVQ n+24(FP), CX
	MOVQ stride+32(FP), DX
	LEAQ (SI)(DX*1), R8
	LEAQ (R8)(DX*1), R9
	LEAQ (R9)(DX*1), R10
loop4x:
	TESTQ CX, CX
	JZ done4x
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
	MOVOU 0(BX), X8
	MOVOU 16(BX), X9
	MOVOU 32(BX), X10
	MOVOU 48(BX), X11
	PXOR X8, X0
	PXOR X9, X6
	PXOR X10, X4
	PXOR X11, X7
	MOVOU X0, 0(DI)
	MOVOU X6, 16(DI)
	MOVOU X4, 32(DI)
	MOVOU X7, 48(DI)
	ADDQ $16, SI
	ADDQ $16, R8
	ADDQ $16, R9
	ADDQ $16, R10
	ADDQ $64, BX
	ADDQ $64, DI
	DECQ CX
	JMP loop4x
done4x:
	RET

// func ungroup2(dst, src *byte, n, stride int)
TEXT ·ungroup2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ stride+24(FP), DX
	LEAQ (SI)(DX*1), R8
loop2:
	TESTQ CX, CX
	JZ done2
	MOVOU (SI), X0
	MOVOU (R8), X1
	MOVO X0, X2
	PUNPCKLBW X1, X0
	PUNPCKHBW X1, X2
	MOVOU X0, 0(DI)
	MOVOU X2, 16(DI)
	ADDQ $16, SI
	ADDQ $16, R8
	ADDQ $32, DI
	DECQ CX
	JMP loop2
done2:
	RET

// func ungroup2Xor(dst, src, base *byte, n, stride int)
TEXT ·ungroup2Xor(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ base+16(FP), BX
	MOVQ n+24(FP), CX
	MOVQ stride+32(FP), DX
	LEAQ (SI)(DX*1), R8
loop2x:
	TESTQ CX, CX
	JZ done2x
	MOVOU (SI), X0
	MOVOU (R8), X1
	MOVO X0, X2
	PUNPCKLBW X1, X0
	PUNPCKHBW X1, X2
	MOVOU 0(BX), X8
	MOVOU 16(BX), X9
	PXOR X8, X0
	PXOR X9, X2
	MOVOU X0, 0(DI)
	MOVOU X2, 16(DI)
	ADDQ $16, SI
	ADDQ $16, R8
	ADDQ $32, BX
	ADDQ $32, DI
	DECQ CX
	JMP loop2x
done2x:
	RET
