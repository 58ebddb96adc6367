package refs

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fed-vcs/fed/objects"
)

// Environment variables that turn the test binary into a helper process.
const (
	envHoldLock = "FED_REFS_TEST_HOLD_LOCK" // lock this path, print "locked", sleep
	envIncr     = "FED_REFS_TEST_INCR"      // advance refs/heads/main in this dir
	envIncrN    = "FED_REFS_TEST_INCR_N"
)

// TestHelperProcess is not a test: run as a child by other tests.
func TestHelperProcess(t *testing.T) {
	if path := os.Getenv(envHoldLock); path != "" {
		if _, err := LockFile(path, 5*time.Second); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("locked")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	if dir := os.Getenv(envIncr); dir != "" {
		n, _ := strconv.Atoi(os.Getenv(envIncrN))
		if err := advance(dir, n); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

// advance moves refs/heads/main n times from whatever it holds to a fresh
// id, retrying lost compare-and-swaps.
func advance(dir string, n int) error {
	s, err := OpenWith(dir, Options{LockTimeout: time.Minute})
	if err != nil {
		return err
	}
	for i := 0; i < n; {
		cur, err := s.Read(Branch("main"))
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		next := testID(fmt.Sprint(os.Getpid(), " ", i))
		err = s.Update(Branch("main"), cur, next, Entry{Author: strconv.Itoa(os.Getpid())})
		switch {
		case err == nil:
			i++
		case !errors.Is(err, ErrStale):
			return err
		}
	}
	return nil
}

func helper(t *testing.T, env ...string) *exec.Cmd {
	t.Helper()
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("needs flock(2)")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// TestLockDiesWithProcess locks a ref in a child process, SIGKILLs it and
// checks that the leftover lock file is broken at once.
func TestLockDiesWithProcess(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), ".fed")
	if _, err := Init(dir, Branch("main")); err != nil {
		t.Fatal(err)
	}
	s, err := OpenWith(dir, Options{LockTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	lockPath := s.refPath(Branch("main")) + ".lock"
	cmd := helper(t, envHoldLock+"="+lockPath)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("child said %q, %v", line, err)
	}

	// While the child lives, the lock holds.
	err = s.Update(Branch("main"), objects.ZeroID, testID("a"), Entry{})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "refs/heads/main") {
		t.Fatalf("Update under a live lock = %v, want ErrLocked naming the ref", err)
	}

	if err := cmd.Process.Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("child exited cleanly, want killed")
	}
	if _, err := os.Stat(lockPath); err != nil {
		t.Fatalf("the killed child's lock file is gone (%v); the test proves nothing", err)
	}

	// A dead holder's lock is broken by the first attempt, not by waiting
	// out a timeout: that attempt takes the lock or asks to retry at once.
	l, retryNow, err := tryAcquire(lockPath)
	if err != nil || (l == nil && !retryNow) {
		t.Fatalf("first attempt at a dead holder's lock = %v, retry at once %v, %v; want it broken", l, retryNow, err)
	}
	if l != nil {
		if err := l.Unlock(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Update(Branch("main"), objects.ZeroID, testID("a"), Entry{}); err != nil {
		t.Fatalf("Update after the holder died: %v", err)
	}
	if got := mustRead(t, s, Branch("main")); got != testID("a") {
		t.Fatalf("main = %s", got)
	}
}

// TestUpdateAcrossProcesses has several processes advance one branch by
// compare-and-swap; the reflog must show one unbroken chain of every move.
func TestUpdateAcrossProcesses(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), ".fed")
	s, err := Init(dir, Branch("main"))
	if err != nil {
		t.Fatal(err)
	}
	const procs, per = 4, 15
	var wg sync.WaitGroup
	errs := make([]error, procs)
	for i := range procs {
		cmd := helper(t, envIncr+"="+dir, envIncrN+"="+strconv.Itoa(per))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("child %d: %v: %s", i, err, out)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	log, err := s.Reflog(Branch("main"))
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != procs*per {
		t.Fatalf("reflog has %d entries, want %d", len(log), procs*per)
	}
	prev := objects.ZeroID
	authors := map[string]int{}
	for i, e := range log {
		if e.Old != prev {
			t.Fatalf("entry %d moves from %s, want %s (a lost update)", i, e.Old.Short(), prev.Short())
		}
		prev = e.New
		authors[e.Author]++
	}
	if got := mustRead(t, s, Branch("main")); got != prev {
		t.Fatalf("main = %s, reflog ends at %s", got, prev)
	}
	for a, n := range authors {
		if n != per {
			t.Errorf("process %s made %d moves, want %d", a, n, per)
		}
	}
}

func TestLockFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sub", "index.lock")
	unlock, err := LockFile(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = LockFile(path, 50*time.Millisecond)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) {
		t.Fatalf("second LockFile = %v, want ErrLocked naming %s", err, path)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("gave up after %v, before the timeout", d)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("lock file remains after unlock: %v", err)
	}
	if err := unlock(); err != nil {
		t.Fatalf("second unlock: %v", err)
	}
	unlock, err = LockFile(path, 50*time.Millisecond)
	if err != nil {
		t.Fatalf("relock: %v", err)
	}
	unlock()
}

func TestLockLeftoverFile(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("needs flock(2)")
	}
	t.Parallel()
	path := filepath.Join(t.TempDir(), "gc.lock")
	if err := os.WriteFile(path, []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := AcquireLock(path, 50*time.Millisecond)
	if err != nil {
		t.Fatalf("a lock file nobody holds was not broken: %v", err)
	}
	defer l.Unlock()
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
		t.Fatalf("lock file = %v, %v; want a fresh empty file", fi, err)
	}
}

func TestLockCommit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	target := filepath.Join(dir, "index")
	if err := os.WriteFile(target, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := AcquireLock(target+".lock", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Write([]byte("new")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "old" {
		t.Fatalf("target changed before Commit: %q", b)
	}
	if err := l.Commit(target); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "new" {
		t.Fatalf("target = %q after Commit", b)
	}
	if _, err := os.Stat(target + ".lock"); !os.IsNotExist(err) {
		t.Fatalf("lock remains: %v", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatalf("Unlock after Commit: %v", err)
	}
	if _, err := os.Stat(target); err != nil {
		t.Fatalf("Unlock after Commit removed the target: %v", err)
	}
	if _, err := l.Write([]byte("x")); err == nil {
		t.Fatal("Write after Commit succeeded")
	}
}

// TestLockMutualExclusion has goroutines take one lock over and over;
// some "die" holding it (close the file, leave it in place), so others
// must break it. No two may ever be inside at once.
func TestLockMutualExclusion(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("needs flock(2)")
	}
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.lock")
	var inside, entries, deaths atomic.Int32
	var wg sync.WaitGroup
	errc := make(chan error, 8*30*2) // never blocks a sender
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				l, err := AcquireLock(path, 30*time.Second)
				if err != nil {
					errc <- err
					return
				}
				if n := inside.Add(1); n != 1 {
					errc <- fmt.Errorf("%d holders at once", n)
				}
				entries.Add(1)
				time.Sleep(50 * time.Microsecond)
				inside.Add(-1)
				if (g+i)%3 == 0 {
					deaths.Add(1)
					l.f.Close() // die: the file stays, its flock goes
				} else if err := l.Unlock(); err != nil {
					errc <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if entries.Load() != 8*30 || deaths.Load() == 0 {
		t.Fatalf("entries %d, deaths %d", entries.Load(), deaths.Load())
	}
}
