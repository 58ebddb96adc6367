package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
)

// Options configure a Server. Zero values mean the defaults named.
type Options struct {
	// Root is the directory holding the repositories (required): those of
	// the default Hosting, and the server's own files (prove-queue).
	Root string
	// Hosting keeps the repositories and offers the hooks of Features
	// (proofs, zk settings, repository NFTs); nil: NewFiles(Root, nil),
	// without hooks. fed serve passes package hosting's.
	Hosting Hosting
	// Addr is where Serve listens (default 127.0.0.1:8417). Beyond
	// loopback (IsLoopback) Serve needs TLS or InsecureHTTP.
	Addr string
	// TLSCert and TLSKey are PEM files of the certificate (chain) and key
	// Serve answers TLS with; both or neither. Each value received on
	// Reload rereads them (fed serve: SIGHUP); a pair that fails to load
	// is logged and the served certificate stays.
	TLSCert, TLSKey string
	Reload          <-chan struct{}
	// InsecureHTTP lets Serve speak plain HTTP beyond loopback (behind a
	// TLS-terminating reverse proxy).
	InsecureHTTP bool
	// ShutdownTimeout bounds how long Serve, once its context ends, waits
	// for requests in flight before closing their connections (default
	// 30 s).
	ShutdownTimeout time.Duration
	// Domain is the host named in sign-in messages and push statements
	// (default: the Host of each request).
	Domain string
	// PublicURL is the origin visitors reach the server by
	// (scheme://host[:port], fed serve --public-url; ParsePublicURL
	// checks it), behind a reverse proxy: a page's sign-in must come from
	// it (default: the scheme and Host of each request).
	PublicURL string
	// ChainID is the Chain ID line of sign-in messages (default mainnet).
	ChainID string
	// NoCreate refuses to create repositories on a first push.
	NoCreate bool
	// PrivateByDefault makes new repositories private (default public
	// read).
	PrivateByDefault bool
	// MaxObjectSize bounds one object's stored form on the wire (default
	// objects.MaxObjectSize).
	MaxObjectSize int64
	// MaxRequestBytes bounds an upload request body (default 1 GiB).
	MaxRequestBytes int64
	// MaxJSONBytes bounds a JSON request body (default 4 MiB).
	MaxJSONBytes int64
	// MaxInflightBytes bounds the object bytes held in memory by all
	// requests together (default 512 MiB); requests wait for room.
	MaxInflightBytes int64
	// Rate and Burst limit requests per key (per address when anonymous):
	// Rate per second on average, Burst at once (defaults 100 and 400).
	Rate  float64
	Burst int
	// NonceTTL and TokenTTL bound the life of login nonces (default 5
	// minutes) and bearer tokens (default 1 hour).
	NonceTTL, TokenTTL time.Duration
	// StatementSkew is how far the time of a signed push may be from the
	// server's clock (default 5 minutes).
	StatementSkew time.Duration
	// GCGrace spares unreferenced uploads younger than this (default 24
	// hours); GCInterval is how often Serve collects (default 1 hour,
	// negative: never).
	GCGrace, GCInterval time.Duration
	// Jobs, when set, keeps the proving jobs instead of this process's
	// queue and <root>/prove-queue: replicas share it (pgstore's), any of
	// them proves a job, and a job survives the loss of the replica
	// proving it (jobs.go). ProveQueue does not bound it.
	Jobs JobQueue
	// ProveQueue bounds the proving jobs waiting (default 256); commits
	// pushed while it is full are not proven (logged).
	ProveQueue int
	// Sessions keeps sign-in nonces and login tokens (default: a
	// MemorySessions of this server alone). Replicas share one.
	Sessions SessionStore
	// Now returns the current time (tests).
	Now func() time.Time
	// ErrorLog receives internal errors (default: Logger's Error).
	ErrorLog func(format string, args ...any)
	// Pages, when set, answers the web pages (pages.go) on every path
	// outside /fed/ and the operational endpoints; nil: none (404).
	Pages Pages
	// Logger receives one line per request (access log: ops.go) and the
	// server's events (default: discarded). Never tokens or signatures.
	Logger *slog.Logger
}

