//go:build !unix

package testchain

import (
	"os"
	"syscall"
)

// ownGroup: process groups are a unix notion.
func ownGroup() *syscall.SysProcAttr { return nil }

// terminate stops p; there is no polite signal here.
func terminate(p *os.Process) error { return p.Kill() }
