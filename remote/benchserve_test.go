package remote_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fed-vcs/fed/remote/server"
)

// benchServerEnv, when set in a test binary's environment, makes it the
// server process of BenchmarkPushClone instead of running tests: it serves
// fed (server.New over the directory the variable names) and the plain
// HTTP baseline on 127.0.0.1, prints their URLs and stops when its stdin
// closes (the benchmark ended or died). Apart from the benchmark, the
// servers' CPU time and disk writes are measured on their own process.
const benchServerEnv = "FED_BENCH_SERVER_DIR"

// benchServerProfile names the file the server process writes its CPU
// profile to, when set.
const benchServerProfile = "FED_BENCH_SERVER_CPUPROFILE"

func TestMain(m *testing.M) {
	if dir := os.Getenv(benchServerEnv); dir != "" {
		os.Exit(benchServe(dir))
	}
	os.Exit(m.Run())
}

func benchServe(dir string) int {
	if p := os.Getenv(benchServerProfile); p != "" {
		f, err := os.Create(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		pprof.StartCPUProfile(f)
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	fs, err := server.New(server.Options{Root: filepath.Join(dir, "fed")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	plainDir := filepath.Join(dir, "plain")
	os.MkdirAll(plainDir, 0o755)
	var urls []string
	for _, h := range []http.Handler{fs, plainHandler(plainDir)} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		go (&http.Server{Handler: h}).Serve(ln)
		urls = append(urls, "http://"+ln.Addr().String())
	}
	fmt.Println(strings.Join(urls, " "))
	bufio.NewReader(os.Stdin).ReadString('\n') // until the benchmark closes it
	return 0
}

// benchServer is the server process of a benchmark run.
type benchServer struct {
	cmd              *exec.Cmd
	stdin            interface{ Close() error }
	fedURL, plainURL string
}

func startBenchServer(b *testing.B, dir, profile string) *benchServer {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), benchServerEnv+"="+dir)
	if profile != "" {
		cmd.Env = append(cmd.Env, benchServerProfile+"="+profile)
	}
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != 2 {
		cmd.Process.Kill()
		cmd.Wait()
		b.Fatalf("bench server: %q %v", line, err)
	}
	return &benchServer{cmd: cmd, stdin: in, fedURL: f[0], plainURL: f[1]}
}

func (s *benchServer) stop() {
	s.stdin.Close()
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
}

// usage is what a process has spent so far: CPU time (user+sys) and the
// bytes it caused to be written to disk (/proc/PID/io write_bytes).
type usage struct {
	cpu    time.Duration
	writes int64
	faults int64 // minor page faults (fresh memory touched)
}

func (u usage) sub(v usage) usage {
	return usage{u.cpu - v.cpu, u.writes - v.writes, u.faults - v.faults}
}

// selfUsage reads this process's usage (rusage, /proc/self/io).
func selfUsage() usage {
	return usage{cpu: selfCPU(), writes: procWriteBytes("self"), faults: selfFaults()}
}

// procUsage reads another process's usage (/proc/PID/stat, /proc/PID/io).
func procUsage(pid int) usage {
	u := usage{writes: procWriteBytes(strconv.Itoa(pid))}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) > 12 {
		u.faults, _ = strconv.ParseInt(f[7], 10, 64)
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		u.cpu = time.Duration(ut+st) * (time.Second / 100) // USER_HZ
	}
	return u
}

func procWriteBytes(pid string) int64 {
	b, err := os.ReadFile("/proc/" + pid + "/io")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "write_bytes: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

func loadAverage() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// benchStraceEnv, when set to a directory, makes BenchmarkPushClone count
// each phase's system calls on both sides (strace -f -c attached to this
// process and to the server process; their summaries are kept in the
// directory). It slows the run: wall-clock ratios of such a run mean
// nothing.
const benchStraceEnv = "FED_BENCH_STRACE"

// tracer is strace -f -c attached to one process.
type tracer struct {
	cmd *exec.Cmd
	out string
}

func startTracer(pid int, out string) (*tracer, error) {
	cmd := exec.Command("strace", "-f", "-c", "-o", out, "-p", strconv.Itoa(pid))
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("strace: %w", err)
	}
	time.Sleep(500 * time.Millisecond) // attached to every thread
	return &tracer{cmd: cmd, out: out}, nil
}

// stop detaches and returns the calls counted by name.
func (t *tracer) stop() map[string]int {
	t.cmd.Process.Signal(os.Interrupt)
	t.cmd.Wait()
	b, err := os.ReadFile(t.out)
	if err != nil {
		return nil
	}
	// rows: % time, seconds, usecs/call, calls, [errors,] syscall
	calls := map[string]int{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || f[len(f)-1] == "total" {
			continue
		}
		if n, err := strconv.Atoi(f[3]); err == nil {
			calls[f[len(f)-1]] += n
		}
	}
	return calls
}

// syscallSummary gives the total of calls and the counts of those that
// matter to a bulk transfer.
func syscallSummary(calls map[string]int) string {
	total := 0
	for _, n := range calls {
		total += n
	}
	s := fmt.Sprintf("%d calls", total)
	for _, name := range []string{"fsync", "fdatasync", "sync_file_range", "write", "pwrite64", "read", "sendfile", "openat", "mkdirat", "renameat", "futex"} {
		if calls[name] > 0 {
			s += fmt.Sprintf(", %s %d", name, calls[name])
		}
	}
	return s
}
