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

// func meanF32x8(out *byte, sides **byte, q *float64, k, n int)
//
// meanF32x4's arithmetic with AVX2 on n blocks of 8 elements: the same
// operations in the same order per element (separate multiply and add,
// never fused), so the results are bit-identical.
TEXT ·meanF32x8(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ sides+8(FP), SI
	MOVQ q+16(FP), R11
	MOVQ k+24(FP), R12
	MOVQ n+32(FP), CX
	MOVL $0x7fffffff, AX
	MOVQ AX, X13
	VPBROADCASTD X13, Y13
	MOVL $0x7f800000, AX
	MOVQ AX, X14
	VPBROADCASTD X14, Y14
	MOVL $0x7fc00000, AX
	MOVQ AX, X15
	VPBROADCASTD X15, Y15
	XORQ R9, R9
loop8:
	TESTQ CX, CX
	JZ done8
	MOVQ 0(SI), R8
	VMOVDQU (R8)(R9*1), Y0
	VBROADCASTSD 0(R11), Y8
	VCVTPS2PD X0, Y2
	VEXTRACTF128 $1, Y0, X3
	VCVTPS2PD X3, Y3
	VMULPD Y8, Y2, Y2
	VMULPD Y8, Y3, Y3
	VPCMPEQD Y4, Y4, Y4
	MOVQ $1, R10
inner8:
	CMPQ R10, R12
	JGE innerdone8
	MOVQ (SI)(R10*8), R8
	VMOVDQU (R8)(R9*1), Y5
	VPCMPEQD Y0, Y5, Y6
	VPAND Y6, Y4, Y4
	VBROADCASTSD (R11)(R10*8), Y8
	VCVTPS2PD X5, Y6
	VMULPD Y8, Y6, Y6
	VADDPD Y6, Y2, Y2
	VEXTRACTF128 $1, Y5, X7
	VCVTPS2PD X7, Y7
	VMULPD Y8, Y7, Y7
	VADDPD Y7, Y3, Y3
	INCQ R10
	JMP inner8
innerdone8:
	VCVTPD2PSY Y2, X2
	VCVTPD2PSY Y3, X3
	VINSERTF128 $1, X3, Y2, Y2
	// NaN lanes: (bits & 0x7fffffff) > 0x7f800000
	VPAND Y13, Y2, Y6
	VPCMPGTD Y14, Y6, Y6
	VPANDN Y2, Y6, Y7
	VPAND Y15, Y6, Y6
	VPOR Y6, Y7, Y7
	// lanes where every side agrees keep side 0's bits
	VPAND Y4, Y0, Y0
	VPANDN Y7, Y4, Y4
	VPOR Y4, Y0, Y0
	VMOVDQU Y0, (DI)(R9*1)
	ADDQ $32, R9
	DECQ CX
	JMP loop8
done8:
	VZEROUPPER
	RET

// func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eaxArg+0(FP), AX
	MOVL ecxArg+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func xgetbv() (eax, edx uint32)
TEXT ·xgetbv(SB), NOSPLIT, $0-8
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	MOVL DX, edx+4(FP)
	RET
