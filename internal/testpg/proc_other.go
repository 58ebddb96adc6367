//go:build !unix

package testpg

import (
	"errors"
	"syscall"
)

type runAs struct{}

func clusterUser() (*runAs, error) {
	return nil, errors.New("testpg: PostgreSQL tests run on unix systems only")
}

func (u *runAs) attr() *syscall.SysProcAttr { return nil }

func (u *runAs) give(path string) error { return nil }
