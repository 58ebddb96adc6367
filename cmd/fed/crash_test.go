package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestCrashDuringCommit kills `fed commit -a` with SIGKILL at random
// moments while it stores a ~20 MB model. After every kill fsck must be
// clean and HEAD — the last commit that completed — must be intact and
// check out byte-identical.
func TestCrashDuringCommit(t *testing.T) {
	fed, err := exec.LookPath("fed") // installed in $PATH by testscript.RunMain
	if err != nil {
		t.Fatalf("fed binary: %v", err)
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "repo")
	env := append(os.Environ(), "HOME="+filepath.Join(dir, "home"), "FED_CONFIG="+filepath.Join(dir, "fedconfig"), "FED_KEYPAIR=")
	runFed := func(args ...string) (string, string, error) {
		cmd := exec.Command(fed, append([]string{"-C", root, "--no-progress"}, args...)...)
		cmd.Env = env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}
	mustFed := func(args ...string) string {
		t.Helper()
		out, stderr, err := runFed(args...)
		if err != nil {
			t.Fatalf("fed %v: %v\n%s", args, err, stderr)
		}
		return out
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	mustFed("init")
	mustFed("keygen")

	// a 20 MB model: one 2560x2048 F32 tensor and a small one
	var buf bytes.Buffer
	if err := writeModel(&buf, 1, []modelTensor{{"w", []uint64{2560, 2048}}, {"b", []uint64{2048}}}); err != nil {
		t.Fatal(err)
	}
	model := buf.Bytes()
	dataStart := 8 + int(binary.LittleEndian.Uint64(model))
	path := filepath.Join(root, "model.safetensors")
	if err := os.WriteFile(path, model, 0o644); err != nil {
		t.Fatal(err)
	}
	mustFed("add", "model.safetensors")
	mustFed("commit", "-m", "base")
	var committed []byte

	rng := rand.New(rand.NewPCG(42, 42))
	// change a random quarter of the data, as a training step would
	mutate := func() {
		n := (len(model) - dataStart) / 4 / 4 * 4
		off := dataStart + rng.IntN((len(model)-dataStart-n)/4)*4
		for i := 0; i < n; i += 4 {
			binary.LittleEndian.PutUint32(model[off+i:], math.Float32bits(float32(rng.NormFloat64())))
		}
		if err := os.WriteFile(path, model, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// how long an uninterrupted commit takes sets the range of kill delays
	mutate()
	start := time.Now()
	mustFed("commit", "-a", "-m", "timed")
	span := time.Since(start)
	committed = bytes.Clone(model)
	t.Logf("an uninterrupted commit of a %d-byte model takes %v", len(model), span)

	const rounds = 30
	killed, completed := 0, 0
	for i := 0; i < rounds; i++ {
		mutate()
		msg := "round " + strconv.Itoa(i)
		cmd := exec.Command(fed, "-C", root, "--no-progress", "commit", "-a", "-m", msg)
		cmd.Env = env
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		began := time.Now()
		var delay time.Duration
		var werr, kerr error
		if i%5 == 4 {
			// every fifth round completes, and re-measures the span
			werr = cmd.Wait()
			if werr != nil {
				t.Fatalf("round %d: uninterrupted commit: %v", i, werr)
			}
			span = max(span, time.Since(began))
			delay = -1
		} else {
			delay = time.Duration(rng.Int64N(int64(span) * 3 / 2))
			time.Sleep(delay)
			kerr = cmd.Process.Signal(syscall.SIGKILL)
			werr = cmd.Wait()
		}
		var ee *exec.ExitError
		if delay >= 0 && kerr == nil && errors.As(werr, &ee) && !ee.Exited() {
			killed++
		}

		// fsck clean
		if out, stderr, err := runFed("fsck"); err != nil {
			t.Fatalf("round %d (killed after %v): fsck: %v\n%s%s", i, delay, err, out, stderr)
		}
		// HEAD is the last completed commit
		out := mustFed("log", "--json", "-n", "1")
		var log []commitJSON
		if err := json.Unmarshal([]byte(out), &log); err != nil || len(log) != 1 {
			t.Fatalf("round %d: log --json: %v\n%s", i, err, out)
		}
		if log[0].Signature != "good" {
			t.Fatalf("round %d: HEAD signature %s", i, log[0].Signature)
		}
		if subject(log[0].Message) == msg {
			completed++
			committed = bytes.Clone(model)
		}
		// and checks out byte-identical
		mustFed("checkout", "HEAD", "--", "model.safetensors")
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, committed) {
			t.Fatalf("round %d (killed after %v): HEAD (%s) checks out different bytes", i, delay, log[0].Message)
		}
		if err := os.WriteFile(path, model, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d rounds: %d commits killed, %d completed (span %v)", rounds, killed, completed, span)
	if killed == 0 {
		t.Errorf("no commit was killed; the test exercised nothing")
	}
}