// Validate checks the options and fills in defaults.
func (o *Options) Validate() error {
	if o.Root == "" {
		return fmt.Errorf("server: no root directory")
	}
	if o.MaxObjectSize < 0 || o.MaxRequestBytes < 0 || o.MaxJSONBytes < 0 || o.MaxInflightBytes < 0 || o.Rate < 0 || o.Burst < 0 {
		return fmt.Errorf("server: negative limit")
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:8417"
	}
	if o.PublicURL != "" {
		u, err := ParsePublicURL(o.PublicURL)
		if err != nil {
			return fmt.Errorf("server: %w", err)
		}
		o.PublicURL = u
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return fmt.Errorf("server: a TLS certificate needs its key, and a key its certificate")
	}
	if o.ShutdownTimeout < 0 {
		return fmt.Errorf("server: negative shutdown timeout")
	}
	if o.ShutdownTimeout == 0 {
		o.ShutdownTimeout = 30 * time.Second
	}
	if o.ChainID == "" {
		o.ChainID = "mainnet"
	}
	if o.MaxObjectSize == 0 || o.MaxObjectSize > objects.MaxObjectSize {
		o.MaxObjectSize = objects.MaxObjectSize
	}
	if o.MaxRequestBytes == 0 {
		o.MaxRequestBytes = 1 << 30
	}
	if o.MaxJSONBytes == 0 {
		o.MaxJSONBytes = 4 << 20
	}
	if o.MaxInflightBytes == 0 {
		o.MaxInflightBytes = 512 << 20
	}
	if o.MaxInflightBytes < o.MaxObjectSize+storedSlack {
		o.MaxInflightBytes = o.MaxObjectSize + storedSlack
	}
	if o.Rate == 0 {
		o.Rate = 100
	}
	if o.Burst == 0 {
		o.Burst = 400
	}
	if o.NonceTTL == 0 {
		o.NonceTTL = 5 * time.Minute
	}
	if o.TokenTTL == 0 {
		o.TokenTTL = time.Hour
	}
	if o.StatementSkew == 0 {
		o.StatementSkew = 5 * time.Minute
	}
	if o.GCGrace == 0 {
		o.GCGrace = 24 * time.Hour
	}
	if o.GCInterval == 0 {
		o.GCInterval = time.Hour
	}
	if o.ProveQueue <= 0 {
		o.ProveQueue = 256
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sessions == nil {
		o.Sessions = NewMemorySessions()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ErrorLog == nil {
		log := o.Logger
		o.ErrorLog = func(format string, args ...any) { log.Error(fmt.Sprintf(format, args...)) }
	}
	return nil
}

// ErrSettingMissing is what Repository.RequireProofs and CheckProof return (wrapped)
// when the repository lacks a setting that checking proofs needs (fed
// serve --require-proofs: zk.linf, the bound of update proofs): the server
// refuses with zk-setting-missing, naming it.
var ErrSettingMissing = errors.New("server: zk setting missing")

// storedSlack is how much larger than the object a stored form may be.
const storedSlack = 64

// Server hosts the repositories under one root directory. It is an
// http.Handler; Serve runs it on a listener.
type Server struct {
	opts     Options
	hosting  Hosting
	features Features
	limiter  *limiter
	inflight *weighted

	mu      sync.Mutex // guards repos and opening only (open)
	repos   map[string]*repository
	opening map[string]*opening

	prover prover
	zkMu   sync.Mutex // one zk settings change at a time

	metrics    *metrics    // metrics.go
	draining   atomic.Bool // shutting down: /readyz answers 503
	readyCheck readyCheck  // ops.go
}

var _ http.Handler = (*Server)(nil)

// New returns a server of the repositories under opts.Root (created if
// missing).
func New(opts Options) (*Server, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Root, 0o755); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	h := opts.Hosting
	if h == nil {
		f, err := NewFiles(opts.Root, nil)
		if err != nil {
			return nil, err
		}
		h = f
	}
	s := &Server{
		opts:     opts,
		hosting:  h,
		features: h.Features(),
		limiter:  newLimiter(opts.Rate, opts.Burst, opts.Now),
		inflight: newWeighted(opts.MaxInflightBytes),
		repos:    map[string]*repository{},
		opening:  map[string]*opening{},
		prover:   prover{wake: make(chan struct{}, 1), queued: map[proveJob]bool{}},
	}
	s.metrics = newMetrics(s)
	if s.features.Prove && opts.Jobs == nil {
		if err := s.loadQueue(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Root returns the directory holding the repositories.
func (s *Server) Root() string { return s.opts.Root }

// Serve runs a server on opts.Addr (with TLS when opts.TLSCert is set)
// until ctx ends, then shuts it down gracefully: it stops accepting
// connections, /readyz answers 503, and requests in flight get up to
// ShutdownTimeout to finish (their uploads flushed) before their
// connections are closed. ready, when not nil, is called with the
// listening address once connections are accepted. It also collects
// unreferenced uploads every GCInterval.
func Serve(ctx context.Context, opts Options, ready func(addr net.Addr)) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	if opts.TLSCert == "" && !opts.InsecureHTTP && !IsLoopback(opts.Addr) {
		return fmt.Errorf("serve on %s: %w: give a TLS certificate, or allow plain HTTP behind a TLS proxy", opts.Addr, ErrInsecureAddr)
	}
	var certs *certFiles
	if opts.TLSCert != "" {
		var err error
		if certs, err = loadCertFiles(opts.TLSCert, opts.TLSKey); err != nil {
			return fmt.Errorf("serve: %w", err)
		}
	}
	s, err := New(opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(s.opts.Logger.Handler(), slog.LevelWarn)}
	if s.features.Prove {
		pctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { s.RunProver(pctx); close(done) }()
		defer func() { stop(); <-done }()
	}
	errc := make(chan error, 1)
	if certs != nil {
		hs.TLSConfig = certs.tlsConfig()
		go func() { errc <- hs.ServeTLS(ln, "", "") }()
	} else {
		go func() { errc <- hs.Serve(ln) }()
	}
	s.opts.Logger.Info("serving", slog.String("addr", ln.Addr().String()), slog.Bool("tls", certs != nil), slog.String("root", s.opts.Root))
	if ready != nil {
		ready(ln.Addr())
	}
	var gcTick <-chan time.Time
	if s.opts.GCInterval > 0 {
		t := time.NewTicker(s.opts.GCInterval)
		defer t.Stop()
		gcTick = t.C
	}
	reload := s.opts.Reload
	for {
		select {
		case err := <-errc:
			return fmt.Errorf("serve: %w", err)
		case <-gcTick:
			res, err := s.GC(ctx)
			if err != nil && ctx.Err() == nil {
				s.opts.ErrorLog("gc: %v", err)
			}
			s.logGC(res)
		case _, ok := <-reload:
			if !ok {
				reload = nil // closed: no more reloads
				continue
			}
			if certs == nil {
				continue
			}
			if err := certs.reload(); err != nil {
				s.opts.Logger.Error("tls certificate not reloaded; serving the previous one", slog.Any("error", err))
			} else {
				s.opts.Logger.Info("tls certificate reloaded", slog.String("cert", s.opts.TLSCert))
			}
		case <-ctx.Done():
			return s.shutdown(hs)
		}
	}
}

// serve routes a protocol request (ServeHTTP in ops.go wraps it).
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(remote.VersionHeader, strconv.Itoa(remote.Version))
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.opts.ErrorLog("panic serving %s %s: %v", r.Method, r.URL.Path, v)
			writeProblem(w, remote.NewProblem(500, remote.CodeInternal, "internal error"))
		}
	}()
	path := r.URL.Path
	if s.opts.Pages != nil && !strings.HasPrefix(path, "/fed/") {
		s.servePage(w, r)
		return
	}
	if !strings.HasPrefix(path, remote.PathPrefix) {
		if strings.HasPrefix(path, "/fed/") {
			p := remote.NewProblem(404, remote.CodeBadVersion, "this server speaks fed protocol %d under %s", remote.Version, remote.PathPrefix)
			p.Supported = []int{remote.Version}
			writeProblem(w, p)
			return
		}
		writeProblem(w, remote.NewProblem(404, remote.CodeNotFound, "no such endpoint"))
		return
	}
	if v := r.Header.Get(remote.VersionHeader); v != "" && v != strconv.Itoa(remote.Version) {
		p := remote.NewProblem(400, remote.CodeBadVersion, "client speaks protocol %s, this server speaks %d; upgrade the older side", v, remote.Version)
		p.Supported = []int{remote.Version}
		writeProblem(w, p)
		return
	}
	key, authErr, ok := s.admit(w, r, func(p *remote.Problem) { writeProblem(w, p) })
	if !ok {
		return
	}
	rest := strings.TrimPrefix(path, remote.PathPrefix)
	switch {
	case rest == "info" && r.Method == http.MethodGet:
		s.handleInfo(w, r)
		return
	case rest == "login/challenge" && r.Method == http.MethodPost:
		s.handleChallenge(w, r)
		return
	case rest == "login" && r.Method == http.MethodPost:
		s.handleLogin(w, r)
		return
	}
	if authErr != nil {
		writeProblem(w, authErr)
		return
	}
	repoRest, ok := strings.CutPrefix(rest, "repos/")
	if !ok {
		writeProblem(w, remote.NewProblem(404, remote.CodeNotFound, "no such endpoint"))
		return
	}
	name, endpoint, ok := remote.SplitRepoPath(repoRest)
	if !ok {
		writeProblem(w, remote.NewProblem(404, remote.CodeNotFound, "no endpoint in %q (want /fed/v1/repos/<name>/-/<endpoint>)", path))
		return
	}
	if err := remote.ValidateRepoName(name); err != nil {
		writeProblem(w, remote.NewProblem(400, remote.CodeBadRepoName, "%v", err))
		return
	}
	c := &call{s: s, w: w, r: r, name: name, key: key}
	switch {
	case endpoint == "refs" && r.Method == http.MethodGet:
		c.listRefs()
	case endpoint == "refs" && r.Method == http.MethodPost:
		c.updateRefs()
	case endpoint == "objects/missing" && r.Method == http.MethodPost:
		c.missing()
	case endpoint == "objects" && r.Method == http.MethodPost:
		c.upload()
	case endpoint == "objects/plan" && r.Method == http.MethodPost:
		c.plan()
	case endpoint == "objects/download" && r.Method == http.MethodPost:
		c.download()
	case strings.HasPrefix(endpoint, "objects/") && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		c.getObject(strings.TrimPrefix(endpoint, "objects/"))
	case endpoint == "settings" && r.Method == http.MethodGet:
		c.getSettings()
	case endpoint == "settings" && r.Method == http.MethodPut:
		c.putSettings()
	case strings.HasPrefix(endpoint, "collaborators/") && (r.Method == http.MethodPut || r.Method == http.MethodDelete):
		c.collaborator(strings.TrimPrefix(endpoint, "collaborators/"))
	case endpoint == "pushlog" && r.Method == http.MethodGet:
		c.pushLog()
	default:
		writeProblem(w, remote.NewProblem(404, remote.CodeNotFound, "no endpoint %s %s", r.Method, endpoint))
	}
}

