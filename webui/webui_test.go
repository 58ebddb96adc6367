package webui_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/codec/safetensors"
	"github.com/fed-vcs/fed/governance"
	"github.com/fed-vcs/fed/governing"
	"github.com/fed-vcs/fed/hosting"
	"github.com/fed-vcs/fed/mergeexec"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
	"github.com/fed-vcs/fed/repo"
	"github.com/fed-vcs/fed/repometa"
	"github.com/fed-vcs/fed/transfer"
	"github.com/fed-vcs/fed/webui"
)

func key(n byte) *objects.Keypair { return objects.KeypairFromSeed(bytes.Repeat([]byte{n}, 32)) }

// startServer runs fed serve's handler, with the web pages, on loopback.
func startServer(t *testing.T) string {
	t.Helper()
	url, _ := startServerFiles(t)
	return url
}

// startServerFiles is startServer, also returning the repositories'
// storage.
func startServerFiles(t *testing.T) (string, *server.Files) {
	t.Helper()
	return startServerOptions(t, webui.Options{ErrorLog: t.Logf})
}

// startServerOptions is startServerFiles with the pages' options.
func startServerOptions(t *testing.T, opts webui.Options) (string, *server.Files) {
	t.Helper()
	files, err := server.NewFiles(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := hosting.New(hosting.Options{Storage: files})
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.New(server.Options{Root: t.TempDir(), Hosting: h, ErrorLog: t.Logf, Pages: webui.New(opts)})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts.URL, files
}

// writeModel writes a safetensors file of F32 tensors a (1000 values)
// and b (10), drawn from seed, with f applied to a's values.
func writeModel(t *testing.T, path string, f func(float32) float32) {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 7))
	var ts []safetensors.WriteTensor
	for _, tn := range []struct {
		name string
		n    int
	}{{"a", 1000}, {"b", 10}} {
		b := make([]byte, 4*tn.n)
		for i := 0; i < tn.n; i++ {
			v := float32(r.NormFloat64())
			if tn.name == "a" {
				v = f(v)
			}
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		ts = append(ts, safetensors.WriteTensor{Info: codec.TensorInfo{Name: tn.name, DType: objects.F32, Shape: []uint64{uint64(tn.n)}}, Data: bytes.NewReader(b), Len: int64(len(b))})
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, map[string]string{"format": "pt"}, ts); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

const hostile = `<script>alert("x")</script> & round`

// fedRound makes a repository signed by key 1 with a base commit whose
// message is hostile, three contributor branches scaling tensor a by 2,
// 3 and 5 with 100, 300 and 600 samples, and their fedavg merge on main.
func fedRound(t *testing.T) (*repo.Repo, objects.ID) {
	r, merge, _, _ := fedRounds(t)
	return r, merge
}

// fedRounds is fedRound, and also merges the three branches with krum on
// branch k from the base: krum keeps one side and discards two.
func fedRounds(t *testing.T) (r *repo.Repo, merge, krum objects.ID, base objects.ID) {
	t.Helper()
	ctx := context.Background()
	t.Setenv("FED_CONFIG", filepath.Join(t.TempDir(), "userconfig"))
	var err error
	r, err = repo.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r.Key = key(1)
	clock := time.Unix(1_700_000_000, 0)
	r.Now = func() time.Time { clock = clock.Add(time.Minute); return clock }
	model := filepath.Join(r.Root, "m.safetensors")
	writeModel(t, model, func(v float32) float32 { return v })
	if err := r.Add(ctx, []string{r.Root}, repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	base, err = r.Commit(ctx, repo.CommitOptions{Message: hostile})
	if err != nil {
		t.Fatal(err)
	}
	var branches []string
	for i, f := range []float32{2, 3, 5} {
		name := string(rune('p' + i))
		if err := r.Switch(ctx, name, repo.SwitchOptions{Create: true, Start: base.String()}); err != nil {
			t.Fatal(err)
		}
		writeModel(t, model, func(v float32) float32 { return v * f })
		if _, err := r.Commit(ctx, repo.CommitOptions{Message: "train " + name, All: true, Samples: []int64{100, 300, 600}[i]}); err != nil {
			t.Fatal(err)
		}
		branches = append(branches, name)
	}
	if err := r.Switch(ctx, "main", repo.SwitchOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := mergeexec.Merge(ctx, r, branches, mergeexec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Switch(ctx, "k", repo.SwitchOptions{Create: true, Start: base.String()}); err != nil {
		t.Fatal(err)
	}
	kres, err := mergeexec.Merge(ctx, r, branches, mergeexec.Options{Strategy: "krum", Params: map[string]string{"f": "0"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Switch(ctx, "main", repo.SwitchOptions{}); err != nil {
		t.Fatal(err)
	}
	return r, res.Commit, kres.Commit, base
}

func push(t *testing.T, r *repo.Repo, url string) {
	t.Helper()
	if err := r.RemoteAdd("origin", url); err != nil {
		t.Fatal(err)
	}
	if _, err := transfer.Push(context.Background(), r, transfer.PushOptions{}); err != nil {
		t.Fatal(err)
	}
}

// login returns a bearer token of k.
func login(t *testing.T, base string, k *objects.Keypair) string {
	t.Helper()
	var ch remote.Challenge
	post(t, base+remote.PathPrefix+"login/challenge", remote.ChallengeRequest{Address: k.Public().String()}, &ch)
	var resp remote.LoginResponse
	post(t, base+remote.PathPrefix+"login", remote.LoginRequest{Address: k.Public().String(), Nonce: ch.Nonce, Signature: objects.Base58(k.Sign([]byte(ch.Message)))}, &resp)
	return resp.Token
}

func post(t *testing.T, url string, body, out any) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, remote.MediaJSON, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

// get fetches url with token (when not empty) and accept, returning the
// status and body.
func get(t *testing.T, url, token, accept string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func getJSON[T any](t *testing.T, url, token string) T {
	t.Helper()
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	code, body := get(t, url+sep+"format=json", token, "")
	if code != 200 {
		t.Fatalf("GET %s?format=json: %d %s", url, code, body)
	}
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("GET %s?format=json: %v\n%s", url, err, body)
	}
	return v
}

// attrs returns the values of attribute name on the page, in order.
func attrs(page, name string) []string {
	var out []string
	for _, m := range regexp.MustCompile(` `+name+`="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}

// A public repository's pages render for anonymous visitors, agree with
// their JSON twins, escape what authors wrote, and the fedavg merge's
// page shows each side's weight as its merge record has it.
func TestPublicPages(t *testing.T) {
	base := startServer(t)
	r, merge := fedRound(t)
	push(t, r, base+"/lab/model")

	// server page
	code, page := get(t, base+"/", "", "text/html")
	if code != 200 || !strings.Contains(page, `href="/lab/model"`) {
		t.Fatalf("server page: %d\n%s", code, page)
	}
	idx := getJSON[webui.IndexPage](t, base+"/", "")
	if len(idx.Repositories) != 1 || idx.Repositories[0].Name != "lab/model" || idx.Repositories[0].Owner != key(1).Public().String() ||
		idx.Repositories[0].Updated == nil || idx.Repositories[0].Branch != "main" {
		t.Fatalf("server page's twin: %+v", idx)
	}
	if got := attrs(page, "data-name"); len(got) != 1 || got[0] != "lab/model" {
		t.Errorf("server page lists %q, its twin %q", got, "lab/model")
	}

	// repository page
	code, page = get(t, base+"/lab/model", "", "")
	if code != 200 {
		t.Fatalf("repository page: %d\n%s", code, page)
	}
	rp := getJSON[webui.RepoPage](t, base+"/lab/model", "")
	if len(rp.Commits) != 5 || rp.Commits[0].ID != merge.String() || !rp.Commits[0].Merge || rp.Branch != "main" || len(rp.Branches) != 1 {
		t.Fatalf("repository page's twin: %+v", rp)
	}
	var ids []string
	for _, c := range rp.Commits {
		ids = append(ids, c.ID)
		k := key(1).Public().String()
		if c.Signature != "valid" || c.Proof != "none" || c.Author != k || c.AuthorName != k[:4]+"…"+k[len(k)-4:] {
			t.Errorf("commit %s: signature %s, proof %s, author %s (%s)", c.ID, c.Signature, c.Proof, c.AuthorName, c.Author)
		}
	}
	if got := attrs(page, "data-id"); strings.Join(got, " ") != strings.Join(ids, " ") {
		t.Errorf("repository page lists commits %q, its twin %q", got, ids)
	}
	if got := attrs(page, "data-signature"); len(got) != 5 || got[0] != "valid" {
		t.Errorf("signature badges %q", got)
	}
	if strings.Contains(page, "<script>") || !strings.Contains(page, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; round") {
		t.Errorf("the hostile message is not escaped on the repository page:\n%s", page)
	}
	if rp.Commits[4].Subject != hostile {
		t.Errorf("twin's subject %q, want %q", rp.Commits[4].Subject, hostile)
	}

	// the base commit's page: escaped, files added
	baseURL := base + rp.Commits[4].URL
	code, page = get(t, baseURL, "", "")
	if code != 200 || strings.Contains(page, "<script>") || !strings.Contains(page, "&lt;script&gt;") {
		t.Fatalf("base commit page: %d, hostile message not escaped\n%s", code, page)
	}

	// the merge's page
	mergeURL := base + "/lab/model/-/commit/" + merge.String()
	code, page = get(t, mergeURL, "", "")
	if code != 200 {
		t.Fatalf("merge page: %d\n%s", code, page)
	}
	cp := getJSON[webui.CommitPage](t, mergeURL, "")
	if cp.Merge == nil || cp.Merge.Strategy != "fedavg" || len(cp.Merge.Sides) != 3 {
		t.Fatalf("merge page's twin: %+v", cp.Merge)
	}
	// the merge record: merge.weights per parent (the base first)
	c, err := r.ReadCommit(context.Background(), merge)
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := c.Value(repo.MetaMergeWeights)
	ws := strings.Split(rec, ",")
	sum := 0.0
	for _, w := range ws[1:] {
		f, _ := strconv.ParseFloat(w, 64)
		sum += f
	}
	chart := page[strings.Index(page, `data-chart="normalised weight of each side"`):]
	chart = chart[:strings.Index(chart, "</svg>")]
	bars := attrs(chart, "data-value")
	if len(bars) != 3 {
		t.Fatalf("weight chart has %d bars, want 3:\n%s", len(bars), chart)
	}
	for i, s := range cp.Merge.Sides {
		f, _ := strconv.ParseFloat(ws[i+1], 64)
		want := f / sum
		if math.Abs(s.Weight-want) > 1e-12 || s.Commit != c.Parents[i+1].String() {
			t.Errorf("side %d: weight %v of %s, the merge record says %v of %s", i, s.Weight, s.Commit, want, c.Parents[i+1])
		}
		if got, _ := strconv.ParseFloat(bars[i], 64); got != s.Weight {
			t.Errorf("side %d: chart bar %v, twin %v", i, got, s.Weight)
		}
	}
	// tensors: a changed (0.1·2 + 0.3·3 + 0.6·5 = 4.1 times the base: relative change 3.1), b not
	if len(cp.Tensors) != 1 || cp.Tensors[0].Name != "a" || cp.Tensors[0].RelChange == nil || math.Abs(*cp.Tensors[0].RelChange-3.1) > 1e-4 {
		t.Fatalf("merge page's tensors: %+v", cp.Tensors)
	}
	rel := page[strings.Index(page, `data-chart="relative change"`):]
	if got := attrs(rel[:strings.Index(rel, "</svg>")], "data-value"); len(got) != 1 || got[0] != strconv.FormatFloat(*cp.Tensors[0].RelChange, 'g', -1, 64) {
		t.Errorf("relative change chart %q, twin %v", got, *cp.Tensors[0].RelChange)
	}
	if got := attrs(page, "data-path"); len(got) != 1 || got[0] != "m.safetensors" || len(cp.Files) != 1 {
		t.Errorf("files on the page %q, in the twin %+v", got, cp.Files)
	}

	// a commit that is not there, and a page that is not
	if code, _ := get(t, base+"/lab/model/-/commit/"+objects.Sum([]byte("x")).String(), "", ""); code != 404 {
		t.Errorf("absent commit: %d", code)
	}
	if code, _ := get(t, base+"/lab/model/-/nothing", "", ""); code != 404 {
		t.Errorf("absent page: %d", code)
	}
	if resp, err := http.Post(base+"/lab/model", "text/plain", nil); err != nil || resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST to a page: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if code, body := get(t, base+"/lab/model", "", "application/json"); code != 200 || !strings.HasPrefix(body, "{") {
		t.Errorf("Accept: application/json: %d %.40s", code, body)
	}
}

// A private repository's pages are refused to anonymous visitors (401)
// and to an outsider's key (404, as if absent), and shown to its owner.
func TestPrivatePages(t *testing.T) {
	ctx := context.Background()
	base := startServer(t)
	r, merge := fedRound(t)
	push(t, r, base+"/lab/secret")
	c, err := remote.New(base+"/lab/secret", remote.Options{Key: key(1)})
	if err != nil {
		t.Fatal(err)
	}
	private := false
	if _, err := c.UpdateSettings(ctx, remote.SettingsUpdate{Public: &private}); err != nil {
		t.Fatal(err)
	}
	owner, outsider := login(t, base, key(1)), login(t, base, key(9))
	for _, page := range []string{"/lab/secret", "/lab/secret/-/commit/" + merge.String()} {
		if code, body := get(t, base+page, "", ""); code != 401 || strings.Contains(body, "fedavg") {
			t.Errorf("anonymous %s: %d\n%s", page, code, body)
		}
		code, body := get(t, base+page, outsider, "")
		if code != 404 || strings.Contains(body, "fedavg") {
			t.Errorf("outsider's %s: %d\n%s", page, code, body)
		}
		if absent, _ := get(t, base+"/lab/nothing", outsider, ""); absent != code {
			t.Errorf("a private repository answers %d to an outsider, an absent one %d", code, absent)
		}
		if code, body := get(t, base+page, owner, ""); code != 200 {
			t.Errorf("owner's %s: %d\n%s", page, code, body)
		}
	}
	if code, body := get(t, base+"/lab/secret", "no-such-token", ""); code != 401 {
		t.Errorf("unknown token: %d %s", code, body)
	}
	for _, tok := range []string{"", outsider} {
		if idx := getJSON[webui.IndexPage](t, base+"/", tok); len(idx.Repositories) != 0 {
			t.Errorf("server page lists %+v to a visitor who may not read it", idx.Repositories)
		}
	}
	if idx := getJSON[webui.IndexPage](t, base+"/", owner); len(idx.Repositories) != 1 || idx.Repositories[0].Public {
		t.Errorf("server page to the owner: %+v", idx.Repositories)
	}
}

// Long histories paginate (the page and its twin agree on each page),
// and authors are named by the repository's name map, escaped.
func TestPaginationAndNames(t *testing.T) {
	ctx := context.Background()
	base := startServer(t)
	t.Setenv("FED_CONFIG", filepath.Join(t.TempDir(), "userconfig"))
	r, err := repo.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r.Key = key(1)
	clock := time.Unix(1_700_000_000, 0)
	r.Now = func() time.Time { clock = clock.Add(time.Minute); return clock }
	const n = webui.PageSize + 5
	for i := range n {
		if err := os.WriteFile(filepath.Join(r.Root, "notes.txt"), []byte(strconv.Itoa(i)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := r.Add(ctx, []string{r.Root}, repo.AddOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Commit(ctx, repo.CommitOptions{Message: "note " + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	push(t, r, base+"/lab/notes")
	const label = `<i>Lab</i> & co`
	if _, err := governing.SetNames(ctx, r, "origin", map[objects.PublicKey]string{key(1).Public(): label}); err != nil {
		t.Fatal(err)
	}

	url := base + "/lab/notes"
	seen := map[string]bool{}
	for page, want := range []int{webui.PageSize, 5} {
		q := "?page=" + strconv.Itoa(page+1)
		rp := getJSON[webui.RepoPage](t, url+q, "")
		if len(rp.Commits) != want || rp.Pager.Total != n || rp.Pager.Page != page+1 {
			t.Fatalf("page %d: %d commits, pager %+v", page+1, len(rp.Commits), rp.Pager)
		}
		code, html := get(t, url+q, "", "")
		if code != 200 {
			t.Fatalf("page %d: %d", page+1, code)
		}
		var ids []string
		for _, c := range rp.Commits {
			if seen[c.ID] {
				t.Errorf("commit %s on two pages", c.ID)
			}
			seen[c.ID] = true
			ids = append(ids, c.ID)
			if c.AuthorName != label {
				t.Errorf("author %q, want the name map's %q", c.AuthorName, label)
			}
		}
		if got := attrs(html, "data-id"); strings.Join(got, " ") != strings.Join(ids, " ") {
			t.Errorf("page %d lists %q, its twin %q", page+1, got, ids)
		}
		if next := strings.Contains(html, `rel="next" href="/lab/notes?page=2"`); next != (page == 0) {
			t.Errorf("page %d: link to the next page: %v", page+1, next)
		}
		if strings.Contains(html, "<i>Lab") || !strings.Contains(html, "&lt;i&gt;Lab&lt;/i&gt; &amp; co") {
			t.Errorf("page %d: the label is not escaped", page+1)
		}
	}
	if len(seen) != n {
		t.Errorf("%d commits over the pages, want %d", len(seen), n)
	}
	idx := getJSON[webui.IndexPage](t, base+"/", "")
	if len(idx.Repositories) != 1 || idx.Repositories[0].OwnerName != label {
		t.Errorf("server page: %+v", idx.Repositories)
	}
}

// A robust merge's page names the sides it discarded, in the table, the
// twin and the chart (grey bars).
func TestDiscardedSides(t *testing.T) {
	base := startServer(t)
	r, _, krum, _ := fedRounds(t)
	push(t, r, base+"/lab/model")
	if _, err := transfer.Push(context.Background(), r, transfer.PushOptions{Branch: "k"}); err != nil {
		t.Fatal(err)
	}
	url := base + "/lab/model/-/commit/" + krum.String()
	cp := getJSON[webui.CommitPage](t, url, "")
	if cp.Merge == nil || cp.Merge.Strategy != "krum" || len(cp.Merge.Sides) != 3 {
		t.Fatalf("krum merge's twin: %+v", cp.Merge)
	}
	var dropped []string
	for _, s := range cp.Merge.Sides {
		if !s.Selected {
			dropped = append(dropped, s.Commit)
		}
	}
	if len(dropped) != 2 {
		t.Fatalf("krum with f=0 of three sides kept %d, want 1: %+v", 3-len(dropped), cp.Merge.Sides)
	}
	_, page := get(t, url, "", "")
	if n := strings.Count(page, "<strong>discarded</strong>"); n != 2 {
		t.Errorf("the page marks %d sides discarded, want 2", n)
	}
	if n := strings.Count(page, `fill="#bbb"`); n != 2 {
		t.Errorf("the weight chart greys %d bars, want 2", n)
	}
	for _, id := range dropped {
		if !strings.Contains(page, `data-label="`+key(1).Public().String()[:4]+"…"+key(1).Public().String()[40:]+" "+id[:12]+` (discarded)"`) {
			t.Errorf("side %s not labelled discarded in the chart", id[:12])
		}
	}
}

// The rounds page of main: two fedavg rounds, oldest first, with each
// side's weight as its merge record has it, the validators' accuracy on a
// line chart, and the contributors; page and twin agree.
func TestRoundsPage(t *testing.T) {
	ctx := context.Background()
	base := startServer(t)
	r, first := fedRound(t)
	// round 2: two updates of the merged model, 1 and 3 samples
	model := filepath.Join(r.Root, "m.safetensors")
	var sides []string
	for i, f := range []float32{1.5, 0.5} {
		name := []string{"s", "u"}[i]
		if err := r.Switch(ctx, name, repo.SwitchOptions{Create: true, Start: first.String()}); err != nil {
			t.Fatal(err)
		}
		writeModel(t, model, func(v float32) float32 { return v * f })
		if _, err := r.Commit(ctx, repo.CommitOptions{Message: "train " + name, All: true, Samples: int64(1 + 2*i)}); err != nil {
			t.Fatal(err)
		}
		sides = append(sides, name)
	}
	if err := r.Switch(ctx, "main", repo.SwitchOptions{}); err != nil {
		t.Fatal(err)
	}
	second, err := mergeexec.Merge(ctx, r, sides, mergeexec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []struct {
		rev string
		acc string
	}{{first.String(), "0.75"}, {second.Commit.String(), "0.875"}} {
		m, err := governance.ParseMetric("accuracy", a.acc)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := governing.Attest(ctx, r, a.rev, governing.AttestOptions{Metrics: []governance.Metric{m}}); err != nil {
			t.Fatal(err)
		}
	}
	push(t, r, base+"/lab/model")

	url := base + "/lab/model/-/rounds"
	rp := getJSON[webui.RoundsPage](t, url, "")
	if rp.Branch != "main" || len(rp.Rounds) != 2 || rp.Rounds[0].Commit != first.String() || rp.Rounds[1].Commit != second.Commit.String() {
		t.Fatalf("rounds twin: %+v", rp)
	}
	want := [][]float64{{0.1, 0.3, 0.6}, {0.25, 0.75}}
	for i, rd := range rp.Rounds {
		if rd.Number != i+1 || rd.Strategy != "fedavg" || len(rd.Sides) != len(want[i]) {
			t.Fatalf("round %d: %+v", i+1, rd)
		}
		for j, s := range rd.Sides {
			if math.Abs(s.Weight-want[i][j]) > 1e-12 {
				t.Errorf("round %d side %d: weight %v, want %v", i+1, j, s.Weight, want[i][j])
			}
		}
		if len(rd.Attestations) != 1 {
			t.Errorf("round %d: attestations %+v", i+1, rd.Attestations)
		}
	}
	if len(rp.Contributors) != 1 || rp.Contributors[0].Updates != 5 || rp.Contributors[0].Share != 1 {
		t.Errorf("contributors: %+v", rp.Contributors)
	}
	code, page := get(t, url, "", "")
	if code != 200 {
		t.Fatalf("rounds page: %d", code)
	}
	if got := attrs(page, "data-round"); len(got) < 2 || got[len(got)-2] != "1" || got[len(got)-1] != "2" {
		t.Errorf("rounds on the page: %q", got)
	}
	chart := page[strings.Index(page, `data-metric="accuracy"`):]
	chart = chart[:strings.Index(chart, "</svg>")]
	if got := attrs(chart, "data-value"); strings.Join(got, " ") != "0.75 0.875" {
		t.Errorf("accuracy chart %q, want 0.75 0.875", got)
	}
	var weights []string
	for _, rd := range rp.Rounds {
		for _, s := range rd.Sides {
			weights = append(weights, strconv.FormatFloat(s.Weight, 'g', -1, 64))
		}
	}
	if got := attrs(page, "data-weight"); strings.Join(got, " ") != strings.Join(weights, " ") {
		t.Errorf("weights on the page %q, in the twin %q", got, weights)
	}
	if code, _ := get(t, url+"/nosuch", "", ""); code != 404 {
		t.Errorf("rounds of an absent branch: %d", code)
	}
	if _, err := transfer.Push(ctx, r, transfer.PushOptions{Branch: "s"}); err != nil {
		t.Fatal(err)
	}
	// s branched from round 1's merge: its line holds that round only
	if rp := getJSON[webui.RoundsPage](t, url+"/s", ""); len(rp.Rounds) != 1 || rp.Rounds[0].Commit != first.String() || rp.Branch != "s" {
		t.Errorf("rounds of branch s: %+v", rp.Rounds)
	}
}

// writeScaled writes a safetensors file of F32 tensors x (1000 values), y
// (10) and z (4000), drawn from one seed, each multiplied by its factor.
func writeScaled(t *testing.T, path string, fx, fy, fz float32) {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 5))
	var ts []safetensors.WriteTensor
	for _, tn := range []struct {
		name string
		n    int
		f    float32
	}{{"x", 1000, fx}, {"y", 10, fy}, {"z", 4000, fz}} {
		b := make([]byte, 4*tn.n)
		for i := 0; i < tn.n; i++ {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(rng.NormFloat64())*tn.f))
		}
		ts = append(ts, safetensors.WriteTensor{Info: codec.TensorInfo{Name: tn.name, DType: objects.F32, Shape: []uint64{uint64(tn.n)}}, Data: bytes.NewReader(b), Len: int64(len(b))})
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, nil, ts); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The compare page lists the tensors two revisions differ in, sorted by
// the L2 norm of the change, the relative change or the name as asked;
// the chart follows the order, and page and twin agree.
func TestComparePage(t *testing.T) {
	ctx := context.Background()
	base := startServer(t)
	t.Setenv("FED_CONFIG", filepath.Join(t.TempDir(), "userconfig"))
	r, err := repo.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r.Key = key(1)
	model := filepath.Join(r.Root, "m.safetensors")
	// x: relative change 0.1 over 1000 values, y: 2 over 10, z: 0.2 over
	// 4000; by L2 z (≈12.6), y (≈6.3), x (≈3.2); by relative change y, z, x
	for i, f := range [][3]float32{{1, 1, 1}, {1.1, 3, 1.2}} {
		writeScaled(t, model, f[0], f[1], f[2])
		if err := r.Add(ctx, []string{r.Root}, repo.AddOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Commit(ctx, repo.CommitOptions{Message: "v" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.CreateTag(ctx, "v1", "HEAD", repo.TagOptions{Message: "release <1>"}); err != nil {
		t.Fatal(err)
	}
	push(t, r, base+"/lab/cmp")
	if _, err := transfer.Push(ctx, r, transfer.PushOptions{Tag: "v1"}); err != nil {
		t.Fatal(err)
	}
	for sort, want := range map[string]string{"l2": "z y x", "rel": "y z x", "name": "x y z"} {
		url := base + "/lab/cmp/-/compare?from=main~1&to=main&sort=" + sort
		cp := getJSON[webui.ComparePage](t, url, "")
		var names []string
		for _, tr := range cp.Tensors {
			names = append(names, tr.Name)
		}
		if strings.Join(names, " ") != want || cp.Sort != sort || len(cp.Files) != 1 {
			t.Errorf("sort=%s: tensors %q, want %q (%+v)", sort, names, want, cp)
		}
		code, page := get(t, url, "", "")
		if code != 200 {
			t.Fatalf("sort=%s: %d", sort, code)
		}
		if got := attrs(page, "data-name"); strings.Join(got, " ") != want {
			t.Errorf("sort=%s: page lists %q, twin %q", sort, got, want)
		}
		chart := page[strings.Index(page, `data-chart="relative change"`):]
		chart = chart[:strings.Index(chart, "</svg>")]
		if labels := attrs(chart, "data-label"); strings.Join(labels, " ") != want {
			t.Errorf("sort=%s: chart bars %q", sort, labels)
		}
		if y := cp.Tensors[strings.Index(want, "y")/2]; y.RelChange == nil || math.Abs(*y.RelChange-2) > 1e-6 {
			t.Errorf("sort=%s: relative change of y %v, want 2", sort, y.RelChange)
		}
	}
	if code, _ := get(t, base+"/lab/cmp/-/compare?from=nosuch&to=main", "", ""); code != 404 {
		t.Errorf("compare with an absent revision: %d", code)
	}
	if code, _ := get(t, base+"/lab/cmp/-/compare?from=main&to=main&sort=size", "", ""); code != 400 {
		t.Errorf("compare with an unknown order: %d", code)
	}
	// a tag and an id name revisions too; nothing between a commit and itself
	if cp := getJSON[webui.ComparePage](t, base+"/lab/cmp/-/compare?from=v1&to=main", ""); len(cp.Tensors) != 0 || cp.FromID != cp.ToID {
		t.Errorf("v1..main: %+v", cp)
	}
	// the repository page peels the annotated tag to its commit
	rp := getJSON[webui.RepoPage](t, base+"/lab/cmp", "")
	if len(rp.Tags) != 1 || rp.Tags[0].Name != "v1" || rp.Tags[0].Commit != rp.Commits[0].ID {
		t.Errorf("tags %+v, head %s", rp.Tags, rp.Commits[0].ID)
	}
}

// What a push uploaded without publishing it (a refused or interrupted
// push) has no page, as the protocol serves it to nobody: a commit
// written into the repository's store beside a published one is 404 on
// the commit and compare pages, while its published parent shows.
func TestUnpublishedHidden(t *testing.T) {
	ctx := context.Background()
	base, files := startServerFiles(t)
	r, merge := fedRound(t)
	push(t, r, base+"/lab/model")
	hosted, err := files.Open(ctx, "lab/model")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := r.ReadCommit(ctx, merge)
	if err != nil {
		t.Fatal(err)
	}
	c := &objects.Commit{Tree: pc.Tree, Parents: []objects.ID{merge}, Time: pc.Time + 60, Message: "secret plans"}
	if err := objects.SignCommit(c, key(1)); err != nil {
		t.Fatal(err)
	}
	id, err := objects.Write(ctx, hosted.Objects(), c)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := hosted.Objects().Has(ctx, id); err != nil || !ok {
		t.Fatalf("the unpublished commit is not in the store: %v %v", ok, err)
	}
	for _, page := range []string{"/lab/model/-/commit/" + id.String(), "/lab/model/-/compare?from=main&to=" + id.String(),
		"/lab/model/-/compare?from=" + id.String()[:12] + "&to=main"} {
		code, body := get(t, base+page, "", "")
		if code != 404 || strings.Contains(body, "secret plans") {
			t.Errorf("%s: %d\n%s", page, code, body)
		}
	}
	if code, _ := get(t, base+"/lab/model/-/commit/"+merge.String(), "", ""); code != 200 {
		t.Errorf("the published merge: %d", code)
	}
}

// A commit with a proof held on the server shows the proof badge "held"
// (this server does not verify proofs); the others "none".
func TestProofBadge(t *testing.T) {
	ctx := context.Background()
	base := startServer(t)
	r, merge := fedRound(t)
	pid, err := objects.Write(ctx, r.Objects, &objects.Proof{Commit: merge, System: "test", Body: []byte("not checked here")})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Refs.Update(repo.ProofRef(merge), objects.ZeroID, pid, r.Entry("proof")); err != nil {
		t.Fatal(err)
	}
	push(t, r, base+"/lab/model")
	rp := getJSON[webui.RepoPage](t, base+"/lab/model", "")
	if len(rp.Commits) != 5 {
		t.Fatalf("commits: %+v", rp.Commits)
	}
	for _, c := range rp.Commits {
		want := "none"
		if c.ID == merge.String() {
			want = "held"
		}
		if c.Proof != want {
			t.Errorf("commit %s: proof %q, want %q", c.ID[:12], c.Proof, want)
		}
	}
	_, page := get(t, base+"/lab/model/-/commit/"+merge.String(), "", "")
	if !strings.Contains(page, `data-proof="held"`) {
		t.Errorf("the merge's page has no proof badge held")
	}
}

// The repository page renders the default branch's README.md below the
// refs with the Markdown subset, escaping raw HTML and leaving a link to
// a scheme other than http(s) as text; its twin carries the source.
func TestReadme(t *testing.T) {
	ctx := context.Background()
	base := startServer(t)
	r, _ := fedRound(t)
	src := "# Model card\n\nA *small* model with `fedavg` rounds.\n\n## Data\n\n- first <b>item</b>\n- see [the paper](https://example.org/p?a=1&b=2)\n- [bad](javascript:alert(1))\n\n<script>alert(\"readme\")</script>\n\n```\nfed clone <url>\n```\n"
	if err := os.WriteFile(filepath.Join(r.Root, "ReadMe.md"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(ctx, []string{filepath.Join(r.Root, "ReadMe.md")}, repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Commit(ctx, repo.CommitOptions{Message: "model card"}); err != nil {
		t.Fatal(err)
	}
	push(t, r, base+"/lab/model")
	rp := getJSON[webui.RepoPage](t, base+"/lab/model", "")
	if rp.Readme != src || rp.ReadmeName != "ReadMe.md" || rp.ReadmeSize != uint64(len(src)) || rp.ReadmeCut {
		t.Fatalf("twin's readme: %q %q %d %v", rp.ReadmeName, rp.Readme, rp.ReadmeSize, rp.ReadmeCut)
	}
	code, page := get(t, base+"/lab/model", "", "")
	if code != 200 {
		t.Fatalf("repository page: %d\n%s", code, page)
	}
	i, j := strings.Index(page, `<section id="readme"`), strings.Index(page, "</section>")
	if i < 0 || j < i || i < strings.Index(page, `id="branches"`) {
		t.Fatalf("no README section below the refs:\n%s", page)
	}
	sec := page[i:j]
	for _, want := range []string{
		"<h2>Model card</h2>", "<h3>Data</h3>", "<code>fedavg</code>",
		"<li>first &lt;b&gt;item&lt;/b&gt;</li>",
		`<a rel="nofollow noopener" href="https://example.org/p?a=1&amp;b=2">the paper</a>`,
		"<li>[bad](javascript:alert(1))</li>",
		"<p>&lt;script&gt;alert(&#34;readme&#34;)&lt;/script&gt;</p>",
		"<pre><code>fed clone &lt;url&gt;\n</code></pre>",
	} {
		if !strings.Contains(sec, want) {
			t.Errorf("README section lacks %q:\n%s", want, sec)
		}
	}
	if strings.Contains(sec, "<script") || strings.Contains(sec, "<b>") || strings.Contains(sec, `href="javascript`) {
		t.Errorf("README section passes raw HTML or a javascript: link:\n%s", sec)
	}

	// a README over the cap is named, not shown
	big := strings.Repeat("x", webui.ReadmeMax+1)
	if err := os.WriteFile(filepath.Join(r.Root, "ReadMe.md"), []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Commit(ctx, repo.CommitOptions{Message: "big card", All: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := transfer.Push(ctx, r, transfer.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	rp = getJSON[webui.RepoPage](t, base+"/lab/model", "")
	if rp.Readme != "" || !rp.ReadmeCut || rp.ReadmeSize != uint64(len(big)) {
		t.Fatalf("big README's twin: %d bytes of text, cut %v, size %d", len(rp.Readme), rp.ReadmeCut, rp.ReadmeSize)
	}
	if _, page = get(t, base+"/lab/model", "", ""); strings.Contains(page, "xxxxxxxx") || !strings.Contains(page, "more than this page shows") {
		t.Errorf("big README shown or not named")
	}
}

// A commit page details the proof held for the commit: its object and
// system, the kind and keys DescribeProof reads from it, and whether the
// server verified it; a proof DescribeProof cannot read says why.
func TestProofDetail(t *testing.T) {
	ctx := context.Background()
	base, _ := startServerOptions(t, webui.Options{ErrorLog: t.Logf, DescribeProof: func(ctx context.Context, st objects.Store, p *objects.Proof) (string, string, error) {
		if string(p.Body) == "unreadable" {
			return "", "", errors.New("truncated <body>")
		}
		return "merge", "development", nil
	}})
	r, merge, krum, baseID := fedRounds(t)
	var pids []objects.ID
	for _, c := range []struct {
		id   objects.ID
		body string
	}{{merge, "merge body"}, {krum, "unreadable"}} {
		pid, err := objects.Write(ctx, r.Objects, &objects.Proof{Commit: c.id, System: "test-system", Body: []byte(c.body)})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Refs.Update(repo.ProofRef(c.id), objects.ZeroID, pid, r.Entry("proof")); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	push(t, r, base+"/lab/model")
	if _, err := transfer.Push(ctx, r, transfer.PushOptions{Branch: "k"}); err != nil {
		t.Fatal(err)
	}
	url := base + "/lab/model/-/commit/" + merge.String()
	cp := getJSON[webui.CommitPage](t, url, "")
	want := webui.ProofDetail{ID: pids[0].String(), System: "test-system", Kind: "merge", Keys: "development"}
	if cp.ProofDetail == nil || *cp.ProofDetail != want {
		t.Fatalf("merge's proof detail %+v, want %+v", cp.ProofDetail, want)
	}
	_, page := get(t, url, "", "")
	if !strings.Contains(page, `<p id="proof" data-kind="merge" data-keys="development" data-verified="false">`) ||
		!strings.Contains(page, "development keys (whoever made them can forge proofs); not verified by this server") {
		t.Errorf("merge page's proof paragraph:\n%s", page)
	}
	cp = getJSON[webui.CommitPage](t, base+"/lab/model/-/commit/"+krum.String(), "")
	if cp.ProofDetail == nil || cp.ProofDetail.Kind != "" || cp.ProofDetail.Unreadable != "truncated <body>" {
		t.Fatalf("unreadable proof's detail %+v", cp.ProofDetail)
	}
	_, page = get(t, base+"/lab/model/-/commit/"+krum.String(), "", "")
	if !strings.Contains(page, "kind and keys unreadable: truncated &lt;body&gt;") {
		t.Errorf("krum page's proof paragraph:\n%s", page)
	}
	cp = getJSON[webui.CommitPage](t, base+"/lab/model/-/commit/"+baseID.String(), "")
	if cp.ProofDetail != nil {
		t.Errorf("a commit without proof has detail %+v", cp.ProofDetail)
	}
}

// The repository page draws the history as a graph: a merge names its
// sides (parents beyond the first) with their authors, and the lane
// column puts each side on a lane of its own, joined by the merge above
// and ending in the base below.
func TestHistoryGraph(t *testing.T) {
	base := startServer(t)
	r, merge := fedRound(t)
	push(t, r, base+"/lab/model")
	c, err := r.ReadCommit(context.Background(), merge)
	if err != nil {
		t.Fatal(err)
	}
	rp := getJSON[webui.RepoPage](t, base+"/lab/model", "")
	if len(rp.Commits) != 5 {
		t.Fatalf("commits: %+v", rp.Commits)
	}
	m := rp.Commits[0]
	k := key(1).Public().String()
	if m.ID != merge.String() || len(m.Sides) != 3 || m.Graph == nil || m.Graph.Lane != 0 {
		t.Fatalf("merge row %+v", m)
	}
	lanes := map[string]int{}
	for _, row := range rp.Commits {
		if row.Graph == nil {
			t.Fatalf("row %s without graph", row.ID)
		}
		lanes[row.ID] = row.Graph.Lane
	}
	seen := map[int]bool{}
	for i, s := range m.Sides {
		if s.ID != c.Parents[i+1].String() || s.Author != k || s.AuthorName == "" || s.URL != "/lab/model/-/commit/"+s.ID {
			t.Errorf("side %d: %+v, want parent %s", i, s, c.Parents[i+1])
		}
		l, ok := lanes[s.ID]
		if !ok || l == 0 || seen[l] {
			t.Errorf("side %s on lane %d (ok %v), lanes %v", s.ID[:12], l, ok, lanes)
		}
		seen[l] = true
	}
	if lanes[c.Parents[0].String()] != 0 || rp.Commits[4].ID != c.Parents[0].String() {
		t.Errorf("the base is not on the merge's lane: %v", lanes)
	}
	for _, row := range rp.Commits[1:] {
		if len(row.Sides) != 0 || len(row.Parents) != 1 && row.ID != rp.Commits[4].ID {
			t.Errorf("row %s: sides %+v", row.ID[:12], row.Sides)
		}
	}

	_, page := get(t, base+"/lab/model", "", "")
	var want []string
	for _, s := range m.Sides {
		want = append(want, s.ID)
	}
	if got := attrs(page, "data-side"); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("page links sides %q, want %q", got, want)
	}
	var wantLanes []string
	for _, row := range rp.Commits {
		wantLanes = append(wantLanes, strconv.Itoa(row.Graph.Lane))
	}
	if got := attrs(page, "data-lane"); strings.Join(got, " ") != strings.Join(wantLanes, " ") {
		t.Errorf("page's lanes %q, twin's %q", got, wantLanes)
	}
	// the merge's row: a line down its own lane, one to each side's lane
	row := page[strings.Index(page, `data-id="`+merge.String()+`"`):]
	row = row[:strings.Index(row, "</svg>")]
	for _, s := range m.Sides {
		x := strconv.Itoa(lanes[s.ID]*12 + 6)
		if !strings.Contains(row, `<line x1="6" y1="12" x2="`+x+`" y2="24"`) {
			t.Errorf("merge's row has no line to lane %d:\n%s", lanes[s.ID], row)
		}
	}
	// the base's row: the three side lanes end in it
	row = page[strings.Index(page, `data-id="`+rp.Commits[4].ID+`"`):]
	row = row[:strings.Index(row, "</svg>")]
	if n := strings.Count(row, `x2="6" y2="12"`); n != 4 {
		t.Errorf("base's row joins %d lines, want 4 (its lane and three sides):\n%s", n, row)
	}
}

// nftHosting is server.Files with NFT ownership on: every repository NFT
// is held by holder.
type nftHosting struct {
	*server.Files
	holder objects.PublicKey
}

type nftRepo struct {
	server.Repository
	holder objects.PublicKey
}

func (h nftHosting) Features() server.Features {
	f := h.Files.Features()
	f.NFTHolder = true
	return f
}

func (h nftHosting) Open(ctx context.Context, name string) (server.Repository, error) {
	r, err := h.Files.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return nftRepo{r, h.holder}, nil
}

func (h nftHosting) Create(ctx context.Context, name string, s repometa.Settings) (server.Repository, error) {
	r, err := h.Files.Create(ctx, name, s)
	if err != nil {
		return nil, err
	}
	return nftRepo{r, h.holder}, nil
}

func (r nftRepo) NFTHolder(context.Context, objects.PublicKey, objects.ID) (objects.PublicKey, error) {
	return r.holder, nil
}

// A repository linked to an NFT shows its holder as the owner, and the
// mint, on the server page and its own page.
func TestNFTHolderShown(t *testing.T) {
	ctx := context.Background()
	files, err := server.NewFiles(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	holder, mint := key(9).Public(), key(40).Public()
	s, err := server.New(server.Options{Root: t.TempDir(), Hosting: nftHosting{files, holder}, ErrorLog: t.Logf, Pages: webui.New(webui.Options{ErrorLog: t.Logf})})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	k1 := key(1).Public().String()
	if _, err := files.Create(ctx, "lab/model", repometa.Settings{Owner: k1, Public: true, Collaborators: []string{k1}, NFT: mint.String(), Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	r, _ := fedRound(t)
	push(t, r, ts.URL+"/lab/model")

	idx := getJSON[webui.IndexPage](t, ts.URL+"/", "")
	if len(idx.Repositories) != 1 || idx.Repositories[0].Owner != holder.String() || idx.Repositories[0].NFT != mint.String() {
		t.Fatalf("server page's twin: %+v", idx.Repositories)
	}
	rp := getJSON[webui.RepoPage](t, ts.URL+"/lab/model", "")
	if rp.Owner != holder.String() || rp.NFT != mint.String() {
		t.Fatalf("repository page's twin: owner %s, nft %s", rp.Owner, rp.NFT)
	}
	for _, url := range []string{ts.URL + "/", ts.URL + "/lab/model"} {
		_, page := get(t, url, "", "")
		if got := attrs(page, "data-nft"); len(got) != 1 || got[0] != mint.String() || !strings.Contains(page, `title="`+holder.String()+`"`) {
			t.Errorf("%s: nft %q, holder shown %v", url, got, strings.Contains(page, holder.String()))
		}
	}
	// without a link, no nft
	base := startServer(t)
	r2, _ := fedRound(t)
	push(t, r2, base+"/lab/plain")
	if idx := getJSON[webui.IndexPage](t, base+"/", ""); len(idx.Repositories) != 1 || idx.Repositories[0].NFT != "" {
		t.Errorf("unlinked repository's twin: %+v", idx.Repositories)
	}
}
