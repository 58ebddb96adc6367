#include "textflag.h"

// func meanF32x4(out *byte, sides **byte, q *float64, k, n int)
//
// meanF32 for n blocks of 4 F32 elements with SSE2, k ≥ 1 sides: per
// element acc = fl(q0·x0), acc = fl(acc + fl(qa·xa)) for a = 1..k-1 (no
// fused multiply-add), rounded once to float32 (nearest even); NaN gives
// the canonical 0x7fc00000; when every side has the same bits, side 0's
// bits are copied.
TEXT ·meanF32x4(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ sides+8(FP), SI
	MOVQ q+16(FP), R11
	MOVQ k+24(FP), R12
	MOVQ n+32(FP), CX
	MOVL $0x7fffffff, AX
	MOVQ AX, X13
	PSHUFD $0, X13, X13
	MOVL $0x7f800000, AX
	MOVQ AX, X14
	PSHUFD $0, X14, X14
	MOVL $0x7fc00000, AX
	MOVQ AX, X15
	PSHUFD $0, X15, X15
	XORQ R9, R9
loop:
	TESTQ CX, CX
	JZ done
	MOVQ 0(SI), R8
	MOVOU (R8)(R9*1), X0
	MOVSD 0(R11), X8
	UNPCKLPD X8, X8
	CVTPS2PD X0, X2
	MOVHLPS X0, X3
	CVTPS2PD X3, X3
	MULPD X8, X2
	MULPD X8, X3
	PCMPEQL X4, X4
	MOVQ $1, R10
inner:
	CMPQ R10, R12
	JGE innerdone
	MOVQ (SI)(R10*8), R8
	MOVOU (R8)(R9*1), X5
	MOVO X5, X6
	PCMPEQL X0, X6
	PAND X6, X4
	MOVSD (R11)(R10*8), X8
	UNPCKLPD X8, X8
	CVTPS2PD X5, X6
	MULPD X8, X6
	ADDPD X6, X2
	MOVHLPS X5, X7
	CVTPS2PD X7, X7
	MULPD X8, X7
	ADDPD X7, X3
	INCQ R10
	JMP inner
innerdone:
	CVTPD2PS X2, X2
	CVTPD2PS X3, X3
	MOVLHPS X3, X2
	// NaN lanes: (bits & 0x7fffffff) > 0x7f800000
	MOVO X2, X6
	PAND X13, X6
	PCMPGTL X14, X6
	MOVO X6, X7
	PANDN X2, X7
	PAND X15, X6
	POR X6, X7
	// lanes where every side agrees keep side 0's bits
	PAND X4, X0
	PANDN X7, X4
	POR X4, X0
	MOVOU X0, (DI)(R9*1)
	ADDQ $16, R9
	DECQ CX
	JMP loop
done:
	RET
