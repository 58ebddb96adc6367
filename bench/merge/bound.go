//go:build unix

package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/fed-vcs/fed/bench/internal/benchrun"
	"github.com/fed-vcs/fed/merge"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repo"
)

// The bound: what this machine can do of the work a merge must do, measured
// with fed's own parts but none of its machinery, after fed's merge ran
// (so the same files are in the page cache). Single-core passes give the
// speed of each step; then a minimal merge runs every piece's necessary
// work (decode and check the four sides' stored pieces, the fedavg
// kernel, SHA-256 and the delta encoding of the merged piece, its object
// file and the working-tree file, one flush of the objects at the end) on
// GOMAXPROCS goroutines that share nothing but the store: the time fed's
// merge could reach on these cores with perfect overlap and no overhead.
// A plain Go FedAvg of the raw files (what NumPy does, on every core) is
// the floor without fed's stored forms.

// usage is wall and CPU time (user+sys of this process) of one step.
type usage struct{ wall, cpu time.Duration }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func measure(fn func() error) (usage, error) {
	runtime.GC()
	c, t := cpuTime(), time.Now()
	err := fn()
	return usage{time.Since(t), cpuTime() - c}, err
}

// boundInputs are the pieces of the merge: per tensor, the base's (HEAD
// before the merge: the delta base of the merged pieces), each side's and
// the merged ones, with the tensor's element count.
type boundInputs struct {
	base, merged [][]objects.ID // [tensor][piece]
	sides        [][][]objects.ID
	elems        []uint64
	names        []string
	sizes        [][]int // [tensor][piece] bytes
	total        int64   // bytes of one model's tensors
}

func loadBound(ctx context.Context, r *repo.Repo, branches []string) (*boundInputs, error) {
	head, err := r.Resolve(ctx, "main")
	if err != nil {
		return nil, err
	}
	c, err := objects.ReadCommit(ctx, r.Objects, head)
	if err != nil {
		return nil, err
	}
	tensors := func(commit objects.ID) ([]*objects.Tensor, []string, error) {
		files, err := r.CommitFiles(ctx, commit)
		if err != nil {
			return nil, nil, err
		}
		f, ok := files["model.safetensors"]
		if !ok {
			return nil, nil, fmt.Errorf("commit %s has no model.safetensors", commit.Short())
		}
		m, err := objects.ReadModel(ctx, r.Objects, f.ID)
		if err != nil {
			return nil, nil, err
		}
		var ts []*objects.Tensor
		var names []string
		for _, s := range m.Segments {
			if s.IsTensor() {
				t, err := objects.ReadTensor(ctx, r.Objects, s.ID)
				if err != nil {
					return nil, nil, err
				}
				ts, names = append(ts, t), append(names, s.Name)
			}
		}
		return ts, names, nil
	}
	in := &boundInputs{}
	merged, names, err := tensors(head)
	if err != nil {
		return nil, err
	}
	base, _, err := tensors(c.Parents[0])
	if err != nil {
		return nil, err
	}
	in.names = names
	for i, t := range merged {
		in.merged = append(in.merged, t.Pieces)
		in.base = append(in.base, base[i].Pieces)
		in.elems = append(in.elems, t.Size/4)
		var sz []int
		for p := range t.Pieces {
			sz = append(sz, int(t.PieceLen(p)))
		}
		in.sizes = append(in.sizes, sz)
		in.total += int64(t.Size)
	}
	for _, b := range branches {
		id, err := r.Resolve(ctx, b)
		if err != nil {
			return nil, err
		}
		ts, _, err := tensors(id)
		if err != nil {
			return nil, err
		}
		var ps [][]objects.ID
		for _, t := range ts {
			ps = append(ps, t.Pieces)
		}
		in.sides = append(in.sides, ps)
	}
	return in, nil
}

// pieceRef names piece p of tensor t.
type pieceRef struct{ t, p int }

func (in *boundInputs) pieces() []pieceRef {
	var out []pieceRef
	for t := range in.merged {
		for p := range in.merged[t] {
			out = append(out, pieceRef{t, p})
		}
	}
	return out
}

