package testpg

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// BinRoot is where Debian installs PostgreSQL: one <version>/bin per
// installed major version.
const BinRoot = "/usr/lib/postgresql"

// Bin returns the directory of the newest PostgreSQL binaries under
// BinRoot, or "" when there are none.
func Bin() string {
	ents, err := os.ReadDir(BinRoot)
	if err != nil {
		return ""
	}
	best := -1
	for _, e := range ents {
		v, err := strconv.Atoi(e.Name())
		if err != nil || v <= best {
			continue
		}
		if _, err := os.Stat(filepath.Join(BinRoot, e.Name(), "bin", "pg_ctl")); err == nil {
			best = v
		}
	}
	if best < 0 {
		return ""
	}
	return filepath.Join(BinRoot, strconv.Itoa(best), "bin")
}

// Cluster is a PostgreSQL server started for one test.
type Cluster struct {
	bin  string
	dir  string // the test's directory: data/, sock/, log
	data string
	sock string
	port int
	user *runAs

	mu       sync.Mutex
	watchdog *exec.Cmd
	stdin    io.WriteCloser
}

// Start starts a cluster of the test's own that stops when t ends. It
// skips t when the PostgreSQL binaries are missing. Tests that stop or
// restart the server take their own; others may share one (DB).
func Start(t testing.TB) *Cluster {
	t.Helper()
	bin, u := prepare(t)
	dir := t.TempDir()
	if u != nil {
		// The postgres user must reach its files through the test's
		// directory and the one testing made around it (both 0700).
		for _, d := range []string{dir, filepath.Dir(dir)} {
			if err := os.Chmod(d, 0o711); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A unix socket's path is at most 107 bytes; a long test name makes a
	// longer directory, and then the socket goes to a short one.
	sock := filepath.Join(dir, "sock")
	if len(sock)+len("/.s.PGSQL.65535") > 100 {
		short, err := os.MkdirTemp("", "fedpg")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(short) })
		sock = filepath.Join(short, "sock")
		if u != nil {
			if err := os.Chmod(short, 0o711); err != nil {
				t.Fatal(err)
			}
		}
	}
	c := &Cluster{bin: bin, dir: dir, data: filepath.Join(dir, "data"), sock: sock, user: u}
	err := c.boot("")
	t.Cleanup(func() { c.stopWatchdog() })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.stop(); err != nil {
			t.Errorf("testpg: %v", err)
		}
	})
	return c
}

// prepare finds the binaries (skipping t without them) and the user to
// run them as.
func prepare(t testing.TB) (string, *runAs) {
	t.Helper()
	bin := Bin()
	if bin == "" {
		t.Skipf("skipping: PostgreSQL is not installed (no %s/<version>/bin/pg_ctl; Debian: apt-get install postgresql-15)", BinRoot)
	}
	u, err := clusterUser()
	if err != nil {
		t.Fatal(err)
	}
	return bin, u
}

// boot makes the cluster's directories, runs initdb, starts the watchdog
// (which removes remove, when not empty, after stopping the server) and
// the server.
func (c *Cluster) boot(remove string) error {
	for _, d := range []string{c.data, c.sock} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return err
		}
		if err := c.user.give(d); err != nil {
			return err
		}
	}
	if out, err := c.run("initdb", "-D", c.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"); err != nil {
		return fmt.Errorf("testpg: initdb: %v\n%s", err, out)
	}
	if err := c.startWatchdog(remove); err != nil {
		return err
	}
	// Another process may take the free port between the look and
	// postgres's bind: try a few.
	var err error
	for range 5 {
		if c.port, err = freePort(); err != nil {
			return err
		}
		if err = c.start(); err == nil {
			return nil
		}
	}
	return fmt.Errorf("testpg: %v", err)
}

var shared struct {
	once sync.Once
	c    *Cluster
	err  error
	n    atomic.Int64
}

// DB returns the URL of a new, empty database of its own for t, in a
// cluster shared by every test of the process that calls DB or NewDB:
// started by the first, stopped (and its directory removed) by the
// watchdog when the process exits. It skips t when the PostgreSQL
// binaries are missing.
func DB(t testing.TB) string {
	t.Helper()
	prepare(t)
	url, err := NewDB()
	if err != nil {
		t.Fatal(err)
	}
	return url
}

// ErrMissing reports a machine without PostgreSQL's binaries.
var ErrMissing = errors.New("testpg: PostgreSQL is not installed (Debian: apt-get install postgresql-15)")

