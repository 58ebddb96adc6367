package remote_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/codec/safetensors"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repo"
	"github.com/fed-vcs/fed/transfer"
)

// benchModel writes a safetensors file of 40 F32 tensors totalling mib
// MiB. Tensors listed in nudge get the values of seed 1 nudged by a small
// noise drawn from seed (a fine-tune of those tensors).
func benchModel(b *testing.B, path string, mib int, seed uint64, nudge map[int]bool) {
	const tensors = 40
	per := mib << 20 / tensors / 4 // elements per tensor
	var ts []safetensors.WriteTensor
	for i := 0; i < tensors; i++ {
		rng := rand.New(rand.NewPCG(1, uint64(i)))
		noise := rand.New(rand.NewPCG(seed, uint64(i)))
		data := make([]byte, 4*per)
		for j := 0; j < per; j++ {
			v := float32(rng.NormFloat64() * 0.02)
			if nudge[i] {
				v += float32(noise.NormFloat64() * 1e-4)
			}
			binary.LittleEndian.PutUint32(data[4*j:], math.Float32bits(v))
		}
		ts = append(ts, safetensors.WriteTensor{Info: codec.TensorInfo{Name: fmt.Sprintf("layer%02d.weight", i), DType: objects.F32, Shape: []uint64{uint64(per)}}, Data: bytes.NewReader(data), Len: int64(len(data))})
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := safetensors.Write(f, map[string]string{"format": "pt"}, ts); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// plainHandler is the baseline: PUT stores the body in a file (fsynced),
// GET serves it.
func plainHandler(dir string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := filepath.Join(dir, "blob")
		switch r.Method {
		case http.MethodPut:
			f, err := os.Create(p)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			_, err = io.Copy(f, r.Body)
			if err == nil {
				err = f.Sync()
			}
			f.Close()
			if err != nil {
				http.Error(w, err.Error(), 500)
			}
		case http.MethodGet:
			http.ServeFile(w, r, p)
		}
	})
}

// phase is one timed step of BenchmarkPushClone with what each side
// spent on it.
type phase struct {
	name           string
	wall           time.Duration
	client, server usage
	// system calls by name, when counted (FED_BENCH_STRACE)
	clientCalls, serverCalls map[string]int
}

// measure runs fn as one phase: wall clock, this process's and the server
// process's CPU time and disk writes (after a GC, so that earlier garbage
// is not billed to it).
func measure(name string, srv *benchServer, fn func() error) (phase, error) {
	var tc, ts *tracer
	if dir := os.Getenv(benchStraceEnv); dir != "" {
		file := strings.ReplaceAll(name, " ", "-")
		// the server's first: the client's tracer, following this
		// process's children, would count the other strace's calls
		var err error
		if ts, err = startTracer(srv.cmd.Process.Pid, filepath.Join(dir, file+".server")); err != nil {
			return phase{}, err
		}
		if tc, err = startTracer(os.Getpid(), filepath.Join(dir, file+".client")); err != nil {
			ts.stop()
			return phase{}, err
		}
	}
	runtime.GC()
	c0, s0 := selfUsage(), procUsage(srv.cmd.Process.Pid)
	t0 := time.Now()
	err := fn()
	p := phase{name: name, wall: time.Since(t0)}
	p.client, p.server = selfUsage().sub(c0), procUsage(srv.cmd.Process.Pid).sub(s0)
	if tc != nil {
		p.clientCalls, p.serverCalls = tc.stop(), ts.stop()
	}
	return p, err
}

