package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
)

func TestPushFetchRoundTrip(t *testing.T) {
	ctx := context.Background()
	ts := newServer(t, server.Options{})
	key := keyN(1)
	h := newHistory(t, key)
	c1, t1, ids1 := h.commit(objects.ZeroID, 6, 64<<10, 1, nil)
	c2, _, ids2 := h.commit(c1, 6, 64<<10, 2, t1) // deltas against c1's pieces
	url := ts.URL + "/alice/model"
	c := newClient(t, url, key, remote.Options{BatchBytes: 100 << 10})
	if err := push(ctx, c, h.store, ids1, "refs/heads/main", objects.ZeroID, c1, false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateRefs(ctx, []remote.RefUpdate{{Name: "refs/tags/v1", New: c1}}); err != nil {
		t.Fatal(err)
	}
	before := c.BytesSent()
	if err := push(ctx, c, h.store, ids2, "refs/heads/main", c1, c2, false); err != nil {
		t.Fatal(err)
	}
	deltaBytes := c.BytesSent() - before
	if deltaBytes > before/4 {
		t.Errorf("second push sent %d bytes, first %d: deltas should travel as deltas", deltaBytes, before)
	}
	// Fetch everything into an empty store: byte-identical canonical objects.
	dst, _ := objects.OpenDisk(t.TempDir())
	anon := newClient(t, url, nil, remote.Options{LargeObject: 128 << 10, BatchBytes: 100 << 10})
	list, err := anon.Refs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if list.Head != "refs/heads/main" || len(list.Refs) != 2 || list.Refs[0].ID != c2 || list.Refs[1].ID != c1 {
		t.Fatalf("refs = %+v", list)
	}
	plan, err := anon.Plan(ctx, remote.PlanRequest{Want: []objects.ID{c2}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := anon.FetchObjects(ctx, dst, plan); err != nil {
		t.Fatal(err)
	}
	for _, id := range append(ids1, ids2...) {
		a, err1 := h.store.Get(ctx, id)
		b, err2 := dst.Get(ctx, id)
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Fatalf("object %s differs after round trip: %v %v", id.Short(), err1, err2)
		}
	}
	// An incremental fetch with c1 in hand plans only c2's new objects,
	// and receives deltas.
	dst2, _ := objects.OpenDisk(t.TempDir())
	p1, err := anon.Plan(ctx, remote.PlanRequest{Want: []objects.ID{c1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := anon.FetchObjects(ctx, dst2, p1); err != nil {
		t.Fatal(err)
	}
	p2, err := anon.Plan(ctx, remote.PlanRequest{Want: []objects.ID{c2}, Have: []objects.ID{c1}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p2.Objects) != len(ids2) {
		t.Fatalf("incremental plan lists %d objects, want %d", len(p2.Objects), len(ids2))
	}
	got0 := anon.BytesReceived()
	if _, err := anon.FetchObjects(ctx, dst2, p2); err != nil {
		t.Fatal(err)
	}
	if n := anon.BytesReceived() - got0; n > deltaBytes*2 {
		t.Errorf("incremental fetch received %d bytes; the deltas are %d", n, deltaBytes)
	}
	rep, err := objects.Fsck(ctx, dst2, []objects.ID{c2}, objects.FsckOptions{})
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("fsck after incremental fetch: %v %v", err, rep.Problems)
	}
	// Depth 1 plans only the tip commit.
	p3, err := anon.Plan(ctx, remote.PlanRequest{Want: []objects.ID{c2}, Depth: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(p3.Shallow) != 1 || p3.Shallow[0] != c2 {
		t.Fatalf("depth-1 plan shallow = %v", p3.Shallow)
	}
	for _, o := range p3.Objects {
		if o.ID == c1 {
			t.Fatal("depth-1 plan includes the parent commit")
		}
	}
	// Deepening: c2 held without its ancestry (shallow) plans exactly the
	// objects of c1 that c2's tree does not share, c1 included, and not c2.
	p4, err := anon.Plan(ctx, remote.PlanRequest{Want: []objects.ID{c2}, Shallow: []objects.ID{c2}})
	if err != nil {
		t.Fatal(err)
	}
	inC2 := map[objects.ID]bool{}
	for _, o := range p3.Objects {
		inC2[o.ID] = true
	}
	wantDeepen := map[objects.ID]bool{}
	for _, o := range plan.Objects {
		if !inC2[o.ID] {
			wantDeepen[o.ID] = true
		}
	}
	got := map[objects.ID]bool{}
	for _, o := range p4.Objects {
		got[o.ID] = true
	}
	if len(got) != len(wantDeepen) || !got[c1] || got[c2] {
		t.Fatalf("deepening plan lists %d objects (c1 %v, c2 %v), want the %d of c1 beyond c2's", len(got), got[c1], got[c2], len(wantDeepen))
	}
	for id := range wantDeepen {
		if !got[id] {
			t.Fatalf("deepening plan lacks %s", id.Short())
		}
	}
	// Ranged GET resumes in the middle of an object.
	var whole, tail bytes.Buffer
	if _, err := anon.GetObject(ctx, t1.Pieces[0], 0, &whole); err != nil {
		t.Fatal(err)
	}
	if _, err := anon.GetObject(ctx, t1.Pieces[0], 1000, &tail); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(whole.Bytes()[1000:], tail.Bytes()) {
		t.Fatal("ranged GET returned other bytes")
	}
	// The object travels in its wire form: no checksum (the server's copy
	// has one), also for a range that starts before the encoding byte.
	if w := whole.Bytes(); len(w) < 3 || w[2]&0x80 != 0 {
		t.Fatalf("GET object sent the local checksum form (encoding byte %#x)", w[2])
	}
	if got, err := objects.DecodeStored(whole.Bytes()); err != nil || objects.Sum(got) != t1.Pieces[0] {
		t.Fatalf("GET object: %v", err)
	}
	var from1 bytes.Buffer
	if _, err := anon.GetObject(ctx, t1.Pieces[0], 1, &from1); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(whole.Bytes()[1:], from1.Bytes()) {
		t.Fatal("ranged GET from byte 1 returned other bytes")
	}
	// The push log holds both pushes with verifiable signatures.
	pl, err := c.PushLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.Entries) != 3 {
		t.Fatalf("push log has %d entries", len(pl.Entries))
	}
	host := strings.TrimPrefix(ts.URL, "http://")
	for _, e := range pl.Entries {
		text := remote.Statement("alice/model", host, key.Public(), e.Time, e.Updates)
		sig, err := remote.DecodeSignature(e.Signature)
		if err != nil || !objects.Verify(key.Public(), []byte(text), sig) || e.Pusher != key.Public().String() {
			t.Fatalf("push log entry %+v does not verify", e)
		}
	}
}

func TestLogin(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	ts := newServer(t, server.Options{Now: clock})
	key := keyN(1)
	addr := key.Public().String()
	challenge := func() remote.Challenge {
		var ch remote.Challenge
		if st, p := rawJSON(t, ts.URL, "POST", remote.PathPrefix+"login/challenge", "", remote.ChallengeRequest{Address: addr}, &ch); st != 200 {
			t.Fatalf("challenge: %d %v", st, p)
		}
		return ch
	}
	ch := challenge()
	m, err := remote.ParseSignInMessage(ch.Message)
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(ts.URL, "http://")
	if m.Domain != host || m.Address != addr || m.Nonce != ch.Nonce || m.URI != ts.URL || !m.IssuedAt.Equal(now) {
		t.Fatalf("challenge message %+v", m)
	}
	good := remote.LoginRequest{Address: addr, Nonce: ch.Nonce, Signature: objects.Base58(key.Sign([]byte(ch.Message)))}
	var lr remote.LoginResponse
	if st, p := rawJSON(t, ts.URL, "POST", remote.PathPrefix+"login", "", good, &lr); st != 200 {
		t.Fatalf("login: %d %v", st, p)
	}
	if st, p := rawJSON(t, ts.URL, "POST", remote.PathPrefix+"login", "", good, nil); st != 401 || p.Code != remote.CodeBadNonce {
		t.Fatalf("replayed login: %d %+v", st, p)
	}
	ch2 := challenge()
	other := keyN(2)
	wrong := remote.LoginRequest{Address: addr, Nonce: ch2.Nonce, Signature: objects.Base58(other.Sign([]byte(ch2.Message)))}
	if st, p := rawJSON(t, ts.URL, "POST", remote.PathPrefix+"login", "", wrong, nil); st != 401 || p.Code != remote.CodeBadSignature {
		t.Fatalf("wrongly signed login: %d %+v", st, p)
	}
	// The failed attempt used the nonce up.
	retry := remote.LoginRequest{Address: addr, Nonce: ch2.Nonce, Signature: objects.Base58(key.Sign([]byte(ch2.Message)))}
	if st, p := rawJSON(t, ts.URL, "POST", remote.PathPrefix+"login", "", retry, nil); st != 401 || p.Code != remote.CodeBadNonce {
		t.Fatalf("login with a burnt nonce: %d %+v", st, p)
	}
	ch3 := challenge()
	advance(6 * time.Minute)
	late := remote.LoginRequest{Address: addr, Nonce: ch3.Nonce, Signature: objects.Base58(key.Sign([]byte(ch3.Message)))}
	if st, p := rawJSON(t, ts.URL, "POST", remote.PathPrefix+"login", "", late, nil); st != 401 || p.Code != remote.CodeBadNonce {
		t.Fatalf("login with an expired nonce: %d %+v", st, p)
	}
	// The token works, then expires.
	if st, p, _ := raw(t, ts.URL, "POST", remote.RepoPath("a/b", "objects/missing"), lr.Token, remote.MediaJSON, []byte(`{"ids":[]}`)); st != 200 {
		t.Fatalf("request with token: %d %+v", st, p)
	}
	advance(2 * time.Hour)
	if st, p, _ := raw(t, ts.URL, "POST", remote.RepoPath("a/b", "objects/missing"), lr.Token, remote.MediaJSON, []byte(`{"ids":[]}`)); st != 401 || p.Code != remote.CodeTokenExpired {
		t.Fatalf("request with expired token: %d %+v", st, p)
	}
	// A client logs in again by itself.
	c := newClient(t, ts.URL+"/a/b", key, remote.Options{})
	if _, err := c.Missing(context.Background(), []objects.ID{objects.Sum(nil)}); err != nil {
		t.Fatal(err)
	}
}

// TestBadInput sends malformed, oversized, unauthenticated and forged
// requests; each gets its error and changes nothing.
func TestBadInput(t *testing.T) {
	ctx := context.Background()
	ts := newServer(t, server.Options{MaxRequestBytes: 1 << 20, MaxObjectSize: 256 << 10, MaxJSONBytes: 64 << 10})
	key := keyN(1)
	h := newHistory(t, key)
	c1, _, ids := h.commit(objects.ZeroID, 2, 16<<10, 1, nil)
	c := newClient(t, ts.URL+"/o/r", key, remote.Options{})
	if err := push(ctx, c, h.store, ids, "refs/heads/main", objects.ZeroID, c1, false); err != nil {
		t.Fatal(err)
	}
	c2, _, ids2 := h.commit(c1, 2, 16<<10, 2, nil)
	tok := login(t, ts.URL, key)
	stored := func(id objects.ID) []byte {
		b, err := h.store.GetStored(ctx, id, nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	stream := func(frames ...remote.Frame) []byte {
		var buf bytes.Buffer
		fw := remote.NewFrameWriter(&buf)
		for _, f := range frames {
			fw.WriteFrame(f.ID, f.Form, f.Payload)
		}
		fw.Close()
		return buf.Bytes()
	}
	canon, _ := h.store.Get(ctx, ids2[0])
	now := time.Now().UTC().Truncate(time.Second)
	updates := []remote.RefUpdate{{Name: "refs/heads/main", Old: c1, New: c2}}
	host := strings.TrimPrefix(ts.URL, "http://")
	wrongSig := objects.Base58(keyN(9).Sign([]byte(remote.Statement("o/r", host, key.Public(), now, updates))))
	otherRepoSig := objects.Base58(key.Sign([]byte(remote.Statement("o/other", host, key.Public(), now, updates))))
	goodSig := objects.Base58(key.Sign([]byte(remote.Statement("o/r", host, key.Public(), now, updates))))
	upd := func(sig string, u []remote.RefUpdate, at time.Time) []byte {
		b, _ := json.Marshal(remote.UpdateRequest{Updates: u, Time: at, Signature: sig})
		return b
	}
	big := bytes.Repeat([]byte{'x'}, 300<<10)
	bigID := objects.Sum(objects.EncodeChunk(big))
	manyIDs, _ := json.Marshal(remote.IDList{IDs: make([]objects.ID, remote.MaxBatch+1)})
	refsPath := remote.RepoPath("o/r", "refs")
	objPath := remote.RepoPath("o/r", "objects")
	cases := []struct {
		name, method, path, token, ctype string
		body                             []byte
		status                           int
		code                             string
	}{
		{"malformed json", "POST", remote.RepoPath("o/r", "objects/missing"), tok, remote.MediaJSON, []byte(`{"ids":[`), 400, remote.CodeBadRequest},
		{"trailing data", "POST", remote.RepoPath("o/r", "objects/missing"), tok, remote.MediaJSON, []byte(`{"ids":[]} {}`), 400, remote.CodeBadRequest},
		{"bad id", "POST", remote.RepoPath("o/r", "objects/missing"), tok, remote.MediaJSON, []byte(`{"ids":["xyz"]}`), 400, remote.CodeBadRequest},
		{"too many ids", "POST", remote.RepoPath("o/r", "objects/missing"), tok, remote.MediaJSON, manyIDs, 413, remote.CodeTooLarge},
		{"json body too large", "POST", remote.RepoPath("o/r", "objects/plan"), tok, remote.MediaJSON, append([]byte(`{"want":["`), bytes.Repeat([]byte("a"), 70<<10)...), 413, remote.CodeTooLarge},
		{"unauthenticated upload", "POST", objPath, "", remote.MediaObjects, stream(remote.Frame{ID: ids2[0], Form: 1, Payload: stored(ids2[0])}), 401, remote.CodeUnauthenticated},
		{"unauthenticated update", "POST", refsPath, "", remote.MediaJSON, upd(goodSig, updates, now), 401, remote.CodeUnauthenticated},
		{"forged token", "POST", refsPath, "deadbeef", remote.MediaJSON, upd(goodSig, updates, now), 401, remote.CodeTokenExpired},
		{"wrong hash stored", "POST", objPath, tok, remote.MediaObjects, stream(remote.Frame{ID: ids2[1], Form: 1, Payload: stored(ids2[0])}), 422, remote.CodeHashMismatch},
		{"wrong hash canonical", "POST", objPath, tok, remote.MediaObjects, stream(remote.Frame{ID: ids2[1], Form: 0, Payload: canon}), 422, remote.CodeHashMismatch},
		{"not an object", "POST", objPath, tok, remote.MediaObjects, stream(remote.Frame{ID: objects.Sum([]byte("junk")), Form: 0, Payload: []byte("junk")}), 422, remote.CodeBadObject},
		{"garbage stream", "POST", objPath, tok, remote.MediaObjects, []byte("not a stream at all"), 400, remote.CodeBadRequest},
		{"truncated stream", "POST", objPath, tok, remote.MediaObjects, stream(remote.Frame{ID: ids2[0], Form: 1, Payload: stored(ids2[0])})[:100], 400, remote.CodeBadRequest},
		{"object too large", "POST", objPath, tok, remote.MediaObjects, stream(remote.Frame{ID: bigID, Form: 0, Payload: objects.EncodeChunk(big)}), 413, remote.CodeTooLarge},
		{"request too large", "POST", objPath, tok, remote.MediaObjects, stream(slices.Repeat([]remote.Frame{{ID: ids[0], Form: 1, Payload: stored(ids[0])}}, 100)...), 413, remote.CodeTooLarge},
		{"wrong content type", "POST", objPath, tok, "text/plain", []byte("x"), 415, remote.CodeBadRequest},
		{"wrongly signed push", "POST", refsPath, tok, remote.MediaJSON, upd(wrongSig, updates, now), 401, remote.CodeBadSignature},
		{"statement of another repo", "POST", refsPath, tok, remote.MediaJSON, upd(otherRepoSig, updates, now), 401, remote.CodeBadSignature},
		{"stale statement", "POST", refsPath, tok, remote.MediaJSON, upd(objects.Base58(key.Sign([]byte(remote.Statement("o/r", host, key.Public(), now.Add(-time.Hour), updates)))), updates, now.Add(-time.Hour)), 401, remote.CodeBadSignature},
		{"incomplete push", "POST", refsPath, tok, remote.MediaJSON, upd(goodSig, updates, now), 422, remote.CodeIncomplete},
		{"bad ref name", "POST", refsPath, tok, remote.MediaJSON, upd(goodSig, []remote.RefUpdate{{Name: "refs/remotes/x/y", Old: c1, New: c2}}, now), 400, remote.CodeBadRequest},
		{"ref path trick", "POST", refsPath, tok, remote.MediaJSON, upd(goodSig, []remote.RefUpdate{{Name: "refs/heads/../../x", New: c2}}, now), 400, remote.CodeBadRequest},
		{"repo dotdot", "GET", remote.PathPrefix + "repos/o/../../etc/-/refs", "", "", nil, 400, remote.CodeBadRepoName},
		{"repo encoded dotdot", "GET", remote.PathPrefix + "repos/o/%2e%2e/x/-/refs", "", "", nil, 400, remote.CodeBadRepoName},
		{"repo absolute", "GET", remote.PathPrefix + "repos//etc/passwd/-/refs", "", "", nil, 400, remote.CodeBadRepoName},
		{"repo backslash", "GET", remote.PathPrefix + "repos/o/a%5cb/-/refs", "", "", nil, 400, remote.CodeBadRepoName},
		{"repo nul", "GET", remote.PathPrefix + "repos/o/a%00b/-/refs", "", "", nil, 400, remote.CodeBadRepoName},
		{"repo hidden", "POST", remote.PathPrefix + "repos/o/.git/-/objects/missing", tok, remote.MediaJSON, []byte(`{"ids":[]}`), 400, remote.CodeBadRepoName},
		{"repo inside another", "POST", remote.PathPrefix + "repos/o/r.fed/objects/-/objects/missing", tok, remote.MediaJSON, []byte(`{"ids":[]}`), 400, remote.CodeBadRepoName},
		{"no such repo", "GET", remote.RepoPath("o/none", "refs"), "", "", nil, 404, remote.CodeNotFound},
		{"other version path", "GET", "/fed/v2/info", "", "", nil, 404, remote.CodeBadVersion},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n0 := countObjects(t, ts.root, "o/r")
			st, p, _ := raw(t, ts.URL, tc.method, tc.path, tc.token, tc.ctype, tc.body)
			if st != tc.status || p == nil || p.Code != tc.code {
				t.Fatalf("got %d %+v, want %d %s", st, p, tc.status, tc.code)
			}
			if p.Type != remote.ProblemTypePrefix+p.Code || p.Title == "" || p.Status != st {
				t.Errorf("problem not in RFC 9457 shape: %+v", p)
			}
			if n := countObjects(t, ts.root, "o/r"); n != n0 {
				t.Errorf("objects went from %d to %d", n0, n)
			}
			list, err := c.Refs(ctx)
			if err != nil || len(list.Refs) != 1 || list.Refs[0].ID != c1 {
				t.Errorf("refs changed: %+v %v", list, err)
			}
		})
	}
	// A client of another protocol version fails clearly on both sides.
	req, _ := http.NewRequest("GET", ts.URL+remote.PathPrefix+"info", nil)
	req.Header.Set(remote.VersionHeader, "2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("version 2 request: %d", resp.StatusCode)
	}
	// The ids the incomplete push named are what is missing.
	var p *remote.Problem
	_, err = c.UpdateRefs(ctx, updates)
	if !errors.As(err, &p) || p.Code != remote.CodeIncomplete || len(p.Missing) == 0 || !errors.Is(err, remote.ErrIncomplete) {
		t.Fatalf("incomplete push: %v", err)
	}
}

func TestClientRejectsOtherVersion(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(remote.VersionHeader, "7")
		w.Header().Set("Content-Type", remote.MediaJSON)
		w.Write([]byte(`{"protocol":7}`))
	})
	ts := newServer(t, server.Options{})
	ts.Config.Handler = h
	c := newClient(t, ts.URL+"/a/b", nil, remote.Options{})
	_, err := c.Info(context.Background())
	if !errors.Is(err, remote.ErrVersion) || !strings.Contains(err.Error(), "protocol 7") {
		t.Fatalf("client against a version-7 server: %v", err)
	}
}

func TestAccess(t *testing.T) {
	ctx := context.Background()
	var proofCalls []objects.ID
	var mu sync.Mutex
	ts := newServer(t, withHooks(t, server.Options{}, hooks{RequireProofs: func(ctx context.Context, repo string, commit objects.ID) error {
		mu.Lock()
		defer mu.Unlock()
		proofCalls = append(proofCalls, commit)
		if repo != "own/m" {
			return fmt.Errorf("unexpected repo %s", repo)
		}
		return nil
	}}))
	owner, collab, stranger := keyN(1), keyN(2), keyN(3)
	url := ts.URL + "/own/m"
	h := newHistory(t, owner)
	c1, _, ids1 := h.commit(objects.ZeroID, 1, 4096, 1, nil)
	co := newClient(t, url, owner, remote.Options{})
	if err := push(ctx, co, h.store, ids1, "refs/heads/main", objects.ZeroID, c1, false); err != nil {
		t.Fatalf("first push creating the repository: %v", err)
	}
	s, err := co.Settings(ctx)
	if err != nil || s.Owner != owner.Public().String() || !s.Public {
		t.Fatalf("settings %+v %v", s, err)
	}
	// the collaborator's commit: a collaborator publishes commits it signed
	hc := &history{t: t, store: h.store, key: collab}
	c2, _, ids2 := hc.commit(c1, 1, 4096, 2, nil)
	cc := newClient(t, url, collab, remote.Options{})
	if err := push(ctx, cc, h.store, ids2, "refs/heads/main", c1, c2, false); !errors.Is(err, remote.ErrForbidden) {
		t.Fatalf("push by a non-collaborator: %v", err)
	}
	if err := cc.AddCollaborator(ctx, collab.Public()); !errors.Is(err, remote.ErrForbidden) {
		t.Fatalf("collaborator adding itself: %v", err)
	}
	if err := co.AddCollaborator(ctx, collab.Public()); err != nil {
		t.Fatal(err)
	}
	if l, err := co.Collaborators(ctx); err != nil || len(l) != 1 || l[0] != collab.Public().String() {
		t.Fatalf("collaborators %v %v", l, err)
	}
	if err := push(ctx, cc, h.store, ids2, "refs/heads/main", c1, c2, false); err != nil {
		t.Fatalf("push by a collaborator: %v", err)
	}
	// Forcing is the owner's: a rewind by the collaborator is refused.
	if _, err := cc.UpdateRefs(ctx, []remote.RefUpdate{{Name: "refs/heads/main", Old: c2, New: c1, Force: true}}); !errors.Is(err, remote.ErrForbidden) {
		t.Fatalf("forced push by a collaborator: %v", err)
	}
	if _, err := cc.UpdateRefs(ctx, []remote.RefUpdate{{Name: "refs/heads/main", Old: c2, New: c1}}); !errors.Is(err, remote.ErrNonFastForward) {
		t.Fatalf("rewind without force: %v", err)
	}
	if _, err := co.UpdateRefs(ctx, []remote.RefUpdate{{Name: "refs/heads/main", Old: c2, New: c1, Force: true}}); err != nil {
		t.Fatalf("forced push by the owner: %v", err)
	}
	// Protected branches: only the owner, and proofs are asked for.
	protected := []string{"refs/heads/main"}
	if _, err := co.UpdateSettings(ctx, remote.SettingsUpdate{Protected: &protected}); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.UpdateRefs(ctx, []remote.RefUpdate{{Name: "refs/heads/main", Old: c1, New: c2}}); !errors.Is(err, remote.ErrForbidden) {
		t.Fatalf("collaborator push to a protected branch: %v", err)
	}
	if _, err := cc.UpdateRefs(ctx, []remote.RefUpdate{{Name: "refs/heads/feature", New: c2}}); err != nil {
		t.Fatalf("collaborator push to another branch: %v", err)
	}
	mu.Lock()
	proofCalls = nil
	mu.Unlock()
	if _, err := co.UpdateRefs(ctx, []remote.RefUpdate{{Name: "refs/heads/main", Old: c1, New: c2}}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(proofCalls) != 1 || proofCalls[0] != c2 {
		t.Fatalf("RequireProofs calls %v, want [%s]", proofCalls, c2.Short())
	}
	mu.Unlock()
	// Private: anonymous readers must log in, strangers see nothing.
	priv := false
	if _, err := co.UpdateSettings(ctx, remote.SettingsUpdate{Public: &priv}); err != nil {
		t.Fatal(err)
	}
	anon := newClient(t, url, nil, remote.Options{})
	if _, err := anon.Refs(ctx); !errors.Is(err, remote.ErrUnauthorized) {
		t.Fatalf("anonymous read of a private repository: %v", err)
	}
	cs := newClient(t, url, stranger, remote.Options{})
	if _, err := cs.Refs(ctx); !errors.Is(err, remote.ErrNotFound) {
		t.Fatalf("stranger read of a private repository: %v", err)
	}
	if _, err := cc.Refs(ctx); err != nil {
		t.Fatalf("collaborator read of a private repository: %v", err)
	}
	if err := co.RemoveCollaborator(ctx, collab.Public()); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.Refs(ctx); !errors.Is(err, remote.ErrNotFound) {
		t.Fatalf("removed collaborator read: %v", err)
	}
	// Rejecting proofs refuses the push.
	ts2 := newServer(t, withHooks(t, server.Options{}, hooks{RequireProofs: func(context.Context, string, objects.ID) error { return errors.New("no proof") }}))
	co2 := newClient(t, ts2.URL+"/own/m", owner, remote.Options{})
	if err := push(ctx, co2, h.store, ids1, "refs/heads/dev", objects.ZeroID, c1, false); err != nil {
		t.Fatal(err)
	}
	if _, err := co2.UpdateSettings(ctx, remote.SettingsUpdate{Protected: &protected}); err != nil {
		t.Fatal(err)
	}
	var p *remote.Problem
	if _, err := co2.UpdateRefs(ctx, []remote.RefUpdate{{Name: "refs/heads/main", New: c1}}); !errors.As(err, &p) || p.Code != remote.CodeProofRequired {
		t.Fatalf("push without proof to a protected branch: %v", err)
	}
	// A server that does not create repositories.
	ts3 := newServer(t, server.Options{NoCreate: true})
	co3 := newClient(t, ts3.URL+"/own/m", owner, remote.Options{})
	if err := push(ctx, co3, h.store, ids1, "refs/heads/main", objects.ZeroID, c1, false); !errors.As(err, &p) || p.Code != remote.CodeNoCreate {
		t.Fatalf("push creating a repository on a NoCreate server: %v", err)
	}
}

// TestConcurrentPushers runs 100 clients that each try, a bounded number
// of times, to append a commit to the same branch by compare-and-swap.
func TestConcurrentPushers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ts := newServer(t, server.Options{Rate: 1e6, Burst: 1e6})
	owner := keyN(1)
	h := newHistory(t, owner)
	c0, _, ids := h.commit(objects.ZeroID, 1, 1024, 1, nil)
	url := ts.URL + "/load/test"
	co := newClient(t, url, owner, remote.Options{})
	if err := push(ctx, co, h.store, ids, "refs/heads/main", objects.ZeroID, c0, false); err != nil {
		t.Fatal(err)
	}
	base, _ := objects.ReadCommit(ctx, h.store, c0)
	const clients, attempts = 100, 4
	var (
		mu        sync.Mutex
		successes []objects.ID
		conflicts int
		requests  int
	)
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			key := keyN(byte(10 + i))
			if _, err := co.UpdateSettings(ctx, remote.SettingsUpdate{}); err != nil {
				t.Error(err)
				return
			}
			c := newClient(t, url, key, remote.Options{})
			mu.Lock()
			err := co.AddCollaborator(ctx, key.Public())
			mu.Unlock()
			if err != nil {
				t.Error(err)
				return
			}
			st, _ := objects.OpenDisk(t.TempDir())
			for a := 0; a < attempts; a++ {
				list, err := c.Refs(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				tip := list.Refs[0].ID
				cm := &objects.Commit{Tree: base.Tree, Parents: []objects.ID{tip}, Time: 1_700_000_000, Message: fmt.Sprintf("client %d attempt %d", i, a)}
				objects.SignCommit(cm, key)
				id, _ := objects.Write(ctx, st, cm)
				_, err = c.SendMissing(ctx, st, []objects.ID{id})
				if err == nil {
					_, err = c.UpdateRefs(ctx, []remote.RefUpdate{{Name: "refs/heads/main", Old: tip, New: id}})
				}
				mu.Lock()
				requests += 4
				var p *remote.Problem
				switch {
				case err == nil:
					successes = append(successes, id)
					mu.Unlock()
					return
				case errors.As(err, &p) && p.Code == remote.CodeStale && p.Current != nil && *p.Current != tip:
					conflicts++
					mu.Unlock()
				default:
					mu.Unlock()
					t.Errorf("client %d: %v", i, err)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// Every success is in the history, which is exactly the successes.
	list, _ := co.Refs(ctx)
	store, _ := objects.OpenDisk(ts.root + "/load/test.fed/objects")
	chain := map[objects.ID]bool{}
	for id := list.Refs[0].ID; id != c0; {
		chain[id] = true
		cm, err := objects.ReadCommit(ctx, store, id)
		if err != nil {
			t.Fatal(err)
		}
		id = cm.Parents[0]
	}
	if len(chain) != len(successes) {
		t.Fatalf("history has %d commits, %d pushes succeeded", len(chain), len(successes))
	}
	for _, id := range successes {
		if !chain[id] {
			t.Fatalf("successful push %s is not in the history", id.Short())
		}
	}
	if len(successes) < attempts || conflicts == 0 {
		t.Fatalf("%d successes, %d conflicts", len(successes), conflicts)
	}
	t.Logf("%d clients: %d successes, %d conflicts, %d requests", clients, len(successes), conflicts, requests)
	// The server's reflog agrees.
	rs, _ := refs.Open(ts.root + "/load/test.fed")
	log, _ := rs.Reflog("refs/heads/main")
	if len(log) != len(successes)+1 {
		t.Fatalf("reflog has %d entries, want %d", len(log), len(successes)+1)
	}
}

func TestGCCollectsUnreferencedUploads(t *testing.T) {
	ctx := context.Background()
	ts := newServer(t, server.Options{GCGrace: time.Nanosecond})
	key := keyN(1)
	h := newHistory(t, key)
	c1, _, ids1 := h.commit(objects.ZeroID, 2, 4096, 1, nil)
	_, _, ids2 := h.commit(c1, 2, 4096, 2, nil)
	c := newClient(t, ts.URL+"/g/c", key, remote.Options{})
	if err := push(ctx, c, h.store, ids1, "refs/heads/main", objects.ZeroID, c1, false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendMissing(ctx, h.store, ids2); err != nil { // never referenced
		t.Fatal(err)
	}
	if n := countObjects(t, ts.root, "g/c"); n != len(ids1)+len(ids2) {
		t.Fatalf("%d objects before gc", n)
	}
	time.Sleep(10 * time.Millisecond)
	res, err := ts.srv.GC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Repo != "g/c" || res[0].Report.Removed != len(ids2) {
		t.Fatalf("gc results %+v", res)
	}
	if n := countObjects(t, ts.root, "g/c"); n != len(ids1) {
		t.Fatalf("%d objects after gc, want %d", n, len(ids1))
	}
}

func TestRateLimit(t *testing.T) {
	ts := newServer(t, server.Options{Rate: 20, Burst: 2})
	st, _, _ := raw(t, ts.URL, "GET", remote.PathPrefix+"info", "", "", nil)
	st2, _, _ := raw(t, ts.URL, "GET", remote.PathPrefix+"info", "", "", nil)
	st3, p, _ := raw(t, ts.URL, "GET", remote.PathPrefix+"info", "", "", nil)
	if st != 200 || st2 != 200 || st3 != 429 || p.Code != remote.CodeRateLimited {
		t.Fatalf("statuses %d %d %d %+v", st, st2, st3, p)
	}
	// The client backs off and gets through.
	c := newClient(t, ts.URL+"/a/b", nil, remote.Options{RetryMax: 200 * time.Millisecond})
	for i := 0; i < 5; i++ {
		if _, err := c.Info(context.Background()); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
}
