package webui_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/codec/safetensors"
	"github.com/fed-vcs/fed/hosting"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote/server"
	"github.com/fed-vcs/fed/repo"
	"github.com/fed-vcs/fed/transfer"
	"github.com/fed-vcs/fed/webui"
)

// startServerPages runs fed serve's handler with pages on loopback.
func startServerPages(t testing.TB, pages *webui.Pages) string {
	t.Helper()
	files, err := server.NewFiles(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := hosting.New(hosting.Options{Storage: files})
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.New(server.Options{Root: t.TempDir(), Hosting: h, ErrorLog: t.Logf, Pages: pages})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts.URL
}

// counter counts the pages' computations (webui.Options.Computed).
type counter struct {
	changes, tensors atomic.Int64
	// onTensor, when set, runs before the nth tensor computation.
	onTensor func(n int64)
}

func (c *counter) computed(what string) {
	switch what {
	case "changes":
		c.changes.Add(1)
	case "tensor":
		n := c.tensors.Add(1)
		if c.onTensor != nil {
			c.onTensor(n)
		}
	}
}

func (c *counter) get() (int64, int64) { return c.changes.Load(), c.tensors.Load() }

const bigLayers = 1000

// writeBigModel writes a safetensors model shaped as real ones are, with
// 3 tensors a layer (model.layers.N.mlp.weight 8×8, .mlp.bias 8,
// .norm.weight 8), mostly tiny: 3,000 tensors. Version v scales every
// value by 1+v/100, but the norms of every tenth layer stay; version 2
// is version 1 with only layer 0's mlp tensors changed.
func writeBigModel(t testing.TB, path string, v int) {
	t.Helper()
	var ts []safetensors.WriteTensor
	for l := range bigLayers {
		for _, tn := range []struct {
			name  string
			shape []uint64
		}{{"mlp.weight", []uint64{8, 8}}, {"mlp.bias", []uint64{8}}, {"norm.weight", []uint64{8}}} {
			n := 1
			for _, d := range tn.shape {
				n *= int(d)
			}
			scale := 1 + float64(min(v, 1))/100
			if tn.name == "norm.weight" && l%10 == 0 {
				scale = 1
			}
			if v == 2 && l == 0 && tn.name != "norm.weight" {
				scale = 1.5
			}
			b := make([]byte, 4*n)
			for i := range n {
				x := float32((float64(l%97) + float64(i) + 1) / 64 * scale)
				binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
			}
			name := fmt.Sprintf("model.layers.%d.%s", l, tn.name)
			ts = append(ts, safetensors.WriteTensor{Info: codec.TensorInfo{Name: name, DType: objects.F32, Shape: tn.shape}, Data: bytes.NewReader(b), Len: int64(len(b))})
		}
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, map[string]string{"format": "pt"}, ts); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// bigRepo commits the big model twice (versions 0 and 1) and returns the
// repository and the second commit: 2,900 tensors changed.
func bigRepo(t testing.TB) (*repo.Repo, objects.ID) {
	t.Helper()
	ctx := context.Background()
	t.Setenv("FED_CONFIG", filepath.Join(t.TempDir(), "userconfig"))
	r, err := repo.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r.Key = key(1)
	model := filepath.Join(r.Root, "model.safetensors")
	var id objects.ID
	for v := range 2 {
		writeBigModel(t, model, v)
		if err := r.Add(ctx, []string{r.Root}, repo.AddOptions{}); err != nil {
			t.Fatal(err)
		}
		if id, err = r.Commit(ctx, repo.CommitOptions{Message: fmt.Sprintf("version %d", v)}); err != nil {
			t.Fatal(err)
		}
	}
	return r, id
}

const bigChanged = 3*bigLayers - bigLayers/10

// A commit of a model with thousands of tensors: its page streams (the
// head and the first rows reach the visitor before the statistics of the
// rest are computed), lists 50 tensors a page with a link to the next,
// as its JSON twin does, with fed diff's numbers; the comparison and the
// statistics are computed once, later requests served from the cache.
func TestBigCommitPage(t *testing.T) {
	var c counter
	pages := webui.New(webui.Options{ErrorLog: t.Logf, Computed: c.computed})
	base := startServerPages(t, pages)
	r, id := bigRepo(t)
	push(t, r, base+"/lab/big")
	url := base + "/lab/big/-/commit/" + id.String()
	first := func(i int) string { return fmt.Sprintf(`data-name="model.layers.%d.mlp.weight"`, i) }

	// Streaming: before the third tensor's statistics are computed, the
	// visitor has read the head and the first two rows.
	var seenMu sync.Mutex
	seen := make(chan struct{})
	var body strings.Builder
	var streamed atomic.Bool
	c.onTensor = func(n int64) {
		if n != 3 {
			return
		}
		select {
		case <-seen:
			streamed.Store(true)
		case <-time.After(60 * time.Second):
			seenMu.Lock()
			t.Errorf("the third tensor's statistics are computed, the visitor has read only:\n%s", body.String())
			seenMu.Unlock()
		}
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Length") != "" {
		t.Fatalf("commit page: %s, Content-Length %q (want a streamed 200)", resp.Status, resp.Header.Get("Content-Length"))
	}
	br := bufio.NewReader(resp.Body)
	closed := false
	for {
		line, err := br.ReadString('\n')
		seenMu.Lock()
		body.WriteString(line)
		text := body.String()
		seenMu.Unlock()
		if !closed && strings.Contains(text, `id="files"`) && strings.Contains(text, first(0)) && strings.Contains(text, `data-name="model.layers.0.mlp.bias"`) {
			close(seen)
			closed = true
		}
		if err != nil {
			break
		}
	}
	resp.Body.Close()
	page := body.String()
	c.onTensor = nil
	if !streamed.Load() {
		t.Errorf("the page was not streamed: the first rows arrived after the rest was computed")
	}
	if !strings.HasSuffix(page, "</html>\n") {
		t.Fatalf("commit page cut short:\n%s", page[max(0, len(page)-500):])
	}
	if n := strings.Count(page, `<tr class="tensor"`); n != webui.PageSize {
		t.Errorf("page 1 lists %d tensors, want %d", n, webui.PageSize)
	}
	if !strings.Contains(page, `rel="next" href="/lab/big/-/commit/`+id.String()+`?page=2"`) || strings.Contains(page, `rel="prev"`) {
		t.Errorf("page 1 does not link page 2 (only)")
	}
	if !strings.Contains(page, first(0)) || strings.Contains(page, first(17)) {
		t.Errorf("page 1 holds the wrong tensors")
	}
	if n := strings.Count(page, `<g class="bar"`); n != 2*webui.PageSize {
		t.Errorf("the charts draw %d bars, want %d (both charts, this page's tensors)", n, 2*webui.PageSize)
	}
	if ch, tn := c.get(); ch != 1 || tn != webui.PageSize {
		t.Errorf("page 1 computed %d comparisons and %d tensors' statistics, want 1 and %d", ch, tn, webui.PageSize)
	}

	// Again, and its twin: from the cache, nothing computed.
	if code, again := get(t, url, "", ""); code != 200 || again != page {
		t.Errorf("page 1 again: %d, differs: %v", code, again != page)
	}
	cp := getJSON[webui.CommitPage](t, url, "")
	if ch, tn := c.get(); ch != 1 || tn != webui.PageSize {
		t.Errorf("page 1 twice and its twin computed %d comparisons and %d statistics, want 1 and %d", ch, tn, webui.PageSize)
	}
	if len(cp.Tensors) != webui.PageSize || cp.TensorPager.Total != bigChanged || cp.TensorPager.Page != 1 || cp.TensorPager.Size != webui.PageSize ||
		len(cp.Files) != 1 || cp.Files[0].Tensors != bigChanged {
		t.Fatalf("page 1's twin: %d tensors, pager %+v, files %+v", len(cp.Tensors), cp.TensorPager, cp.Files)
	}

	// The numbers are fed diff's.
	d, err := r.Diff(context.Background(), repo.DiffSide{Commit: mustParent(t, r, id)}, repo.DiffSide{Commit: id}, repo.DiffOptions{Stats: true})
	if err != nil || len(d) != 1 || len(d[0].Tensors) != bigChanged {
		t.Fatalf("diff: %v", err)
	}
	check := func(p webui.CommitPage, from int) {
		t.Helper()
		for i, tr := range p.Tensors {
			want := d[0].Tensors[from+i]
			if tr.Name != want.Name || tr.L2 == nil || *tr.L2 != want.L2 || tr.RelChange == nil || *tr.RelChange != want.RelChange {
				t.Fatalf("tensor %d: %s L2 %v rel %v, fed diff: %s %v %v", from+i, tr.Name, tr.L2, tr.RelChange, want.Name, want.L2, want.RelChange)
			}
		}
	}
	check(cp, 0)

	// Page 2 computes only its own tensors; the last page has no next.
	cp2 := getJSON[webui.CommitPage](t, url+"?page=2", "")
	if len(cp2.Tensors) != webui.PageSize || cp2.TensorPager.Page != 2 {
		t.Fatalf("page 2's twin: %d tensors, pager %+v", len(cp2.Tensors), cp2.TensorPager)
	}
	check(cp2, webui.PageSize)
	if ch, tn := c.get(); ch != 1 || tn != 2*webui.PageSize {
		t.Errorf("pages 1 and 2 computed %d comparisons and %d statistics, want 1 and %d", ch, tn, 2*webui.PageSize)
	}
	last := (bigChanged + webui.PageSize - 1) / webui.PageSize
	code, lastPage := get(t, fmt.Sprintf("%s?page=%d", url, last), "", "")
	if code != 200 || strings.Count(lastPage, `<tr class="tensor"`) != bigChanged-(last-1)*webui.PageSize || strings.Contains(lastPage, `rel="next"`) {
		t.Errorf("last page %d: %d, %d rows", last, code, strings.Count(lastPage, `<tr class="tensor"`))
	}
	if n, size := pages.CacheUsage(); n != 1 || size > webui.DefaultCacheBytes {
		t.Errorf("cache: %d comparisons, %d bytes", n, size)
	}
}

func mustParent(t testing.TB, r *repo.Repo, id objects.ID) objects.ID {
	t.Helper()
	c, err := r.ReadCommit(context.Background(), id)
	if err != nil || len(c.Parents) != 1 {
		t.Fatalf("commit %s: %v", id, err)
	}
	return c.Parents[0]
}

// writeTensors writes a safetensors model of n F32 tensors t0…, 16
// values each, scaled by scale.
func writeTensors(t *testing.T, path string, n int, scale float32) {
	t.Helper()
	var ts []safetensors.WriteTensor
	for k := range n {
		b := make([]byte, 4*16)
		for i := range 16 {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(k+i+1)*scale))
		}
		ts = append(ts, safetensors.WriteTensor{Info: codec.TensorInfo{Name: fmt.Sprintf("t%d", k), DType: objects.F32, Shape: []uint64{16}}, Data: bytes.NewReader(b), Len: int64(len(b))})
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, nil, ts); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The cache of comparisons holds at most Options.CacheBytes (estimated):
// the least recently shown are dropped and computed again when asked
// for, and a comparison larger than the whole cache is not kept.
func TestCacheBounded(t *testing.T) {
	ctx := context.Background()
	t.Setenv("FED_CONFIG", filepath.Join(t.TempDir(), "userconfig"))
	r, err := repo.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r.Key = key(1)
	model := filepath.Join(r.Root, "m.safetensors")
	var ids []objects.ID
	for v := range 8 {
		writeTensors(t, model, 1, float32(v+1))
		if err := r.Add(ctx, []string{r.Root}, repo.AddOptions{}); err != nil {
			t.Fatal(err)
		}
		id, err := r.Commit(ctx, repo.CommitOptions{Message: fmt.Sprint("small ", v)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	writeTensors(t, filepath.Join(r.Root, "big.safetensors"), 200, 1)
	if err := r.Add(ctx, []string{r.Root}, repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	big, err := r.Commit(ctx, repo.CommitOptions{Message: "big"})
	if err != nil {
		t.Fatal(err)
	}
	commitURL := func(base string, id objects.ID) string { return base + "/lab/m/-/commit/" + id.String() }

	// What one small comparison costs, on a server with the default cache.
	probe := webui.New(webui.Options{ErrorLog: t.Logf})
	pbase := startServerPages(t, probe)
	push(t, r, pbase+"/lab/m")
	getJSON[webui.CommitPage](t, commitURL(pbase, ids[1]), "")
	_, one := probe.CacheUsage()
	if one <= 0 {
		t.Fatalf("a comparison is estimated at %d bytes", one)
	}

	// A cache of three and a half of them.
	var c counter
	limit := 3*one + one/2
	pages := webui.New(webui.Options{ErrorLog: t.Logf, CacheBytes: limit, Computed: c.computed})
	base := startServerPages(t, pages)
	if err := r.RemoteRemove("origin"); err != nil {
		t.Fatal(err)
	}
	push(t, r, base+"/lab/m")
	for _, id := range ids[1:] {
		getJSON[webui.CommitPage](t, commitURL(base, id), "")
		if n, size := pages.CacheUsage(); size > limit || n > 3 {
			t.Fatalf("cache holds %d comparisons, %d bytes, over its %d", n, size, limit)
		}
	}
	if n, _ := pages.CacheUsage(); n != 3 {
		t.Errorf("cache holds %d comparisons, want the 3 that fit", n)
	}
	ch, _ := c.get()
	getJSON[webui.CommitPage](t, commitURL(base, ids[len(ids)-1]), "") // recent: kept
	if now, _ := c.get(); now != ch {
		t.Errorf("the most recent comparison was computed again")
	}
	getJSON[webui.CommitPage](t, commitURL(base, ids[1]), "") // oldest: dropped
	if now, _ := c.get(); now != ch+1 {
		t.Errorf("the least recent comparison was not computed again (%d computations, want %d)", now, ch+1)
	}

	// The big comparison does not fit: shown twice, computed twice, and
	// the cache keeps what it had.
	for range 2 {
		cp := getJSON[webui.CommitPage](t, commitURL(base, big), "")
		if cp.TensorPager.Total != 200 || len(cp.Tensors) != webui.PageSize {
			t.Fatalf("big commit: %+v", cp.TensorPager)
		}
	}
	if now, _ := c.get(); now != ch+3 {
		t.Errorf("the big comparison was kept (%d computations, want %d)", now, ch+3)
	}
	if n, size := pages.CacheUsage(); n != 3 || size > limit {
		t.Errorf("after the big comparison the cache holds %d, %d bytes", n, size)
	}
}

// A commit page that fails once its head is sent (a tensor's weights
// corrupt on the server's disk) is cut short: the visitor's read fails
// and the page never ends as a whole one would; its twin is a 500.
func TestStreamCutShort(t *testing.T) {
	ctx := context.Background()
	var logged atomic.Value
	logged.Store("")
	pages := webui.New(webui.Options{ErrorLog: func(f string, a ...any) { logged.Store(fmt.Sprintf(f, a...)) }})
	files, err := server.NewFiles(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := hosting.New(hosting.Options{Storage: files})
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.New(server.Options{Root: t.TempDir(), Hosting: h, ErrorLog: t.Logf, Pages: pages})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)

	t.Setenv("FED_CONFIG", filepath.Join(t.TempDir(), "userconfig"))
	r, err := repo.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r.Key = key(1)
	model := filepath.Join(r.Root, "m.safetensors")
	var id objects.ID
	for v := range 2 {
		writeTensors(t, model, 60, float32(v+1))
		if err := r.Add(ctx, []string{r.Root}, repo.AddOptions{}); err != nil {
			t.Fatal(err)
		}
		if id, err = r.Commit(ctx, repo.CommitOptions{Message: fmt.Sprint("v", v)}); err != nil {
			t.Fatal(err)
		}
	}
	push(t, r, ts.URL+"/lab/m")
	d, err := r.Diff(ctx, repo.DiffSide{Commit: mustParent(t, r, id)}, repo.DiffSide{Commit: id}, repo.DiffOptions{})
	if err != nil || len(d[0].Tensors) != 60 {
		t.Fatalf("diff: %v", err)
	}
	before, bad := d[0].Tensors[4].Name, d[0].Tensors[5].Name
	tn, err := objects.ReadTensor(ctx, r.Objects, d[0].Tensors[5].NewID)
	if err != nil {
		t.Fatal(err)
	}
	fr, err := files.OpenFiles(ctx, "lab/m")
	if err != nil {
		t.Fatal(err)
	}
	// The piece may be a loose file or an entry of a pack (design §6b):
	// flip the last byte of its stored form, its checksum, where it is.
	p, off, n, err := fr.DiskStore().Locate(tn.Pieces[0])
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[off+n-1] ^= 0xff
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}

	resp, err := http.Get(ts.URL + "/lab/m/-/commit/" + id.String())
	if err != nil {
		t.Fatal(err)
	}
	body, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || rerr == nil || !strings.Contains(string(body), `data-name="`+before+`"`) || strings.Contains(string(body), `data-name="`+bad+`"`) ||
		strings.Contains(string(body), "</html>") {
		t.Errorf("status %d, read error %v, body:\n%s", resp.StatusCode, rerr, body)
	}
	if msg := logged.Load().(string); !strings.Contains(msg, "response cut short") || !strings.Contains(msg, `"`+bad+`"`) {
		t.Errorf("logged %q", msg)
	}
	if code, body := get(t, ts.URL+"/lab/m/-/commit/"+id.String()+"?format=json", "", ""); code != 500 {
		t.Errorf("twin: %d %s", code, body)
	}
}

// BenchmarkBigCommitPage: page 1 of a commit changing 2,900 of 3,000
// tensors, as fed serve answers it: "cold" lists the comparison and
// computes the page's 50 statistics (no cache), "cold-2-changed" the
// same for a commit changing 2 of the 3,000, "cached" is the first page
// again, "all-statistics" is what every request cost before the
// pages computed only their page's (fed diff's statistics of every
// tensor). Compare B/op and allocs/op, which the machine's load does not
// distort; ns/op is wall time.
func BenchmarkBigCommitPage(b *testing.B) {
	ctx := context.Background()
	r, id := bigRepo(b)
	parent := mustParent(b, r, id)
	// a third commit changing 2 of the 3,000 tensors
	writeBigModel(b, filepath.Join(r.Root, "model.safetensors"), 2)
	if err := r.Add(ctx, []string{r.Root}, repo.AddOptions{}); err != nil {
		b.Fatal(err)
	}
	two, err := r.Commit(ctx, repo.CommitOptions{Message: "version 2"})
	if err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, pages *webui.Pages, id objects.ID) {
		base := startServerPages(b, pages)
		if _, err := r.RemoteURL("origin"); err == nil {
			if err := r.RemoteRemove("origin"); err != nil {
				b.Fatal(err)
			}
		}
		if err := r.RemoteAdd("origin", base+"/lab/big"); err != nil {
			b.Fatal(err)
		}
		if _, err := transfer.Push(ctx, r, transfer.PushOptions{}); err != nil {
			b.Fatal(err)
		}
		url := base + "/lab/big/-/commit/" + id.String()
		page := func() {
			resp, err := http.Get(url)
			if err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || n == 0 {
				b.Fatalf("%s: %d", url, resp.StatusCode)
			}
		}
		page() // fills the cache, when there is one
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			page()
		}
	}
	b.Run("cold", func(b *testing.B) { run(b, webui.New(webui.Options{CacheBytes: -1}), id) })
	b.Run("cold-2-changed", func(b *testing.B) { run(b, webui.New(webui.Options{CacheBytes: -1}), two) })
	b.Run("cached", func(b *testing.B) { run(b, webui.New(webui.Options{}), id) })
	b.Run("all-statistics", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := r.Diff(ctx, repo.DiffSide{Commit: parent}, repo.DiffSide{Commit: id}, repo.DiffOptions{Stats: true}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// The cache of comparisons is kept per repository: a repository that
// holds a commit's weights never lends their statistics to one where
// they are withheld (absent from its storage), which shows none.
func TestCacheKeyedByRepository(t *testing.T) {
	ctx := context.Background()
	files, err := server.NewFiles(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := hosting.New(hosting.Options{Storage: files})
	if err != nil {
		t.Fatal(err)
	}
	var c counter
	s, err := server.New(server.Options{Root: t.TempDir(), Hosting: h, ErrorLog: t.Logf, Pages: webui.New(webui.Options{ErrorLog: t.Logf, Computed: c.computed})})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)

	t.Setenv("FED_CONFIG", filepath.Join(t.TempDir(), "userconfig"))
	r, err := repo.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r.Key = key(1)
	model := filepath.Join(r.Root, "m.safetensors")
	var id objects.ID
	for v := range 2 {
		writeTensors(t, model, 3, float32(v+1))
		if err := r.Add(ctx, []string{r.Root}, repo.AddOptions{}); err != nil {
			t.Fatal(err)
		}
		if id, err = r.Commit(ctx, repo.CommitOptions{Message: fmt.Sprint("v", v)}); err != nil {
			t.Fatal(err)
		}
	}
	push(t, r, ts.URL+"/lab/a")
	if err := r.RemoteAdd("b", ts.URL+"/lab/b"); err != nil {
		t.Fatal(err)
	}
	if _, err := transfer.Push(ctx, r, transfer.PushOptions{Remote: "b"}); err != nil {
		t.Fatal(err)
	}
	// lab/b loses the new weights (the pieces of the second commit's tensors).
	d, err := r.Diff(ctx, repo.DiffSide{Commit: mustParent(t, r, id)}, repo.DiffSide{Commit: id}, repo.DiffOptions{})
	if err != nil || len(d) != 1 || len(d[0].Tensors) != 3 {
		t.Fatalf("diff: %+v %v", d, err)
	}
	fb, err := files.OpenFiles(ctx, "lab/b")
	if err != nil {
		t.Fatal(err)
	}
	for _, td := range d[0].Tensors {
		tn, err := objects.ReadTensor(ctx, r.Objects, td.NewID)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range tn.Pieces {
			hx := p.String()
			if err := os.Remove(filepath.Join(fb.DiskStore().Dir(), hx[:2], hx[2:])); err != nil {
				t.Fatal(err)
			}
		}
	}

	a := getJSON[webui.CommitPage](t, ts.URL+"/lab/a/-/commit/"+id.String(), "")
	if a.Withheld || len(a.Tensors) != 3 || a.Tensors[0].L2 == nil {
		t.Fatalf("lab/a: withheld %v, tensors %+v", a.Withheld, a.Tensors)
	}
	b := getJSON[webui.CommitPage](t, ts.URL+"/lab/b/-/commit/"+id.String(), "")
	if !b.Withheld || len(b.Tensors) != 3 {
		t.Fatalf("lab/b: withheld %v, tensors %+v", b.Withheld, b.Tensors)
	}
	for _, tr := range b.Tensors {
		if tr.L2 != nil || tr.RelChange != nil {
			t.Errorf("lab/b shows %s's statistics (%v, %v), whose weights it does not hold", tr.Name, *tr.L2, tr.RelChange)
		}
	}
	if code, page := get(t, ts.URL+"/lab/b/-/commit/"+id.String(), "", ""); code != 200 || !strings.Contains(page, "withheld by their contributor") ||
		!strings.HasSuffix(page, "</html>\n") {
		t.Errorf("lab/b's page: %d\n%s", code, page)
	}
	if ch, _ := c.get(); ch != 2 {
		t.Errorf("%d comparisons listed, want one per repository", ch)
	}
}

// Visitors opening a comparison not yet listed at once wait for the one
// request that lists it: listed once, every page served whole.
func TestConcurrentListing(t *testing.T) {
	ctx := context.Background()
	const visitors = 5
	var waits atomic.Int64
	var changes atomic.Int64
	waited := make(chan struct{})
	computed := func(what string) {
		switch what {
		case "wait":
			if waits.Add(1) == visitors-1 {
				close(waited)
			}
		case "changes":
			changes.Add(1)
			select { // the lister goes on once every other visitor waits for it
			case <-waited:
			case <-time.After(60 * time.Second):
				t.Errorf("%d of %d other visitors wait for the listing", waits.Load(), visitors-1)
			}
		}
	}
	base := startServerPages(t, webui.New(webui.Options{ErrorLog: t.Logf, Computed: computed}))
	t.Setenv("FED_CONFIG", filepath.Join(t.TempDir(), "userconfig"))
	r, err := repo.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r.Key = key(1)
	model := filepath.Join(r.Root, "m.safetensors")
	var id objects.ID
	for v := range 2 {
		writeTensors(t, model, 60, float32(v+1))
		if err := r.Add(ctx, []string{r.Root}, repo.AddOptions{}); err != nil {
			t.Fatal(err)
		}
		if id, err = r.Commit(ctx, repo.CommitOptions{Message: fmt.Sprint("v", v)}); err != nil {
			t.Fatal(err)
		}
	}
	push(t, r, base+"/lab/m")
	url := base + "/lab/m/-/commit/" + id.String()
	var wg sync.WaitGroup
	pages := make([]string, visitors)
	codes := make([]int, visitors)
	for i := range visitors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(url)
			if err != nil {
				t.Error(err)
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Error(err)
			}
			pages[i], codes[i] = string(b), resp.StatusCode
		}()
	}
	wg.Wait()
	for i := range visitors {
		if codes[i] != 200 || strings.Count(pages[i], `<tr class="tensor"`) != webui.PageSize || !strings.HasSuffix(pages[i], "</html>\n") {
			t.Errorf("visitor %d: %d, %d rows", i, codes[i], strings.Count(pages[i], `<tr class="tensor"`))
		}
	}
	if n := changes.Load(); n != 1 {
		t.Errorf("listed %d times for %d visitors at once, want once", n, visitors)
	}
}
