package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestDebugProfilesLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:6060", "example.com:6060"} {
		if _, _, err := startDebugProfiles(addr); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("startDebugProfiles(%q) = %v, want a refusal naming loopback", addr, err)
		}
	}
	addr, stop, err := startDebugProfiles("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for _, p := range []string{"/debug/pprof/", "/debug/pprof/mutex?debug=1", "/debug/pprof/block?debug=1"} {
		resp, err := http.Get("http://" + addr.String() + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(b) == 0 {
			t.Errorf("GET %s: %d, %d bytes", p, resp.StatusCode, len(b))
		}
	}
}
