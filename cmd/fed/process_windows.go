package main

import (
	"errors"

	"golang.org/x/sys/windows"
)

// processAlive reports whether process pid exists and has not exited: a
// handle to an exited process that someone still holds answers with its
// exit code instead of STILL_ACTIVE. Access denied means it exists but
// belongs to someone else.
func processAlive(pid int) bool {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		return errors.Is(err, windows.ERROR_ACCESS_DENIED)
	}
	defer windows.CloseHandle(h)
	var code uint32
	if err := windows.GetExitCodeProcess(h, &code); err != nil {
		return true
	}
	const stillActive = 259
	return code == stillActive
}
