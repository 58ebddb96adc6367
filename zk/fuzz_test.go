package zk

import (
	"bytes"
	"context"
	"testing"
)

func FuzzDecodeBody(f *testing.F) {
	b := &Body{Kind: KindUpdate, ChunkSize: 16, Self: Commitment{Chunks: []Digest{{1}, {2}}}, Parents: []ParentCommitment{{Chunks: []Digest{{3}, {4}}}},
		Linf: 100, LBits: 8, HasL2: true, L2: 50, Budgets: []uint64{20, 30}, Proofs: [][]byte{{1, 2}, {3}}}
	f.Add(b.Encode())
	m := &Body{Kind: KindMerge, ChunkSize: 8, Self: Commitment{Chunks: []Digest{{5}}}, Parents: []ParentCommitment{{Chunks: []Digest{{6}}}, {Chunks: []Digest{{7}}}},
		Weights: []uint64{1, 2}, WBits: 8, Proofs: [][]byte{{9}}}
	f.Add(m.Encode())
	f.Add((&Body{Kind: KindCommit, ChunkSize: 8}).Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := DecodeBody(data)
		if err != nil {
			return
		}
		if !bytes.Equal(b.Encode(), data) {
			t.Fatal("decode(encode) differs")
		}
		// Verifying garbage must fail cleanly, never panic.
		for i := range b.Proofs {
			if _, err := b.publicWitness(i); err != nil {
				t.Fatalf("public witness of a decoded body: %v", err)
			}
		}
	})
}

func FuzzDecodeVerifyingKey(f *testing.F) {
	f.Add(append(encodeKeyHeader('V', Shape{Kind: KindCommit, N: 8}, Development), 1, 2, 3))
	f.Add([]byte("FZKK\x01V\x02\x0dv1-commit-n16"))
	if vk, err := testCache.Setup(context.Background(), Shape{Kind: KindCommit, N: 8}); err == nil {
		f.Add(vk.Raw)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := DecodeVerifyingKey(data)
		if err != nil {
			return
		}
		if k.ID != KeyID(data) || !bytes.Equal(k.Raw, data) {
			t.Fatal("key id or bytes differ")
		}
	})
}
