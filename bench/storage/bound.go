//go:build unix

package main

import (
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/fed-vcs/fed/objects"
)

// floor is the work of an add that no way of storing the model avoids, on
// this machine: reading and hashing it (CPU time, from this process, one
// goroutine; load distorts it far less than wall time), and writing n
// bytes durably (wall time: the disk's part).
type floor struct {
	hashCPU time.Duration // read the file and SHA-256 it in 4 MiB pieces
	copyCPU time.Duration // the same and write its bytes to a new file (no fsync): git lfs's own work
	durable time.Duration // write n bytes of it to a new file and fsync it
	n       int64
}

// cpuNow is this process's CPU time (user+sys).
func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measureFloor measures the floor of adding the file at path, of which a
// store keeps n bytes, in dir.
func measureFloor(dir, path string, n int64) (floor, error) {
	fl := floor{n: n}
	buf := make([]byte, objects.HeaderSize+objects.DefaultPieceSize)
	objects.PutChunkHeader(buf)
	// pass reads path piece by piece, hashes each piece object and hands
	// the piece to w (nil: none); it returns the CPU time spent.
	pass := func(w io.Writer) (time.Duration, error) {
		f, err := os.Open(path)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		start := cpuNow()
		for {
			k, err := io.ReadFull(f, buf[objects.HeaderSize:])
			if k > 0 {
				objects.Sum(buf[:objects.HeaderSize+k])
				if w != nil {
					if _, err := w.Write(buf[objects.HeaderSize : objects.HeaderSize+k]); err != nil {
						return 0, err
					}
				}
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return cpuNow() - start, nil
			}
			if err != nil {
				return 0, err
			}
		}
	}
	var err error
	if fl.hashCPU, err = pass(nil); err != nil {
		return fl, err
	}
	out, err := os.Create(filepath.Join(dir, "floor-copy"))
	if err != nil {
		return fl, err
	}
	fl.copyCPU, err = pass(out)
	out.Close()
	os.Remove(out.Name())
	if err != nil {
		return fl, err
	}
	// the disk: n bytes written and fsynced, after everything written so
	// far reached it
	syscall.Sync()
	in, err := os.Open(path)
	if err != nil {
		return fl, err
	}
	defer in.Close()
	out, err = os.Create(filepath.Join(dir, "floor-durable"))
	if err != nil {
		return fl, err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	t0 := time.Now()
	if _, err := io.CopyBuffer(struct{ io.Writer }{out}, io.LimitReader(in, n), buf); err != nil {
		return fl, err
	}
	if err := out.Sync(); err != nil {
		return fl, err
	}
	fl.durable = time.Since(t0)
	return fl, nil
}
