package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
)

// syncBuffer is a log destination safe for concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestHealthAndReady(t *testing.T) {
	ts := newServer(t, server.Options{})
	if st, _, body := get(t, ts.URL+"/healthz"); st != 200 || body != "ok\n" {
		t.Errorf("healthz: %d %q", st, body)
	}
	if st, _, body := get(t, ts.URL+"/readyz"); st != 200 || body != "ready\n" {
		t.Errorf("readyz: %d %q", st, body)
	}
	// Storage gone: not ready, but still alive.
	if err := os.RemoveAll(ts.root); err != nil {
		t.Fatal(err)
	}
	// (an answer is reused for up to a second)
	st, h, body := get(t, ts.URL+"/readyz")
	for deadline := time.Now().Add(5 * time.Second); st == 200 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		st, h, body = get(t, ts.URL+"/readyz")
	}
	if st != 503 || h.Get("Content-Type") != remote.MediaProblem || !strings.Contains(body, remote.CodeUnavailable) || h.Get("Retry-After") == "" {
		t.Errorf("readyz without storage: %d %v %q", st, h, body)
	}
	if strings.Contains(body, ts.root) {
		t.Errorf("readyz tells anyone the root directory: %q", body)
	}
	if st, _, _ := get(t, ts.URL+"/healthz"); st != 200 {
		t.Errorf("healthz without storage: %d", st)
	}
}

// TestAccessLog pushes as a signed-in key and checks the request's log
// line: its fields, the id the response names, and no token or signature
// anywhere in the log.
func TestAccessLog(t *testing.T) {
	ctx := context.Background()
	var buf syncBuffer
	ts := newServer(t, server.Options{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	key := keyN(1)
	h := newHistory(t, key)
	c1, _, ids := h.commit(objects.ZeroID, 2, 4<<10, 1, nil)
	c := newClient(t, ts.URL+"/alice/model", key, remote.Options{})
	if err := push(ctx, c, h.store, ids, "refs/heads/main", objects.ZeroID, c1, false); err != nil {
		t.Fatal(err)
	}
	// A login and a request by hand, to know the secrets that must not
	// be logged.
	var ch remote.Challenge
	if st, p := rawJSON(t, ts.URL, "POST", remote.PathPrefix+"login/challenge", "", remote.ChallengeRequest{Address: key.Public().String()}, &ch); st != 200 {
		t.Fatalf("challenge: %d %+v", st, p)
	}
	sig := objects.Base58(key.Sign([]byte(ch.Message)))
	var lr remote.LoginResponse
	if st, p := rawJSON(t, ts.URL, "POST", remote.PathPrefix+"login", "", remote.LoginRequest{Address: key.Public().String(), Nonce: ch.Nonce, Signature: sig}, &lr); st != 200 {
		t.Fatalf("login: %d %+v", st, p)
	}
	req, _ := http.NewRequest("GET", ts.URL+remote.PathPrefix+"repos/alice/model/-/refs", nil)
	req.Header.Set("Authorization", "Bearer "+lr.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	id := resp.Header.Get(server.RequestIDHeader)
	if resp.StatusCode != 200 || id == "" {
		t.Fatalf("refs: %d, request id %q", resp.StatusCode, id)
	}

	log := buf.String()
	for _, secret := range []string{lr.Token, sig, ch.Nonce} {
		if strings.Contains(log, secret) {
			t.Errorf("log holds a secret %q:\n%s", secret, log)
		}
	}
	var line, pushLine map[string]any
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if m["id"] == id {
			line = m
		}
		if m["method"] == "POST" && m["route"] == "repos/{repo}/-/refs" {
			pushLine = m
		}
	}
	if line == nil {
		t.Fatalf("no log line with request id %s:\n%s", id, log)
	}
	want := map[string]any{
		"msg": "request", "level": "INFO", "method": "GET", "route": "repos/{repo}/-/refs",
		"repo": "alice/model", "key": key.Public().String(), "status": float64(200), "bytes_out": float64(n),
	}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("log field %s = %v, want %v (line %v)", k, line[k], v, line)
		}
	}
	for _, k := range []string{"time", "duration", "bytes_in", "remote"} {
		if _, ok := line[k]; !ok {
			t.Errorf("log line without %s: %v", k, line)
		}
	}
	if pushLine == nil || pushLine["key"] != key.Public().String() || pushLine["bytes_in"].(float64) <= 0 {
		t.Errorf("push's ref update logged as %v", pushLine)
	}
}

// metricValue returns the value of the sample of metric name whose
// labels include every one of labels ("k=\"v\"" each); -1 when absent.
func metricValue(t *testing.T, body, name string, labels ...string) float64 {
	t.Helper()
	for _, l := range strings.Split(body, "\n") {
		series, val, ok := strings.Cut(l, " ")
		if !ok || !(series == name || strings.HasPrefix(series, name+"{")) {
			continue
		}
		all := true
		for _, lb := range labels {
			all = all && strings.Contains(series, lb)
		}
		if all {
			v, err := strconv.ParseFloat(val, 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", l, err)
			}
			return v
		}
	}
	return -1
}

