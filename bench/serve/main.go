//go:build linux

// Command serve is the hosting benchmark of issue 17: many clients, each
// with a key and a repository of its own, push small commits (one 256-byte
// file each: a chunk, a blob, a tree and a signed commit) to real `fed
// serve` processes on 127.0.0.1, then fetch each other's repositories
// (refs, plan, objects into an empty store). It reports pushes/s with
// p50/p99 latency, fetches/s with p99, and the servers' CPU time (from
// /proc/PID/stat) and peak RSS (VmHWM) for three layouts: the disk
// default, and 1 and 2 replicas on PostgreSQL with objects in S3
// (versitygw) or, without versitygw, in one shared --root directory.
// Each layout runs several times on fresh servers; the table gives the
// median and the range.
//
// A second table gives what one push costs, which the machine's load
// distorts little: the servers' CPU and the load generator's own CPU
// (this process's rusage: signing, hashing, its store, HTTP) per push of
// the push phase, HTTP requests per push, and with -strace the system
// calls per push on each side, all and fsync or fdatasync (strace -f -c
// attached to the fed serve processes and to this process for the push
// phase; PostgreSQL's and versitygw's are not counted). The load average
// is printed before the runs and, per layout, its range over them.
// -profile keeps CPU profiles of both sides.
//
//	go run ./bench/serve -fed bin/fed -clients 100
//	go run ./bench/serve -fed bin/fed -layouts disk -runs 1 -rate 200 -strace
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fed-vcs/fed/internal/s3test"
	"github.com/fed-vcs/fed/internal/testpg"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
)