// parallel runs fn over every piece on workers goroutines, each with its
// own scratch w.
func parallel[W any](ps []pieceRef, workers int, newW func() W, fn func(w W, pr pieceRef) error) error {
	var mu sync.Mutex
	var first error
	next := 0
	var wg sync.WaitGroup
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newW()
			for {
				mu.Lock()
				i := next
				next++
				stop := first != nil
				mu.Unlock()
				if stop || i >= len(ps) {
					return
				}
				if err := fn(w, ps[i]); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// pieceBufs is one worker's scratch: a decoded piece per side and one
// merged piece, header included.
type pieceBufs struct {
	sides [][]byte
	data  [][]byte
	out   []byte
}

func newPieceBufs(k int) *pieceBufs {
	b := &pieceBufs{sides: make([][]byte, k), data: make([][]byte, k), out: make([]byte, objects.HeaderSize+objects.DefaultPieceSize)}
	objects.PutChunkHeader(b.out)
	return b
}

func runBound(ctx context.Context, repoDir string, branches []string, weights []float64, rawInputs []string) error {
	r, err := repo.Open(repoDir)
	if err != nil {
		return err
	}
	ds, err := r.Disk()
	if err != nil {
		return err
	}
	in, err := loadBound(ctx, r, branches)
	if err != nil {
		return err
	}
	k := len(branches)
	ps := in.pieces()
	workers := runtime.GOMAXPROCS(0)
	newMerger := func() (*merge.Merger, error) {
		m, err := merge.New(merge.Options{Strategy: "fedavg", Weights: weights}, k)
		if err != nil {
			return nil, err
		}
		return m, m.Plan()
	}
	gb := func(n int64, d time.Duration) float64 { return float64(n) / 1e9 / d.Seconds() }
	fmt.Printf("\nthe bound (this machine, GOMAXPROCS %d, load %s): fed's parts without fed's machinery\n", workers, benchrun.LoadAvg())
	fmt.Printf("%-62s %7s %7s %12s\n", "", "wall s", "CPU s", "GB/CPU-s")
	row := func(name string, u usage, bytes int64) {
		fmt.Printf("%-62s %7.3f %7.3f %12.2f\n", name, u.wall.Seconds(), u.cpu.Seconds(), gb(bytes, u.cpu))
	}

	// single-core speeds of the steps
	decodeAll := func(workers int) (usage, error) {
		return measure(func() error {
			return parallel(ps, workers, func() *pieceBufs { return newPieceBufs(k) }, func(b *pieceBufs, pr pieceRef) error {
				for s := range in.sides {
					o, err := ds.GetInto(ctx, in.sides[s][pr.t][pr.p], b.sides[s])
					if err != nil {
						return err
					}
					b.sides[s] = o
				}
				return nil
			})
		})
	}
	u, err := decodeAll(1)
	if err != nil {
		return err
	}
	row(fmt.Sprintf("decode+check %d sides' stored pieces, 1 core", k), u, int64(k)*in.total)
	whole := make([]byte, in.total)
	off := make(map[pieceRef]int64)
	var o int64
	for _, pr := range ps {
		off[pr] = o
		o += int64(in.sizes[pr.t][pr.p])
	}
	u, err = measure(func() error {
		return parallel(ps, 1, func() int { return 0 }, func(_ int, pr pieceRef) error {
			b, err := ds.Get(ctx, in.merged[pr.t][pr.p])
			if err == nil {
				copy(whole[off[pr]:], b[objects.HeaderSize:])
			}
			return err
		})
	})
	if err != nil {
		return err
	}
	row("decode+check the merged model, 1 core", u, in.total)
	u, _ = measure(func() error { sha256.Sum256(whole); return nil })
	row("SHA-256 of the merged model (ids), 1 core", u, in.total)
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	u, _ = measure(func() error { crc32.Checksum(whole, castagnoli); return nil })
	row("CRC-32C of the merged model, 1 core", u, in.total)
	// the kernel merges every piece from the sides' first pieces (real,
	// differing values: identical ones would be copied, not averaged)
	sides := make([][]byte, k)
	for s := range sides {
		b, err := ds.Get(ctx, in.sides[s][0][0])
		if err != nil {
			return err
		}
		sides[s] = b[objects.HeaderSize:]
	}
	m, err := newMerger()
	if err != nil {
		return err
	}
	u, err = measure(func() error {
		for t := range in.merged {
			mt, err := m.Tensor(in.names[t], objects.F32, in.elems[t])
			if err != nil {
				return err
			}
			for p := range in.merged[t] {
				n := min(in.sizes[t][p], len(sides[0]))
				sl := make([][]byte, k)
				for s := range sl {
					sl[s] = sides[s][:n]
				}
				if err := mt.MergePiece(p, nil, sl, nil, whole[off[pieceRef{t, p}]:][:n], nil); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	row(fmt.Sprintf("fedavg kernel over %d sides (fed's, all cores)", k), u, int64(k)*in.total)
	scratch := filepath.Join(repoDir, ".fed-bound-tmp")
	u, err = measure(func() error {
		f, err := os.Create(scratch)
		if err != nil {
			return err
		}
		_, err = f.Write(whole)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	})
	os.Remove(scratch)
	if err != nil {
		return err
	}
	row("write the working-tree file (page cache), 1 core", u, in.total)

	// a plain FedAvg of the raw safetensors files on every core with fed's
	// kernel: the work NumPy does, without fed's stored forms
	u, err = measure(func() error {
		return plainFedAvg(rawInputs, newMerger, filepath.Join(repoDir, ".fed-bound-plain"), workers)
	})
	os.Remove(filepath.Join(repoDir, ".fed-bound-plain"))
	if err != nil {
		return err
	}
	row(fmt.Sprintf("plain FedAvg of the raw files (read, kernel, write), %d cores", workers), u, int64(k)*in.total)

	// the minimal merge: fed's necessary work, every piece on its own, on
	// every core. Its objects exist (fed stored them): remove them first.
	for _, pr := range ps {
		if err := ds.Delete(ctx, in.merged[pr.t][pr.p]); err != nil {
			return err
		}
	}
	if _, err := decodeAll(workers); err != nil { // warm the caches alike
		return err
	}
	wt := filepath.Join(repoDir, ".fed-bound-wt")
	defer os.Remove(wt)
	u, err = measure(func() error {
		f, err := os.Create(wt)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := f.Truncate(in.total); err != nil {
			return err
		}
		ds.BeginBatch()
		err = parallel(ps, workers, func() *pieceBufs { return newPieceBufs(k) }, func(b *pieceBufs, pr pieceRef) error {
			n := in.sizes[pr.t][pr.p]
			for s := range in.sides {
				o, err := ds.GetInto(ctx, in.sides[s][pr.t][pr.p], b.sides[s])
				if err != nil {
					return err
				}
				b.sides[s], b.data[s] = o, o[objects.HeaderSize:]
			}
			out := b.out[:objects.HeaderSize+n]
			// a merger per piece: fedavg's elements are independent, and
			// a merger takes a tensor's pieces in order only
			m, err := newMerger()
			if err != nil {
				return err
			}
			mt, err := m.Tensor(in.names[pr.t], objects.F32, uint64(n/4))
			if err != nil {
				return err
			}
			if err := mt.MergePiece(0, nil, b.data, nil, out[objects.HeaderSize:], nil); err != nil {
				return err
			}
			if _, err := f.WriteAt(out[objects.HeaderSize:], off[pr]); err != nil {
				return err
			}
			id, err := ds.Put(ctx, out, objects.PutOptions{ElemSize: 4, DeltaBase: in.base[pr.t][pr.p]})
			if err == nil && id != in.merged[pr.t][pr.p] {
				err = fmt.Errorf("minimal merge: piece %d of %s differs from fed's", pr.p, in.names[pr.t])
			}
			return err
		})
		if ferr := ds.EndBatch(); err == nil {
			err = ferr
		}
		return err
	})
	if err != nil {
		return err
	}
	row(fmt.Sprintf("minimal merge (decode, merge, hash, encode, write), %d cores", workers), u, int64(k)*in.total)
	return nil
}

// plainFedAvg averages the tensor bytes of safetensors files (F32, same
// layout) weighted by weights into out, piece by piece on workers
// goroutines: read each input's piece, fed's fedavg kernel, write.
func plainFedAvg(inputs []string, newMerger func() (*merge.Merger, error), out string, workers int) error {
	var files []*os.File
	for _, p := range inputs {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		files = append(files, f)
	}
	var hdr [8]byte
	if _, err := files[0].ReadAt(hdr[:], 0); err != nil {
		return err
	}
	start := 8 + int64(binary.LittleEndian.Uint64(hdr[:]))
	fi, err := files[0].Stat()
	if err != nil {
		return err
	}
	o, err := os.Create(out)
	if err != nil {
		return err
	}
	defer o.Close()
	const piece = objects.DefaultPieceSize
	var ps []pieceRef
	for off := start; off < fi.Size(); off += piece {
		ps = append(ps, pieceRef{t: int(off)})
	}
	return parallel(ps, workers, func() *pieceBufs { return newPieceBufs(len(files)) }, func(b *pieceBufs, pr pieceRef) error {
		off := int64(pr.t)
		n := int(min(piece, fi.Size()-off))
		for s, f := range files {
			if b.sides[s] == nil {
				b.sides[s] = make([]byte, piece)
			}
			b.data[s] = b.sides[s][:n]
			if _, err := f.ReadAt(b.data[s], off); err != nil {
				return err
			}
		}
		m, err := newMerger()
		if err != nil {
			return err
		}
		mt, err := m.Tensor("plain", objects.F32, uint64(n/4))
		if err != nil {
			return err
		}
		res := b.out[objects.HeaderSize:][:n]
		if err := mt.MergePiece(0, nil, b.data, nil, res, nil); err != nil {
			return err
		}
		_, err = o.WriteAt(res, off)
		return err
	})
}