func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request) {
	features := []string{remote.FeatureWithheld, remote.FeatureDeepen, remote.FeaturePrivate}
	if s.features.Prove {
		features = append(features, remote.FeatureProve)
	}
	writeJSON(w, 200, remote.Info{Protocol: remote.Version, Server: "fed-serve", Limits: remote.Limits{
		MaxObjectSize: s.opts.MaxObjectSize, MaxRequestBytes: s.opts.MaxRequestBytes,
		MaxJSONBytes: s.opts.MaxJSONBytes, MaxBatch: remote.MaxBatch,
	}, Features: features})
}

// domain is the host named in signed texts.
func (s *Server) domain(r *http.Request) string {
	if s.opts.Domain != "" {
		return s.opts.Domain
	}
	return r.Host
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeProblem(w, remote.NewProblem(500, remote.CodeInternal, "encode response"))
		return
	}
	w.Header().Set("Content-Type", remote.MediaJSON)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// admit identifies a request's key (a bad or expired token is authErr,
// for the caller to answer) and applies the rate limit, per key when
// the request is signed in, per address otherwise. It answers the
// request itself (through fail for a refusal) and reports false when the
// request goes no further.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, fail func(*remote.Problem)) (*objects.PublicKey, *remote.Problem, bool) {
	return s.admitBy(w, r, s.identify, fail)
}

