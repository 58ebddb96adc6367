//go:build unix

// Command sides measures `fed merge` of many sides (issue 20): a base
// model and K contributions of it, merged in one federated round (HEAD is
// the base, every branch a side) by fedavg and by a robust rule, for each
// K of -sides. It reports, per run, wall time, CPU time (user+sys, which
// load distorts less), time per side and peak RSS (the child's maxrss),
// with the machine's load average before and after.
//
// Each contribution nudges one weight in 64 of the base (genmodel -every),
// so that K = 1,000 sides of a 32 MiB model take about a gigabyte of disk,
// not thirty: the merge still reads, decodes and merges every element of
// every side.
//
//	go run ./bench/sides -fed bin/fed -genmodel bin/genmodel -size 32MiB -sides 16,64,256,1000
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fed-vcs/fed/bench/internal/benchrun"
)

func main() {
	fedBin := flag.String("fed", "bin/fed", "fed binary")
	gen := flag.String("genmodel", "bin/genmodel", "genmodel binary")
	size := flag.String("size", "32MiB", "size of the model")
	tensors := flag.Int("tensors", 8, "tensors in the model")
	sides := flag.String("sides", "16,64,256,1000", "comma-separated numbers of sides")
	strategies := flag.String("strategies", "fedavg,median", "comma-separated strategies (none: only build the sides)")
	keep := flag.String("keep", "", "build (or reuse) the repository in this directory and keep it")
	every := flag.Int("every", 64, "each contribution nudges one weight in this many (1: every weight, as bench/merge)")
	flag.Parse()
	if os.Getenv("BENCH_VERBOSE") != "" {
		benchrun.Echo = os.Stderr
	}
	var ks []int
	for _, s := range strings.Split(*sides, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || k < 1 {
			fmt.Fprintf(os.Stderr, "bench: -sides %q: want positive numbers\n", *sides)
			os.Exit(2)
		}
		ks = append(ks, k)
	}
	var sts []string
	for _, s := range strings.Split(*strategies, ",") {
		if s = strings.TrimSpace(s); s != "" {
			sts = append(sts, s)
		}
	}
	if err := run(*fedBin, *gen, *size, *tensors, ks, sts, *keep, *every); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(fedBin, gen, size string, tensors int, ks []int, strategies []string, keep string, every int) error {
	fedBin, _ = filepath.Abs(fedBin)
	gen, _ = filepath.Abs(gen)
	work := keep
	if work == "" {
		var err error
		if work, err = os.MkdirTemp("", "fed-sides-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	work, _ = filepath.Abs(work)
	env := append(os.Environ(), "HOME="+work, "FED_CONFIG="+filepath.Join(work, "cfg"), "FED_KEYPAIR="+filepath.Join(work, "id.json"))
	repoDir := filepath.Join(work, "repo")
	model := filepath.Join(repoDir, "model.safetensors")
	base := filepath.Join(work, "base.safetensors")
	maxK := 0
	for _, k := range ks {
		maxK = max(maxK, k)
	}
	have := 0 // sides already built (with -keep)
	if b, err := os.ReadFile(filepath.Join(work, "sides")); err == nil {
		have, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	} else {
		if _, err := benchrun.Run(work, env, fedBin, "keygen", filepath.Join(work, "id.json")); err != nil {
			return err
		}
		if err := os.MkdirAll(repoDir, 0o755); err != nil {
			return err
		}
		for _, s := range [][]string{{gen, "-o", model, "-size", size, "-tensors", strconv.Itoa(tensors), "-seed", "1"}, {"cp", model, base},
			{fedBin, "init", "-q"}, {fedBin, "add", "model.safetensors"}, {fedBin, "commit", "-q", "-m", "base"}} {
			if _, err := benchrun.Run(repoDir, env, s[0], s[1:]...); err != nil {
				return err
			}
		}
	}
	if have < maxK {
		fmt.Fprintf(os.Stderr, "preparing %d contributions of a %s model (%d tensors)\n", maxK-have, size, tensors)
	}
	start := time.Now()
	for i := have; i < maxK; i++ {
		b := fmt.Sprintf("c%d", i)
		for _, s := range [][]string{
			{fedBin, "switch", "-q", "-c", b, "main"},
			{gen, "-o", model, "-from", base, "-nudge", "0.01", "-every", strconv.Itoa(every), "-seed", strconv.Itoa(10 + i)},
			{fedBin, "commit", "-q", "-a", "-m", b, "--samples", strconv.Itoa(100 + i)},
		} {
			if _, err := benchrun.Run(repoDir, env, s[0], s[1:]...); err != nil {
				return err
			}
		}
		if err := os.WriteFile(filepath.Join(work, "sides"), []byte(strconv.Itoa(i+1)), 0o644); err != nil {
			return err
		}
		if (i+1)%100 == 0 {
			fmt.Fprintf(os.Stderr, "  %d sides (%.0f s)\n", i+1, time.Since(start).Seconds())
		}
	}
	fmt.Printf("many-sided merge: K contributions of a %s F32 model (%d tensors, one weight in %d changed), one federated round each\n", size, tensors, every)
	fmt.Printf("load average before: %s\n\n", benchrun.LoadAvg())
	fmt.Printf("%-14s %6s %9s %9s %11s %11s %10s\n", "strategy", "K", "seconds", "CPU s", "CPU ms/side", "ms/side", "peak RSS")
	for _, st := range strategies {
		for _, k := range ks {
			br := fmt.Sprintf("r-%s-%d-%d", st, k, time.Now().UnixNano())
			if _, err := benchrun.Run(repoDir, env, fedBin, "switch", "-q", "-c", br, "main"); err != nil {
				return err
			}
			args := []string{"merge", "--strategy", st, "-m", "round"}
			for i := 0; i < k; i++ {
				args = append(args, fmt.Sprintf("c%d", i))
			}
			p, err := benchrun.Run(repoDir, env, fedBin, args...)
			if err != nil {
				return err
			}
			fmt.Printf("%-14s %6d %9.2f %9.2f %11.1f %11.1f %8dMB\n", st, k, p.Wall.Seconds(), p.CPU.Seconds(),
				float64(p.CPU.Milliseconds())/float64(k), float64(p.Wall.Milliseconds())/float64(k), p.RSS/1024)
		}
	}
	fmt.Printf("\nload average after: %s\n", benchrun.LoadAvg())
	fmt.Printf("targets (issue 20): fedavg ≤ 256 MB at any K; robust rules ≤ 512 MB at K = 1,000; time linear in K\n")
	return nil
}