func main() {
	fedBin := flag.String("fed", "bin/fed", "fed binary")
	clients := flag.Int("clients", 100, "concurrent clients")
	pushes := flag.Int("pushes", 10, "pushes per client per run")
	fetches := flag.Int("fetches", 3, "fetches per client per run")
	runs := flag.Int("runs", 3, "runs per layout")
	rate := flag.Float64("rate", 0, "pushes/s offered by all clients together, each on a fixed schedule; 0: each pushes again as soon as its last push is done")
	layouts := flag.String("layouts", "disk,pg1,pg2", "layouts to run, comma-separated: disk (the default), pg1, pg2 (replicas on PostgreSQL)")
	straceSys := flag.Bool("strace", false, "count system calls per push, all and fsyncs, on both sides (strace -f -c for the push phase; slows the run)")
	profile := flag.String("profile", "", "write each server's CPU profile of the push phase's first seconds (pushes × clients / rate, at most 30; 10 without -rate) to `DIR`/<layout>-<run>-<replica>.push.pprof, its blocking and mutex profiles at the end of the push phase to DIR/<layout>-<run>-<replica>.{block,mutex}.pprof (FED_PPROF), and the load generator's CPU profile of the push phase to DIR/<layout>-<run>-clients.pprof")
	flag.Parse()
	b := &bench{fed: *fedBin, clients: *clients, pushes: *pushes, fetches: *fetches, rate: *rate, strace: *straceSys, profile: *profile}
	b.layouts = map[string]bool{}
	for _, l := range strings.Split(*layouts, ",") {
		b.layouts[strings.TrimSpace(l)] = true
	}
	if err := b.main(*runs); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type bench struct {
	fed                      string
	clients, pushes, fetches int
	rate                     float64
	layouts                  map[string]bool
	strace                   bool
	profile                  string         // directory of the CPU profiles; "": none
	s3                       *s3test.Server // nil without versitygw
}

// result is one run of one layout.
type result struct {
	pushRate, pushP50, pushP99 float64 // pushes/s, ms
	fetchRate, fetchP99        float64 // fetches/s, ms
	cpu                        float64 // servers' CPU seconds, both phases
	cpuShare                   float64 // of the wall time, in cores
	rss                        float64 // largest VmHWM of a replica, MB

	// per push, in the push phase
	serverCPU, clientCPU float64 // ms
	requests             float64 // HTTP requests of the load generator
	serverSyncs          float64 // fsync and fdatasync calls (-strace; else -1)
	clientSyncs          float64
	serverCalls          float64 // all system calls (-strace)
	clientCalls          float64
	load                 [2]float64 // 1-minute load average before and after the run
}

func (b *bench) main(runs int) error {
	fed, err := filepath.Abs(b.fed)
	if err != nil {
		return err
	}
	b.fed = fed
	objectsNote := "objects in one shared --root directory (no versitygw: " + s3Missing() + ")"
	if _, err := s3test.Binary(); err == nil {
		dir, err := os.MkdirTemp("", "fed-bench-s3-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if b.s3, err = s3test.Launch(dir); err != nil {
			return err
		}
		defer b.s3.Stop()
		if err := b.s3.CreateBucket("bench"); err != nil {
			return err
		}
		objectsNote = "objects in S3 (versitygw on 127.0.0.1, posix backend)"
	}
	layouts := []struct {
		key, name string
		replicas  int // 0: the disk default
	}{{"disk", "disk (default)", 0}, {"pg1", "PostgreSQL, 1 replica", 1}, {"pg2", "PostgreSQL, 2 replicas", 2}}
	fmt.Printf("fed serve benchmark: %d clients, each %d pushes of a small commit then %d fetches of another's repository; %d runs per layout, median (min–max)\n",
		b.clients, b.pushes, b.fetches, runs)
	if b.rate > 0 {
		fmt.Printf("pushes offered at %.0f/s in all (each client every %.0f ms); a push's latency counts from when it was due\n", b.rate, float64(b.clients)/b.rate*1000)
	} else {
		fmt.Printf("each client pushes again as soon as its last push is done (closed loop: latency ≈ clients / pushes/s)\n")
	}
	fmt.Printf("replicas on PostgreSQL: %s; clients go to the replicas in turn\n", objectsNote)
	fmt.Printf("load average before the benchmark: %s\n\n", loadAvg())
	fmt.Printf("| layout | pushes/s | push p50 ms | push p99 ms | fetches/s | fetch p99 ms | server CPU s (cores) | peak RSS MB |\n|---|---|---|---|---|---|---|---|\n")
	var costs []string
	for _, l := range layouts {
		if !b.layouts[l.key] {
			continue
		}
		var rs []result
		for r := 0; r < runs; r++ {
			res, err := b.run(l.replicas, fmt.Sprintf("%s-%d", l.key, r))
			if errors.Is(err, testpg.ErrMissing) {
				fmt.Printf("| %s | skipped: %v |\n", l.name, err)
				break
			}
			if err != nil {
				return fmt.Errorf("%s: %w", l.name, err)
			}
			rs = append(rs, res)
		}
		if len(rs) == 0 {
			continue
		}
		col := func(f func(result) float64, format string) string { return span(rs, f, format) }
		fmt.Printf("| %s | %s | %s | %s | %s | %s | %s (%s) | %s |\n", l.name,
			col(func(r result) float64 { return r.pushRate }, "%.0f"),
			col(func(r result) float64 { return r.pushP50 }, "%.0f"),
			col(func(r result) float64 { return r.pushP99 }, "%.0f"),
			col(func(r result) float64 { return r.fetchRate }, "%.0f"),
			col(func(r result) float64 { return r.fetchP99 }, "%.0f"),
			col(func(r result) float64 { return r.cpu }, "%.1f"),
			col(func(r result) float64 { return r.cpuShare }, "%.2f"),
			col(func(r result) float64 { return r.rss }, "%.0f"))
		syncs := "– | – | – | –"
		if b.strace {
			syncs = strings.Join([]string{
				col(func(r result) float64 { return r.serverSyncs }, "%.1f"),
				col(func(r result) float64 { return r.clientSyncs }, "%.1f"),
				col(func(r result) float64 { return r.serverCalls }, "%.0f"),
				col(func(r result) float64 { return r.clientCalls }, "%.0f")}, " | ")
		}
		costs = append(costs, fmt.Sprintf("| %s | %s | %s | %s | %s | %s–%s |", l.name,
			col(func(r result) float64 { return r.serverCPU }, "%.2f"),
			col(func(r result) float64 { return r.clientCPU }, "%.2f"),
			col(func(r result) float64 { return r.requests }, "%.2f"),
			syncs,
			fmt.Sprintf("%.1f", minLoad(rs)), fmt.Sprintf("%.1f", maxLoad(rs))))
	}
	fmt.Printf("\nWhat a push costs (push phase; the load changes these little): CPU ms per push of the servers and of the load generator (its %d clients: signing, hashing, their stores, HTTP), HTTP requests per push, fsync and fdatasync calls and all system calls per push (-strace, which slows the run: its CPU and rates are not comparable; fed serve's calls only, not PostgreSQL's or versitygw's), and the 1-minute load average over the runs\n\n", b.clients)
	fmt.Printf("| layout | server CPU ms/push | client CPU ms/push | requests/push | server fsyncs/push | client fsyncs/push | server syscalls/push | client syscalls/push | load average |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range costs {
		fmt.Println(c)
	}
	return nil
}

func minLoad(rs []result) float64 {
	m := rs[0].load[0]
	for _, r := range rs {
		m = min(m, r.load[0], r.load[1])
	}
	return m
}

func maxLoad(rs []result) float64 {
	m := 0.0
	for _, r := range rs {
		m = max(m, r.load[0], r.load[1])
	}
	return m
}

// loadAvg returns the machine's load averages (1, 5 and 15 minutes) as
// /proc/loadavg gives them.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// load1 returns the 1-minute load average.
func load1() float64 {
	v, _ := strconv.ParseFloat(strings.Fields(loadAvg() + " ")[0], 64)
	return v
}

// selfCPU returns this process's user and system CPU seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func s3Missing() string {
	_, err := s3test.Binary()
	return fmt.Sprint(err)
}