// TestMetrics scrapes /metrics of a server on loopback after a push, a
// fetch, a conflict and a rate-limited request.
func TestMetrics(t *testing.T) {
	ctx := context.Background()
	ts := newServer(t, server.Options{Rate: 1000, Burst: 1000})
	_, _, before := get(t, ts.URL+"/metrics")
	if v := metricValue(t, before, "fed_objects_stored_total"); v != 0 {
		t.Fatalf("objects stored before any push = %v", v)
	}
	key := keyN(1)
	h := newHistory(t, key)
	c1, _, ids := h.commit(objects.ZeroID, 3, 4<<10, 1, nil)
	c := newClient(t, ts.URL+"/alice/model", key, remote.Options{})
	if err := push(ctx, c, h.store, ids, "refs/heads/main", objects.ZeroID, c1, false); err != nil {
		t.Fatal(err)
	}
	// A stale update: a conflict.
	c2, _, ids2 := h.commit(c1, 1, 4<<10, 2, nil)
	if _, err := c.SendMissing(ctx, h.store, ids2); err != nil {
		t.Fatal(err)
	}
	ids = append(ids, ids2...)
	if _, err := c.UpdateRefs(ctx, []remote.RefUpdate{{Name: "refs/heads/main", Old: objects.ZeroID, New: c2}}); err == nil {
		t.Fatal("stale update accepted")
	}
	anon := newClient(t, ts.URL+"/alice/model", nil, remote.Options{})
	if _, err := anon.Refs(ctx); err != nil {
		t.Fatal(err)
	}
	st, hd, body := get(t, ts.URL+"/metrics")
	if st != 200 || !strings.HasPrefix(hd.Get("Content-Type"), "text/plain") {
		t.Fatalf("metrics: %d %v", st, hd)
	}
	checks := []struct {
		name   string
		labels []string
		min    float64
	}{
		{"fed_objects_stored_total", nil, float64(len(ids))},
		{"fed_http_requests_total", []string{`route="repos/{repo}/-/refs"`, `method="POST"`, `status="200"`}, 1},
		{"fed_http_requests_total", []string{`route="repos/{repo}/-/refs"`, `method="POST"`, `status="409"`}, 1},
		{"fed_http_requests_total", []string{`route="repos/{repo}/-/refs"`, `method="GET"`, `status="200"`}, 1},
		{"fed_ref_update_conflicts_total", []string{`code="stale-ref"`}, 1},
		{"fed_http_request_bytes_total", []string{`route="repos/{repo}/-/objects"`}, 3 * 4 << 10},
		{"fed_http_response_bytes_total", []string{`route="repos/{repo}/-/refs"`}, 1},
		{"fed_push_duration_seconds_count", []string{`route="repos/{repo}/-/objects"`}, 1},
		{"fed_fetch_duration_seconds_count", []string{`route="repos/{repo}/-/refs"`}, 1},
		{"fed_prove_queue_length", nil, 0},
	}
	for _, ck := range checks {
		if v := metricValue(t, body, ck.name, ck.labels...); v < ck.min {
			t.Errorf("%s%v = %v, want at least %v", ck.name, ck.labels, v, ck.min)
		}
	}
	if v := metricValue(t, body, "fed_objects_stored_total"); v != float64(len(ids)) {
		t.Errorf("objects stored = %v, want %d", v, len(ids))
	}
	if strings.Contains(body, "alice") || strings.Contains(body, key.Public().String()) {
		t.Error("metrics name a repository or a key")
	}
}

func TestMetricsRateLimited(t *testing.T) {
	ts := newServer(t, server.Options{Rate: 0.01, Burst: 1})
	statuses := ""
	for i := 0; i < 3; i++ {
		st, _, _ := get(t, ts.URL+remote.PathPrefix+"info")
		statuses += strconv.Itoa(st) + " "
	}
	if statuses != "200 429 429 " {
		t.Fatalf("statuses %s", statuses)
	}
	_, _, body := get(t, ts.URL+"/metrics") // not rate limited itself
	if v := metricValue(t, body, "fed_rate_limited_total"); v != 2 {
		t.Errorf("rate-limited = %v, want 2", v)
	}
}

// TestGCEvent: Serve's periodic collection logs what it removed.
func TestGCEvent(t *testing.T) {
	var buf syncBuffer
	addr, stop := serve(t, server.Options{Logger: slog.New(slog.NewJSONHandler(&buf, nil)), GCGrace: time.Nanosecond, GCInterval: 50 * time.Millisecond})
	key := keyN(1)
	h := newHistory(t, key)
	_, _, ids := h.commit(objects.ZeroID, 2, 4<<10, 1, nil)
	c := newClient(t, "http://"+addr+"/alice/model", key, remote.Options{})
	if _, err := c.SendMissing(context.Background(), h.store, ids); err != nil {
		t.Fatal(err)
	}
	// Collections may run during the upload: count over every event.
	removed := func() int {
		n := 0
		for _, l := range strings.Split(buf.String(), "\n") {
			var ev struct {
				Msg, Repo string
				Removed   int
			}
			if json.Unmarshal([]byte(l), &ev) == nil && ev.Msg == "gc" && ev.Repo == "alice/model" {
				n += ev.Removed
			}
		}
		return n
	}
	deadline := time.Now().Add(10 * time.Second)
	for removed() < len(ids) {
		if time.Now().After(deadline) {
			t.Fatalf("no gc event for %d unreferenced objects:\n%s", len(ids), buf.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
