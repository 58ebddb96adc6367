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
//	go run ./bench/serve -fed bin/fed -clients 100
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	flag.Parse()
	b := &bench{fed: *fedBin, clients: *clients, pushes: *pushes, fetches: *fetches, rate: *rate}
	if err := b.main(*runs); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type bench struct {
	fed                      string
	clients, pushes, fetches int
	rate                     float64
	s3                       *s3test.Server // nil without versitygw
}

// result is one run of one layout.
type result struct {
	pushRate, pushP50, pushP99 float64 // pushes/s, ms
	fetchRate, fetchP99        float64 // fetches/s, ms
	cpu                        float64 // servers' CPU seconds, both phases
	cpuShare                   float64 // of the wall time, in cores
	rss                        float64 // largest VmHWM of a replica, MB
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
		name     string
		replicas int // 0: the disk default
	}{{"disk (default)", 0}, {"PostgreSQL, 1 replica", 1}, {"PostgreSQL, 2 replicas", 2}}
	fmt.Printf("fed serve benchmark: %d clients, each %d pushes of a small commit then %d fetches of another's repository; %d runs per layout, median (min–max)\n",
		b.clients, b.pushes, b.fetches, runs)
	if b.rate > 0 {
		fmt.Printf("pushes offered at %.0f/s in all (each client every %.0f ms); a push's latency counts from when it was due\n", b.rate, float64(b.clients)/b.rate*1000)
	} else {
		fmt.Printf("each client pushes again as soon as its last push is done (closed loop: latency ≈ clients / pushes/s)\n")
	}
	fmt.Printf("replicas on PostgreSQL: %s; clients go to the replicas in turn\n\n", objectsNote)
	fmt.Printf("| layout | pushes/s | push p50 ms | push p99 ms | fetches/s | fetch p99 ms | server CPU s (cores) | peak RSS MB |\n|---|---|---|---|---|---|---|---|\n")
	for _, l := range layouts {
		var rs []result
		for r := 0; r < runs; r++ {
			res, err := b.run(l.replicas)
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
	}
	return nil
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
func (b *bench) run(replicas int) (result, error) {
	var res result
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
	var urls []string
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
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * b.clients}, Timeout: time.Minute}
	cs := make([]*client, b.clients)
	for i := range cs {
		if cs[i], err = newClient(ctx, i, urls[i%len(urls)], hc, filepath.Join(work, "clients")); err != nil {
			return res, err
		}
	}
	cpu0 := cpuSeconds(servers)
	pushLat, pushWall, err := phase(cs, b.pushes, b.rate, func(c *client, _ int) error { return c.push(ctx) })
	if err != nil {
		return res, err
	}
	fetchLat, fetchWall, err := phase(cs, b.fetches, 0, func(c *client, i int) error {
		return c.fetch(ctx, cs[(i+1)%len(cs)])
	})
	if err != nil {
		return res, err
	}
	res.cpu = cpuSeconds(servers) - cpu0
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

// quantile returns the q-quantile of v (nearest rank).
func quantile(v []float64, q float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

// client is one pusher: a key, a store, and its repository c<N>/model.
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

func newClient(ctx context.Context, n int, url string, hc *http.Client, dir string) (*client, error) {
	seed := make([]byte, 32)
	binary.LittleEndian.PutUint64(seed, uint64(n+1))
	c := &client{n: n, key: objects.KeypairFromSeed(seed), url: url, hc: hc, dir: filepath.Join(dir, strconv.Itoa(n))}
	var err error
	if c.store, err = objects.OpenDisk(filepath.Join(c.dir, "objects")); err != nil {
		return nil, err
	}
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
