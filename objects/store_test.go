package objects_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/objects/objectstest"
)

// objectPath is where a DiskStore keeps id (its documented layout).
func objectPath(dir string, id objects.ID) string {
	h := id.String()
	return filepath.Join(dir, h[:2], h[2:])
}

// corruptFile flips one byte in the middle of id's file.
func corruptFile(dir string, id objects.ID) error {
	p := objectPath(dir, id)
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	b[len(b)/2] ^= 0x01
	if err := os.Chmod(p, 0o644); err != nil {
		return err
	}
	return os.WriteFile(p, b, 0o444)
}

// tempFiles lists the temporary files under a DiskStore directory.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), ".tmp-") {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ageAll sets the modification time of every object file to d ago.
func ageAll(t *testing.T, s *objects.DiskStore, d time.Duration) {
	t.Helper()
	old := time.Now().Add(-d)
	err := s.List(context.Background(), func(id objects.ID) error {
		return os.Chtimes(objectPath(s.Dir(), id), old, old)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDiskStoreConformance(t *testing.T) {
	var dir string
	objectstest.Run(t, func(t *testing.T) objects.Store {
		dir = t.TempDir()
		s, err := objects.OpenDisk(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if tmp := tempFiles(t, dir); len(tmp) != 0 {
				t.Errorf("temporary files left: %v", tmp)
			}
		})
		return s
	}, objectstest.Options{Corrupt: func(id objects.ID) error { return corruptFile(dir, id) }})
}

func TestMemStoreConformance(t *testing.T) {
	var cur *objects.MemStore
	objectstest.Run(t, func(t *testing.T) objects.Store {
		cur = objects.NewMem()
		return cur
	}, objectstest.Options{Corrupt: func(id objects.ID) error {
		if !cur.Corrupt(id, 7) {
			return fmt.Errorf("corrupt %s: not in the store", id.Short())
		}
		return nil
	}})
}

// Subprocess tests re-run the test binary with childEnv set to a role.
const childEnv = "FED_OBJECTS_TEST_CHILD"

// child starts the test binary running test as a subprocess with role.
func child(t *testing.T, test, role string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	// The path list separator occurs in no path (':' does on Windows).
	sep := string(os.PathListSeparator)
	cmd.Env = append(os.Environ(), childEnv+"="+role+sep+strings.Join(args, sep))
	return cmd
}

// childRole returns the role and arguments when running as a subprocess.
func childRole() (string, []string) {
	v := os.Getenv(childEnv)
	if v == "" {
		return "", nil
	}
	parts := strings.Split(v, string(os.PathListSeparator))
	return parts[0], parts[1:]
}

// sharedObjects are the objects the multi-process test's children all
// put: chunks with and without hints, deltas against each other, and
// small non-chunk objects.
func sharedObjects(n int) ([][]byte, []objects.PutOptions) {
	var objs [][]byte
	var opts []objects.PutOptions
	for i := 0; i < n; i++ {
		var b []byte
		var po objects.PutOptions
		switch i % 4 {
		case 0:
			b = objects.EncodeChunk(objectstest.Floats(2048, uint64(i)))
			po = objects.PutOptions{ElemSize: 4}
		case 1: // a new version of the previous chunk
			b = objects.EncodeChunk(objectstest.Nudge(objectstest.Floats(2048, uint64(i-1)), 0.001, uint64(i)))
			po = objects.PutOptions{ElemSize: 4, DeltaBase: objects.Sum(objs[i-1])}
		case 2:
			b = objects.EncodeChunk([]byte(fmt.Sprint("small object ", i)))
		case 3:
			b, _ = objects.Encode(&objects.Tree{Entries: []objects.TreeEntry{
				{Name: fmt.Sprint("f", i), Mode: objects.ModeFile, Kind: objects.KindBlob, ID: objects.Sum(objs[i-1])},
			}})
		}
		objs = append(objs, b)
		opts = append(opts, po)
	}
	return objs, opts
}

func TestDiskStoreMultiProcess(t *testing.T) {
	const nObjects, nProcs = 200, 4
	ctx := context.Background()
	if role, args := childRole(); role == "multi" {
		s, err := objects.OpenDisk(args[0])
		if err != nil {
			t.Fatal(err)
		}
		seed, _ := strconv.Atoi(args[1])
		objs, opts := sharedObjects(nObjects)
		order := rand.New(rand.NewPCG(uint64(seed), 9)).Perm(nObjects)
		for _, i := range order {
			id, err := s.Put(ctx, objs[i], opts[i])
			if err != nil {
				t.Fatalf("put %d: %v", i, err)
			}
			if got, err := s.Get(ctx, id); err != nil || !bytes.Equal(got, objs[i]) {
				t.Fatalf("get %d right after put: %v", i, err)
			}
		}
		return
	} else if role != "" {
		t.Skip("subprocess of another test")
	}

	dir := t.TempDir()
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for p := 0; p < nProcs; p++ {
		cmd := child(t, "TestDiskStoreMultiProcess", "multi", dir, strconv.Itoa(p))
		out := &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	for p, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("process %d: %v\n%s", p, err, outs[p])
		}
	}
	s, err := objects.OpenDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	objs, _ := sharedObjects(nObjects)
	for i, b := range objs {
		got, err := s.Get(ctx, objects.Sum(b))
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("object %d: %v", i, err)
		}
	}
	rep, err := objects.Fsck(ctx, s, nil, objects.FsckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Objects != nObjects || len(rep.Problems) != 0 {
		t.Errorf("fsck: %d objects (want %d), problems %v", rep.Objects, nObjects, rep.Problems)
	}
	if tmp := tempFiles(t, dir); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

func TestDiskStoreSIGKILL(t *testing.T) {
	ctx := context.Background()
	if role, args := childRole(); role == "spam" {
		s, err := objects.OpenDisk(args[0])
		if err != nil {
			t.Fatal(err)
		}
		// Four writers, each a chain of delta-encoded versions plus small
		// objects, until killed.
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				v := objectstest.Floats(16<<10, uint64(w))
				prev := objects.ZeroID
				for i := 0; i < 100000; i++ {
					b := objects.EncodeChunk(v)
					id, err := s.Put(ctx, b, objects.PutOptions{ElemSize: 4, DeltaBase: prev})
					if err != nil {
						panic(err)
					}
					if _, err := s.Put(ctx, objects.EncodeChunk([]byte(fmt.Sprint(w, " small ", i))), objects.PutOptions{}); err != nil {
						panic(err)
					}
					if i == 5 && w == 0 {
						fmt.Println("ready")
					}
					prev, v = id, objectstest.Nudge(v, 0.001, uint64(i))
				}
			}(w)
		}
		wg.Wait()
		return
	} else if role != "" {
		t.Skip("subprocess of another test")
	}

	dir := t.TempDir()
	cmd := child(t, "TestDiskStoreSIGKILL", "spam", dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	ready := false
	for sc.Scan() {
		if sc.Text() == "ready" {
			ready = true
			break
		}
	}
	if ready {
		time.Sleep(time.Duration(50+rand.IntN(100)) * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, stdout)
	werr := cmd.Wait()
	if !ready {
		t.Fatalf("writer never got going: %v", werr)
	}

	s, err := objects.OpenDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = s.List(ctx, func(id objects.ID) error {
		n++
		if _, err := s.Get(ctx, id); err != nil {
			t.Errorf("object left by the killed writer: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 6 {
		t.Errorf("only %d objects written before the kill", n)
	}
	tmp := tempFiles(t, dir)
	t.Logf("%d objects and %d temporary files after SIGKILL", n, len(tmp))
	removed, err := s.RemoveStaleTemp(0)
	if err != nil || removed != len(tmp) {
		t.Errorf("RemoveStaleTemp(0) = %d, %v; want %d", removed, err, len(tmp))
	}
	if left := tempFiles(t, dir); len(left) != 0 {
		t.Errorf("temporary files left after RemoveStaleTemp: %v", left)
	}
	rep, err := objects.Fsck(ctx, s, nil, objects.FsckOptions{})
	if err != nil || len(rep.Problems) != 0 || rep.Objects != n {
		t.Errorf("fsck after the kill: %v, %d objects (listed %d), problems %v", err, rep.Objects, n, rep.Problems)
	}
}

func TestRemoveStaleTempAge(t *testing.T) {
	dir := t.TempDir()
	s, _ := objects.OpenDisk(dir)
	id, err := s.Put(context.Background(), objects.EncodeChunk([]byte("x")), objects.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	shard := filepath.Dir(objectPath(dir, id))
	oldTmp, newTmp := filepath.Join(shard, ".tmp-old"), filepath.Join(shard, ".tmp-new")
	for _, p := range []string{oldTmp, newTmp} {
		if err := os.WriteFile(p, []byte("partial"), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(oldTmp, old, old)
	if n, err := s.RemoveStaleTemp(time.Hour); n != 1 || err != nil {
		t.Fatalf("RemoveStaleTemp(1h) = %d, %v; want 1", n, err)
	}
	if _, err := os.Stat(oldTmp); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("old temporary file kept: %v", err)
	}
	if _, err := os.Stat(newTmp); err != nil {
		t.Errorf("recent temporary file removed: %v", err)
	}
	if ok, _ := s.Has(context.Background(), id); !ok {
		t.Error("RemoveStaleTemp removed an object")
	}
}

// writeTensor stores data as an F32 tensor in pieces of pieceSize with w.
func writeTensor(t *testing.T, w *objects.Writer, data []byte, parent *objects.Tensor) (objects.ID, *objects.Tensor, error) {
	t.Helper()
	n := uint64(len(data) / 4)
	return w.Tensor(bytes.NewReader(data), objects.TensorInfo{DType: objects.F32, Shape: []uint64{n}, Size: uint64(len(data))}, parent)
}

func TestWriterFlushReturnsFirstError(t *testing.T) {
	ctx := context.Background()
	errFirst, errLater := errors.New("first failure"), errors.New("later failure")
	mem := objects.NewMem()
	f := objectstest.NewFaulty(mem,
		objectstest.Fault{Op: objectstest.OpPut, N: 1, Err: errFirst},
		objectstest.Fault{Op: objectstest.OpPut, N: 2, Err: errLater, Delay: 50 * time.Millisecond},
		objectstest.Fault{Op: objectstest.OpPut, N: 3, Err: errLater, Delay: 50 * time.Millisecond},
	)
	w := objects.NewWriter(ctx, f)
	w.PieceSize = 1024
	id, _, err := writeTensor(t, w, objectstest.Floats(4096, 1), nil)
	if err != nil && !errors.Is(err, errFirst) {
		t.Errorf("Tensor = %v, want nil or the first error", err)
	}
	ferr := w.Flush()
	if !errors.Is(ferr, errFirst) || errors.Is(ferr, errLater) {
		t.Errorf("Flush = %v, want the first error %q", ferr, errFirst)
	}
	if err == nil {
		if ok, _ := mem.Has(ctx, id); ok {
			t.Error("tensor stored although a piece failed")
		}
	}
	if err := w.Flush(); !errors.Is(err, errFirst) {
		t.Errorf("second Flush = %v, want the first error again", err)
	}
}

// Whichever put fails, and whether the object was stored before the
// failure or not, nothing in the store refers to a missing object.
func TestWriterNeverStoresDanglingRefs(t *testing.T) {
	ctx := context.Background()
	tensorData := objectstest.Floats(2048, 2) // 8 pieces of 1 KiB
	blobData := bytes.Repeat([]byte("blob bytes "), 100)
	const totalPuts = 8 + 1 + 3 // pieces, blob chunk, tensor, blob, model
	for _, mode := range []objectstest.Mode{objectstest.Fail, objectstest.FailAfter} {
		for n := 1; n <= totalPuts+1; n++ {
			t.Run(fmt.Sprintf("mode%d/put%d", mode, n), func(t *testing.T) {
				mem := objects.NewMem()
				f := objectstest.NewFaulty(mem, objectstest.Fault{Op: objectstest.OpPut, N: n, Mode: mode})
				w := objects.NewWriter(ctx, f)
				w.PieceSize = 1024
				var tid, bid, mid objects.ID
				tid, tt, err := writeTensor(t, w, tensorData, nil)
				if err == nil {
					var bl *objects.Blob
					bid, bl, err = w.Blob(bytes.NewReader(blobData))
					if err == nil {
						mid, err = w.Object(&objects.Model{Format: "safetensors", Size: tt.Size + bl.Size, Segments: []objects.Segment{
							{Name: "w", ID: tid, Size: tt.Size}, {ID: bid, Size: bl.Size}}})
					}
				}
				ferr := w.Flush()
				if err == nil {
					err = ferr
				}
				switch {
				case n > totalPuts && err != nil:
					t.Fatalf("no fault injected, but: %v", err)
				case n <= totalPuts && !errors.Is(err, objectstest.ErrInjected):
					t.Fatalf("put %d failed, but Writer returned %v", n, err)
				}
				if n > totalPuts {
					if ok, _ := mem.Has(ctx, mid); !ok {
						t.Fatal("model not stored")
					}
				} else if mode == objectstest.Fail {
					if ok, _ := mem.Has(ctx, mid); ok {
						t.Error("model stored although an earlier put failed")
					}
				}
				var all []objects.ID
				mem.List(ctx, func(id objects.ID) error { all = append(all, id); return nil })
				rep, err := objects.Fsck(ctx, mem, all, objects.FsckOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if len(rep.Problems) != 0 {
					t.Errorf("store refers to missing objects: %v", rep.Problems)
				}
			})
		}
	}
}

// sampleRepo stores a commit -> tree -> model -> (tensor -> pieces, blob
// -> chunk) graph and returns the ids, root first.
type sampleRepo struct {
	commit, tree, model, tensor, blob objects.ID
	pieces                            []objects.ID
}

func newSampleRepo(t *testing.T, s objects.Store) sampleRepo {
	ctx := context.Background()
	var r sampleRepo
	w := objects.NewWriter(ctx, s)
	w.PieceSize = 4096
	var tt *objects.Tensor
	var err error
	r.tensor, tt, err = writeTensor(t, w, objectstest.Floats(4096, 3), nil)
	if err != nil {
		t.Fatal(err)
	}
	r.pieces = tt.Pieces
	var bl *objects.Blob
	r.blob, bl, err = w.Blob(strings.NewReader("config: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	r.model, _ = w.Object(&objects.Model{Format: "safetensors", Size: tt.Size + bl.Size,
		Segments: []objects.Segment{{ID: r.blob, Size: bl.Size}, {Name: "w", ID: r.tensor, Size: tt.Size}}})
	r.tree, _ = w.Object(&objects.Tree{Entries: []objects.TreeEntry{{Name: "m.safetensors", Mode: objects.ModeFile, Kind: objects.KindModel, ID: r.model}}})
	r.commit, _ = w.Object(&objects.Commit{Tree: r.tree, Time: 1, Message: "c"})
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestFsckReportsFaults(t *testing.T) {
	ctx := context.Background()
	mem := objects.NewMem()
	r := newSampleRepo(t, mem)
	rep, err := objects.Fsck(ctx, mem, []objects.ID{r.commit}, objects.FsckOptions{})
	if err != nil || len(rep.Problems) != 0 || rep.Reachable != rep.Objects {
		t.Fatalf("fsck of a good store: %+v, %v", rep, err)
	}
	cases := []struct {
		name  string
		fault objectstest.Fault
		want  objects.ID // the object a problem must name
		from  objects.ID
	}{
		{"piece read fails", objectstest.Fault{Op: objectstest.OpGet, ID: r.pieces[2]}, r.pieces[2], r.tensor},
		{"tree short", objectstest.Fault{Op: objectstest.OpGet, ID: r.tree, Mode: objectstest.Short}, r.tree, r.commit},
		{"commit read fails once", objectstest.Fault{Op: objectstest.OpGet, ID: r.commit, N: 1}, r.commit, objects.ZeroID},
		{"model short", objectstest.Fault{Op: objectstest.OpGet, ID: r.model, Mode: objectstest.Short}, r.model, r.tree},
		{"blob fails after read", objectstest.Fault{Op: objectstest.OpGet, ID: r.blob, Mode: objectstest.FailAfter}, r.blob, r.model},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := objectstest.NewFaulty(mem, tc.fault)
			rep, err := objects.Fsck(ctx, f, []objects.ID{r.commit}, objects.FsckOptions{})
			if err != nil {
				t.Fatalf("Fsck: %v", err)
			}
			found := false
			for _, p := range rep.Problems {
				if p.ID == tc.want && p.From == tc.from && p.Err != nil {
					found = true
				}
			}
			if !found {
				t.Errorf("problems %v, want one for %s from %s", rep.Problems, tc.want.Short(), tc.from.Short())
			}
		})
	}
	t.Run("tensor garbled", func(t *testing.T) {
		f := objectstest.NewFaulty(mem, objectstest.Fault{Op: objectstest.OpGet, ID: r.tensor, Mode: objectstest.Garble})
		rep, err := objects.Fsck(ctx, f, []objects.ID{r.commit}, objects.FsckOptions{})
		if err != nil || len(rep.Problems) == 0 {
			t.Errorf("Fsck over a garbled tensor: %v, problems %v", err, rep)
		}
	})
	t.Run("list fails", func(t *testing.T) {
		f := objectstest.NewFaulty(mem, objectstest.Fault{Op: objectstest.OpList})
		if _, err := objects.Fsck(ctx, f, []objects.ID{r.commit}, objects.FsckOptions{}); !errors.Is(err, objectstest.ErrInjected) {
			t.Errorf("Fsck with a failing List = %v", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := objects.Fsck(cctx, mem, []objects.ID{r.commit}, objects.FsckOptions{}); !errors.Is(err, context.Canceled) {
			t.Errorf("Fsck with a cancelled context = %v", err)
		}
	})
}

func TestGCFaults(t *testing.T) {
	ctx := context.Background()
	s, _ := objects.OpenDisk(t.TempDir())
	r := newSampleRepo(t, s)
	garbage, _ := objects.Write(ctx, s, &objects.Chunk{Data: []byte("garbage")})
	ageAll(t, s, 2*time.Hour)
	count := func() int {
		n := 0
		s.List(ctx, func(objects.ID) error { n++; return nil })
		return n
	}
	before := count()
	// A reachable object that cannot be read stops gc before it deletes.
	f := objectstest.NewFaulty(s, objectstest.Fault{Op: objectstest.OpGet, ID: r.model})
	if _, err := objects.GC(ctx, f, []objects.ID{r.commit}, objects.GCOptions{}); !errors.Is(err, objectstest.ErrInjected) {
		t.Errorf("GC with an unreadable reachable object = %v", err)
	}
	f = objectstest.NewFaulty(s, objectstest.Fault{Op: objectstest.OpHas, ID: r.pieces[0]})
	if _, err := objects.GC(ctx, f, []objects.ID{r.commit}, objects.GCOptions{}); !errors.Is(err, objectstest.ErrInjected) {
		t.Errorf("GC with an unreadable reachable piece = %v", err)
	}
	f = objectstest.NewFaulty(s, objectstest.Fault{Op: objectstest.OpList})
	if _, err := objects.GC(ctx, f, []objects.ID{r.commit}, objects.GCOptions{}); !errors.Is(err, objectstest.ErrInjected) {
		t.Errorf("GC with a failing List = %v", err)
	}
	if n := count(); n != before {
		t.Fatalf("failed gc runs changed the store: %d objects, had %d", n, before)
	}
	// A failing Delete is reported; a later run finishes the job.
	f = objectstest.NewFaulty(s, objectstest.Fault{Op: objectstest.OpDelete})
	if _, err := objects.GC(ctx, f, []objects.ID{r.commit}, objects.GCOptions{}); !errors.Is(err, objectstest.ErrInjected) {
		t.Errorf("GC with a failing Delete = %v", err)
	}
	rep, err := objects.GC(ctx, s, []objects.ID{r.commit}, objects.GCOptions{})
	if err != nil || rep.Removed != 1 {
		t.Errorf("GC = %+v, %v; want 1 removed", rep, err)
	}
	if ok, _ := s.Has(ctx, garbage); ok {
		t.Error("garbage kept")
	}
	if frep, err := objects.Fsck(ctx, s, []objects.ID{r.commit}, objects.FsckOptions{}); err != nil || len(frep.Problems) != 0 {
		t.Errorf("fsck after gc: %v %v", err, frep.Problems)
	}
}

// A writer that reuses old, unreachable objects (unchanged pieces of a
// parent tensor, delta bases, identical data) must keep them alive
// through a gc that runs before the new tensor becomes a root.
func TestGCSparesWhatWriterReuses(t *testing.T) {
	ctx := context.Background()
	const pieceSize = 16 << 10
	base := objectstest.Floats(4*pieceSize/4, 5) // 4 pieces
	for _, tc := range []struct {
		name   string
		data   func() []byte
		parent bool
	}{
		{"unchanged and delta pieces of a parent", func() []byte {
			d := append([]byte(nil), base...)
			copy(d[2*pieceSize:], objectstest.Nudge(d[2*pieceSize:3*pieceSize], 0.001, 1))
			return d
		}, true},
		{"identical data without parent", func() []byte { return base }, false},
		{"all pieces deltas of a parent", func() []byte { return objectstest.Nudge(base, 0.001, 2) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := objects.OpenDisk(t.TempDir())
			w := objects.NewWriter(ctx, s)
			w.PieceSize = pieceSize
			_, old, err := writeTensor(t, w, base, nil)
			if err != nil || w.Flush() != nil {
				t.Fatal(err)
			}
			ageAll(t, s, 2*time.Hour) // old is unreachable and past the grace period
			var parent *objects.Tensor
			if tc.parent {
				parent = old
			}
			want := tc.data()
			w = objects.NewWriter(ctx, s)
			w.PieceSize = pieceSize
			id, _, err := writeTensor(t, w, want, parent)
			if err != nil || w.Flush() != nil {
				t.Fatal(err)
			}
			// gc runs before the writer records id in a ref
			if _, err := objects.GC(ctx, s, nil, objects.GCOptions{}); err != nil {
				t.Fatal(err)
			}
			rep, err := objects.Fsck(ctx, s, []objects.ID{id}, objects.FsckOptions{})
			if err != nil || len(rep.Problems) != 0 {
				t.Fatalf("new tensor broken by gc: %v %v", err, rep.Problems)
			}
			tt, _ := objects.ReadTensor(ctx, s, id)
			var got bytes.Buffer
			if err := objects.WriteTensorTo(ctx, s, tt, &got); err != nil || !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("new tensor reads back wrong: %v", err)
			}
		})
	}
}

// One goroutine writes tensors and records them as roots while another
// runs gc with the default grace period: nothing reachable or recently
// written is ever removed, and unreachable old garbage still goes.
func TestGCConcurrentWithWriter(t *testing.T) {
	ctx := context.Background()
	const pieceSize = 16 << 10
	s, _ := objects.OpenDisk(t.TempDir())
	w := objects.NewWriter(ctx, s)
	w.PieceSize = pieceSize
	var olds []*objects.Tensor
	var oldData [][]byte
	for i := 0; i < 3; i++ {
		d := objectstest.Floats(3*pieceSize/4, uint64(10+i))
		_, tt, err := writeTensor(t, w, d, nil)
		if err != nil {
			t.Fatal(err)
		}
		olds, oldData = append(olds, tt), append(oldData, d)
	}
	garbageID, garbage, err := writeTensor(t, w, objectstest.Floats(3*pieceSize/4, 99), nil)
	if err != nil || w.Flush() != nil {
		t.Fatal(err)
	}
	ageAll(t, s, 2*time.Hour)

	var mu sync.Mutex
	var roots []objects.ID
	want := map[objects.ID][]byte{}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // writer
		defer wg.Done()
		defer close(done)
		for i := 0; i < 24; i++ {
			k := i % len(olds)
			var d []byte
			var parent *objects.Tensor
			switch i % 4 {
			case 0: // same data as an old unreachable tensor
				d = oldData[k]
			case 1: // one piece changed, the others reused from the parent
				d = append([]byte(nil), oldData[k]...)
				copy(d[pieceSize:], objectstest.Nudge(d[pieceSize:2*pieceSize], 0.001, uint64(i)))
				parent = olds[k]
			case 2: // every piece a delta
				d, parent = objectstest.Nudge(oldData[k], 0.001, uint64(i)), olds[k]
			case 3: // new data
				d = objectstest.Floats(3*pieceSize/4, uint64(1000+i))
			}
			w := objects.NewWriter(ctx, s)
			w.PieceSize = pieceSize
			id, _, err := writeTensor(t, w, d, parent)
			if err == nil {
				err = w.Flush()
			}
			if err != nil {
				t.Errorf("writer: %v", err)
				return
			}
			time.Sleep(time.Millisecond) // between the write and the ref update
			mu.Lock()
			roots = append(roots, id)
			want[id] = d
			mu.Unlock()
		}
	}()
	runs, removed := 0, 0
	go func() { // gc
		defer wg.Done()
		for {
			mu.Lock()
			rs := append([]objects.ID(nil), roots...)
			mu.Unlock()
			rep, err := objects.GC(ctx, s, rs, objects.GCOptions{})
			if err != nil {
				t.Errorf("gc run %d: %v", runs, err)
				return
			}
			runs++
			removed += rep.Removed
			select {
			case <-done:
				return
			default:
			}
		}
	}()
	wg.Wait()
	t.Logf("%d gc runs removed %d objects", runs, removed)
	if _, err := objects.GC(ctx, s, roots, objects.GCOptions{}); err != nil {
		t.Fatal(err)
	}
	rep, err := objects.Fsck(ctx, s, roots, objects.FsckOptions{})
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("fsck after concurrent gc: %v %v", err, rep.Problems)
	}
	for id, d := range want {
		tt, err := objects.ReadTensor(ctx, s, id)
		var got bytes.Buffer
		if err == nil {
			err = objects.WriteTensorTo(ctx, s, tt, &got)
		}
		if err != nil || !bytes.Equal(got.Bytes(), d) {
			t.Errorf("tensor %s reads back wrong: %v", id.Short(), err)
		}
	}
	// The old garbage nobody reused is gone.
	for _, id := range append([]objects.ID{garbageID}, garbage.Pieces...) {
		if ok, _ := s.Has(ctx, id); ok {
			t.Errorf("unreachable old %s kept", id.Short())
		}
	}
}

// TestDeleteUnlessReused: GC's last step removes an object only if nobody
// reused it after the cutoff, leaves nothing aside either way, and keeps a
// reused object readable.
func TestDeleteUnlessReused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := objects.OpenDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	put := func(data string) objects.ID {
		id, err := s.Put(ctx, objects.EncodeChunk([]byte(data)), objects.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	stale, reused := put("nobody wants me"), put("wanted again")
	ageAll(t, s, 2*time.Hour)
	cutoff := time.Now().Add(-time.Hour)
	put("wanted again") // a writer reuses it after GC's check

	if removed, err := s.DeleteUnlessReused(ctx, reused, cutoff); err != nil || removed {
		t.Fatalf("reused object: removed=%v err=%v, want kept", removed, err)
	}
	if _, err := s.Get(ctx, reused); err != nil {
		t.Fatalf("reused object unreadable after gc: %v", err)
	}
	if removed, err := s.DeleteUnlessReused(ctx, stale, cutoff); err != nil || !removed {
		t.Fatalf("stale object: removed=%v err=%v, want removed", removed, err)
	}
	if ok, _ := s.Has(ctx, stale); ok {
		t.Fatal("stale object still there")
	}
	if removed, err := s.DeleteUnlessReused(ctx, stale, cutoff); err != nil || removed {
		t.Fatalf("absent object: removed=%v err=%v", removed, err)
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".tmp-") {
			t.Errorf("left aside: %s", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// refCheckStore fails a Put of an object whose references are not all
// stored yet.
type refCheckStore struct{ *objects.MemStore }

func (s *refCheckStore) Put(ctx context.Context, obj []byte, opts objects.PutOptions) (objects.ID, error) {
	if objects.Kind(obj[4]) != objects.KindChunk {
		o, err := objects.Decode(obj)
		if err != nil {
			return objects.ZeroID, err
		}
		for _, r := range o.Refs() {
			if ok, _ := s.Has(ctx, r); !ok {
				return objects.ZeroID, fmt.Errorf("%T stored before %s, which it refers to", o, r.Short())
			}
		}
		time.Sleep(time.Millisecond) // a window for a put out of order
	}
	return s.MemStore.Put(ctx, obj, opts)
}

// Flush stores a write's tensors and blobs side by side, then the objects
// that refer to them in order: no object reaches the store before what it
// refers to, however many there are.
func TestWriterFlushStoresReferencesFirst(t *testing.T) {
	ctx := context.Background()
	s := &refCheckStore{MemStore: objects.NewMem()}
	w := objects.NewWriter(ctx, s)
	w.PieceSize = 1024
	var segs []objects.Segment
	var size uint64
	for i := range 200 {
		id, tt, err := writeTensor(t, w, objectstest.Floats(64+i%300, uint64(i)), nil)
		if err != nil {
			t.Fatal(err)
		}
		segs = append(segs, objects.Segment{Name: fmt.Sprintf("t%03d", i), ID: id, Size: tt.Size})
		size += tt.Size
		if i%50 == 0 {
			bid, bl, err := w.Blob(bytes.NewReader(bytes.Repeat([]byte{byte(i)}, 100+i)))
			if err != nil {
				t.Fatal(err)
			}
			segs = append(segs, objects.Segment{ID: bid, Size: bl.Size})
			size += bl.Size
		}
	}
	mid, err := w.Object(&objects.Model{Format: "safetensors", Size: size, Segments: segs})
	if err != nil {
		t.Fatal(err)
	}
	tid, err := w.Object(&objects.Tree{Entries: []objects.TreeEntry{{Name: "m.safetensors", Mode: objects.ModeFile, Kind: objects.KindModel, ID: mid}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Has(ctx, tid); !ok {
		t.Fatal("tree not stored")
	}
	rep, err := objects.Fsck(ctx, s, []objects.ID{tid}, objects.FsckOptions{})
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("fsck: %v %v", rep, err)
	}
}
