package gateway

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
)

// requestID returns the id given to the request by withRequestID.
func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

func newRequestID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// withRequestID gives every request an id of our own. An incoming
// X-Request-Id is never trusted (it is client input); ours replaces it, is
// sent back, and travels upstream so that the consoles' logs can be joined to ours.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := newRequestID()
		r.Header.Set("X-Request-Id", id)
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey, id)))
	})
}

// statusRecorder remembers the status written, for logs and metrics. It
// keeps Flush and Hijack working (streaming and WebSocket upgrades go through the proxy).
type statusRecorder struct {
	http.ResponseWriter
	status  int
	written int64
}

func (rec *statusRecorder) WriteHeader(code int) {
	if rec.status == 0 {
		rec.status = code
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *statusRecorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	n, err := rec.ResponseWriter.Write(b)
	rec.written += int64(n)
	return n, err
}

func (rec *statusRecorder) Flush() {
	if f, ok := rec.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (rec *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := rec.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("hijack not supported")
	}
	if rec.status == 0 {
		rec.status = http.StatusSwitchingProtocols
	}
	return h.Hijack()
}

func (rec *statusRecorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

func (rec *statusRecorder) code() int {
	if rec.status == 0 {
		return http.StatusOK
	}
	return rec.status
}

// withAccessLog writes one JSON line per request. The query string is never
// logged: it may carry a handoff code or a return_to with tokens.
func (s *Server) withAccessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log(r).Error("panic serving request", "panic", p)
				if rec.status == 0 {
					s.writeAPIError(rec, r, internal(errors.New("panic")))
				}
			}
			s.log(r).Info("request",
				"method", r.Method, "host", r.Host, "path", s.logPath(r),
				"status", rec.code(), "bytes", rec.written,
				"duration_ms", float64(s.now().Sub(start).Microseconds())/1000,
				"ip", s.clientIP(r).String())
		}()
		next.ServeHTTP(rec, r)
	})
}

// logPath is the request's path for the access log. An invitation's token
// is a bearer secret carried in the path: it is left out, like a query string.
func (s *Server) logPath(r *http.Request) string {
	p := r.URL.EscapedPath()
	if !s.siteOf(r).account {
		return p // a console's own paths
	}
	for _, prefix := range []string{"/invitations/", "/api/v1/invitations/"} {
		if rest, ok := strings.CutPrefix(p, prefix); ok {
			_, action, _ := strings.Cut(rest, "/")
			return strings.TrimSuffix(prefix+"-/"+action, "/")
		}
	}
	return p
}

// securityHeaders are set on every page and answer of the gateway's own
// (not on proxied console responses, which the consoles own).
// SECURITY.md "Own pages"; ASVS V3.4 (browser security headers).
func (s *Server) securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if s.secure {
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
}

func (s *Server) withSecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.securityHeaders(w.Header())
		next.ServeHTTP(w, r)
	})
}

// maxJSONBody bounds API bodies; a larger one is refused with 413 before it is read.
const maxJSONBody = 64 << 10

// decodeJSON reads a JSON object body into v. It requires
// Content-Type: application/json (CONTRACT §5), which also keeps simple
// cross-site form posts out of the API.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if err := requireJSON(r); err != nil {
		return err
	}
	if r.ContentLength > maxJSONBody {
		return fail("body_too_large")
	}
	body := http.MaxBytesReader(w, r.Body, maxJSONBody)
	dec := jsonDecoder(body)
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fail("body_too_large")
		}
		if errors.Is(err, io.EOF) {
			return fail("invalid_json")
		}
		return errBadJSON
	}
	// One JSON value and nothing after it but whitespace: Decoder.More alone
	// says "no more" before a stray "]" or "}" (`{"email":"a"}]` was taken).
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fail("body_too_large")
		}
		return errBadJSON
	}
	return nil
}

func requireJSON(r *http.Request) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return fail("unsupported_media_type")
	}
	return nil
}

// wantsHTML reports a browser navigation: a GET or HEAD whose Accept names text/html.
func wantsHTML(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	for _, v := range r.Header.Values("Accept") {
		for part := range splitComma(v) {
			mt, _, err := mime.ParseMediaType(part)
			if err == nil && (mt == "text/html" || mt == "application/xhtml+xml") {
				return true
			}
		}
	}
	return false
}

func (s *Server) now() time.Time { return s.clock() }

// ownBodyReadTimeout bounds how long a request body sent to one of the
// gateway's own endpoints may take to arrive (issue 16, finding 15): the
// server's ReadHeaderTimeout cuts slow headers, and this cuts a client that
// sends its headers and then trickles or stalls its body, holding a
// connection and a handler (a slow-POST denial of service, CWE-400). The
// gateway's own bodies are forms and JSON of at most 64 KiB: 10 s is ample.
// Proxied console traffic has no such deadline (uploads may be long). A
// variable so that a test can shorten it before it builds a server.
var ownBodyReadTimeout = 10 * time.Second

// withBodyReadDeadline sets a read deadline of d on the connection of a
// request that has a body: a body not all read by then fails to read, and
// the handler answers as it does for a broken body. The deadline is lifted
// once the body has been read to its end, so that it never cuts a handler
// that is still working (net/http's background read of the connection
// would otherwise cancel the request's context), and net/http sets its own
// deadlines again for the connection's next request.
func withBodyReadDeadline(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			rc := http.NewResponseController(w)
			if rc.SetReadDeadline(time.Now().Add(d)) == nil {
				r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the read deadline at the end of the body.
type deadlineBody struct {
	io.ReadCloser
	rc     *http.ResponseController
	lifted bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) && !b.lifted {
		b.lifted = true
		b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
