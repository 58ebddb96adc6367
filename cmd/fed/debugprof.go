package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"

	"github.com/fed-vcs/fed/remote/server"
)

// startDebugProfiles serves the runtime's profiles (net/http/pprof: CPU,
// heap, goroutines, and blocking and mutex contention, which it turns on)
// on addr, which must be a loopback address (FED_PPROF=127.0.0.1:PORT, for
// developers measuring fed; see bench/serve). It returns the address
// listened on and a function that stops serving.
func startDebugProfiles(addr string) (net.Addr, func(), error) {
	if !server.IsLoopback(addr) {
		return nil, nil, fmt.Errorf("FED_PPROF=%s: profiles are served on a loopback address only (127.0.0.1:PORT)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("FED_PPROF: %w", err)
	}
	// Blocking events of 10 µs and more, and one mutex contention in 10.
	runtime.SetBlockProfileRate(int((10 * time.Microsecond).Nanoseconds()))
	runtime.SetMutexProfileFraction(10)
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	return ln.Addr(), func() { hs.Close() }, nil
}
