//go:build unix

// Command storage compares fed with Git LFS on the storage benchmark of
// issue 2: a 512 MiB FP32 safetensors model with 40 tensors (v1), a full
// fine-tune of it (v2: every weight nudged by up to 0.5%) and a partial
// update (v3: 2 of the 40 tensors rewritten). For each version it times
// `fed add` + `fed commit` and `git add` + `git commit` with the lfs filter,
// run as child processes, and reports wall time, CPU time (user+sys), bytes
// the store grew by, and the peak RSS of the child processes, side by side
// and as ratios, with the machine's load average before and after.
//
//	go run ./bench/storage -fed ./fed -size 512MiB   (make bench-storage SIZE=128MiB)
package main

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fed-vcs/fed/bench/internal/benchrun"
)

type result struct {
	wall  time.Duration
	cpu   time.Duration // user+sys of the children
	grown int64
	rss   int64 // KiB, the largest child
}

func main() {
	fedBin := flag.String("fed", "fed", "path of the fed binary")
	gen := flag.String("genmodel", "genmodel", "path of the genmodel binary")
	size := flag.String("size", "512MiB", "model size")
	keep := flag.Bool("keep", false, "keep the work directory")
	nruns := flag.Int("runs", 1, "runs (fresh repositories each time, same models); more than one prints medians")
	flag.Parse()
	if err := run(*fedBin, *gen, *size, *nruns, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func du(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

func run(fedBin, gen, size string, nruns int, keep bool) error {
	if nruns < 1 {
		return fmt.Errorf("-runs %d: at least one", nruns)
	}
	work, err := os.MkdirTemp("", "fed-bench-")
	if err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(work)
	}
	fedBin, _ = filepath.Abs(fedBin)
	if strings.Contains(gen, "/") {
		gen, _ = filepath.Abs(gen)
	}
	models := filepath.Join(work, "models")
	os.MkdirAll(models, 0o755)
	v := func(i int) string { return filepath.Join(models, fmt.Sprintf("v%d.safetensors", i)) }
	fmt.Fprintf(os.Stderr, "generating %s models in %s\n", size, models)
	if _, err := benchrun.Run(work, nil, gen, "-o", v(1), "-size", size, "-tensors", "40", "-seed", "1"); err != nil {
		return err
	}
	if _, err := benchrun.Run(work, nil, gen, "-o", v(2), "-from", v(1), "-nudge", "0.005", "-seed", "2"); err != nil {
		return err
	}
	if _, err := benchrun.Run(work, nil, gen, "-o", v(3), "-from", v(1), "-change", "2", "-seed", "3"); err != nil {
		return err
	}

	runs := make([][2][3]result, 0, nruns)
	for r := 1; r <= nruns; r++ {
		dir := filepath.Join(work, fmt.Sprint("run", r))
		res, err := once(dir, fedBin, v)
		if err != nil {
			return err
		}
		runs = append(runs, res)
		fmt.Printf("storage benchmark: %s FP32 safetensors, 40 tensors; fed vs git-lfs add+commit, run %d of %d; load average %s\n\n", size, r, nruns, benchrun.LoadAvg())
		fmt.Printf("%-4s %7s %7s %8s %7s %7s %7s | %12s %12s %8s | %9s %9s\n", "ver", "fed s", "lfs s", "time ×", "fed cpu", "lfs cpu", "cpu ×", "fed bytes", "lfs bytes", "bytes ×", "fed RSS", "lfs RSS")
		for i, name := range []string{"v1", "v2", "v3"} {
			f, l := res[0][i], res[1][i]
			fmt.Printf("%-4s %7.2f %7.2f %8.3f %7.2f %7.2f %7.3f | %12d %12d %8.3f | %7dMB %7dMB\n", name,
				f.wall.Seconds(), l.wall.Seconds(), f.wall.Seconds()/l.wall.Seconds(),
				f.cpu.Seconds(), l.cpu.Seconds(), f.cpu.Seconds()/l.cpu.Seconds(),
				f.grown, l.grown, float64(f.grown)/float64(l.grown), f.rss/1024, l.rss/1024)
		}
		fmt.Println()
		if !keep {
			os.RemoveAll(dir)
		}
	}
	if nruns > 1 {
		fmt.Printf("median [range] of %d runs, fed over git-lfs from the same run:\n", nruns)
		for i, name := range []string{"v1", "v2", "v3"} {
			var tr, cr []float64
			for _, res := range runs {
				f, l := res[0][i], res[1][i]
				tr = append(tr, f.wall.Seconds()/l.wall.Seconds())
				cr = append(cr, f.cpu.Seconds()/l.cpu.Seconds())
			}
			fmt.Printf("%-4s time × %s  cpu × %s\n", name, medianRange(tr), medianRange(cr))
		}
		fmt.Println()
	}
	// The floor that stops fed (issue 20's bound), after the runs: fed
	// reads and hashes what git lfs does, encodes it and writes its stored
	// bytes durably (git lfs does not fsync), on 2 cores. Compared with git
	// lfs's CPU time, which is at most its wall time (on a quiet machine
	// about two thirds of it at 512 MiB).
	fmt.Println("floor on this machine: CPU time on one core, measured in this process (the disk's part in wall time), medians of the runs;")
	fmt.Println("git lfs's CPU time is at most its wall time, so the lowest time × fed can reach is at most the bound over it:")
	for i := range 2 {
		var fw, fc, lw, lc, grown []float64
		for _, res := range runs {
			fw = append(fw, res[0][i].wall.Seconds())
			fc = append(fc, res[0][i].cpu.Seconds())
			lw = append(lw, res[1][i].wall.Seconds())
			lc = append(lc, res[1][i].cpu.Seconds())
			grown = append(grown, float64(res[0][i].grown))
		}
		fl, err := measureFloor(work, v(i+1), int64(median(grown)))
		if err != nil {
			return fmt.Errorf("measuring the floor: %w", err)
		}
		cpu, lfs := median(fc), median(lc)
		bound := max(cpu/2, fl.durable.Seconds())
		fmt.Printf("v%d: read+SHA-256 %.2f s; with a copy (git lfs's own work) %.2f s; git lfs took %.2f s CPU, %.2f s wall\n"+
			"    fed: CPU %.2f s (%.2f s on 2 cores); its %d stored bytes written and fsynced in %.2f s (%.0f MB/s);\n"+
			"    bound max(CPU/2, disk) %.2f s = %.3f × git lfs's CPU time; fed took %.2f s wall\n",
			i+1, fl.hashCPU.Seconds(), fl.copyCPU.Seconds(), lfs, median(lw),
			cpu, cpu/2, fl.n, fl.durable.Seconds(), float64(fl.n)/1e6/fl.durable.Seconds(),
			bound, bound/lfs, median(fw))
	}
	fmt.Println()
	fmt.Println("targets (issue 20): time × ≤ 0.25 (v1) and ≤ 0.30 (v2) at 512 MiB, ≤ 0.35 (v1) at 128 MiB;")
	fmt.Println("bytes × ≤ 0.65 for v2 and ≤ 0.06 for v3; fed RSS < 256 MB; load average now", benchrun.LoadAvg())
	return nil
}

// median returns the median of xs (sorting them).
func median(xs []float64) float64 {
	slices.Sort(xs)
	if len(xs)%2 == 0 {
		return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	return xs[len(xs)/2]
}

// medianRange formats the median and the range of xs.
func medianRange(xs []float64) string {
	m := median(xs)
	return fmt.Sprintf("%.3f [%.3f–%.3f]", m, xs[0], xs[len(xs)-1])
}

// once adds and commits the three versions v(1..3) with fed and with git
// lfs in fresh repositories under dir: [0] is fed's cost, [1] git lfs's.
func once(dir, fedBin string, v func(int) string) ([2][3]result, error) {
	var out [2][3]result
	fedDir := filepath.Join(dir, "fed")
	os.MkdirAll(fedDir, 0o755)
	env := append(os.Environ(), "HOME="+dir, "FED_CONFIG="+filepath.Join(dir, "fedconfig"))
	key := filepath.Join(dir, "id.json")
	if _, err := benchrun.Run(fedDir, env, fedBin, "keygen", key); err != nil {
		return out, err
	}
	env = append(env, "FED_KEYPAIR="+key)
	if _, err := benchrun.Run(fedDir, env, fedBin, "init", "-q"); err != nil {
		if _, err := benchrun.Run(fedDir, env, fedBin, "init"); err != nil {
			return out, err
		}
	}
	gitDir := filepath.Join(dir, "git")
	os.MkdirAll(gitDir, 0o755)
	genv := append(os.Environ(), "HOME="+dir, "GIT_AUTHOR_NAME=b", "GIT_AUTHOR_EMAIL=b@b", "GIT_COMMITTER_NAME=b", "GIT_COMMITTER_EMAIL=b@b")
	for _, c := range [][]string{{"init", "-q"}, {"lfs", "install", "--local"}, {"lfs", "track", "*.safetensors"}, {"add", ".gitattributes"}, {"commit", "-qm", "attributes"}} {
		if _, err := benchrun.Run(gitDir, genv, "git", c...); err != nil {
			return out, fmt.Errorf("git lfs is needed (apt-get install git-lfs): %w", err)
		}
	}
	for i := 1; i <= 3; i++ {
		for _, side := range []struct {
			dir, store string
			res        *result
			cmds       [][]string
			env        []string
		}{
			{fedDir, filepath.Join(fedDir, ".fed"), &out[0][i-1], [][]string{{fedBin, "add", "model.safetensors"}, {fedBin, "commit", "-m", fmt.Sprint("v", i)}}, env},
			{gitDir, filepath.Join(gitDir, ".git"), &out[1][i-1], [][]string{{"git", "add", "model.safetensors"}, {"git", "commit", "-qm", fmt.Sprint("v", i)}}, genv},
		} {
			dst := filepath.Join(side.dir, "model.safetensors")
			// same mtime for both, and drop the copy from the timing
			if _, err := benchrun.Run(dir, nil, "cp", v(i), dst); err != nil {
				return out, err
			}
			before := du(side.store)
			start := time.Now()
			for _, c := range side.cmds {
				p, err := benchrun.Run(side.dir, side.env, c[0], c[1:]...)
				if err != nil {
					return out, err
				}
				side.res.rss = max(side.res.rss, p.RSS)
				side.res.cpu += p.CPU
			}
			side.res.wall = time.Since(start)
			side.res.grown = du(side.store) - before
		}
	}
	return out, nil
}
