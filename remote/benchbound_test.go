package remote_test

import (
	"context"
	"crypto/sha256"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/fed-vcs/fed/internal/fsys"
	"github.com/fed-vcs/fed/objects"
)

// bound is what a clone cannot avoid on this machine beyond what the
// plain download does, measured in the same run: hashing the model's
// bytes (every received piece is checked against its id), decoding the
// stored forms, and writing the store's copy besides the working tree's.
// Each is timed on one core, in CPU time (user+sys of this process, with
// nothing else of it running), so that other jobs on the machine distort
// it less than wall time.
type bound struct {
	sha, decode time.Duration // CPU
	storeBytes  int64         // the stored forms' bytes
	// write1 writes the model's bytes to a file and fsyncs it (what the
	// plain download writes); write187 writes them (starting their
	// writeback) and the stored forms' bytes (fed's 1.87×), and fsyncs the
	// latter, as a clone does: wall time, the disk's part.
	write1, write187 time.Duration
	// writeCPU is the CPU time of writing the stored forms' bytes to a
	// file (the copy fed writes besides the working tree's), fsync apart.
	writeCPU time.Duration
}

// measureBound measures the bound for the model file and the clone's
// objects (disk, kept in objDir), writing in dir (a temporary directory).
func measureBound(model string, disk *objects.DiskStore, objDir, dir string) (bound, error) {
	var bd bound
	data, err := os.ReadFile(model)
	if err != nil {
		return bd, err
	}
	runtime.GC()
	c0 := selfCPU()
	for off := 0; off < len(data); off += objects.DefaultPieceSize {
		sha256.Sum256(data[off:min(off+objects.DefaultPieceSize, len(data))])
	}
	bd.sha = selfCPU() - c0

	// The stored forms of the clone's objects of 64 KiB and more (its
	// pieces), as a receiver gets them (no local checksum), each decoded
	// right after it was read (as a receiver decodes what it has just
	// received). DecodeStored makes a new buffer for each object, which
	// fed's receiver does not (it reuses a few): the same allocation, with
	// its page faults, is timed too and taken off.
	var forms [][]byte
	err = filepath.WalkDir(objDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		id, perr := objects.ParseID(filepath.Base(filepath.Dir(p)) + d.Name())
		if perr != nil {
			return nil // a temporary file
		}
		if fi, err := d.Info(); err != nil || fi.Size() < 64<<10 {
			return err
		}
		b, err := disk.GetStored(context.Background(), id, nil)
		if err != nil {
			return err
		}
		forms = append(forms, b)
		bd.storeBytes += int64(len(b))
		c0 := selfCPU()
		obj, err := objects.DecodeStored(b)
		if err != nil {
			return err
		}
		c1 := selfCPU()
		allocSink = make([]byte, len(obj))
		for i := 0; i < len(allocSink); i += 4096 {
			allocSink[i] = 1 // fault it in, as the decode's writes do
		}
		bd.decode += c1 - c0 - (selfCPU() - c1)
		allocSink = nil
		return nil
	})
	if err != nil {
		return bd, err
	}

	// write writes data to a new file, then sync to another one and
	// fsyncs that, and returns the wall time; the first file's writeback
	// is started, not waited for (as fed does with a working-tree file).
	write := func(data, sync []byte) (time.Duration, error) {
		t0 := time.Now()
		var files []*os.File
		defer func() {
			for _, f := range files {
				f.Close()
				os.Remove(f.Name())
			}
		}()
		create := func(b []byte) (*os.File, error) {
			f, err := os.CreateTemp(dir, "bound-*")
			if err != nil {
				return nil, err
			}
			files = append(files, f)
			_, err = f.Write(b)
			return f, err
		}
		if data != nil {
			f, err := create(data)
			if err != nil {
				return 0, err
			}
			fsys.StartWriteback(f)
		}
		c0 := selfCPU()
		f, err := create(sync)
		if err != nil {
			return 0, err
		}
		bd.writeCPU = selfCPU() - c0
		if err := f.Sync(); err != nil {
			return 0, err
		}
		return time.Since(t0), nil
	}
	if bd.write1, err = write(nil, data); err != nil {
		return bd, err
	}
	stored := make([]byte, 0, bd.storeBytes)
	for _, f := range forms {
		stored = append(stored, f...)
	}
	bd.write187, err = write(data, stored)
	return bd, err
}

// floor is the least wall time a clone's client could take on this
// machine with cpus cores, given the plain download's client CPU time
// (receiving and writing 1.00× the bytes): that work, the hash, the
// decode and the store's write, spread perfectly over the cores, and no
// less than the disk's time for the 1.87× it writes.
func (bd bound) floor(plainCPU time.Duration, cpus int) (cpu, wall time.Duration) {
	cpu = plainCPU + bd.sha + bd.decode + bd.writeCPU
	return cpu, max(cpu/time.Duration(cpus), bd.write187)
}

// allocSink keeps the compiler from dropping measureBound's allocations.
var allocSink []byte
