package webui_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/codec/safetensors"
	"github.com/fed-vcs/fed/governance"
	"github.com/fed-vcs/fed/governing"
	"github.com/fed-vcs/fed/mergeexec"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/repo"
	"github.com/fed-vcs/fed/transfer"
	"github.com/fed-vcs/fed/webui"
)

var screenshots = flag.String("screenshots", "", "write the browser test's screenshots (PNG) to `DIR` (default: the test's artifact directory)")

// chromium returns the path of the browser the browser tests drive, or
// skips the test saying how to install it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("skipped: chromium is not installed (Debian: apt-get install chromium); the web pages are not tested in a browser")
	return ""
}

// layers are the tensors of the federation's model, in model order.
var layers = []struct {
	name string
	n    int
}{{"fc1.bias", 32}, {"fc1.weight", 512}, {"fc2.weight", 256}, {"head.weight", 64}}

// writeLayers writes the federation's model: each tensor of layers drawn
// from one seed, multiplied by its factor.
func writeLayers(t *testing.T, path string, factor []float64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(11, 13))
	var ts []safetensors.WriteTensor
	for i, l := range layers {
		b := make([]byte, 4*l.n)
		for j := range l.n {
			binary.LittleEndian.PutUint32(b[4*j:], math.Float32bits(float32(rng.NormFloat64()*factor[i])))
		}
		ts = append(ts, safetensors.WriteTensor{Info: codec.TensorInfo{Name: l.name, DType: objects.F32, Shape: []uint64{uint64(l.n)}}, Data: bytes.NewReader(b), Len: int64(len(b))})
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, map[string]string{"format": "pt"}, ts); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// federation is the history of examples/torch/federated.sh in small: the
// owner (key 1) commits round 0; alice, bob and carol (keys 2, 3, 4) each
// train on their own records and commit on their own branch; the owner
// merges round 1 by fedavg (weights 0.1, 0.3, 0.6 by records) and round 2
// by multi-krum, which keeps two sides and discards carol's poisoned
// update; the owner attests the accuracy of both merges (0.75, 0.875),
// tags round 1 v1, and holds a proof of round 1's merge. The name map
// labels the four keys.
type federation struct {
	r              *repo.Repo
	base           objects.ID
	round1, round2 objects.ID
	poisoned       objects.ID // carol's round-2 update, discarded
	// rel1 and rel2 are each layer's relative change in rounds 1 and 2,
	// computed here
	rel1, rel2 []float64
}

var clinics = []string{"alice", "bob", "carol"}

// round1 is how far each clinic moves each layer in round 1: the model
// they commit is the base times 1 + delta.
var round1 = [3][]float64{{0.1, 0.5, 0.05, 1.0}, {0.3, 0.2, 0.1, 0}, {-0.2, 0.1, 0.4, 0.2}}

func federate(t *testing.T) *federation {
	t.Helper()
	ctx := context.Background()
	t.Setenv("FED_CONFIG", filepath.Join(t.TempDir(), "userconfig"))
	r, err := repo.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Unix(1_700_000_000, 0)
	r.Now = func() time.Time { clock = clock.Add(time.Hour); return clock }
	fd := &federation{r: r}
	model := filepath.Join(r.Root, "model.safetensors")
	r.Key = key(1)
	ones := []float64{1, 1, 1, 1}
	writeLayers(t, model, ones)
	if err := os.WriteFile(filepath.Join(r.Root, "config.json"), []byte(`{"architecture": "mlp"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(ctx, []string{r.Root}, repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if fd.base, err = r.Commit(ctx, repo.CommitOptions{Message: "round 0: untrained model"}); err != nil {
		t.Fatal(err)
	}
	// round 1: fedavg by records 100, 300, 600 of 1 + delta: the merged
	// layer is the base times 1 + Σ wᵢ·deltaᵢ. Round 2: alice and bob
	// scale round 1's model by 1.1 and 1.05, carol by 10 (poisoned); 200,
	// 200 and 100 records; multi-krum keeps alice and bob, whose mean
	// moves every layer by 7.5 %.
	w1 := []float64{0.1, 0.3, 0.6}
	merged := make([]float64, len(layers))
	for l := range layers {
		d := 0.0
		for i := range clinics {
			d += w1[i] * round1[i][l]
		}
		merged[l] = 1 + d
		fd.rel1 = append(fd.rel1, math.Abs(d))
		fd.rel2 = append(fd.rel2, 0.075)
	}
	rounds := []struct {
		factor  [3][]float64
		samples [3]int64
	}{{samples: [3]int64{100, 300, 600}}, {samples: [3]int64{200, 200, 100}}}
	for i := range clinics {
		for l := range layers {
			rounds[0].factor[i] = append(rounds[0].factor[i], 1+round1[i][l])
			rounds[1].factor[i] = append(rounds[1].factor[i], merged[l]*[]float64{1.1, 1.05, 10}[i])
		}
	}
	from := fd.base
	for n, rd := range rounds {
		var branches []string
		for i, u := range clinics {
			name := fmt.Sprintf("%s-r%d", u, n+1)
			if err := r.Switch(ctx, name, repo.SwitchOptions{Create: true, Start: from.String()}); err != nil {
				t.Fatal(err)
			}
			writeLayers(t, model, rd.factor[i])
			r.Key = key(byte(2 + i))
			id, err := r.Commit(ctx, repo.CommitOptions{Message: fmt.Sprintf("%s: round %d on %d private records", u, n+1, rd.samples[i]), All: true, Samples: rd.samples[i]})
			if err != nil {
				t.Fatal(err)
			}
			if n == 1 && u == "carol" {
				fd.poisoned = id
			}
			branches = append(branches, name)
		}
		r.Key = key(1)
		if err := r.Switch(ctx, "main", repo.SwitchOptions{}); err != nil {
			t.Fatal(err)
		}
		opts := mergeexec.Options{}
		if n == 1 {
			opts = mergeexec.Options{Strategy: "multi-krum", Params: map[string]string{"m": "2", "f": "0"}}
		}
		res, err := mergeexec.Merge(ctx, r, branches, opts)
		if err != nil {
			t.Fatal(err)
		}
		from = res.Commit
		if n == 0 {
			fd.round1 = res.Commit
		} else {
			fd.round2 = res.Commit
		}
		m, err := governance.ParseMetric("accuracy", []string{"0.75", "0.875"}[n])
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := governing.Attest(ctx, r, res.Commit.String(), governing.AttestOptions{Metrics: []governance.Metric{m}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.CreateTag(ctx, "v1", fd.round1.String(), repo.TagOptions{Message: "round 1"}); err != nil {
		t.Fatal(err)
	}
	pid, err := objects.Write(ctx, r.Objects, &objects.Proof{Commit: fd.round1, System: "test", Body: []byte("not checked here")})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Refs.Update(repo.ProofRef(fd.round1), objects.ZeroID, pid, r.Entry("proof")); err != nil {
		t.Fatal(err)
	}
	return fd
}

// publish pushes the federation's main and tag v1 to url as remote
// origin, with the name map labelling its keys.
func (fd *federation) publish(t *testing.T, name, url string) {
	t.Helper()
	ctx := context.Background()
	r := fd.r
	if err := r.RemoteAdd(name, url); err != nil {
		t.Fatal(err)
	}
	if _, err := transfer.Push(ctx, r, transfer.PushOptions{Remote: name}); err != nil {
		t.Fatal(err)
	}
	if _, err := transfer.Push(ctx, r, transfer.PushOptions{Remote: name, Tag: "v1"}); err != nil {
		t.Fatal(err)
	}
	labels := map[objects.PublicKey]string{key(1).Public(): "owner lab"}
	for i, u := range clinics {
		labels[key(byte(2+i)).Public()] = u
	}
	if _, err := governing.SetNames(ctx, r, name, labels); err != nil {
		t.Fatal(err)
	}
}

// browser is one chromium for every page of a test, recording what each
// page does wrong: console errors and warnings, uncaught exceptions, the
// browser log's errors, failed requests and answers of status 400 or more.
type browser struct {
	t    *testing.T
	ctx  context.Context
	dir  string // screenshots
	mu   sync.Mutex
	errs []string
	// expect is a status the page under test answers on purpose (a
	// refusal), not counted as a failure.
	expect int64
	urls   map[network.RequestID]string // what each request asked, for messages
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromium(t)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.WindowSize(1100, 800))...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(cancel)
	b := &browser{t: t, ctx: ctx, dir: *screenshots}
	if b.dir == "" {
		b.dir = t.ArtifactDir()
	} else if err := os.MkdirAll(b.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// the first Run starts the browser, with no timeout on its context
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	if err := chromedp.Listen(ctx, b.record); err != nil {
		t.Fatal(err)
	}
	return b
}

// incognito opens a tab of the same browser in a browser context of its
// own (no cookies shared), for t.
func (b *browser) incognito(t *testing.T) *browser {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	nb := &browser{t: t, ctx: ctx, dir: b.dir}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("a new tab: %v", err)
	}
	if err := chromedp.Listen(ctx, nb.record); err != nil {
		t.Fatal(err)
	}
	return nb
}

func (b *browser) record(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value))
			}
			msg = fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " "))
		}
	case *runtime.EventExceptionThrown:
		msg = "uncaught exception: " + ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			msg += " " + ev.ExceptionDetails.Exception.Description
		}
	case *log.EventEntryAdded:
		// the network's entries repeat the responses and failures below
		if (ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning) && ev.Entry.Source != log.EntrySourceNetwork {
			msg = fmt.Sprintf("browser log %s (%s): %s %s", ev.Entry.Level, ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
		}
	case *network.EventRequestWillBeSent:
		b.mu.Lock()
		if b.urls == nil {
			b.urls = map[network.RequestID]string{}
		}
		b.urls[ev.RequestID] = ev.Request.Method + " " + ev.Request.URL
		b.mu.Unlock()
	case *network.EventLoadingFailed:
		b.mu.Lock()
		url := b.urls[ev.RequestID]
		b.mu.Unlock()
		msg = fmt.Sprintf("request %s failed (%s): %s", url, ev.Type, ev.ErrorText)
	case *network.EventResponseReceived:
		b.mu.Lock()
		expect := b.expect
		b.mu.Unlock()
		if ev.Response.Status >= 400 && ev.Response.Status != expect {
			msg = fmt.Sprintf("%s %s answered %d", ev.Type, ev.Response.URL, ev.Response.Status)
		}
	}
	if msg == "" {
		return
	}
	b.mu.Lock()
	b.errs = append(b.errs, msg)
	b.mu.Unlock()
}

// run runs the steps, failing the test on an error.
func (b *browser) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Steps(steps...)); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates expression on the page, decoding its value into T.
func eval[T any](b *browser, expression string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expression))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expression, err)
	}
	return v
}

// open loads url (or runs the navigation steps, a click) and waits for
// its load; it returns the status of the document and fails the test
// when the page logged an error or a request failed, or when the status
// is not want.
func (b *browser) open(what string, want int64, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.mu.Lock()
	b.errs, b.expect = nil, want
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	if resp.Status != want {
		b.t.Errorf("%s: status %d, want %d", what, resp.Status, want)
	}
	// late events (a failed image, a console error of a script) come
	// before the page's own round trip does
	if loc := eval[string](b, "document.readyState"); loc != "complete" {
		b.t.Errorf("%s: document %s", what, loc)
	}
	b.mu.Lock()
	errs := b.errs
	b.mu.Unlock()
	for _, e := range errs {
		b.t.Errorf("%s: %s", what, e)
	}
}

// screenshot writes the page as name.png.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot of %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// location returns the page's path and query, and its first heading.
func (b *browser) location() (string, string) {
	b.t.Helper()
	return eval[string](b, "location.pathname + location.search"), eval[string](b, `document.querySelector("h1").textContent`)
}

// bar is one bar of an SVG bar chart as the browser drew it.
type bar struct {
	Label string  `json:"label"`
	Value string  `json:"value"`
	Width float64 `json:"width"` // the rect's rendered width
	Fill  string  `json:"fill"`
}

// chart reads back the bars of the chart titled title (the nth of that
// title on the page).
func (b *browser) chart(title string, nth int) []bar {
	b.t.Helper()
	return eval[[]bar](b, fmt.Sprintf(`[...document.querySelectorAll('figure[data-chart=%s]')[%d].querySelectorAll("g.bar")].map(g => {
		const r = g.querySelector("rect");
		return {label: g.dataset.label, value: g.dataset.value, width: r.getBoundingClientRect().width, fill: r.getAttribute("fill")};
	})`, strconv.Quote(title), nth))
}

// checkBars checks that chart bars hold values want (in order) and are
// drawn to scale: the longest bar for the largest value, each bar's
// length in proportion.
func checkBars(t *testing.T, what string, bars []bar, want []float64) {
	t.Helper()
	if len(bars) != len(want) {
		t.Fatalf("%s: %d bars, want %d: %+v", what, len(bars), len(want), bars)
	}
	maxV, maxW := 0.0, 0.0
	for i, br := range bars {
		v, err := strconv.ParseFloat(br.Value, 64)
		if err != nil || math.Abs(v-want[i]) > 1e-9*math.Max(1, math.Abs(want[i])) {
			t.Errorf("%s: bar %d (%s) holds %s, want %v", what, i, br.Label, br.Value, want[i])
		}
		maxV, maxW = math.Max(maxV, want[i]), math.Max(maxW, br.Width)
	}
	for i, br := range bars {
		// rounded to whole user units of a 360-unit bar: within 1.5 %
		if wantW := want[i] / maxV * maxW; math.Abs(br.Width-wantW) > 0.015*maxW+0.5 {
			t.Errorf("%s: bar %d (%s) drawn %.1f px long, want %.1f (value %v of largest %v)", what, i, br.Label, br.Width, wantW, want[i], maxV)
		}
	}
}

// The pages of a repository with the federated example's history, in
// chromium: each loads without console errors or failed requests, its
// charts hold the numbers of the JSON twin and of the history, links
// navigate, and a private repository's pages are refused to a visitor
// without a key. A screenshot of each page is written for review
// (-screenshots DIR; make screenshots writes doc/img's).
func TestBrowser(t *testing.T) {
	b := newBrowser(t)
	base := startServer(t)
	fd := federate(t)
	fd.publish(t, "origin", base+"/lab/model")
	fd.publish(t, "secret", base+"/lab/secret")
	c, err := remote.New(base+"/lab/secret", remote.Options{Key: key(1)})
	if err != nil {
		t.Fatal(err)
	}
	private := false
	if _, err := c.UpdateSettings(context.Background(), remote.SettingsUpdate{Public: &private}); err != nil {
		t.Fatal(err)
	}

	t.Run("server", func(t *testing.T) {
		b.t = t
		b.open("server page", 200, chromedp.Navigate(base+"/"))
		if names := eval[[]string](b, `[...document.querySelectorAll("tr.repository")].map(r => r.dataset.name)`); !slices.Equal(names, []string{"lab/model"}) {
			t.Errorf("the server page lists %q to a visitor without a key, want lab/model only", names)
		}
		b.screenshot("server")
		b.open("click lab/model", 200, chromedp.Click(chromedp.CSS(`tr.repository a[href="/lab/model"]`)))
		if path, h1 := b.location(); path != "/lab/model" || h1 != "lab/model" {
			t.Errorf("the link led to %s, heading %q", path, h1)
		}
	})

	t.Run("repository", func(t *testing.T) {
		b.t = t
		b.open("repository page", 200, chromedp.Navigate(base+"/lab/model"))
		twin := getJSON[webui.RepoPage](t, base+"/lab/model", "")
		type row struct {
			ID, Author, Signature, Proof string
		}
		rows := eval[[]row](b, `[...document.querySelectorAll("tr.commit")].map(r => ({ID: r.dataset.id, Author: r.querySelector(".author").textContent,
			Signature: r.querySelector("[data-signature]").dataset.signature, Proof: r.querySelector("[data-proof]").dataset.proof}))`)
		if len(rows) != len(twin.Commits) || len(rows) != 9 {
			t.Fatalf("the page shows %d commits, its twin %d, want 9 (round 0, 6 updates, 2 merges)", len(rows), len(twin.Commits))
		}
		for i, r := range rows {
			c := twin.Commits[i]
			if r.ID != c.ID || r.Author != c.AuthorName || r.Signature != "valid" || r.Proof != c.Proof {
				t.Errorf("commit row %d: %+v, twin %+v", i, r, c)
			}
			if want := map[bool]string{true: "held", false: "none"}[c.ID == fd.round1.String()]; c.Proof != want {
				t.Errorf("commit %s: proof %s, want %s", c.ID[:12], c.Proof, want)
			}
		}
		authors := map[string]bool{}
		for _, r := range rows {
			authors[r.Author] = true
		}
		for _, name := range append([]string{"owner lab"}, clinics...) {
			if !authors[name] {
				t.Errorf("no commit by %s on the page (authors %v)", name, authors)
			}
		}
		b.screenshot("repository")
		b.open("click rounds", 200, chromedp.Click(chromedp.ID("rounds")))
		if path, h1 := b.location(); path != "/lab/model/-/rounds" || h1 != "Rounds of main" {
			t.Errorf("the rounds link led to %s, heading %q", path, h1)
		}
		b.open("the repository again", 200, chromedp.Navigate(base+"/lab/model"))
		b.open("click the newest commit", 200, chromedp.Click(chromedp.CSS(`tr.commit[data-id="`+fd.round2.String()+`"] a`)))
		if path, h1 := b.location(); path != "/lab/model/-/commit/"+fd.round2.String() || !strings.HasPrefix(h1, "Merge alice-r2, bob-r2, carol-r2 with multi-krum") {
			t.Errorf("the commit link led to %s, heading %q", path, h1)
		}
	})

	t.Run("commit", func(t *testing.T) {
		b.t = t
		// round 1's fedavg merge: weights 0.1, 0.3, 0.6 by records; tensor
		// a moved to 4.1 × its base: relative change 3.1
		url := base + "/lab/model/-/commit/" + fd.round1.String()
		b.open("round 1's merge", 200, chromedp.Navigate(url))
		twin := getJSON[webui.CommitPage](t, url, "")
		var weights []float64
		for _, s := range twin.Merge.Sides {
			weights = append(weights, s.Weight)
		}
		checkBars(t, "weights of round 1", b.chart("normalised weight of each side", 0), []float64{0.1, 0.3, 0.6})
		if !slices.EqualFunc(weights, []float64{0.1, 0.3, 0.6}, func(a, b float64) bool { return math.Abs(a-b) < 1e-12 }) {
			t.Errorf("the twin's weights %v, want 0.1 0.3 0.6", weights)
		}
		var names []string
		var rel, l2 []float64
		for i, tr := range twin.Tensors {
			names, rel, l2 = append(names, tr.Name), append(rel, *tr.RelChange), append(l2, *tr.L2)
			if i < len(fd.rel1) && math.Abs(*tr.RelChange-fd.rel1[i]) > 1e-5 {
				t.Errorf("round 1's merge moved %s by %v, want %v", tr.Name, *tr.RelChange, fd.rel1[i])
			}
		}
		if len(rel) != len(layers) || names[0] != layers[0].name || names[1] != layers[1].name || names[3] != layers[3].name {
			t.Fatalf("tensors of round 1's merge: %q, want every layer in model order", names)
		}
		checkBars(t, "relative change", b.chart("relative change", 0), rel)
		checkBars(t, "L2 of the change", b.chart("L2 norm of the change", 0), l2)
		if got := eval[string](b, `document.querySelector("[data-proof]").dataset.proof`); got != "held" {
			t.Errorf("round 1's proof badge %q, want held", got)
		}
		b.screenshot("commit")
		// the merge's parents link to their pages
		side := twin.Merge.Sides[2].Commit
		b.open("click carol's side", 200, chromedp.Click(chromedp.CSS(`a.parent[data-id="`+side+`"]`)))
		if path, h1 := b.location(); path != "/lab/model/-/commit/"+side || h1 != "carol: round 1 on 600 private records" {
			t.Errorf("the parent link led to %s, heading %q", path, h1)
		}

		// round 2's multi-krum merge discards carol's poisoned update
		url = base + "/lab/model/-/commit/" + fd.round2.String()
		b.open("round 2's merge", 200, chromedp.Navigate(url))
		twin = getJSON[webui.CommitPage](t, url, "")
		bars := b.chart("normalised weight of each side", 0)
		var want []float64
		for _, s := range twin.Merge.Sides {
			want = append(want, s.Weight)
		}
		checkBars(t, "weights of round 2", bars, want)
		for i, s := range twin.Merge.Sides {
			discarded := s.Commit == fd.poisoned.String()
			if s.Selected == discarded || (bars[i].Fill == "#bbb") != discarded || strings.HasSuffix(bars[i].Label, "(discarded)") != discarded {
				t.Errorf("side %d (%s): selected %v, bar %+v; carol's poisoned update %s is the one discarded", i, s.AuthorName, s.Selected, bars[i], fd.poisoned.Short())
			}
		}
		if n := eval[int](b, `[...document.querySelectorAll("#sides strong")].filter(s => s.textContent == "discarded").length`); n != 1 {
			t.Errorf("%d sides marked discarded, want 1", n)
		}
		var rel2 []float64
		for i, tr := range twin.Tensors {
			if rel2 = append(rel2, *tr.RelChange); math.Abs(*tr.RelChange-fd.rel2[i]) > 1e-5 {
				t.Errorf("round 2's merge moved %s by %v, want %v", tr.Name, *tr.RelChange, fd.rel2[i])
			}
		}
		checkBars(t, "relative change of round 2", b.chart("relative change", 0), rel2)
		b.screenshot("commit-robust")
	})

	t.Run("rounds", func(t *testing.T) {
		b.t = t
		url := base + "/lab/model/-/rounds"
		b.open("rounds page", 200, chromedp.Navigate(url))
		twin := getJSON[webui.RoundsPage](t, url, "")
		if len(twin.Rounds) != 2 {
			t.Fatalf("rounds: %+v", twin.Rounds)
		}
		type point struct {
			Round string  `json:"round"`
			Value string  `json:"value"`
			Y     float64 `json:"y"`
		}
		pts := eval[[]point](b, `[...document.querySelectorAll('figure[data-metric="accuracy"] circle.point')].map(c => ({round: c.dataset.round, value: c.dataset.value, y: c.getBoundingClientRect().y}))`)
		if len(pts) != 2 || pts[0].Round != "1" || pts[0].Value != "0.75" || pts[1].Round != "2" || pts[1].Value != "0.875" {
			t.Fatalf("accuracy chart %+v, want 0.75 then 0.875", pts)
		}
		if pts[1].Y >= pts[0].Y {
			t.Errorf("accuracy chart: round 2 (0.875) drawn at y %.1f, not above round 1 (0.75) at %.1f", pts[1].Y, pts[0].Y)
		}
		for i, rd := range twin.Rounds {
			var want []float64
			for _, s := range rd.Sides {
				want = append(want, s.Weight)
			}
			checkBars(t, fmt.Sprintf("round %d", i+1), b.chart("normalised weight of each side", i), want)
		}
		// contributors: each clinic's key and the owner (round 0,
		// attestations), named by the name map
		names := eval[[]string](b, `[...document.querySelectorAll("tr.contributor td:first-child")].map(td => td.textContent)`)
		slices.Sort(names)
		if want := []string{"alice", "bob", "carol", "owner lab"}; !slices.Equal(names, want) {
			t.Errorf("contributors %q, want %q", names, want)
		}
		b.screenshot("rounds")
		b.open("click round 2", 200, chromedp.Click(chromedp.CSS(`section.round[data-round="2"] h2 a`)))
		if path, _ := b.location(); path != "/lab/model/-/commit/"+fd.round2.String() {
			t.Errorf("round 2's link led to %s", path)
		}
	})

	t.Run("compare", func(t *testing.T) {
		b.t = t
		url := base + "/lab/model/-/compare?from=v1&to=main&sort=rel"
		b.open("compare page", 200, chromedp.Navigate(url))
		twin := getJSON[webui.ComparePage](t, url, "")
		var rel []float64
		for _, tr := range twin.Tensors {
			rel = append(rel, *tr.RelChange)
		}
		checkBars(t, "v1 … main", b.chart("relative change", 0), rel)
		b.screenshot("compare")
		b.open("sort by name", 200, chromedp.Click(chromedp.CSS(`a.sort[data-sort="name"]`)))
		if path, h1 := b.location(); path != "/lab/model/-/compare?from=v1&sort=name&to=main" || h1 != "v1 … main" {
			t.Errorf("the sort link led to %s, heading %q", path, h1)
		}
	})

	t.Run("private", func(t *testing.T) {
		b.t = t
		for _, page := range []string{"/lab/secret", "/lab/secret/-/commit/" + fd.round1.String(), "/lab/secret/-/rounds"} {
			b.open(page, 401, chromedp.Navigate(base+page))
			if _, h1 := b.location(); !strings.HasPrefix(h1, "401") {
				t.Errorf("%s: heading %q, want a refusal", page, h1)
			}
			if text := eval[string](b, "document.body.innerText"); strings.Contains(text, "fedavg") || strings.Contains(text, "round 0") {
				t.Errorf("%s shows the private repository's history to a visitor without a key:\n%s", page, text)
			}
		}
		b.screenshot("private-refused")
	})

	t.Run("wallet", func(t *testing.T) {
		host := strings.TrimPrefix(base, "http://")
		// the Wallet Standard, the owner's key: the private pages open
		w := b.incognito(t)
		signed := wallet(t, w, key(1), "standard")
		w.open("the private repository", 401, chromedp.Navigate(base+"/lab/secret"))
		if hidden := eval[bool](w, `document.getElementById("signin").hidden`); hidden {
			t.Fatal("the sign-in button is hidden in a browser with a wallet")
		}
		w.open("sign in with the owner's wallet", 200, chromedp.Click(chromedp.ID("signin")))
		if path, h1 := w.location(); path != "/lab/secret" || h1 != "lab/secret" {
			t.Fatalf("after signing in: %s, heading %q", path, h1)
		}
		if msgs := signed(); len(msgs) != 1 {
			t.Errorf("the wallet signed %d messages, want 1", len(msgs))
		} else if m, err := remote.ParseSignInMessage(msgs[0]); err != nil || m.Domain != host || m.Address != key(1).Public().String() {
			t.Errorf("the wallet signed %q (%+v, %v): want fed's sign-in text for %s and the owner's address", msgs[0], m, err, host)
		}
		cookies, err := chromedp.Run(w.ctx, func(ctx context.Context, tg *chromedp.Target) ([]*network.Cookie, error) {
			r, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
			if err != nil {
				return nil, err
			}
			return r.Cookies, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cookies {
			if c.Name == "fed-session" && (!c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict || c.Secure) {
				t.Errorf("session cookie %+v; want HttpOnly, SameSite=Strict, not Secure over http", c)
			}
		}
		if len(cookies) != 2 {
			t.Errorf("cookies after signing in: %+v; want fed-session and fed-address", cookies)
		}
		if js := eval[string](w, "document.cookie"); strings.Contains(js, "fed-session") {
			t.Errorf("the page's script reads the session cookie: %q", js)
		}
		for _, page := range []string{"/lab/secret/-/commit/" + fd.round2.String(), "/lab/secret/-/rounds"} {
			w.open(page, 200, chromedp.Navigate(base+page))
		}
		w.open("server page, signed in", 200, chromedp.Navigate(base+"/"))
		if names := eval[[]string](w, `[...document.querySelectorAll("tr.repository")].map(r => r.dataset.name)`); !slices.Equal(names, []string{"lab/model", "lab/secret"}) {
			t.Errorf("the server page lists %q to the owner, want lab/model and lab/secret", names)
		}
		k := key(1).Public().String()
		if st := eval[string](w, `document.getElementById("signin-status").textContent`); st != "signed in as "+k[:4]+"…"+k[len(k)-4:] {
			t.Errorf("the header says %q", st)
		}
		if eval[bool](w, `!document.getElementById("signin").hidden || document.getElementById("signout").hidden`) {
			t.Errorf("signed in, the header offers sign-in or no sign-out")
		}
		w.screenshot("signed-in")
		w.open("sign out", 200, chromedp.Click(chromedp.ID("signout")))
		if names := eval[[]string](w, `[...document.querySelectorAll("tr.repository")].map(r => r.dataset.name)`); !slices.Equal(names, []string{"lab/model"}) {
			t.Errorf("signed out, the server page lists %q", names)
		}
		if eval[bool](w, `document.getElementById("signin").hidden || !document.getElementById("signout").hidden`) {
			t.Errorf("signed out, the header offers no sign-in, or sign-out")
		}
		w.open("the private repository, signed out", 401, chromedp.Navigate(base+"/lab/secret"))

		// window.solana (a Phantom-like provider), an outsider's key: the
		// private repository is as absent
		o := b.incognito(t)
		wallet(t, o, key(9), "solana")
		o.open("the private repository", 401, chromedp.Navigate(base+"/lab/secret"))
		o.open("sign in with an outsider's wallet", 404, chromedp.Click(chromedp.ID("signin")))
		if text := eval[string](o, "document.body.innerText"); strings.Contains(text, "round 0") {
			t.Errorf("an outsider sees the private repository:\n%s", text)
		}
	})

	t.Run("no JavaScript", func(t *testing.T) {
		n := b.incognito(t)
		n.run("disable scripts", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
			return err
		}))
		n.open("repository page without JavaScript", 200, chromedp.Navigate(base+"/lab/model"))
		if rows := eval[int](n, `document.querySelectorAll("tr.commit").length`); rows != 9 {
			t.Errorf("without JavaScript the repository page shows %d commits, want 9", rows)
		}
		if hidden := eval[bool](n, `document.getElementById("signin").hidden`); !hidden {
			t.Errorf("without JavaScript the sign-in button shows")
		}
		n.open("rounds page without JavaScript", 200, chromedp.Navigate(base+"/lab/model/-/rounds"))
		checkBars(t, "round 1 without JavaScript", n.chart("normalised weight of each side", 0), []float64{0.1, 0.3, 0.6})
	})
	b.t = t
}

// fakeWallet is a wallet in the page, as a browser extension injects it:
// registered by the Wallet Standard ("standard") or as window.solana
// ("solana"); it signs with a Go binding (fedTestSign) that holds the
// key.
const fakeWallet = `(() => {
  const address = %q, kind = %q;
  const sign = async (message) => Uint8Array.from(await window.fedTestSign(new TextDecoder().decode(message)));
  if (kind === "solana") {
    const publicKey = { toString: () => address, toBase58: () => address };
    window.solana = { isPhantom: true, publicKey: null,
      connect: async () => { window.solana.publicKey = publicKey; return { publicKey }; },
      signMessage: async (message, display) => ({ signature: await sign(message), publicKey }) };
    return;
  }
  const account = { address, publicKey: new Uint8Array(32), chains: ["solana:mainnet"], features: ["solana:signMessage"] };
  const wallet = { version: "1.0.0", name: "fed test wallet", icon: "data:image/svg+xml,%%3Csvg xmlns='http://www.w3.org/2000/svg'/%%3E",
    chains: ["solana:mainnet"], accounts: [account],
    features: {
      "standard:connect": { version: "1.0.0", connect: async () => ({ accounts: [account] }) },
      "solana:signMessage": { version: "1.0.0", signMessage: async (...inputs) =>
        Promise.all(inputs.map(async ({ message }) => ({ signedMessage: message, signature: await sign(message) }))) },
    } };
  const register = (api) => api.register(wallet);
  window.addEventListener("wallet-standard:app-ready", (e) => register(e.detail));
  window.dispatchEvent(new CustomEvent("wallet-standard:register-wallet", { detail: register }));
})();`

// wallet injects a fake wallet of kind holding k into every document of
// b's tab; signed returns the texts it signed.
func wallet(t *testing.T, b *browser, k *objects.Keypair, kind string) (signed func() []string) {
	t.Helper()
	var mu sync.Mutex
	var texts []string
	b.run("inject a wallet",
		chromedp.ExposeFunc("fedTestSign", func(ctx context.Context, text string) ([]int, error) {
			mu.Lock()
			texts = append(texts, text)
			mu.Unlock()
			sig := k.Sign([]byte(text))
			out := make([]int, len(sig))
			for i, c := range sig {
				out[i] = int(c)
			}
			return out, nil
		}),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: fmt.Sprintf(fakeWallet, k.Public().String(), kind)})
			return err
		}))
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(texts)
	}
}