// span formats the median of f over rs and, with more than one run, the
// range.
func span(rs []result, f func(result) float64, format string) string {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	s := fmt.Sprintf(format, v[len(v)/2])
	if len(v) > 1 {
		s += fmt.Sprintf(" ("+format+"–"+format+")", v[0], v[len(v)-1])
	}
	return s
}

// run starts fresh servers (replicas 0: one on the disk default), pushes
// and fetches, and stops them.
func (b *bench) run(replicas int, label string) (res result, err error) {
	res.serverSyncs, res.clientSyncs, res.serverCalls, res.clientCalls = -1, -1, -1, -1
	res.load[0] = load1()
	defer func() { res.load[1] = load1() }()
	work, err := os.MkdirTemp("", "fed-bench-serve-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(work)
	args := []string{"serve", "--root", filepath.Join(work, "root"), "--parent", strconv.Itoa(os.Getpid()), "--log-level", "error"}
	n := 1
	if replicas > 0 {
		db, err := testpg.NewDB()
		if err != nil {
			return res, err
		}
		args = append(args, "--db", db)
		if b.s3 != nil {
			args = append(args, "--objects", "s3://bench/"+filepath.Base(work), "--s3-endpoint", b.s3.Endpoint)
		}
		n = replicas
	}
	var servers []*exec.Cmd
	var urls, pprofAddrs []string
	defer func() {
		for _, s := range servers {
			s.Process.Kill()
			s.Wait()
		}
	}()
	for i := 0; i < n; i++ {
		addrFile := filepath.Join(work, fmt.Sprintf("addr%d", i))
		cmd := exec.Command(b.fed, append(args, "--addr", "127.0.0.1:0", "--addr-file", addrFile)...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+s3test.AccessKey, "AWS_SECRET_ACCESS_KEY="+s3test.SecretKey)
		if b.profile != "" {
			if err := os.MkdirAll(b.profile, 0o755); err != nil {
				return res, err
			}
			addr, err := freeAddr()
			if err != nil {
				return res, err
			}
			cmd.Env = append(cmd.Env, "FED_PPROF="+addr)
			pprofAddrs = append(pprofAddrs, addr)
		}
		log, err := os.Create(filepath.Join(work, fmt.Sprintf("serve%d.log", i)))
		if err != nil {
			return res, err
		}
		defer log.Close()
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			return res, err
		}
		servers = append(servers, cmd)
		addr, err := waitAddr(addrFile, log.Name())
		if err != nil {
			return res, err
		}
		urls = append(urls, "http://"+addr)
	}

	ctx := context.Background()
	rt := &countingTransport{rt: &http.Transport{MaxIdleConnsPerHost: 2 * b.clients}}
	hc := &http.Client{Transport: rt, Timeout: time.Minute}
	// The clients' objects go to one scratch store, shared: they are
	// written (hashed, compressed, signed) but never fsynced, in a batch
	// that never ends (objects.DiskStore.BeginBatch). One process plays a
	// hundred users here: each user's fsyncs would land on its own disk,
	// not on the server's, and its store would have its shard directories
	// after a few commits (a store per client spent most of the load
	// generator's CPU creating them); the server's work is what is
	// measured, and every push sends what it sent before.
	scratch, err := objects.OpenDisk(filepath.Join(work, "clients", "objects"))
	if err != nil {
		return res, err
	}
	scratch.BeginBatch()
	cs := make([]*client, b.clients)
	for i := range cs {
		if cs[i], err = newClient(ctx, i, urls[i%len(urls)], hc, scratch, filepath.Join(work, "clients")); err != nil {
			return res, err
		}
	}
	var tracers []*tracer
	if b.strace {
		// the servers first: strace -f on this process would follow
		// (and count) the strace processes started after it
		var pids []int
		for _, s := range servers {
			pids = append(pids, s.Process.Pid)
		}
		pids = append(pids, os.Getpid())
		for _, pid := range pids {
			dir := work
			if b.profile != "" {
				dir = b.profile // kept beside the profiles
			}
			t, err := startStrace(pid, filepath.Join(dir, fmt.Sprintf("%s-strace-%d", label, pid)))
			if err != nil {
				return res, err
			}
			defer t.stop()
			tracers = append(tracers, t)
		}
	}
	var prof *os.File
	if b.profile != "" {
		if prof, err = os.Create(filepath.Join(b.profile, label+"-clients.pprof")); err != nil {
			return res, err
		}
		defer prof.Close()
		if err := pprof.StartCPUProfile(prof); err != nil {
			return res, err
		}
	}
	// the servers' CPU profiles of (the start of) the push phase alone
	var profWG sync.WaitGroup
	profErrs := make([]error, len(pprofAddrs))
	for i, a := range pprofAddrs {
		secs := 10
		if b.rate > 0 {
			secs = max(1, min(30, int(float64(b.pushes*b.clients)/b.rate)))
		}
		profWG.Go(func() {
			profErrs[i] = saveURL(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", a, secs), filepath.Join(b.profile, fmt.Sprintf("%s-%d.push.pprof", label, i)))
		})
	}
	cpu0, self0, req0 := cpuSeconds(servers), selfCPU(), rt.n.Load()
	pushLat, pushWall, err := phase(cs, b.pushes, b.rate, func(c *client, _ int) error { return c.push(ctx) })
	profWG.Wait()
	if prof != nil {
		pprof.StopCPUProfile()
		// the servers' blocking and mutex contention since they started
		for i, a := range pprofAddrs {
			for _, kind := range []string{"block", "mutex"} {
				profErrs = append(profErrs, saveURL("http://"+a+"/debug/pprof/"+kind, filepath.Join(b.profile, fmt.Sprintf("%s-%d.%s.pprof", label, i, kind))))
			}
		}
	}
	if err := errors.Join(profErrs...); err != nil {
		// a fed from before FED_PPROF serves none: the run counts anyway
		fmt.Fprintf(os.Stderr, "bench: %s: server profiles: %v\n", label, err)
	}
	if err != nil {
		return res, err
	}
	pushed := float64(len(pushLat))
	res.serverCPU = (cpuSeconds(servers) - cpu0) * 1000 / pushed
	res.clientCPU = (selfCPU() - self0) * 1000 / pushed
	res.requests = float64(rt.n.Load()-req0) / pushed
	if b.strace {
		res.serverSyncs, res.serverCalls = 0, 0
		for i, t := range tracers {
			n, syncs, err := t.stop()
			if err != nil {
				return res, err
			}
			if i == len(tracers)-1 {
				res.clientSyncs, res.clientCalls = float64(syncs)/pushed, float64(n)/pushed
			} else {
				res.serverSyncs += float64(syncs) / pushed
				res.serverCalls += float64(n) / pushed
			}
		}
	}
	fetchLat, fetchWall, err := phase(cs, b.fetches, 0, func(c *client, i int) error {
		return c.fetch(ctx, cs[(i+1)%len(cs)])
	})
	if err != nil {
		return res, err
	}
	res.cpu = cpuSeconds(servers) - cpu0 // both phases
	res.cpuShare = res.cpu / (pushWall + fetchWall).Seconds()
	for _, s := range servers {
		res.rss = max(res.rss, peakRSS(s.Process.Pid))
	}
	res.pushRate = float64(len(pushLat)) / pushWall.Seconds()
	res.pushP50, res.pushP99 = quantile(pushLat, 0.50), quantile(pushLat, 0.99)
	res.fetchRate = float64(len(fetchLat)) / fetchWall.Seconds()
	res.fetchP99 = quantile(fetchLat, 0.99)
	return res, nil
}

func waitAddr(file, log string) (string, error) {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(file); err == nil && strings.HasSuffix(string(b), "\n") {
			return strings.TrimSpace(string(b)), nil
		}
	}
	out, _ := os.ReadFile(log)
	return "", fmt.Errorf("fed serve did not start in 30s:\n%s", out)
}

