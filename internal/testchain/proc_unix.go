//go:build unix

package testchain

import (
	"os"
	"syscall"
)

// ownGroup starts the chain in a process group of its own, apart from
// the test binary's.
func ownGroup() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// terminate asks p to stop.
func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }
