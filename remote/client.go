package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fed-vcs/fed/objects"
)

// Progress receives byte counts of transfers (the same methods as
// repo.Progress, so a repo.Progress can be passed as is).
type Progress interface {
	Start(label string, total int64, unit string)
	Add(n int64)
	Done()
}

type noProgress struct{}

func (noProgress) Start(string, int64, string) {}
func (noProgress) Add(int64)                   {}
func (noProgress) Done()                       {}

// Options tune a Client.
type Options struct {
	// HTTPClient sends the requests; nil: a client with its own transport.
	HTTPClient *http.Client
	// Key signs logins and pushes; nil: anonymous (reads of public
	// repositories only).
	Key *objects.Keypair
	// Streams is how many transfers run in parallel (default 4).
	Streams int
	// BatchBytes is the target payload of one upload or download request
	// (default 32 MiB); larger objects go alone.
	BatchBytes int64
	// LargeObject is the stored size from which downloads use ranged GETs
	// that resume where they stopped (default 16 MiB).
	LargeObject int64
	// MaxRetries bounds how often a retryable failure (429, 5xx, a broken
	// connection) is retried (default 5; negative: never).
	MaxRetries int
	// RetryBase and RetryMax bound the exponential backoff between
	// retries (defaults 100ms and 5s).
	RetryBase, RetryMax time.Duration
	// Progress receives transfer progress; nil: none.
	Progress Progress
}

// Validate checks the options and fills in defaults.
func (o *Options) Validate() error {
	if o.Streams < 0 || o.BatchBytes < 0 || o.LargeObject < 0 || o.RetryBase < 0 || o.RetryMax < 0 {
		return fmt.Errorf("remote: negative option")
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     90 * time.Second,
			WriteBufferSize:     256 << 10,
			ReadBufferSize:      256 << 10,
		}}
	}
	if o.Streams == 0 {
		o.Streams = 4
	}
	if o.BatchBytes == 0 {
		o.BatchBytes = 32 << 20
	}
	if o.LargeObject == 0 {
		o.LargeObject = 16 << 20
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 5
	}
	if o.RetryBase == 0 {
		o.RetryBase = 100 * time.Millisecond
	}
	if o.RetryMax == 0 {
		o.RetryMax = 5 * time.Second
	}
	if o.Progress == nil {
		o.Progress = noProgress{}
	}
	return nil
}

// Client talks to one repository on a fed server. It is safe for
// concurrent use.
type Client struct {
	base *url.URL // scheme and host
	repo string
	opts Options

	mu       sync.Mutex
	token    string
	tokenExp time.Time

	sent, received atomic.Int64
}

// ParseURL splits a repository URL, http(s)://host[:port]/<name>, into
// the server's base URL and the repository name.
func ParseURL(raw string) (base *url.URL, repo string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, "", fmt.Errorf("remote url %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, "", fmt.Errorf("remote url %q: scheme must be http or https", raw)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, "", fmt.Errorf("remote url %q: want http(s)://host[:port]/<repository>", raw)
	}
	repo = strings.Trim(u.Path, "/")
	if err := ValidateRepoName(repo); err != nil {
		return nil, "", fmt.Errorf("remote url %q: %w", raw, err)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, repo, nil
}

// New returns a client of the repository at rawURL.
func New(rawURL string, opts Options) (*Client, error) {
	base, repo, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Client{base: base, repo: repo, opts: opts}, nil
}

// Repo returns the repository name.
func (c *Client) Repo() string { return c.repo }

// BytesSent and BytesReceived count request and response body bytes
// (object streams and JSON) since the client was made.
func (c *Client) BytesSent() int64     { return c.sent.Load() }
func (c *Client) BytesReceived() int64 { return c.received.Load() }

// request describes one call.
type request struct {
	method, path string
	// body returns the request body for attempt n (0 first); nil: none.
	body        func(attempt int) (io.Reader, error)
	contentType string
	auth        bool // send a token (logging in first when there is a key)
	noRetry     bool
}

func jsonBody(v any) func(int) (io.Reader, error) {
	b, err := json.Marshal(v)
	return func(int) (io.Reader, error) { return bytes.NewReader(b), err }
}

// do sends r, retrying retryable failures, and returns a 2xx response
// whose body the caller must close. Other statuses become *Problem.
func (c *Client) do(ctx context.Context, r request) (*http.Response, error) {
	relogged := false
	for attempt := 0; ; attempt++ {
		resp, err := c.once(ctx, r, attempt)
		if err == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var p *Problem
		if errors.As(err, &p) && (p.Code == CodeTokenExpired || p.Code == CodeUnauthenticated) && r.auth && c.opts.Key != nil && !relogged {
			// The server forgot the token (expiry, restart): log in again.
			relogged = true
			c.mu.Lock()
			c.token = ""
			c.mu.Unlock()
			attempt--
			continue
		}
		if r.noRetry || attempt >= c.opts.MaxRetries || !retryable(err) {
			return nil, err
		}
		delay := c.opts.RetryBase << min(attempt, 16)
		if delay > c.opts.RetryMax || delay <= 0 {
			delay = c.opts.RetryMax
		}
		delay = delay/2 + rand.N(delay/2+1)
		if errors.As(err, &p) && p.RetryAfter > 0 {
			delay = min(p.RetryAfter, c.opts.RetryMax)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// retryable reports whether err may go away when the request is repeated.
func retryable(err error) bool {
	var p *Problem
	if errors.As(err, &p) {
		return p.Retryable()
	}
	if errors.Is(err, ErrVersion) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ne *netError
	return errors.As(err, &ne)
}

// netError marks transport failures (connection refused or reset,
// truncated bodies): retryable.
type netError struct{ err error }

func (e *netError) Error() string { return e.err.Error() }
func (e *netError) Unwrap() error { return e.err }

func (c *Client) once(ctx context.Context, r request, attempt int) (*http.Response, error) {
	var token string
	if r.auth && c.opts.Key != nil {
		var err error
		if token, err = c.ensureToken(ctx); err != nil {
			return nil, err
		}
	}
	var body io.Reader
	if r.body != nil {
		var err error
		if body, err = r.body(attempt); err != nil {
			return nil, err
		}
		body = &countingReader{r: body, n: &c.sent}
	}
	u := *c.base
	u.Path = r.path
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("remote: %s %s: %w", r.method, r.path, err)
	}
	req.Header.Set(VersionHeader, strconv.Itoa(Version))
	req.Header.Set(FeaturesHeader, ClientFeatures)
	req.Header.Set("User-Agent", "fed/"+strconv.Itoa(Version))
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &netError{fmt.Errorf("remote: %s %s: %w", r.method, r.path, err)}
	}
	v := resp.Header.Get(VersionHeader)
	if resp.StatusCode/100 == 2 {
		if v != strconv.Itoa(Version) {
			resp.Body.Close()
			return nil, versionError(v)
		}
		resp.Body = &countingReadCloser{rc: resp.Body, n: &c.received}
		return resp, nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	c.received.Add(int64(len(b)))
	if err != nil && resp.StatusCode < 500 {
		return nil, &netError{fmt.Errorf("remote: %s %s: read error response: %w", r.method, r.path, err)}
	}
	p := &Problem{}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), MediaProblem) || json.Unmarshal(b, p) != nil || p.Code == "" {
		if v != "" && v != strconv.Itoa(Version) {
			return nil, versionError(v)
		}
		p = &Problem{Status: resp.StatusCode, Code: "http-" + strconv.Itoa(resp.StatusCode), Title: http.StatusText(resp.StatusCode)}
		if resp.StatusCode == http.StatusNotFound && v == "" {
			return nil, fmt.Errorf("%w: %s does not answer as a fed server (404 without %s header)", ErrVersion, c.base, VersionHeader)
		}
	}
	p.Status = resp.StatusCode
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			p.RetryAfter = time.Duration(n) * time.Second
		}
	}
	return nil, p
}

func versionError(got string) error {
	if got == "" {
		return fmt.Errorf("%w: the server did not send %s; it is not a fed server or too old", ErrVersion, VersionHeader)
	}
	return fmt.Errorf("%w: the server speaks protocol %s, this fed speaks %d; upgrade the older side", ErrVersion, got, Version)
}