// phase runs each client's k operations, all clients at once, and returns
// every operation's latency in ms and the phase's wall time. With rate > 0
// the operations are due at rate per second in all, client i's j-th at
// start + (i/len(cs) + j) × len(cs)/rate, and latency counts from then
// (a late server delays the next ones without hiding their wait).
func phase(cs []*client, k int, rate float64, op func(c *client, i int) error) ([]float64, time.Duration, error) {
	lat := make([][]float64, len(cs))
	errs := make([]error, len(cs))
	var wg sync.WaitGroup
	start := time.Now()
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range k {
				t := time.Now()
				if rate > 0 {
					every := float64(len(cs)) / rate
					t = start.Add(time.Duration((float64(i)/float64(len(cs)) + float64(j)) * every * float64(time.Second)))
					time.Sleep(time.Until(t))
				}
				if errs[i] = op(c, i); errs[i] != nil {
					return
				}
				lat[i] = append(lat[i], float64(time.Since(t).Microseconds())/1000)
			}
		}()
	}
	wg.Wait()
	return slices.Concat(lat...), time.Since(start), errors.Join(errs...)
}

// quantile returns the q-quantile of v (nearest rank; 0 for none).
func quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

// client is one pusher: a key, a (shared) store, and its repository
// c<N>/model.
type client struct {
	n      int
	key    *objects.Keypair
	store  *objects.DiskStore
	rc     *remote.Client
	url    string
	hc     *http.Client
	dir    string
	tip    objects.ID
	seq    int
	fetchN int
}

