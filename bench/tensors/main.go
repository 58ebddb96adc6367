//go:build unix

// Command tensors measures what fed pays per tensor (issue 20's
// many-small-tensors rows): the same bytes as a model of 40 equal tensors
// and as one of 2,000 tensors with a transformer's size mix (genmodel
// -mix: half of them 4 KiB vectors, norms and biases), timed side by side
// in each run for
//
//   - add+commit: `fed add` + `fed commit` of the model in a fresh
//     repository, and
//   - merge: `fed merge --strategy fedavg` of 4 contributions (each the
//     base nudged by up to 1%) in a copy of a prepared repository.
//
// The two models alternate within each run (which goes first alternates
// between runs). It reports, per operation and model, the median and range
// over the runs of wall time and CPU time (user+sys of the fed processes,
// from rusage), and the 2,000/40 ratio of each; then the counts load does
// not distort: files written into the object store (a loose object or a
// pack of many small ones each), and from one extra run under strace the
// fsyncs (fsync, fdatasync), all system calls, and the
// goroutines fed created (FED_STATS). The load average is printed with
// every run: on a shared machine trust CPU time and counts over wall time.
//
// Every run works in a directory of its own under the work directory
// (printed first; $TMPDIR, or -work), and all of them stay until the
// benchmark ends (removed then unless -keep): deleting thousands of object
// files makes the next ones slow to create. On ext4 without a journal (as
// on the development machine, whose /proc/fs/jbd2 is empty) a new inode
// skips the ones deleted in the last minutes: creating a file cost 37 µs
// after a quiet spell but ~0.75 ms of kernel time after a few thousand
// deletions, so a run right after another's RemoveAll measured the file
// system's backlog, not fed. The merge runs' copies of the prepared
// repository hard-link its object files (write-once; fed replaces a file
// by renaming, never rewrites one) rather than copying thousands of
// them. TMPDIR=/dev/shm (tmpfs: ~20 µs a file, no such effect) separates
// fed's own CPU time from the file system's:
//
//	go run ./bench/tensors -fed bin/fed -genmodel bin/genmodel -runs 5
//	TMPDIR=/dev/shm go run ./bench/tensors -fed bin/fed -genmodel bin/genmodel -runs 3 -strace=false
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fed-vcs/fed/bench/internal/benchrun"
)

func main() {
	fedBin := flag.String("fed", "bin/fed", "fed binary")
	gen := flag.String("genmodel", "bin/genmodel", "genmodel binary")
	size := flag.String("size", "128MiB", "bytes of each model")
	many := flag.Int("many", 2000, "tensors of the many-tensor model")
	few := flag.Int("few", 40, "tensors of the few-tensor model")
	runs := flag.Int("runs", 5, "runs")
	sides := flag.Int("sides", 4, "contributions merged")
	strace := flag.Bool("strace", true, "count system calls in one extra run under strace (when installed)")
	workDir := flag.String("work", "", "make the work directory in this directory (default $TMPDIR)")
	keep := flag.Bool("keep", false, "keep the work directory at the end")
	flag.Parse()
	b := &bench{fed: abs(*fedBin), gen: abs(*gen), size: *size, sides: *sides}
	if err := b.run(*workDir, *keep, *few, *many, *runs, *strace); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func abs(p string) string {
	a, _ := filepath.Abs(p)
	return a
}

type bench struct {
	fed, gen, size string
	sides          int
	work           string
	env            []string
}

// usage is what one operation cost: wall and CPU time of its child
// processes.
type usage struct {
	wall, cpu time.Duration
}

func (u *usage) add(o usage) { u.wall += o.wall; u.cpu += o.cpu }

// sh runs a command and returns its wall and CPU time.
func (b *bench) sh(dir string, env []string, name string, args ...string) (usage, error) {
	p, err := benchrun.Run(dir, env, name, args...)
	return usage{wall: p.Wall, cpu: p.CPU}, err
}

// countFiles counts the files (loose objects and packs, not temporary
// files) under dir.
func countFiles(dir string) int {
	n := 0
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasPrefix(d.Name(), ".") {
			n++
		}
		return nil
	})
	return n
}