// call sends a JSON request and decodes a JSON response into out (nil:
// discard).
func (c *Client) call(ctx context.Context, method, path string, in, out any, auth bool) error {
	r := request{method: method, path: path, auth: auth}
	if in != nil {
		r.body = jsonBody(in)
		r.contentType = MediaJSON
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("remote: %s %s: read response: %w", method, path, err)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("remote: %s %s: bad response: %w", method, path, err)
	}
	return nil
}

func (c *Client) repoPath(endpoint string) string { return RepoPath(c.repo, endpoint) }

// Info returns the server's protocol version and limits.
func (c *Client) Info(ctx context.Context) (*Info, error) {
	var info Info
	if err := c.call(ctx, http.MethodGet, PathPrefix+"info", nil, &info, false); err != nil {
		return nil, err
	}
	return &info, nil
}

// ensureToken returns a valid token, logging in when needed.
func (c *Client) ensureToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && time.Until(c.tokenExp) > 30*time.Second {
		return c.token, nil
	}
	resp, err := c.login(ctx)
	if err != nil {
		return "", err
	}
	c.token, c.tokenExp = resp.Token, resp.ExpiresAt
	return c.token, nil
}

// Login signs in with the client's key now (it also happens on demand).
func (c *Client) Login(ctx context.Context) error {
	if c.opts.Key == nil {
		return fmt.Errorf("remote: login: no key")
	}
	c.mu.Lock()
	c.token = ""
	c.mu.Unlock()
	_, err := c.ensureToken(ctx)
	return err
}

func (c *Client) login(ctx context.Context) (*LoginResponse, error) {
	addr := c.opts.Key.Public().String()
	var ch Challenge
	if err := c.call(ctx, http.MethodPost, PathPrefix+"login/challenge", ChallengeRequest{Address: addr}, &ch, false); err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	// Sign only a well-formed fed message for this server and this key,
	// so that a server cannot obtain a signature usable elsewhere.
	m, err := ParseSignInMessage(ch.Message)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	if m.Domain != c.base.Host || m.Address != addr || m.Nonce != ch.Nonce {
		return nil, fmt.Errorf("login: the server's challenge names domain %q and address %s; expected %q and %s", m.Domain, m.Address, c.base.Host, addr)
	}
	sig := c.opts.Key.Sign([]byte(ch.Message))
	var resp LoginResponse
	err = c.call(ctx, http.MethodPost, PathPrefix+"login", LoginRequest{Address: addr, Nonce: ch.Nonce, Signature: objects.Base58(sig)}, &resp, false)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	return &resp, nil
}

// Refs lists the repository's refs.
func (c *Client) Refs(ctx context.Context) (*RefList, error) {
	var out RefList
	if err := c.call(ctx, http.MethodGet, c.repoPath("refs"), nil, &out, true); err != nil {
		return nil, err
	}
	return &out, nil
}

// Missing returns the ids among ids the server lacks, asking in batches
// of MaxBatch. It needs write access (it is the first step of a push, and
// refreshes the ids the server has so its gc spares them).
func (c *Client) Missing(ctx context.Context, ids []objects.ID) ([]objects.ID, error) {
	var missing []objects.ID
	for len(ids) > 0 {
		n := min(len(ids), MaxBatch)
		var out IDList
		if err := c.call(ctx, http.MethodPost, c.repoPath("objects/missing"), IDList{IDs: ids[:n]}, &out, true); err != nil {
			return nil, err
		}
		missing = append(missing, out.IDs...)
		ids = ids[n:]
	}
	return missing, nil
}

// ClientFeatures is the Fed-Features header this client sends: the
// optional features it understands.
const ClientFeatures = FeatureWithheld + "," + FeaturePrivate

// UpdateRefs applies updates all or nothing, signing the push statement
// with the client's key. A lost race gives a *Problem with code stale-ref
// (errors.Is ErrStale) whose Current is the ref's value now.
func (c *Client) UpdateRefs(ctx context.Context, updates []RefUpdate) (*UpdateResponse, error) {
	return c.UpdateRefsWithheld(ctx, updates, nil)
}

