package s3test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBinaryFromEnv(t *testing.T) {
	t.Setenv("FED_TEST_VERSITYGW", filepath.Join(t.TempDir(), "absent"))
	if _, err := Binary(); err == nil || !strings.Contains(err.Error(), "FED_TEST_VERSITYGW") {
		t.Errorf("Binary with a wrong $FED_TEST_VERSITYGW = %v", err)
	}
	p := filepath.Join(t.TempDir(), "versitygw")
	if err := os.WriteFile(p, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FED_TEST_VERSITYGW", p)
	if got, err := Binary(); err != nil || got != p {
		t.Errorf("Binary = %s, %v; want %s", got, err, p)
	}
}

// A server answers once started, refuses connections once stopped, and
// keeps its buckets across a restart.
func TestStopRestart(t *testing.T) {
	s := Start(t)
	s.Bucket(t, "kept", "")
	get := func() error {
		resp, err := http.Get(s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(); err != nil {
		t.Fatalf("started server: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := get(); err == nil {
		t.Fatal("stopped server still answers")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(); err == nil {
		t.Error("Restart of a running server succeeded")
	}
	if fi, err := os.Stat(filepath.Join(s.Dir, "kept")); err != nil || !fi.IsDir() {
		t.Errorf("bucket directory after restart: %v", err)
	}
	if err := get(); err != nil {
		t.Errorf("restarted server: %v", err)
	}
}