// admitBy is admit, identifying the key with identify.
func (s *Server) admitBy(w http.ResponseWriter, r *http.Request, identify func(*http.Request) (*objects.PublicKey, *remote.Problem, error),
	fail func(*remote.Problem)) (*objects.PublicKey, *remote.Problem, bool) {
	key, authErr, err := identify(r)
	if err != nil {
		s.sessionsFailed(w, "identify", err)
		return nil, nil, false
	}
	noteKey(w, key)
	rateKey := clientAddr(r)
	if authErr == nil && key != nil {
		rateKey = key.String()
	}
	if wait, ok := s.limiter.allow(rateKey); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		fail(remote.NewProblem(429, remote.CodeRateLimited, "too many requests; retry later"))
		return nil, nil, false
	}
	return key, authErr, true
}

func writeProblem(w http.ResponseWriter, p *remote.Problem) {
	noteProblem(w, p.Code)
	b, _ := json.Marshal(p)
	w.Header().Set("Content-Type", remote.MediaProblem)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(p.Status)
	w.Write(b)
}

// problemFor maps a decoding error to a problem.
func problemFor(err error) *remote.Problem {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe) || errors.Is(err, remote.ErrTooLarge):
		return remote.NewProblem(413, remote.CodeTooLarge, "%v", err)
	case errors.Is(err, remote.ErrVersion):
		return remote.NewProblem(400, remote.CodeBadVersion, "%v", err)
	}
	return remote.NewProblem(400, remote.CodeBadRequest, "%v", err)
}
