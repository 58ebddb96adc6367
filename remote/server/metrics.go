package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fed-vcs/fed/remote"
)

// metrics are the server's Prometheus metrics, served at MetricsPath
// (doc/protocol.md §9.3). Each Server has its own registry, so that
// several servers in one process (tests) count apart. Labels take a
// bounded set of values: routes with placeholders, never repository
// names or keys.
type metrics struct {
	reg       *prometheus.Registry
	handler   http.Handler
	requests  *prometheus.CounterVec   // method, route, status
	bytesIn   *prometheus.CounterVec   // route
	bytesOut  *prometheus.CounterVec   // route
	push      *prometheus.HistogramVec // route
	fetch     *prometheus.HistogramVec // route
	conflicts *prometheus.CounterVec   // code
	stored    prometheus.Counter
	limited   prometheus.Counter
}

func newMetrics(s *Server) *metrics {
	reg := prometheus.NewRegistry()
	buckets := prometheus.ExponentialBuckets(0.001, 4, 10) // 1 ms .. 262 s
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fed_http_requests_total", Help: "Requests answered, by method, route and status.",
		}, []string{"method", "route", "status"}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fed_http_request_bytes_total", Help: "Request body bytes read, by route.",
		}, []string{"route"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fed_http_response_bytes_total", Help: "Response body bytes written, by route.",
		}, []string{"route"}),
		push: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "fed_push_duration_seconds", Help: "Duration of the requests of a push (missing, objects, refs), by route.", Buckets: buckets,
		}, []string{"route"}),
		fetch: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "fed_fetch_duration_seconds", Help: "Duration of the requests of a fetch (refs, plan, download, objects), by route.", Buckets: buckets,
		}, []string{"route"}),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fed_ref_update_conflicts_total", Help: "Ref updates refused for a conflict, by problem code (stale-ref, non-fast-forward, tag-exists).",
		}, []string{"code"}),
		stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fed_objects_stored_total", Help: "Objects uploads added to the stores (not counting those already present).",
		}),
		limited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fed_rate_limited_total", Help: "Requests refused by the per-key rate limit (429).",
		}),
	}
	reg.MustRegister(m.requests, m.bytesIn, m.bytesOut, m.push, m.fetch, m.conflicts, m.stored, m.limited,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "fed_prove_queue_length", Help: "Proving jobs waiting or running (fed serve --prove).",
		}, func() float64 { return float64(s.ProveQueueLen()) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return m
}

// observe counts one answered request.
func (m *metrics) observe(method, route string, status int, problem string, in, out int64, d time.Duration) {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete:
	default:
		method = "other"
	}
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.bytesIn.WithLabelValues(route).Add(float64(in))
	m.bytesOut.WithLabelValues(route).Add(float64(out))
	const repo = "repos/{repo}/-/"
	switch {
	case method == http.MethodPost && (route == repo+"refs" || route == repo+"objects" || route == repo+"objects/missing"):
		m.push.WithLabelValues(route).Observe(d.Seconds())
	case method == http.MethodGet && route == repo+"refs",
		method == http.MethodPost && (route == repo+"objects/plan" || route == repo+"objects/download"),
		(method == http.MethodGet || method == http.MethodHead) && route == repo+"objects/{id}":
		m.fetch.WithLabelValues(route).Observe(d.Seconds())
	}
	switch problem {
	case remote.CodeStale, remote.CodeNonFastForward, remote.CodeTagExists:
		m.conflicts.WithLabelValues(problem).Inc()
	case remote.CodeRateLimited:
		m.limited.Inc()
	}
}

// objectsStored counts objects an upload added.
func (m *metrics) objectsStored(n int) { m.stored.Add(float64(n)) }

func (m *metrics) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeProblem(w, remote.NewProblem(405, remote.CodeBadRequest, "%s takes GET", r.URL.Path))
		return
	}
	m.handler.ServeHTTP(w, r)
}
