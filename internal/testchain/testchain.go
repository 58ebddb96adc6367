// Package testchain starts fed's local Solana chain for tests: litesvm
// (npm package pinned to 1.4.1 in testdata/chain/package-lock.json)
// behind a small JSON-RPC front on 127.0.0.1 (testdata/chain/server.js).
// It runs `npm ci` there when the packages are missing.
//
// The chain runs the real System, SPL Token, Token-2022, Associated Token
// Account and Memo programs; nothing in fed knows it is a test chain.
// Beside the front, testdata/chain/readmint.js reads a mint with the
// official SPL libraries (@solana/spl-token 0.4.15, pinned there too) as
// a wallet does, so that tests check fed's NFTs with a reader not fed's.
// Tests that need it skip when node is not installed, and say so. A
// started chain stops when the test ends, when the test process dies (its
// stdin pipe closes) or after an idle timeout.
package testchain

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fed-vcs/fed/internal/fsys"
)

// ErrNoNode reports a machine without node.
var ErrNoNode = errors.New("testchain: node is not installed")

// Dir is the directory of the chain's front (testdata/chain in the
// module).
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "chain")
}

// Chain is a running local chain.
type Chain struct {
	URL   string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}
}

// Start starts a chain and returns it; the caller must Stop it.
func Start(ctx context.Context) (*Chain, error) {
	if _, err := exec.LookPath("node"); err != nil {
		return nil, ErrNoNode
	}
	dir := Dir()
	if err := install(ctx, dir); err != nil {
		return nil, err
	}
	cmd := exec.Command("node", filepath.Join(dir, "server.js"), "--stdin", "--idle", "600", "--parent", strconv.Itoa(os.Getpid()))
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = ownGroup()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("testchain: start node: %w", err)
	}
	c := &Chain{cmd: cmd, stdin: stdin, done: make(chan struct{})}
	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		line, _ := r.ReadString('\n')
		lines <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, r)
	}()
	go func() { _ = cmd.Wait(); close(c.done) }()
	select {
	case line := <-lines:
		if !strings.HasPrefix(line, "http://") {
			c.Stop()
			return nil, fmt.Errorf("testchain: the front printed %q instead of its URL", line)
		}
		c.URL = line
		return c, nil
	case <-time.After(60 * time.Second):
		c.Stop()
		return nil, errors.New("testchain: the front did not start within 60s")
	case <-ctx.Done():
		c.Stop()
		return nil, ctx.Err()
	}
}

// Stop ends the chain and waits for it.
func (c *Chain) Stop() {
	_ = c.stdin.Close()
	select {
	case <-c.done:
		return
	case <-time.After(2 * time.Second):
	}
	_ = terminate(c.cmd.Process)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// installed are the packages of testdata/chain's package.json: a
// node_modules that lacks one (installed before it was added) is
// installed again.
var installed = []string{"litesvm", "@solana/spl-token", "@solana/web3.js"}

// install runs `npm ci` in dir unless every package is installed, under a
// lock so that test binaries running at once do not install over each
// other.
func install(ctx context.Context, dir string) error {
	ready := func() bool {
		for _, p := range installed {
			if _, err := os.Stat(filepath.Join(dir, "node_modules", filepath.FromSlash(p), "package.json")); err != nil {
				return false
			}
		}
		return true
	}
	if ready() {
		return nil
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".npm-ci.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("testchain: %w", err)
	}
	defer lock.Close()
	for {
		ok, err := fsys.TryLock(lock)
		if err != nil {
			return fmt.Errorf("testchain: lock: %w", err)
		}
		if ok {
			break // released when lock is closed
		}
		time.Sleep(100 * time.Millisecond)
	}
	if ready() {
		return nil
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return fmt.Errorf("testchain: node is installed but npm is not: %w", err)
	}
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("testchain: npm ci in %s: %w\n%s", dir, err, out)
	}
	return nil
}

// Run starts a chain for test t and returns its URL. It skips t when node
// is missing and fails it when the chain does not start.
func Run(t testing.TB) string {
	t.Helper()
	c, err := Start(context.Background())
	if errors.Is(err, ErrNoNode) {
		t.Skip("skipping: node is not installed; the local Solana chain needs Node.js >= 20")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c.URL
}
