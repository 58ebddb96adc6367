package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
)

// Operating the server (doc/protocol.md §9): every request gets an id
// (RequestIDHeader of the response) and one access log line; /healthz and
// /readyz answer load balancers and supervisors on the protocol's
// listener.

// RequestIDHeader carries the id the server gave a request; its access
// log line names the same id.
const RequestIDHeader = "X-Request-Id"

// Paths of the operational endpoints, outside the protocol's prefix.
const (
	HealthPath  = "/healthz"
	ReadyPath   = "/readyz"
	MetricsPath = "/metrics"
)

// recorder is the ResponseWriter handlers see: it remembers the status,
// the bytes written, the problem code answered and the signed-in key, for
// the access log and the metrics.
type recorder struct {
	http.ResponseWriter
	status  int
	bytes   int64
	problem string
	key     *objects.PublicKey
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// ReadFrom passes src to the connection's writer, so that a file copied
// to a response goes by sendfile.
func (w *recorder) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(struct{ io.Writer }{w.ResponseWriter}, src)
	}
	w.bytes += n
	return n, err
}

func (w *recorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection's writer
// (deadlines, hijacking).
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// noteProblem records the code of the problem answered on w.
func noteProblem(w http.ResponseWriter, code string) {
	if rec, ok := w.(*recorder); ok {
		rec.problem = code
	}
}

// noteKey records the signed-in key of the request answered on w.
func noteKey(w http.ResponseWriter, key *objects.PublicKey) {
	if rec, ok := w.(*recorder); ok {
		rec.key = key
	}
}

// countingBody counts the bytes read from a request body.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}

// ServeHTTP answers the operational endpoints, and routes every other
// request to the protocol with an id, an access log line and metrics.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := randomString(8)
	w.Header().Set(RequestIDHeader, id)
	rec := &recorder{ResponseWriter: w}
	body := &countingBody{ReadCloser: http.NoBody}
	if r.Body != nil {
		body.ReadCloser = r.Body
		r.Body = body
	}
	route, repo := routeOf(r)
	if s.opts.Pages != nil && route == "other" && !strings.HasPrefix(r.URL.Path, "/fed/") {
		route, repo = pageRoute(r.URL.Path)
	}
	defer func() {
		status := rec.status
		if status == 0 {
			status = http.StatusOK // nothing written: net/http answers 200
		}
		d := time.Since(start)
		s.metrics.observe(r.Method, route, status, rec.problem, body.n, rec.bytes, d)
		level := slog.LevelInfo
		if route == HealthPath || route == ReadyPath || route == MetricsPath {
			level = slog.LevelDebug // probes every few seconds would drown the rest
		}
		attrs := []slog.Attr{
			slog.String("id", id),
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Int64("bytes_in", body.n),
			slog.Int64("bytes_out", rec.bytes),
			slog.Duration("duration", d),
			slog.String("remote", clientAddr(r)),
		}
		if repo != "" {
			attrs = append(attrs, slog.String("repo", repo))
		}
		if rec.key != nil {
			attrs = append(attrs, slog.String("key", rec.key.String()))
		}
		if rec.problem != "" {
			attrs = append(attrs, slog.String("problem", rec.problem))
		}
		s.opts.Logger.LogAttrs(r.Context(), level, "request", attrs...)
	}()
	switch r.URL.Path {
	case HealthPath:
		s.health(rec, r)
		return
	case ReadyPath:
		s.ready(rec, r)
		return
	case MetricsPath:
		s.metrics.serve(rec, r)
		return
	}
	s.serve(rec, r)
}

// routeOf names the endpoint of a request for logs and metrics (a
// bounded set: ids, keys and repository names replaced by placeholders)
// and the repository it addresses ("" for none).
func routeOf(r *http.Request) (route, repo string) {
	path := r.URL.Path
	switch path {
	case HealthPath, ReadyPath, MetricsPath:
		return path, ""
	}
	rest, ok := strings.CutPrefix(path, remote.PathPrefix)
	if !ok {
		return "other", ""
	}
	switch rest {
	case "info", "login/challenge", "login":
		return rest, ""
	}
	repoRest, ok := strings.CutPrefix(rest, "repos/")
	if !ok {
		return "other", ""
	}
	name, endpoint, ok := remote.SplitRepoPath(repoRest)
	if !ok || remote.ValidateRepoName(name) != nil {
		return "other", ""
	}
	switch {
	case strings.HasPrefix(endpoint, "objects/") && endpoint != "objects/missing" && endpoint != "objects/plan" && endpoint != "objects/download":
		endpoint = "objects/{id}"
	case strings.HasPrefix(endpoint, "collaborators/"):
		endpoint = "collaborators/{key}"
	}
	switch endpoint {
	case "refs", "objects", "objects/missing", "objects/plan", "objects/download", "objects/{id}", "settings", "collaborators/{key}", "pushlog":
		return "repos/{repo}/-/" + endpoint, name
	}
	return "other", name
}

// health answers that the process is up and serving.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeProblem(w, remote.NewProblem(405, remote.CodeBadRequest, "%s takes GET", r.URL.Path))
		return
	}
	writeText(w, 200, "ok\n")
}

// ready answers whether the server can serve: not shutting down, and its
// storage writable (a file created and removed in the root directory).
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeProblem(w, remote.NewProblem(405, remote.CodeBadRequest, "%s takes GET", r.URL.Path))
		return
	}
	if s.draining.Load() {
		w.Header().Set("Retry-After", "1")
		writeProblem(w, remote.NewProblem(503, remote.CodeUnavailable, "shutting down"))
		return
	}
	if err := s.storageReady(r.Context()); err != nil {
		s.opts.Logger.Error("storage not ready", slog.Any("error", err))
		w.Header().Set("Retry-After", "5")
		writeProblem(w, remote.NewProblem(503, remote.CodeUnavailable, "storage not ready"))
		return
	}
	writeText(w, 200, "ready\n")
}

// readyFor is how long a storage check's answer is reused, so that a
// flood of /readyz requests does not become a flood of fsyncs.
const readyFor = time.Second

// readyCheck is the last storage check.
type readyCheck struct {
	mu  sync.Mutex
	at  time.Time
	err error
}

// storageReady checks the storage at most once per readyFor.
func (s *Server) storageReady(ctx context.Context) error {
	c := &s.readyCheck
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && time.Since(c.at) < readyFor {
		return c.err
	}
	c.err = s.hosting.Check(ctx)
	c.at = time.Now()
	return c.err
}

func writeText(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	io.WriteString(w, text)
}
