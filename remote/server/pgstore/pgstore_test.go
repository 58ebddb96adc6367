package pgstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fed-vcs/fed/internal/testpg"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
	"github.com/fed-vcs/fed/remote/server/pgstore"
	"github.com/fed-vcs/fed/remote/server/sessionstest"
)

// open opens url and brings its schema up to date; closed at the end.
func open(t testing.TB, url string) *pgstore.DB {
	t.Helper()
	db, err := pgstore.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if _, _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestMigrationsNumbered(t *testing.T) {
	if pgstore.Latest() < 1 {
		t.Fatalf("Latest %d", pgstore.Latest())
	}
	for i, m := range pgstore.Migrations() {
		if m.Version != i+1 || m.Description == "" || strings.TrimSpace(m.SQL) == "" {
			t.Errorf("migration at %d: version %d, %q", i, m.Version, m.Description)
		}
	}
}

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	url := testpg.DB(t)
	db, err := pgstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CheckSchema(ctx); !errors.Is(err, pgstore.ErrSchemaOlder) || !strings.Contains(err.Error(), "fed serve --migrate") {
		t.Fatalf("empty database: %v", err)
	}
	// Replicas starting together: each migration applied once.
	var wg sync.WaitGroup
	froms := make(chan int, 6)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := pgstore.Open(ctx, url)
			if err != nil {
				t.Error(err)
				return
			}
			defer d.Close()
			from, to, err := d.Migrate(ctx)
			if err != nil || to != pgstore.Latest() {
				t.Errorf("concurrent migrate: %d -> %d, %v", from, to, err)
			}
			froms <- from
		}()
	}
	wg.Wait()
	close(froms)
	zero := 0
	for f := range froms {
		if f == 0 {
			zero++
		}
	}
	if zero != 1 {
		t.Errorf("%d of 6 concurrent Migrate calls started from version 0, want 1", zero)
	}
	if v, err := db.Version(ctx); err != nil || v != pgstore.Latest() {
		t.Fatalf("version %d, %v", v, err)
	}
	if err := db.CheckSchema(ctx); err != nil {
		t.Fatal(err)
	}
	if from, to, err := db.Migrate(ctx); err != nil || from != pgstore.Latest() || to != from {
		t.Fatalf("second migrate: %d -> %d, %v", from, to, err)
	}
	// A newer fed migrated the database: this one refuses, naming both.
	newer := pgstore.Latest() + 1
	if _, err := db.Exec(ctx, `INSERT INTO fed_schema (version, description) VALUES ($1, 'from the future')`, newer); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("version %d, this fed knows up to %d", newer, pgstore.Latest())
	if _, _, err := db.Migrate(ctx); !errors.Is(err, pgstore.ErrSchemaNewer) || !strings.Contains(err.Error(), want) {
		t.Fatalf("migrate a newer schema: %v", err)
	}
	if err := db.CheckSchema(ctx); !errors.Is(err, pgstore.ErrSchemaNewer) || !strings.Contains(err.Error(), want) {
		t.Fatalf("check a newer schema: %v", err)
	}
}

func TestOpenBadURL(t *testing.T) {
	_, err := pgstore.Open(context.Background(), "postgres://fed:s3cret@127.0.0.1:99999999/x")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("bad URL: %v", err)
	}
}

func TestSessions(t *testing.T) {
	sessionstest.Run(t, func(t *testing.T) (server.SessionStore, server.SessionStore) {
		url := testpg.DB(t)
		return open(t, url).Sessions(), open(t, url).Sessions()
	})
}

// replica is one fed serve handler on the shared database.
func replica(t *testing.T, url string) *httptest.Server {
	t.Helper()
	s, err := server.New(server.Options{Root: t.TempDir(), Sessions: open(t, url).Sessions()})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts
}

