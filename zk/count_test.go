package zk

import (
	"os"
	"testing"

	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
)

func TestCountConstraints(t *testing.T) {
	if os.Getenv("ZK_COUNT") == "" {
		t.Skip("ZK_COUNT not set")
	}
	for _, s := range []Shape{{Kind: KindCommit, N: 8192}, {Kind: KindUpdate, N: 8192, LBits: 12}, {Kind: KindMerge, N: 8192, K: 4, WBits: 16}} {
		cs, err := frontend.Compile(field(), r1cs.NewBuilder, s.placeholder())
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d constraints, %.2f/param", s, cs.GetNbConstraints(), float64(cs.GetNbConstraints())/float64(s.N))
	}
}