// BenchmarkPushClone measures fed push and clone of a model (512 MiB,
// 40 F32 tensors; FED_BENCH_MIB overrides) over loopback against a plain
// HTTP upload and download of the same file in the same run, and the
// bytes a push of a version with 2 of 40 tensors changed sends after the
// first. The servers (fed's and the plain one) run in a child process, so
// that each phase's CPU time (user+sys) and bytes written to disk are
// reported per side, with the load average: on a shared machine those
// move little where the wall-clock ratios do. FED_BENCH_SERVER_CPUPROFILE
// names a file for the server's CPU profile (-cpuprofile takes the
// client's). Run it with -benchtime=1x.
func BenchmarkPushClone(b *testing.B) {
	mib := 512
	if s := os.Getenv("FED_BENCH_MIB"); s != "" {
		mib, _ = strconv.Atoi(s)
	}
	ctx := context.Background()
	b.Setenv("FED_CONFIG", filepath.Join(b.TempDir(), "config"))
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r, err := repo.Init(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		r.Key = objects.KeypairFromSeed(bytes.Repeat([]byte{1}, 32))
		model := filepath.Join(r.Root, "model.safetensors")
		benchModel(b, model, mib, 1, nil)
		if err := r.Add(ctx, []string{model}, repo.AddOptions{}); err != nil {
			b.Fatal(err)
		}
		if _, err := r.Commit(ctx, repo.CommitOptions{Message: "v1"}); err != nil {
			b.Fatal(err)
		}
		fi, _ := os.Stat(model)
		size := fi.Size()

		srv := startBenchServer(b, b.TempDir(), os.Getenv(benchServerProfile))
		url := srv.fedURL + "/bench/model"
		r.RemoteAdd("origin", url)
		load0 := loadAverage()
		b.StartTimer()

		// Plain upload, then fed push.
		upPlain, err := measure("plain upload", srv, func() error {
			f, err := os.Open(model)
			if err != nil {
				return err
			}
			defer f.Close()
			req, _ := http.NewRequest(http.MethodPut, srv.plainURL, f)
			req.ContentLength = size
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		var push1 *transfer.PushResult
		upFed, err := measure("fed push", srv, func() error { var err error; push1, err = transfer.Push(ctx, r, transfer.PushOptions{}); return err })
		if err != nil {
			b.Fatal(err)
		}
		// Plain download, then fed clone (with checkout).
		downPlain, err := measure("plain download", srv, func() error {
			resp, err := http.Get(srv.plainURL)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			f, err := os.Create(filepath.Join(b.TempDir(), "download"))
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := io.Copy(f, resp.Body); err != nil {
				return err
			}
			return f.Sync()
		})
		if err != nil {
			b.Fatal(err)
		}
		cloneDir := filepath.Join(b.TempDir(), "clone")
		var clone *repo.Repo
		downFed, err := measure("fed clone+checkout", srv, func() error {
			var err error
			clone, err = transfer.Clone(ctx, transfer.CloneOptions{URL: url, Dir: cloneDir})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		// The transfer alone: fetch into an empty repository, no checkout.
		r2, err := repo.Init(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		r2.RemoteAdd("origin", url)
		fetchFed, err := measure("fed fetch", srv, func() error { _, err := transfer.Fetch(ctx, r2, transfer.FetchOptions{}); return err })
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		load1 := loadAverage()
		cloneDisk, err := clone.Disk()
		if err != nil {
			b.Fatal(err)
		}
		bd, err := measureBound(model, cloneDisk, filepath.Join(clone.Dir, "objects"), b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		got, _ := os.ReadFile(filepath.Join(cloneDir, "model.safetensors"))
		want, _ := os.ReadFile(model)
		if !bytes.Equal(got, want) {
			b.Fatal("clone differs")
		}
		// v3: 2 of 40 tensors changed since v1.
		benchModel(b, model, mib, 3, map[int]bool{7: true, 31: true})
		if err := r.Add(ctx, []string{model}, repo.AddOptions{}); err != nil {
			b.Fatal(err)
		}
		if _, err := r.Commit(ctx, repo.CommitOptions{Message: "v3"}); err != nil {
			b.Fatal(err)
		}
		push3, err := transfer.Push(ctx, r, transfer.PushOptions{})
		if err != nil {
			b.Fatal(err)
		}
		srv.stop()
		mb := float64(size) / (1 << 20)
		ratio := func(plain, fed phase) float64 { return plain.wall.Seconds() / fed.wall.Seconds() }
		b.ReportMetric(ratio(upPlain, upFed), "push/plain-speed")
		b.ReportMetric(ratio(downPlain, downFed), "clone/plain-speed")
		b.ReportMetric(ratio(downPlain, fetchFed), "fetch/plain-speed")
		b.ReportMetric(float64(push3.BytesSent)/float64(push1.BytesSent), "v3/v1-bytes")
		fmt.Printf("load average %s before, %s after\n", load0, load1)
		fmt.Printf("model %.0f MiB: plain upload %v (%.0f MiB/s), fed push %v (%.0f MiB/s): push at %.0f%% of plain\n",
			mb, upPlain.wall.Round(time.Millisecond), mb/upPlain.wall.Seconds(), upFed.wall.Round(time.Millisecond), mb/upFed.wall.Seconds(), 100*ratio(upPlain, upFed))
		fmt.Printf("plain download %v (%.0f MiB/s), fed clone+checkout %v (%.0f MiB/s): clone at %.0f%% of plain\n",
			downPlain.wall.Round(time.Millisecond), mb/downPlain.wall.Seconds(), downFed.wall.Round(time.Millisecond), mb/downFed.wall.Seconds(), 100*ratio(downPlain, downFed))
		fmt.Printf("fed fetch alone (no checkout) %v (%.0f MiB/s): at %.0f%% of plain download\n",
			fetchFed.wall.Round(time.Millisecond), mb/fetchFed.wall.Seconds(), 100*ratio(downPlain, fetchFed))
		fmt.Printf("push v1 sent %d bytes; push v3 (2 of 40 tensors changed) sent %d bytes = %.2f%%\n",
			push1.BytesSent, push3.BytesSent, 100*float64(push3.BytesSent)/float64(push1.BytesSent))
		gib := float64(size) / (1 << 30)
		fmt.Printf("%-20s %9s %13s %13s %12s %12s %14s\n", "per GiB of model", "wall", "client CPU", "server CPU", "client disk", "server disk", "client faults")
		for _, p := range []phase{upPlain, upFed, downPlain, downFed, fetchFed} {
			fmt.Printf("%-20s %8.2fs %12.2fs %12.2fs %11.2fx %11.2fx %14.0f\n", p.name, p.wall.Seconds()/gib,
				p.client.cpu.Seconds()/gib, p.server.cpu.Seconds()/gib,
				float64(p.client.writes)/float64(size), float64(p.server.writes)/float64(size), float64(p.client.faults)/gib)
		}
		// What a clone does beyond the plain download, each on one core:
		// the bound its CPU and its disk set (README, "Measured").
		fmt.Printf("bound, per GiB of model: SHA-256 %.2fs CPU (%.0f MB/s), decode of the stored forms (%.2fx of the bytes) %.2fs CPU, writing them %.2fs CPU; "+
			"writing and fsyncing 1.00x the bytes %.2fs, 1.87x as a clone does (the store's 0.84x fsynced) %.2fs (wall)\n",
			bd.sha.Seconds()/gib, float64(size)/1e6/bd.sha.Seconds(), float64(bd.storeBytes)/float64(size), bd.decode.Seconds()/gib,
			bd.writeCPU.Seconds()/gib, bd.write1.Seconds()/gib, bd.write187.Seconds()/gib)
		floorCPU, floorWall := bd.floor(downPlain.client.cpu, runtime.GOMAXPROCS(0))
		fmt.Printf("bound: a clone needs at least %.2fs of client CPU per GiB (the plain download's %.2fs and the above; fed spent %.2fs), "+
			"at best %.2fs per GiB on %d cores: at most %.0f%% of the plain download's speed in this run (fed: %.0f%%)\n",
			floorCPU.Seconds()/gib, downPlain.client.cpu.Seconds()/gib, downFed.client.cpu.Seconds()/gib,
			floorWall.Seconds()/gib, runtime.GOMAXPROCS(0), 100*downPlain.wall.Seconds()/floorWall.Seconds(), 100*ratio(downPlain, downFed))
		for _, p := range []phase{upPlain, upFed, downPlain, downFed, fetchFed} {
			if p.clientCalls != nil {
				fmt.Printf("%s system calls: client %s; server %s\n", p.name, syscallSummary(p.clientCalls), syscallSummary(p.serverCalls))
			}
		}
		b.StartTimer()
	}
}