func newClient(ctx context.Context, n int, url string, hc *http.Client, store *objects.DiskStore, dir string) (*client, error) {
	seed := make([]byte, 32)
	binary.LittleEndian.PutUint64(seed, uint64(n+1))
	c := &client{n: n, key: objects.KeypairFromSeed(seed), url: url, hc: hc, store: store, dir: filepath.Join(dir, strconv.Itoa(n))}
	var err error
	if c.rc, err = c.remote(n); err != nil {
		return nil, err
	}
	// sign in and create the repository before the clock starts
	return c, c.push(ctx)
}

func (c *client) remote(repo int) (*remote.Client, error) {
	return remote.New(fmt.Sprintf("%s/c%d/model", c.url, repo), remote.Options{Key: c.key, HTTPClient: c.hc})
}

// push sends a new commit on c's tip and moves main to it.
func (c *client) push(ctx context.Context) error {
	id, ids, err := c.commit(ctx)
	if err != nil {
		return err
	}
	if _, err := c.rc.SendMissing(ctx, c.store, ids); err != nil {
		return err
	}
	if _, err := c.rc.UpdateRefs(ctx, []remote.RefUpdate{{Name: "refs/heads/main", Old: c.tip, New: id}}); err != nil {
		return err
	}
	c.tip = id
	return nil
}

// fetch clones other's repository's objects into an empty store: refs,
// a plan for main, the objects.
func (c *client) fetch(ctx context.Context, other *client) error {
	rc, err := c.remote(other.n)
	if err != nil {
		return err
	}
	refs, err := rc.Refs(ctx)
	if err != nil {
		return err
	}
	var want []objects.ID
	for _, r := range refs.Refs {
		want = append(want, r.ID)
	}
	plan, err := rc.Plan(ctx, remote.PlanRequest{Want: want})
	if err != nil {
		return err
	}
	c.fetchN++
	dir := filepath.Join(c.dir, fmt.Sprintf("fetch%d", c.fetchN))
	defer os.RemoveAll(dir)
	dst, err := objects.OpenDisk(dir)
	if err != nil {
		return err
	}
	if _, err := rc.FetchObjects(ctx, dst, plan); err != nil {
		return err
	}
	return nil
}

