//go:build unix

// Command merge compares `fed merge --strategy fedavg` with a
// straightforward NumPy FedAvg (numpy_fedavg.py, run by /usr/bin/python3
// with Debian's python3-numpy) on the merge benchmark of issue 4: four
// 256 MiB FP32 models, each a fine-tune of one base, merged by sample
// count. It reports wall time and peak RSS of both, their ratio, and the
// ratio of fed's time to a memory-bandwidth bound (one plain in-memory
// copy of the same input bytes). Then it measures the bound of fed's own
// work on this machine (bound.go): the speed of each step a merge must do
// (decoding and checking the stored inputs, the kernel, SHA-256, writing),
// a minimal merge doing only those steps on every core, and a plain FedAvg
// of the raw files with fed's kernel. -bound-only DIR measures only that,
// in the work directory of an earlier run.
//
//	go run ./bench/merge -fed bin/fed -genmodel bin/genmodel
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fed-vcs/fed/bench/internal/benchrun"
)

func main() {
	fedBin := flag.String("fed", "bin/fed", "fed binary")
	gen := flag.String("genmodel", "bin/genmodel", "genmodel binary")
	size := flag.String("size", "256MiB", "size of each model")
	sides := flag.Int("sides", 4, "number of contributions")
	python := flag.String("python", "/usr/bin/python3", "python with numpy")
	bound := flag.Bool("bound", true, "measure the bound: fed's parts without its machinery (bound.go)")
	boundOnly := flag.String("bound-only", "", "measure only the bound, in this work directory of an earlier run (repo/ merged by fed, c0.safetensors …)")
	flag.Parse()
	if *boundOnly != "" {
		var branches, raw []string
		var weights []float64
		for i := 0; i < *sides; i++ {
			branches = append(branches, fmt.Sprintf("c%d", i))
			raw = append(raw, filepath.Join(*boundOnly, fmt.Sprintf("c%d.safetensors", i)))
			weights = append(weights, float64(100*(i+1)))
		}
		if err := runBound(context.Background(), filepath.Join(*boundOnly, "repo"), branches, weights, raw); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if os.Getenv("BENCH_VERBOSE") != "" {
		benchrun.Echo = os.Stderr
	}
	if err := run(*fedBin, *gen, *size, *sides, *python, *bound); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(fedBin, gen, size string, k int, python string, bound bool) error {
	fedBin, _ = filepath.Abs(fedBin)
	gen, _ = filepath.Abs(gen)
	work, err := os.MkdirTemp("", "fed-merge-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	env := append(os.Environ(), "FED_CPUPROFILE="+os.Getenv("BENCH_PROFILE"), "HOME="+work, "FED_CONFIG="+filepath.Join(work, "cfg"), "FED_KEYPAIR="+filepath.Join(work, "id.json"))
	if _, err := benchrun.Run(work, env, fedBin, "keygen", filepath.Join(work, "id.json")); err != nil {
		return err
	}
	repoDir := filepath.Join(work, "repo")
	os.MkdirAll(repoDir, 0o755)
	model := filepath.Join(repoDir, "model.safetensors")
	fmt.Fprintf(os.Stderr, "preparing a base and %d contributions of %s\n", k, size)
	steps := [][]string{{gen, "-o", model, "-size", size, "-tensors", "40", "-seed", "1"}, {fedBin, "init", "-q"}, {fedBin, "add", "model.safetensors"}, {fedBin, "commit", "-q", "-m", "base"}}
	for _, s := range steps {
		if _, err := benchrun.Run(repoDir, env, s[0], s[1:]...); err != nil {
			return err
		}
	}
	base := filepath.Join(work, "base.safetensors")
	if _, err := benchrun.Run(work, nil, "cp", model, base); err != nil {
		return err
	}
	var inputs []string
	var branches []string
	for i := 0; i < k; i++ {
		b := fmt.Sprintf("c%d", i)
		in := filepath.Join(work, b+".safetensors")
		inputs = append(inputs, fmt.Sprintf("%s:%d", in, 100*(i+1)))
		branches = append(branches, b)
		for _, s := range [][]string{
			{gen, "-o", in, "-from", base, "-nudge", "0.01", "-seed", fmt.Sprint(10 + i)},
			{fedBin, "switch", "-q", "-c", b, "main"},
			{"cp", in, model},
			{fedBin, "commit", "-q", "-a", "-m", b, "--samples", fmt.Sprint(100 * (i + 1))},
		} {
			if _, err := benchrun.Run(repoDir, env, s[0], s[1:]...); err != nil {
				return err
			}
		}
	}
	if _, err := benchrun.Run(repoDir, env, fedBin, "switch", "-q", "main"); err != nil {
		return err
	}
	fedP, err := benchrun.Run(repoDir, env, fedBin, append([]string{"merge", "--strategy", "fedavg", "-m", "round"}, branches...)...)
	if err != nil {
		return err
	}
	script, _ := filepath.Abs("bench/merge/numpy_fedavg.py")
	args := append([]string{script, filepath.Join(work, "numpy.safetensors")}, inputs...)
	npP, err := benchrun.Run(work, nil, python, args...)
	if err != nil {
		return fmt.Errorf("NumPy peer (apt-get install python3-numpy): %w", err)
	}
	// plain copy of the same input bytes in memory, measured last: a
	// child forked while this process holds them would report their RSS
	var bufs [][]byte
	var total int64
	for _, in := range inputs {
		b, err := os.ReadFile(stripWeight(in))
		if err != nil {
			return err
		}
		bufs = append(bufs, b)
		total += int64(len(b))
	}
	dst := make([]byte, len(bufs[0]))
	start := time.Now()
	for _, b := range bufs {
		copy(dst, b)
	}
	copyTime := time.Since(start)

	gb := float64(total) / 1e9
	fmt.Printf("merge benchmark: fedavg of %d × %s FP32 safetensors (40 tensors each), one run\n\n", k, size)
	fmt.Printf("%-26s %8s %10s %10s\n", "", "seconds", "GB/s in", "peak RSS")
	fmt.Printf("%-26s %8.2f %10.2f %8dMB\n", "fed merge (read+merge+store+commit)", fedP.Wall.Seconds(), gb/fedP.Wall.Seconds(), fedP.RSS/1024)
	fmt.Printf("%-26s %8.2f %10.2f %8dMB\n", "NumPy FedAvg (read+merge+write)", npP.Wall.Seconds(), gb/npP.Wall.Seconds(), npP.RSS/1024)
	fmt.Printf("%-26s %8.3f %10.2f\n", "plain copy of the inputs", copyTime.Seconds(), gb/copyTime.Seconds())
	fmt.Printf("\nspeed-up of fed over NumPy: %.2f× (target ≥ 4); fed time / copy bound: %.1f× (target ≤ 4); fed RSS target < 512 MB\n",
		npP.Wall.Seconds()/fedP.Wall.Seconds(), fedP.Wall.Seconds()/copyTime.Seconds())
	fmt.Printf("fed merge CPU (user+sys) %.2f s; load average %s\n", fedP.CPU.Seconds(), benchrun.LoadAvg())
	if !bound {
		return nil
	}
	bufs = nil
	var raw []string
	var weights []float64
	for i, in := range inputs {
		raw = append(raw, stripWeight(in))
		weights = append(weights, float64(100*(i+1)))
	}
	return runBound(context.Background(), repoDir, branches, weights, raw)
}

func stripWeight(in string) string {
	for i := len(in) - 1; i >= 0; i-- {
		if in[i] == ':' {
			return in[:i]
		}
	}
	return in
}
