//go:build unix

// Package benchrun runs the benchmarks' child processes and measures
// them: wall time, CPU time (user+sys) and peak RSS from the child's
// rusage, and the machine's load average, which every benchmark prints
// beside its figures. It reads no environment: the commands pass the children's.
package benchrun

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Proc is what one child process cost.
type Proc struct {
	Wall time.Duration
	CPU  time.Duration // user + sys
	RSS  int64         // peak resident set, KiB (rusage's ru_maxrss)
}

// Echo, when set, receives every command's combined output (a
// benchmark's verbose mode).
var Echo io.Writer

// Run runs name with args in dir, with env as its whole environment (nil:
// this process's), and returns its cost. A failure is an error naming the
// command and carrying its output.
func Run(dir string, env []string, name string, args ...string) (Proc, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = env
	start := time.Now()
	out, err := cmd.CombinedOutput()
	p := Proc{Wall: time.Since(start)}
	if err != nil {
		return p, fmt.Errorf("%s %v: %v\n%s", name, args, err, out)
	}
	if Echo != nil {
		Echo.Write(out)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		p.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		p.RSS = int64(ru.Maxrss)
	}
	return p, nil
}

// LoadAvg is the 1-, 5- and 15-minute load averages ("?" where the
// system does not say).
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