// commit stores a signed commit on c.tip with one small file of its own
// and returns its id and the ids it adds.
func (c *client) commit(ctx context.Context) (objects.ID, []objects.ID, error) {
	c.seq++
	data := make([]byte, 256)
	binary.LittleEndian.PutUint64(data, uint64(c.n)<<32|uint64(c.seq))
	chunk, err := c.store.Put(ctx, objects.EncodeChunk(data), objects.PutOptions{})
	if err != nil {
		return objects.ZeroID, nil, err
	}
	ids := []objects.ID{chunk}
	put := func(o objects.Object) (objects.ID, error) {
		id, err := objects.Write(ctx, c.store, o)
		ids = append(ids, id)
		return id, err
	}
	blob, err := put(&objects.Blob{Size: uint64(len(data)), Chunks: []objects.ChunkRef{{ID: chunk, Size: uint64(len(data))}}})
	if err != nil {
		return objects.ZeroID, nil, err
	}
	tree, err := put(&objects.Tree{Entries: []objects.TreeEntry{{Name: "f" + strconv.Itoa(c.seq), Mode: objects.ModeFile, Kind: objects.KindBlob, ID: blob}}})
	if err != nil {
		return objects.ZeroID, nil, err
	}
	cm := &objects.Commit{Tree: tree, Time: int64(1_800_000_000 + c.seq), Message: "push " + strconv.Itoa(c.seq)}
	if !c.tip.IsZero() {
		cm.Parents = []objects.ID{c.tip}
	}
	if err := objects.SignCommit(cm, c.key); err != nil {
		return objects.ZeroID, nil, err
	}
	id, err := put(cm)
	return id, ids, err
}

// cpuSeconds sums the user and system time of the servers
// (/proc/PID/stat fields 14 and 15, in clock ticks of 1/100 s on Linux).
func cpuSeconds(servers []*exec.Cmd) float64 {
	var ticks float64
	for _, s := range servers {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.Process.Pid))
		if err != nil {
			continue
		}
		// fields after the command name, which is in parentheses
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
		u, _ := strconv.ParseFloat(f[11], 64)
		k, _ := strconv.ParseFloat(f[12], 64)
		ticks += u + k
	}
	return ticks / 100
}

// peakRSS returns the VmHWM of process pid in MB.
func peakRSS(pid int) float64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// freeAddr returns a free port on 127.0.0.1.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// saveURL writes the body of a GET of u to file.
func saveURL(u, file string) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(file, b, 0o644)
}

// countingTransport counts the requests sent.
type countingTransport struct {
	rt http.RoundTripper
	n  atomic.Int64
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.n.Add(1)
	return t.rt.RoundTrip(r)
}

// tracer is strace -f -c counting the system calls of one process while
// attached: all of them, and the fsyncs (syncCalls).
type tracer struct {
	cmd      *exec.Cmd
	out      string
	stopped  bool
	n, syncs int
	err      error
}

// syncCalls are the calls that make data durable (sync_file_range, a
// writeback hint, is not one).
var syncCalls = []string{"fsync", "fdatasync"}

func startStrace(pid int, out string) (*tracer, error) {
	cmd := exec.Command("strace", "-f", "-c", "-o", out, "-p", strconv.Itoa(pid))
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("strace: %w", err)
	}
	// strace attaches to every thread before the work starts
	time.Sleep(500 * time.Millisecond)
	return &tracer{cmd: cmd, out: out}, nil
}

// stop detaches strace and returns the calls it counted: all, and the
// fsyncs'.
func (t *tracer) stop() (all, syncs int, err error) {
	if t.stopped {
		return t.n, t.syncs, t.err
	}
	t.stopped = true
	t.cmd.Process.Signal(os.Interrupt)
	t.cmd.Wait()
	b, err := os.ReadFile(t.out)
	if err != nil {
		t.err = fmt.Errorf("strace: %w", err)
		return 0, 0, t.err
	}
	// the summary's rows: % time, seconds, usecs/call, calls, [errors,]
	// syscall; then a total row
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || f[len(f)-1] == "total" {
			continue
		}
		n, err := strconv.Atoi(f[3])
		if err != nil {
			continue
		}
		t.n += n
		if slices.Contains(syncCalls, f[len(f)-1]) {
			t.syncs += n
		}
	}
	return t.n, t.syncs, nil
}
