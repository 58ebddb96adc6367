//go:build unix

// Command storage compares fed with Git LFS on the storage benchmark of
// issue 2: a 512 MiB FP32 safetensors model with 40 tensors (v1), a full
// fine-tune of it (v2: every weight nudged by up to 0.5%) and a partial
// update (v3: 2 of the 40 tensors rewritten). For each version it times
// `fed add` + `fed commit` and `git add` + `git commit` with the lfs filter,
// run as child processes, and reports wall time, bytes the store grew by,
// and the peak RSS of the child processes, side by side and as ratios.
//
//	go run ./bench/storage -fed ./fed -size 512MiB
package main

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fed-vcs/fed/bench/internal/benchrun"
)

type result struct {
	wall  time.Duration
	grown int64
	rss   int64 // KiB, the largest child
}

func main() {
	fedBin := flag.String("fed", "fed", "path of the fed binary")
	gen := flag.String("genmodel", "genmodel", "path of the genmodel binary")
	size := flag.String("size", "512MiB", "model size")
	keep := flag.Bool("keep", false, "keep the work directory")
	flag.Parse()
	if err := run(*fedBin, *gen, *size, *keep); err != nil {
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

func run(fedBin, gen, size string, keep bool) error {
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

	// fed
	fedDir := filepath.Join(work, "fed")
	os.MkdirAll(fedDir, 0o755)
	env := append(os.Environ(), "HOME="+work, "FED_CONFIG="+filepath.Join(work, "fedconfig"))
	key := filepath.Join(work, "id.json")
	if _, err := benchrun.Run(fedDir, env, fedBin, "keygen", key); err != nil {
		return err
	}
	env = append(env, "FED_KEYPAIR="+key)
	if _, err := benchrun.Run(fedDir, env, fedBin, "init", "-q"); err != nil {
		if _, err := benchrun.Run(fedDir, env, fedBin, "init"); err != nil {
			return err
		}
	}
	// git lfs
	gitDir := filepath.Join(work, "git")
	os.MkdirAll(gitDir, 0o755)
	genv := append(os.Environ(), "HOME="+work, "GIT_AUTHOR_NAME=b", "GIT_AUTHOR_EMAIL=b@b", "GIT_COMMITTER_NAME=b", "GIT_COMMITTER_EMAIL=b@b")
	for _, c := range [][]string{{"init", "-q"}, {"lfs", "install", "--local"}, {"lfs", "track", "*.safetensors"}, {"add", ".gitattributes"}, {"commit", "-qm", "attributes"}} {
		if _, err := benchrun.Run(gitDir, genv, "git", c...); err != nil {
			return fmt.Errorf("git lfs is needed (apt-get install git-lfs): %w", err)
		}
	}
	var fedRes, lfsRes [3]result
	for i := 1; i <= 3; i++ {
		for _, side := range []struct {
			dir, store string
			res        *result
			cmds       [][]string
			env        []string
		}{
			{fedDir, filepath.Join(fedDir, ".fed"), &fedRes[i-1], [][]string{{fedBin, "add", "model.safetensors"}, {fedBin, "commit", "-m", fmt.Sprint("v", i)}}, env},
			{gitDir, filepath.Join(gitDir, ".git"), &lfsRes[i-1], [][]string{{"git", "add", "model.safetensors"}, {"git", "commit", "-qm", fmt.Sprint("v", i)}}, genv},
		} {
			dst := filepath.Join(side.dir, "model.safetensors")
			if _, err := benchrun.Run(work, nil, "cp", v(i), dst); err != nil {
				return err
			}
			// same mtime for both, and drop the copy from the timing
			before := du(side.store)
			start := time.Now()
			for _, c := range side.cmds {
				p, err := benchrun.Run(side.dir, side.env, c[0], c[1:]...)
				if err != nil {
					return err
				}
				side.res.rss = max(side.res.rss, p.RSS)
			}
			side.res.wall = time.Since(start)
			side.res.grown = du(side.store) - before
		}
	}
	fmt.Printf("storage benchmark: %s FP32 safetensors, 40 tensors; fed vs git-lfs add+commit, one run\n\n", size)
	fmt.Printf("%-4s %10s %10s %8s | %12s %12s %8s | %9s %9s\n", "ver", "fed s", "lfs s", "time ×", "fed bytes", "lfs bytes", "bytes ×", "fed RSS", "lfs RSS")
	names := []string{"v1", "v2", "v3"}
	for i := range fedRes {
		f, l := fedRes[i], lfsRes[i]
		fmt.Printf("%-4s %10.2f %10.2f %8.3f | %12d %12d %8.3f | %7dMB %7dMB\n", names[i],
			f.wall.Seconds(), l.wall.Seconds(), f.wall.Seconds()/l.wall.Seconds(),
			f.grown, l.grown, float64(f.grown)/float64(l.grown), f.rss/1024, l.rss/1024)
	}
	fmt.Println("\ntargets: bytes × ≤ 0.65 for v2 and ≤ 0.06 for v3; time × ≤ 0.5; fed RSS < 256 MB")
	return nil
}
