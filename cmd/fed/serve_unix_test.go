//go:build unix

package main

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestReloadOnHangup: a SIGHUP to fed serve asks the server to reread its
// TLS certificate (the server's reload itself: remote/server's
// TestServeTLSReload).
func TestReloadOnHangup(t *testing.T) {
	reload, stop := reloadOnHangup(context.Background())
	defer stop()
	for i := 0; i < 2; i++ {
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		select {
		case <-reload:
		case <-time.After(5 * time.Second):
			t.Fatalf("SIGHUP %d: no reload", i+1)
		}
	}
}
