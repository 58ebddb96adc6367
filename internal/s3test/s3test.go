// Package s3test starts a real S3 server for tests: versitygw
// (github.com/versity/versitygw, v1.8.0 as .ci/run builds it) serving a
// directory of the test's through its posix backend, on 127.0.0.1 on a
// free port. A fake S3 would agree with fed's own misreadings of the
// protocol; versitygw does not.
//
// The binary is found at $FED_TEST_VERSITYGW, then as versitygw on PATH,
// then as ~/.cache/fed-ci/versitygw-*/versitygw (where .ci/run builds
// it). Tests that need it skip when it is missing, and say so. A started
// server stops when the test ends (t.Cleanup) and, on Linux, when the
// test process dies.
//
// Left to others: the S3 client (objects/s3store, which this package
// uses only to create buckets).
package s3test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/fed-vcs/fed/objects/s3store"
)

// ErrMissing reports a machine without versitygw.
var ErrMissing = errors.New("s3test: versitygw not found ($FED_TEST_VERSITYGW, PATH, ~/.cache/fed-ci/versitygw-*/versitygw; .ci/run builds it)")

// The root credentials every started gateway accepts.
const (
	AccessKey = "fedtestroot"
	SecretKey = "fedtestroot-secret-key-0123456789"
)

// Binary returns the path of the versitygw executable, or ErrMissing.
func Binary() (string, error) {
	if p := os.Getenv("FED_TEST_VERSITYGW"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("s3test: $FED_TEST_VERSITYGW: %w", err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", ErrMissing
	}
	exe := "versitygw"
	if runtime.GOOS == "windows" {
		exe += ".exe" // not the Linux build a Windows test under Wine would find
	}
	found, _ := filepath.Glob(filepath.Join(home, ".cache", "fed-ci", "versitygw-*", exe))
	sort.Strings(found)
	for i := len(found) - 1; i >= 0; i-- { // the newest version first
		if fi, err := os.Stat(found[i]); err == nil && fi.Mode().IsRegular() {
			return found[i], nil
		}
	}
	return "", ErrMissing
}

// Server is a running (or stopped) versitygw.
type Server struct {
	// Endpoint is the server's URL, http://127.0.0.1:PORT.
	Endpoint string
	// Dir is the posix backend's root: a bucket is a directory there, an
	// object a file at Dir/BUCKET/KEY.
	Dir string

	bin  string
	addr string

	mu   sync.Mutex // guards cmd and done
	cmd  *exec.Cmd
	done chan struct{}

	logMu sync.Mutex
	log   bytes.Buffer
}

// Start starts versitygw on a free port over a new directory of t's and
// stops it when t ends. It skips t when versitygw is missing.
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := Binary(); err != nil {
		t.Skipf("no real S3 server: %v", err)
	}
	s, err := Launch(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop versitygw: %v", err)
		}
	})
	return s
}

// Launch starts versitygw on a free port over dir (created if
// missing), for callers that are
// not tests (testscript commands); they must Stop it. It returns
// ErrMissing when versitygw is not installed.
func Launch(dir string) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("s3test: %w", err)
	}
	s := &Server{bin: bin, Dir: dir}
	var last error
	for try := 0; try < 3; try++ {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		s.addr, s.Endpoint = addr, "http://"+addr
		if last = s.Restart(); last == nil {
			return s, nil
		}
	}
	return nil, fmt.Errorf("start versitygw: %w", last)
}

// freeAddr returns a 127.0.0.1 address whose port was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("s3test: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Restart starts the stopped server again, on the same port and
// directory, and waits until it answers.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("s3test: server already running")
	}
	s.logMu.Lock()
	s.log.Reset()
	s.logMu.Unlock()
	cmd := exec.Command(s.bin, "--port", s.addr, "posix", s.Dir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+AccessKey, "ROOT_SECRET_KEY="+SecretKey)
	lw := &lockedWriter{mu: &s.logMu, w: &s.log}
	cmd.Stdout, cmd.Stderr = lw, lw
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("s3test: start %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	if err := waitReady(s.Endpoint, done); err != nil {
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("%w; its output:\n%s", err, s.Log())
	}
	s.cmd, s.done = cmd, done
	return nil
}

// waitReady waits until the gateway answers HTTP, or exits.
func waitReady(endpoint string, exited <-chan struct{}) error {
	c := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("s3test: versitygw exited at start")
		default:
		}
		resp, err := c.Get(endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("s3test: versitygw did not answer within 60 s")
}

// Stop stops the server (SIGTERM, then SIGKILL after 10 s) and waits for
// it to exit. Stopping a stopped server does nothing.
func (s *Server) Stop() error {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	terminate(cmd.Process)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
	return nil
}

// Log returns what the server printed since it last started.
func (s *Server) Log() string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.log.String()
}

// Config returns a store configuration for bucket and prefix on s.
func (s *Server) Config(bucket, prefix string) s3store.Config {
	return s3store.Config{Endpoint: s.Endpoint, Bucket: bucket, Prefix: prefix, AccessKey: AccessKey, SecretKey: SecretKey}
}

// Bucket creates bucket on s and returns a configuration for it under
// prefix.
func (s *Server) Bucket(t testing.TB, bucket, prefix string) s3store.Config {
	t.Helper()
	if err := s.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	return s.Config(bucket, prefix)
}

// CreateBucket creates bucket on s unless it exists.
func (s *Server) CreateBucket(bucket string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s3store.CreateBucket(ctx, s.Config(bucket, "")); err != nil {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	return nil
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
