//go:build linux

package s3test

import (
	"os"
	"syscall"
)

// procAttr kills the gateway when the test process dies, however it dies.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// terminate asks p to stop.
func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }
