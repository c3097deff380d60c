package gateway

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the series of CONTRACT §7. Names are part of the contract.
type metrics struct {
	proxyRequests   *prometheus.CounterVec
	proxyDuration   *prometheus.HistogramVec
	loginAttempts   *prometheus.CounterVec
	sessionsCreated prometheus.Counter
	sessionsRevoked prometheus.Counter
	storeErrors     *prometheus.CounterVec
	unauthenticated *prometheus.CounterVec
	stepUpRequired  *prometheus.CounterVec
	forwardAuth     *prometheus.CounterVec // forwardauth.go
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		proxyRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "unigate_proxy_requests_total",
			Help: "Requests forwarded to a console upstream, by console and exact status (502/504 included).",
		}, []string{"console", "code"}),
		proxyDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "unigate_proxy_request_duration_seconds",
			Help:    "Time from receiving a proxied request to the end of its response, by console.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"console"}),
		loginAttempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "unigate_login_attempts_total",
			Help: "Login factor attempts by method and result (success, failure, rate_limited).",
		}, []string{"method", "result"}),
		sessionsCreated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "unigate_sessions_created_total",
			Help: "Sessions that completed a login.",
		}),
		sessionsRevoked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "unigate_sessions_revoked_total",
			Help: "Sessions ended by logout or revocation.",
		}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "unigate_session_store_errors_total",
			Help: "Session store operations that failed, by operation.",
		}, []string{"op"}),
		unauthenticated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "unigate_unauthenticated_requests_total",
			Help: "Console requests answered by the gateway for lack of a complete session, by console.",
		}, []string{"console"}),
		stepUpRequired: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "unigate_step_up_required_total",
			Help: "Console requests turned to the step-up page (or 401 step_up_required) for a fresher or stronger proof, by console.",
		}, []string{"console"}),
	}
	reg.MustRegister(m.proxyRequests, m.proxyDuration, m.loginAttempts, m.sessionsCreated,
		m.sessionsRevoked, m.storeErrors, m.unauthenticated, m.stepUpRequired)
	m.forwardAuth = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "unigate_forward_auth_requests_total",
		Help: "Forward-auth answers by endpoint (forward_auth, auth_request) and result (the access decision, or untrusted_proxy, unknown_host, bad_request).",
	}, []string{"endpoint", "result"})
	reg.MustRegister(m.forwardAuth)
	return m
}

// preset creates the zero series for known label values so that dashboards
// and alerts see them before the first event.
func (m *metrics) preset(consoles []*consoleSite) {
	for _, c := range consoles {
		m.proxyDuration.WithLabelValues(c.id)
		m.unauthenticated.WithLabelValues(c.id)
		m.stepUpRequired.WithLabelValues(c.id)
	}
	for _, method := range []string{"password", "totp", "passkey", "email_code"} {
		for _, result := range []string{"success", "failure", "rate_limited"} {
			m.loginAttempts.WithLabelValues(method, result)
		}
	}
	for _, op := range []string{"get", "save", "create", "rotate", "delete", "handoff", "counter", "list"} {
		m.storeErrors.WithLabelValues(op)
	}
}

func (m *metrics) observeProxy(console string, code int, seconds float64) {
	m.proxyRequests.WithLabelValues(console, statusLabel(code)).Inc()
	m.proxyDuration.WithLabelValues(console).Observe(seconds)
}

// statusLabel avoids an allocation for the common codes on the hot path.
func statusLabel(code int) string {
	switch code {
	case 200:
		return "200"
	case 204:
		return "204"
	case 301:
		return "301"
	case 302:
		return "302"
	case 304:
		return "304"
	case 400:
		return "400"
	case 401:
		return "401"
	case 403:
		return "403"
	case 404:
		return "404"
	case 500:
		return "500"
	case 502:
		return "502"
	case 503:
		return "503"
	case 504:
		return "504"
	}
	return strconv.Itoa(code)
}

// NewMetricsRegistry returns a registry with the Go and process collectors,
// ready to be given to New as Deps.Registry and served by MetricsHandler.
func NewMetricsRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// MetricsHandler serves the operator listener: /metrics, /healthz, /readyz.
func (s *Server) MetricsHandler(g prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	return mux
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	failed := s.Ready(r.Context())
	if len(failed) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "failed": failed})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