func post(t *testing.T, base, path, token string, in, out any) (int, *remote.Problem, http.Header) {
	t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("POST", base+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(remote.VersionHeader, strconv.Itoa(remote.Version))
	req.Header.Set("Content-Type", remote.MediaJSON)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		p := &remote.Problem{}
		if err := json.Unmarshal(body, p); err != nil {
			t.Fatalf("%s %s: %d %s", base, path, resp.StatusCode, body)
		}
		return resp.StatusCode, p, resp.Header
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, nil, resp.Header
}

func challenge(t *testing.T, base string, key *objects.Keypair) remote.Challenge {
	t.Helper()
	var ch remote.Challenge
	if st, p, _ := post(t, base, remote.PathPrefix+"login/challenge", "", remote.ChallengeRequest{Address: key.Public().String()}, &ch); st != 200 {
		t.Fatalf("challenge at %s: %d %+v", base, st, p)
	}
	return ch
}

func signed(key *objects.Keypair, ch remote.Challenge) remote.LoginRequest {
	return remote.LoginRequest{Address: key.Public().String(), Nonce: ch.Nonce, Signature: objects.Base58(key.Sign([]byte(ch.Message)))}
}

var missingBody = remote.IDList{IDs: []objects.ID{}}

// TestTwoReplicasShareSignIn: a nonce issued by one replica is redeemed
// at the other, once; a token issued by one works at both.
func TestTwoReplicasShareSignIn(t *testing.T) {
	url := testpg.DB(t)
	a, b := replica(t, url), replica(t, url)
	key := objects.KeypairFromSeed(bytes.Repeat([]byte{7}, 32))

	ch := challenge(t, a.URL, key)
	var lr remote.LoginResponse
	if st, p, _ := post(t, b.URL, remote.PathPrefix+"login", "", signed(key, ch), &lr); st != 200 {
		t.Fatalf("login at B with A's nonce: %d %+v", st, p)
	}
	for _, r := range []*httptest.Server{a, b} {
		if st, p, _ := post(t, r.URL, remote.RepoPath("o/r", "objects/missing"), lr.Token, missingBody, nil); st != 200 {
			t.Fatalf("B's token at %s: %d %+v", r.URL, st, p)
		}
	}
	// Replays of the used nonce, at either replica, are refused.
	for _, r := range []*httptest.Server{a, b} {
		if st, p, _ := post(t, r.URL, remote.PathPrefix+"login", "", signed(key, ch), nil); st != 401 || p.Code != remote.CodeBadNonce {
			t.Fatalf("replayed nonce at %s: %d %+v", r.URL, st, p)
		}
	}
	// Racing logins with one nonce at both replicas: one token.
	ch2 := challenge(t, b.URL, key)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range 10 {
		r := a
		if i%2 == 1 {
			r = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if st, _, _ := post(t, r.URL, remote.PathPrefix+"login", "", signed(key, ch2), nil); st == 200 {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("one nonce gave %d tokens across two replicas, want 1", wins)
	}
	// A made-up token is refused by both.
	for _, r := range []*httptest.Server{a, b} {
		if st, p, _ := post(t, r.URL, remote.RepoPath("o/r", "objects/missing"), strings.Repeat("ab", 32), missingBody, nil); st != 401 || p.Code != remote.CodeTokenExpired {
			t.Fatalf("made-up token at %s: %d %+v", r.URL, st, p)
		}
	}
}

// TestDatabaseDown: while PostgreSQL is stopped, sign-in and requests
// whose token the replica has not seen answer 503 with Retry-After; they
// succeed once it is back, with the sessions it held.
func TestDatabaseDown(t *testing.T) {
	c := testpg.Start(t)
	url := c.CreateDB(t, "fed")
	a, b := replica(t, url), replica(t, url)
	key := objects.KeypairFromSeed(bytes.Repeat([]byte{8}, 32))
	var lr remote.LoginResponse
	if st, p, _ := post(t, a.URL, remote.PathPrefix+"login", "", signed(key, challenge(t, a.URL, key)), &lr); st != 200 {
		t.Fatalf("login: %d %+v", st, p)
	}
	c.Stop(t)
	for _, tc := range []struct {
		base, path, token string
		body              any
	}{
		{a.URL, remote.PathPrefix + "login/challenge", "", remote.ChallengeRequest{Address: key.Public().String()}},
		{b.URL, remote.PathPrefix + "login", "", signed(key, remote.Challenge{Nonce: "ab", Message: "x"})},
		{b.URL, remote.RepoPath("o/r", "objects/missing"), lr.Token, missingBody},
	} {
		st, p, h := post(t, tc.base, tc.path, tc.token, tc.body, nil)
		if st != 503 || p.Code != remote.CodeUnavailable || h.Get("Retry-After") == "" {
			t.Fatalf("%s with the database down: %d %+v (Retry-After %q)", tc.path, st, p, h.Get("Retry-After"))
		}
	}
	c.Restart(t)
	if st, p, _ := post(t, b.URL, remote.RepoPath("o/r", "objects/missing"), lr.Token, missingBody, nil); st != 200 {
		t.Fatalf("token after the restart: %d %+v", st, p)
	}
	if st, p, _ := post(t, b.URL, remote.PathPrefix+"login", "", signed(key, challenge(t, a.URL, key)), nil); st != 200 {
		t.Fatalf("login after the restart: %d %+v", st, p)
	}
}

// TestTokensStoredHashed: the database holds a token's SHA-256, never the
// token.
func TestTokensStoredHashed(t *testing.T) {
	ctx := context.Background()
	url := testpg.DB(t)
	db := open(t, url)
	key := objects.KeypairFromSeed(bytes.Repeat([]byte{9}, 32)).Public()
	token := strings.Repeat("5e", 32)
	exp := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := db.Sessions().AddSession(ctx, token, server.Session{Key: key, Expires: exp}, exp.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Rows(ctx, "fed_sessions")
	if err != nil || len(rows) != 1 {
		t.Fatalf("rows %q, %v", rows, err)
	}
	sum := sha256.Sum256([]byte(token))
	if strings.Contains(rows[0], token) || !strings.Contains(rows[0], hex.EncodeToString(sum[:])) || !strings.Contains(rows[0], key.String()) {
		t.Fatalf("stored session %s: want the token's SHA-256 and the key, not the token", rows[0])
	}
	// Another replica finds it by the token.
	if s, ok, err := open(t, url).Sessions().Session(ctx, token, exp.Add(-time.Minute)); err != nil || !ok || s.Key != key {
		t.Fatalf("session: %+v %v %v", s, ok, err)
	}
}

func TestPoolSize(t *testing.T) {
	ctx := context.Background()
	for url, want := range map[string]int32{
		"postgres://fed@127.0.0.1:5432/fed":                  pgstore.DefaultMaxConns,
		"postgres://fed@127.0.0.1:5432/fed?pool_max_conns=3": 3,
	} {
		db, err := pgstore.Open(ctx, url) // does not connect
		if err != nil {
			t.Fatal(err)
		}
		if got := db.MaxConns(); got != want {
			t.Errorf("%s: %d connections at most, want %d", url, got, want)
		}
		db.Close()
	}
}
