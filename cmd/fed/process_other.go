//go:build !unix && !windows

package main

import "os"

// processAlive reports whether process pid can be found; systems here
// cannot tell more.
func processAlive(pid int) bool {
	_, err := os.FindProcess(pid)
	return err == nil
}
