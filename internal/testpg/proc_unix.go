//go:build unix

package testpg

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// runAs is who runs the cluster's programs: nil for the test's own user,
// the postgres user when the test runs as root.
type runAs struct {
	uid, gid uint32
}

func clusterUser() (*runAs, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("testpg: running as root, and PostgreSQL refuses root: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, err
	}
	return &runAs{uid: uint32(uid), gid: uint32(gid)}, nil
}

// attr runs a program as u in a process group of its own (a Ctrl-C to the
// test does not reach the watchdog, which then stops the cluster).
func (u *runAs) attr() *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	if u != nil {
		a.Credential = &syscall.Credential{Uid: u.uid, Gid: u.gid}
	}
	return a
}

// give makes path belong to u.
func (u *runAs) give(path string) error {
	if u == nil {
		return nil
	}
	return os.Chown(path, int(u.uid), int(u.gid))
}