// NewDB is DB for callers that are not tests (testscript commands): it
// returns ErrMissing without the binaries.
func NewDB() (string, error) {
	bin := Bin()
	if bin == "" {
		return "", ErrMissing
	}
	shared.once.Do(func() {
		u, err := clusterUser()
		if err != nil {
			shared.err = err
			return
		}
		dir, err := os.MkdirTemp("", "fedpg-shared-")
		if err == nil {
			err = u.give(dir)
		}
		if err != nil {
			shared.err = err
			return
		}
		c := &Cluster{bin: bin, dir: dir, data: filepath.Join(dir, "data"), sock: filepath.Join(dir, "sock"), user: u}
		if shared.err = c.boot(dir); shared.err != nil {
			c.stopWatchdog()
			return
		}
		shared.c = c
	})
	if shared.err != nil {
		return "", fmt.Errorf("testpg: shared cluster: %w", shared.err)
	}
	return shared.c.createDB(fmt.Sprintf("db%d", shared.n.Add(1)))
}

// run runs one of PostgreSQL's programs as the cluster's user.
func (c *Cluster) run(prog string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(c.bin, prog), args...)
	cmd.Dir = c.dir
	cmd.SysProcAttr = c.user.attr()
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	return cmd.CombinedOutput()
}

func (c *Cluster) logFile() string { return filepath.Join(c.data, "server.log") }

func (c *Cluster) start() error {
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -c unix_socket_directories=%s -c fsync=off -c full_page_writes=off -c max_connections=200", c.port, c.sock)
	out, err := c.run("pg_ctl", "start", "-w", "-t", "60", "-D", c.data, "-l", c.logFile(), "-o", opts)
	if err != nil {
		log, _ := os.ReadFile(c.logFile())
		return fmt.Errorf("pg_ctl start on port %d: %v\n%s\n%s", c.port, err, out, tail(log))
	}
	return nil
}

func (c *Cluster) stop() error {
	out, err := c.run("pg_ctl", "stop", "-w", "-D", c.data, "-m", "fast")
	if err != nil && !bytes.Contains(out, []byte("Is server running?")) {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	return nil
}

// Stop stops the server (fast shutdown: open connections are closed);
// Start starts it again on the same port, with its data.
func (c *Cluster) Stop(t testing.TB) {
	t.Helper()
	if err := c.stop(); err != nil {
		t.Fatalf("testpg: %v", err)
	}
}

// Restart starts a stopped server again on the same port.
func (c *Cluster) Restart(t testing.TB) {
	t.Helper()
	if err := c.start(); err != nil {
		t.Fatalf("testpg: %v", err)
	}
}

// Port is the TCP port on 127.0.0.1 the server listens on.
func (c *Cluster) Port() int { return c.port }

// URL returns a connection URL of database db as user postgres over TCP.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}

// CreateDB makes an empty database and returns its URL.
func (c *Cluster) CreateDB(t testing.TB, name string) string {
	t.Helper()
	url, err := c.createDB(name)
	if err != nil {
		t.Fatal(err)
	}
	return url
}

func (c *Cluster) createDB(name string) (string, error) {
	if out, err := c.run("createdb", "-h", c.sock, "-p", strconv.Itoa(c.port), "-U", "postgres", name); err != nil {
		return "", fmt.Errorf("testpg: createdb %s: %v\n%s", name, err, out)
	}
	return c.URL(name), nil
}

// Log returns the server's log so far (for failure messages).
func (c *Cluster) Log() string {
	b, _ := os.ReadFile(c.logFile())
	return string(b)
}

// startWatchdog starts the shell that stops the cluster once the test
// binary is gone (and then removes the directory remove, when not empty):
// its stdin is a pipe whose only writer is this process.
func (c *Cluster) startWatchdog(remove string) error {
	script := `read -r _; "$0" stop -D "$1" -m immediate >/dev/null 2>&1; if [ -n "$2" ]; then rm -rf "$2"; fi`
	cmd := exec.Command("/bin/sh", "-c", script, filepath.Join(c.bin, "pg_ctl"), c.data, remove)
	cmd.SysProcAttr = c.user.attr()
	cmd.Dir = c.dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("testpg: start watchdog: %w", err)
	}
	c.watchdog, c.stdin = cmd, stdin
	return nil
}

// stopWatchdog lets the watchdog go: it stops a server that is still
// running (none, after the test's cleanup) and exits.
func (c *Cluster) stopWatchdog() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.watchdog == nil {
		return
	}
	c.stdin.Close()
	_ = c.watchdog.Wait()
	c.watchdog = nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the last lines of a log.
func tail(b []byte) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}