// model is one of the two models and what was prepared for it.
type model struct {
	tensors            int
	file               string   // v1
	sides              []string // the contributions
	mergeRepo          string   // a repository holding the base and a branch per side
	add, merge         []usage
	addObjs, mergeObjs int
	counts             map[string]map[string]int64 // operation → counter → value (strace run)
}

func (b *bench) run(parent string, keep bool, few, many, runs int, strace bool) error {
	work, err := os.MkdirTemp(parent, "fed-tensors-bench-")
	if err != nil {
		return err
	}
	// every run's directory stays until the end (see the command's doc)
	fmt.Fprintf(os.Stderr, "work directory %s (%s at the end)\n", work, map[bool]string{true: "kept", false: "removed"}[keep])
	if !keep {
		defer os.RemoveAll(work)
	}
	b.work = work
	b.env = append(os.Environ(), "HOME="+work, "FED_CONFIG="+filepath.Join(work, "cfg"), "FED_KEYPAIR="+filepath.Join(work, "id.json"))
	if _, err := b.sh(work, b.env, b.fed, "keygen", filepath.Join(work, "id.json")); err != nil {
		return err
	}
	models := []*model{{tensors: few}, {tensors: many}}
	for _, m := range models {
		fmt.Fprintf(os.Stderr, "preparing %s in %d tensors, a base and %d contributions\n", b.size, m.tensors, b.sides)
		if err := b.prepare(m, m.tensors == many); err != nil {
			return err
		}
	}
	fmt.Printf("tensors benchmark: %s FP32 safetensors as %d equal tensors vs %d tensors (genmodel -mix: half 4 KiB vectors); add+commit, and fedavg merge of %d contributions; %d runs\n\n",
		b.size, few, many, b.sides, runs)
	for r := 0; r < runs; r++ {
		order := models
		if r%2 == 1 {
			order = []*model{models[1], models[0]}
		}
		before := benchrun.LoadAvg()
		for _, m := range order {
			u, objs, err := b.addCommit(m, nil)
			if err != nil {
				return err
			}
			m.add, m.addObjs = append(m.add, u), objs
		}
		for _, m := range order {
			u, objs, err := b.mergeRun(m, nil)
			if err != nil {
				return err
			}
			m.merge, m.mergeObjs = append(m.merge, u), objs
		}
		fmt.Printf("run %d (load %s → %s): add+commit %d: %.2f s (cpu %.2f s), %d: %.2f s (cpu %.2f s); merge %d: %.2f s (cpu %.2f s), %d: %.2f s (cpu %.2f s)\n",
			r+1, before, benchrun.LoadAvg(),
			few, models[0].add[r].wall.Seconds(), models[0].add[r].cpu.Seconds(),
			many, models[1].add[r].wall.Seconds(), models[1].add[r].cpu.Seconds(),
			few, models[0].merge[r].wall.Seconds(), models[0].merge[r].cpu.Seconds(),
			many, models[1].merge[r].wall.Seconds(), models[1].merge[r].cpu.Seconds())
	}
	if _, err := exec.LookPath("strace"); strace && err == nil {
		for _, m := range models {
			m.counts = map[string]map[string]int64{"add": {}, "merge": {}}
			if _, _, err := b.addCommit(m, m.counts["add"]); err != nil {
				return err
			}
			if _, _, err := b.mergeRun(m, m.counts["merge"]); err != nil {
				return err
			}
		}
	}

	fmt.Printf("\n%-12s %6s %22s %22s\n", "", "", "wall s median [range]", "cpu s median [range]")
	for _, op := range []string{"add+commit", "merge"} {
		get := func(m *model) []usage {
			if op == "merge" {
				return m.merge
			}
			return m.add
		}
		for _, m := range models {
			w, c := stat(get(m), func(u usage) float64 { return u.wall.Seconds() }), stat(get(m), func(u usage) float64 { return u.cpu.Seconds() })
			fmt.Printf("%-12s %6d %22s %22s\n", op, m.tensors, w, c)
		}
		ratio := func(f func(usage) float64) string {
			var rs []float64
			a, z := get(models[0]), get(models[1])
			for i := range a {
				rs = append(rs, f(z[i])/f(a[i]))
			}
			return statOf(rs, "×")
		}
		fmt.Printf("%-12s %6s %22s %22s   (target ≤ 1.5×)\n", op, "ratio", ratio(func(u usage) float64 { return u.wall.Seconds() }), ratio(func(u usage) float64 { return u.cpu.Seconds() }))
	}
	fmt.Printf("\n%-12s %6s %10s", "counts", "", "files")
	keys := []string{"fsync", "syscalls", "goroutines"}
	for _, k := range keys {
		fmt.Printf(" %10s", k)
	}
	fmt.Println()
	for _, op := range []string{"add", "merge"} {
		for _, m := range models {
			objs := m.addObjs
			if op == "merge" {
				objs = m.mergeObjs
			}
			fmt.Printf("%-12s %6d %10d", op, m.tensors, objs)
			for _, k := range keys {
				if m.counts == nil {
					fmt.Printf(" %10s", "-")
				} else {
					fmt.Printf(" %10d", m.counts[op][k])
				}
			}
			fmt.Println()
		}
	}
	fmt.Println("\n(counts: files written into .fed/objects by the operation — a loose object or a pack of small ones each; fsyncs, system calls and goroutines created from one extra run under strace, all fed processes of the operation)")
	return nil
}