// UpdateRefsWithheld is UpdateRefs for a push that keeps the weight
// objects withheld off the server (FeatureWithheld, which the caller
// checks with Info first): the server accepts their absence under the
// models of commits that record their zk root and have a proof, and
// remembers them as withheld.
func (c *Client) UpdateRefsWithheld(ctx context.Context, updates []RefUpdate, withheld []objects.ID) (*UpdateResponse, error) {
	return c.UpdateRefsPrivate(ctx, updates, withheld, nil)
}

// UpdateRefsPrivate is UpdateRefsWithheld that also marks private, weight
// objects the server holds, as private to it (FeaturePrivate, which the
// caller checks with Info first).
func (c *Client) UpdateRefsPrivate(ctx context.Context, updates []RefUpdate, withheld, private []objects.ID) (*UpdateResponse, error) {
	if c.opts.Key == nil {
		return nil, fmt.Errorf("remote: update refs: %w: no key to sign the push", ErrUnauthorized)
	}
	now := time.Now().UTC().Truncate(time.Second)
	text := StatementPrivate(c.repo, c.base.Host, c.opts.Key.Public(), now, updates, withheld, private)
	req := UpdateRequest{Updates: updates, Withheld: withheld, Private: private, Time: now, Signature: objects.Base58(c.opts.Key.Sign([]byte(text)))}
	var out UpdateResponse
	err := c.call(ctx, http.MethodPost, c.repoPath("refs"), req, &out, true)
	var p *Problem
	if errors.As(err, &p) && p.Code == CodeStale && len(updates) == 1 && p.Current != nil && *p.Current == updates[0].New {
		// A retry after a lost response: the first attempt won.
		return &UpdateResponse{Refs: []Ref{{Name: updates[0].Name, ID: updates[0].New}}}, nil
	}
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Plan asks which objects a fetch needs.
func (c *Client) Plan(ctx context.Context, req PlanRequest) (*Plan, error) {
	var out Plan
	if err := c.call(ctx, http.MethodPost, c.repoPath("objects/plan"), req, &out, true); err != nil {
		return nil, err
	}
	return &out, nil
}

// Settings returns the repository's owner and access settings.
func (c *Client) Settings(ctx context.Context) (*Settings, error) {
	var out Settings
	if err := c.call(ctx, http.MethodGet, c.repoPath("settings"), nil, &out, true); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateSettings changes the access settings (owner only).
func (c *Client) UpdateSettings(ctx context.Context, u SettingsUpdate) (*Settings, error) {
	var out Settings
	if err := c.call(ctx, http.MethodPut, c.repoPath("settings"), u, &out, true); err != nil {
		return nil, err
	}
	return &out, nil
}

// AddCollaborator gives key write access (owner only).
func (c *Client) AddCollaborator(ctx context.Context, key objects.PublicKey) error {
	return c.call(ctx, http.MethodPut, c.repoPath("collaborators/"+key.String()), nil, nil, true)
}

// RemoveCollaborator takes write access away from key (owner only).
func (c *Client) RemoveCollaborator(ctx context.Context, key objects.PublicKey) error {
	return c.call(ctx, http.MethodDelete, c.repoPath("collaborators/"+key.String()), nil, nil, true)
}

// Collaborators lists the keys with write access besides the owner.
func (c *Client) Collaborators(ctx context.Context) ([]string, error) {
	s, err := c.Settings(ctx)
	if err != nil {
		return nil, err
	}
	return s.Collaborators, nil
}

// PushLog returns the server's log of signed pushes.
func (c *Client) PushLog(ctx context.Context) (*PushLog, error) {
	var out PushLog
	if err := c.call(ctx, http.MethodGet, c.repoPath("pushlog"), nil, &out, true); err != nil {
		return nil, err
	}
	return &out, nil
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

type countingReadCloser struct {
	rc io.ReadCloser
	n  *atomic.Int64
}

func (c *countingReadCloser) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingReadCloser) Close() error { return c.rc.Close() }

// RequireFeature fails with an error matching ErrNoFeature unless the
// server announces the optional feature f in its info.
func (c *Client) RequireFeature(ctx context.Context, f string) error {
	info, err := c.Info(ctx)
	if err != nil {
		return err
	}
	if !info.HasFeature(f) {
		return fmt.Errorf("%w: the server at %s does not speak %q (it runs an older fed serve)", ErrNoFeature, c.base, f)
	}
	return nil
}
