//go:build unix

package zk

import (
	"runtime"
	"syscall"
)

// peakRSSMB is this process's peak resident set in MiB (getrusage(2):
// KiB on Linux, bytes on macOS).
func peakRSSMB() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return float64(ru.Maxrss) / (1 << 20)
	}
	return float64(ru.Maxrss) / 1024
}
