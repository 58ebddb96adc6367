//go:build !linux

package s3test

import (
	"os"
	"syscall"
)

// procAttr: only Linux can tie the gateway's life to the test process's;
// elsewhere Stop (run by t.Cleanup) ends it.
func procAttr() *syscall.SysProcAttr { return nil }

// terminate stops p.
func terminate(p *os.Process) error { return p.Kill() }