func stat(us []usage, f func(usage) float64) string {
	var xs []float64
	for _, u := range us {
		xs = append(xs, f(u))
	}
	return statOf(xs, "")
}

func statOf(xs []float64, unit string) string {
	s := slices.Clone(xs)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return fmt.Sprintf("%.2f%s [%.2f–%.2f]", med, unit, s[0], s[len(s)-1])
}

// prepare generates m's models and the merge repository.
func (b *bench) prepare(m *model, mix bool) error {
	dir := filepath.Join(b.work, fmt.Sprint("m", m.tensors))
	os.MkdirAll(dir, 0o755)
	m.file = filepath.Join(dir, "v1.safetensors")
	args := []string{"-o", m.file, "-size", b.size, "-tensors", fmt.Sprint(m.tensors), "-seed", "1"}
	if mix {
		args = append(args, "-mix")
	}
	if _, err := b.sh(dir, nil, b.gen, args...); err != nil {
		return err
	}
	m.mergeRepo = filepath.Join(dir, "merge")
	os.MkdirAll(m.mergeRepo, 0o755)
	model := filepath.Join(m.mergeRepo, "model.safetensors")
	steps := [][]string{{"cp", m.file, model}, {b.fed, "init", "-q"}, {b.fed, "add", "model.safetensors"}, {b.fed, "commit", "-q", "-m", "base"}}
	for i := 0; i < b.sides; i++ {
		br := fmt.Sprintf("c%d", i)
		in := filepath.Join(dir, br+".safetensors")
		steps = append(steps,
			[]string{b.gen, "-o", in, "-from", m.file, "-nudge", "0.01", "-seed", fmt.Sprint(10 + i)},
			[]string{b.fed, "switch", "-q", "-c", br, "main"},
			[]string{"cp", in, model},
			[]string{b.fed, "commit", "-q", "-a", "-m", br, "--samples", fmt.Sprint(100 * (i + 1))})
		m.sides = append(m.sides, br)
	}
	steps = append(steps, []string{b.fed, "switch", "-q", "main"})
	for _, s := range steps {
		if _, err := b.sh(m.mergeRepo, b.env, s[0], s[1:]...); err != nil {
			return err
		}
	}
	return nil
}

// addCommit times fed add + fed commit of m's model in a fresh
// repository; with counts it runs them under strace and fills counts.
func (b *bench) addCommit(m *model, counts map[string]int64) (usage, int, error) {
	dir, err := os.MkdirTemp(b.work, "add-")
	if err != nil {
		return usage{}, 0, err
	}
	if _, err := b.sh(dir, b.env, b.fed, "init", "-q"); err != nil {
		return usage{}, 0, err
	}
	// fed add only reads the model: a link saves a copy per run
	if err := os.Link(m.file, filepath.Join(dir, "model.safetensors")); err != nil {
		if _, err := b.sh(dir, nil, "cp", m.file, filepath.Join(dir, "model.safetensors")); err != nil {
			return usage{}, 0, err
		}
	}
	objDir := filepath.Join(dir, ".fed", "objects")
	n0 := countFiles(objDir)
	var total usage
	for _, c := range [][]string{{"add", "model.safetensors"}, {"commit", "-q", "-m", "v1"}} {
		u, err := b.fed1(dir, counts, c...)
		if err != nil {
			return usage{}, 0, err
		}
		total.add(u)
	}
	return total, countFiles(objDir) - n0, nil
}

