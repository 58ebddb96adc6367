package proving

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/fed-vcs/fed/repo"
	"github.com/fed-vcs/fed/zk"
)

// BenchmarkRecompute is the costly part of `fed verify`: binding a
// commit's commitment to its weights (read, quantise, hash every value),
// cold and answered from the memo, at the production chunk size.
func BenchmarkRecompute(b *testing.B) {
	ctx := context.Background()
	const n = 1 << 22 // 4 M parameters, 16 MiB of float32
	r := newTestRepo(b)
	id := zkCommitModel(b, r, "big", map[string][]float32{"w": zkSeq(n, func(i int) float32 { return float32(i%1000) / 1000 })}, repo.CommitOptions{})
	v, err := Values(ctx, r, id)
	if err != nil {
		b.Fatal(err)
	}
	const chunk = 8192
	c, err := zk.Commit(ctx, v, chunk)
	if err != nil {
		b.Fatal(err)
	}
	for _, warm := range []bool{false, true} {
		name := "cold"
		if warm {
			name = "memo"
		}
		b.Run(name, func(b *testing.B) {
			memo, err := OpenMemo(filepath.Join(b.TempDir(), MemoFile))
			if err != nil {
				b.Fatal(err)
			}
			p := prepo{Repo: r}
			if warm {
				p.memo = memo
				if _, err := p.recompute(ctx, id, chunk, c.Chunks, c.Root); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for range b.N {
				how, err := p.recompute(ctx, id, chunk, c.Chunks, c.Root)
				if err != nil || how != "recomputed" {
					b.Fatal(how, err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mparams/s")
		})
	}
}