// mergeRun times a fedavg merge of m's contributions in a copy of its
// merge repository.
func (b *bench) mergeRun(m *model, counts map[string]int64) (usage, int, error) {
	dir, err := os.MkdirTemp(b.work, "merge-")
	if err != nil {
		return usage{}, 0, err
	}
	if err := b.copyRepo(m.mergeRepo, dir); err != nil {
		return usage{}, 0, err
	}
	objDir := filepath.Join(dir, ".fed", "objects")
	n0 := countFiles(objDir)
	u, err := b.fed1(dir, counts, append([]string{"merge", "--strategy", "fedavg", "-m", "round"}, m.sides...)...)
	if err != nil {
		return usage{}, 0, err
	}
	return u, countFiles(objDir) - n0, nil
}

// copyRepo copies the repository src into the empty directory dst with
// cp -a (times kept: fed's index trusts them), except that the object
// files are hard-linked (write-once, replaced only by renaming): no inode
// for each of thousands of objects, to create now and to delete later.
func (b *bench) copyRepo(src, dst string) error {
	var cp, link []string
	tops, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range tops {
		if e.Name() != ".fed" {
			cp = append(cp, filepath.Join(src, e.Name()))
		}
	}
	inner, err := os.ReadDir(filepath.Join(src, ".fed"))
	if err != nil {
		return err
	}
	for _, e := range inner {
		if e.Name() == "objects" {
			link = append(link, filepath.Join(src, ".fed", e.Name()))
		} else {
			cp = append(cp, filepath.Join(src, ".fed", e.Name()))
		}
	}
	if err := os.Mkdir(filepath.Join(dst, ".fed"), 0o755); err != nil {
		return err
	}
	for _, p := range cp {
		to := dst
		if filepath.Base(filepath.Dir(p)) == ".fed" {
			to = filepath.Join(dst, ".fed")
		}
		if _, err := b.sh(b.work, nil, "cp", "-a", "--reflink=auto", p, to); err != nil {
			return err
		}
	}
	for _, p := range link {
		if _, err := b.sh(b.work, nil, "cp", "-a", "-l", p, filepath.Join(dst, ".fed")); err != nil {
			return err
		}
	}
	return nil
}

var straceLine = regexp.MustCompile(`^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$`)

// fed1 runs one fed command in dir: timed, or with counts under strace
// -f -c, adding its system calls, fsyncs and goroutines to counts.
func (b *bench) fed1(dir string, counts map[string]int64, args ...string) (usage, error) {
	if counts == nil {
		return b.sh(dir, b.env, b.fed, args...)
	}
	out := filepath.Join(b.work, "strace.out")
	stats := filepath.Join(b.work, "stats.out")
	os.Remove(stats)
	env := append(slices.Clone(b.env), "FED_STATS="+stats)
	if _, err := b.sh(dir, env, "strace", append([]string{"-f", "-c", "-o", out, b.fed}, args...)...); err != nil {
		return usage{}, err
	}
	f, err := os.Open(out)
	if err != nil {
		return usage{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		mm := straceLine.FindStringSubmatch(sc.Text())
		if mm == nil {
			continue
		}
		n, _ := strconv.ParseInt(mm[1], 10, 64)
		switch mm[2] {
		case "total":
			counts["syscalls"] += n
		case "fsync", "fdatasync", "syncfs":
			counts["fsync"] += n
		}
	}
	if st, err := os.ReadFile(stats); err == nil {
		for _, line := range strings.Split(string(st), "\n") {
			if k, v, ok := strings.Cut(line, " "); ok && k == "goroutines-created" {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				counts["goroutines"] += n
			}
		}
	}
	return usage{}, nil
}
