package upstreams

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"
)

// DefaultTimeout is the response-header timeout of a console whose
// ProxyConfig.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// ProxyConfig configures the reverse proxy of one console (or of one
// path_prefix mount). NewProxy validates it once.
type ProxyConfig struct {
	// Console is the console id, used in logs.
	Console string
	// Upstream is http(s)://host[:port][/base path]; the base path is
	// prepended to every forwarded path. Required; no query, no user info.
	Upstream *url.URL
	// Timeout is how long to wait for the upstream's response headers once
	// the request is written; exceeded, the client gets 504. Zero means
	// DefaultTimeout.
	Timeout time.Duration
	// StripPrefix is the path_prefix mount on the account host ("" for a
	// console host), removed from the canonical path before forwarding.
	// It must be canonical; a trailing "/" is optional ("/dedibox/" and
	// "/dedibox" both strip "/dedibox").
	StripPrefix string
	// CookieName is the effective name of the gateway's session cookie,
	// removed from Cookie before forwarding (with or without the "__Host-"
	// prefix, which are both the gateway's spellings). "" removes nothing.
	CookieName string
	// GatewayCookies are the names of the other cookies the gateway sets
	// (the handoff nonce, the language), in any spelling: an upstream's
	// Set-Cookie for one of them, or for CookieName, never reaches the
	// browser (see stripOwnCookies).
	GatewayCookies []string
	// PublicScheme is "http" or "https", the scheme of public_url, sent as
	// X-Forwarded-Proto. "" means "https".
	PublicScheme string
	// TrustedProxies are the peers whose X-Forwarded-For is kept and
	// appended to; from any other peer it is replaced by the peer address.
	TrustedProxies []netip.Prefix
	// Transport performs the upstream requests. Nil means a transport of
	// this proxy's own, built by NewTransport with Timeout as its
	// ResponseHeaderTimeout. A non-nil Transport is used as given, wrapped
	// so that Timeout is still enforced (per request, through the context).
	Transport http.RoundTripper
	// Signer signs the identity assertion of each request with an identity
	// (X-Auth-Assertion), as the request is rewritten: the token is made
	// where it is sent, from the identity sent beside it. Nil: every request
	// with an identity is refused (500), none is forwarded without its
	// assertion.
	Signer *Signer
	// ErrorPage writes the clean 502/504 (and the 500 of a refused
	// identity); the gateway decides HTML or JSON. Nil writes plain text.
	ErrorPage func(w http.ResponseWriter, r *http.Request, status int)
	// Logger receives upstream failures at warn level. Nil means
	// slog.Default().
	Logger *slog.Logger
}

// Proxy forwards requests to one console's upstream. It is safe for
// concurrent use.
type Proxy struct {
	scheme, host string // of the upstream
	basePath     string // escaped, without trailing "/"
	stripPrefix  string // canonical, without trailing "/"; "" strips nothing
	cookieNames  []string
	ownCookies   ownCookies // Set-Cookie names removed from responses
	publicScheme string
	trusted      []netip.Prefix
	transport    http.RoundTripper
	signer       *Signer
	errorPage    func(w http.ResponseWriter, r *http.Request, status int)
	log          *slog.Logger
	template     httputil.ReverseProxy
}

// NewTransport returns an *http.Transport tuned for proxying to HTTP/1.1
// upstreams at high request rates:
//   - up to 256 idle keep-alive connections per upstream host (the
//     default of 2 would open and close a connection per request under
//     load), dropped after 90 s idle;
//   - 5 s to connect, 10 s for a TLS handshake (TLS 1.2 minimum);
//   - no HTTP/2 attempt (consoles speak HTTP/1.1, and WebSocket upgrades
//     need HTTP/1.1);
//   - no environment proxy: identity headers never go through a proxy
//     picked up from HTTP_PROXY;
//   - no transparent gzip: the client's Accept-Encoding is forwarded as is,
//     and the body is passed through without decompressing it;
//   - response headers capped at 1 MiB, and a 30 s response-header timeout
//     (DefaultTimeout; NewProxy sets its console's).
func NewTransport() *http.Transport {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      false,
		MaxIdleConns:           1024,
		MaxIdleConnsPerHost:    256,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		ExpectContinueTimeout:  1 * time.Second,
		ResponseHeaderTimeout:  DefaultTimeout,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 1 << 20,
		WriteBufferSize:        32 << 10,
		ReadBufferSize:         32 << 10,
	}
}

// NewProxy validates cfg and builds the console's proxy.
//
// The response-header timeout is per console. With cfg.Transport nil, each
// Proxy gets its own transport from NewTransport with ResponseHeaderTimeout
// set to cfg.Timeout: connection pools are per upstream host anyway, so a
// transport per console loses no pooling, and the timeout costs nothing per
// request. A caller-supplied Transport is not modified (it may be shared);
// it is wrapped to enforce the timeout through the request context instead.
func NewProxy(cfg ProxyConfig) (*Proxy, error) {
	u := cfg.Upstream
	if u == nil {
		return nil, errors.New("upstreams: proxy: no upstream URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("upstreams: proxy %s: upstream scheme must be http or https, not %q", cfg.Console, u.Scheme)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("upstreams: proxy %s: upstream must be scheme://host[:port][/path] without user, query or fragment", cfg.Console)
	}
	base := strings.TrimRight(u.EscapedPath(), "/")
	if base != "" {
		if c, err := CanonicalPath(base); err != nil || c != base {
			return nil, fmt.Errorf("upstreams: proxy %s: upstream base path %q is not canonical", cfg.Console, base)
		}
	}
	strip := strings.TrimRight(cfg.StripPrefix, "/")
	if strip != "" {
		if c, err := CanonicalPath(strip); err != nil || c != strip {
			return nil, fmt.Errorf("upstreams: proxy %s: strip prefix %q is not canonical", cfg.Console, cfg.StripPrefix)
		}
	}
	publicScheme := cfg.PublicScheme
	switch publicScheme {
	case "":
		publicScheme = "https"
	case "http", "https":
	default:
		return nil, fmt.Errorf("upstreams: proxy %s: public scheme must be http or https, not %q", cfg.Console, cfg.PublicScheme)
	}
	timeout := cfg.Timeout
	if timeout < 0 {
		return nil, fmt.Errorf("upstreams: proxy %s: negative timeout", cfg.Console)
	}
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	var transport http.RoundTripper
	if cfg.Transport == nil {
		t := NewTransport()
		t.ResponseHeaderTimeout = timeout
		transport = t
	} else {
		transport = &headerTimeoutTransport{next: cfg.Transport, timeout: timeout}
	}
	// The gateway's own cookies never reach a console: the session cookie
	// (a bearer token), the handoff nonce and the rest, in both spellings.
	var cookieNames []string
	for _, n := range append([]string{cfg.CookieName}, cfg.GatewayCookies...) {
		if n == "" {
			continue
		}
		bare := strings.TrimPrefix(n, "__Host-")
		cookieNames = append(cookieNames, bare, "__Host-"+bare)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("console", cfg.Console)

	p := &Proxy{
		scheme:       u.Scheme,
		host:         u.Host,
		basePath:     base,
		stripPrefix:  strip,
		cookieNames:  cookieNames,
		ownCookies:   newOwnCookies(append([]string{cfg.CookieName}, cfg.GatewayCookies...)...),
		publicScheme: publicScheme,
		trusted:      append([]netip.Prefix(nil), cfg.TrustedProxies...),
		transport:    transport,
		signer:       cfg.Signer,
		errorPage:    cfg.ErrorPage,
		log:          logger,
	}
	p.template = httputil.ReverseProxy{
		Transport:  transport,
		BufferPool: copyBuffers,
		ErrorLog:   slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		// FlushInterval 0: ReverseProxy already flushes at once for
		// text/event-stream and for bodies of unknown length.
	}
	p.template.ModifyResponse = p.modifyResponse // an upstream does not set the gateway's cookies
	return p, nil
}

// Forward proxies r to the upstream. canonicalPath is CanonicalPath of the
// request path, before StripPrefix; it, not r.URL, is what is forwarded, so
// the upstream receives exactly the path the gateway's decisions were taken
// on (ASVS V1.1.1). id == nil is a public path: no identity headers.
// Otherwise the identity headers and the assertion signed for id
// (X-Auth-Assertion, by ProxyConfig.Signer) are set on the outbound request;
// an identity that does not Validate, no Signer, or a failed signature is
// answered 500 and nothing is forwarded.
//
// The outbound request is built in a ReverseProxy Rewrite hook, which runs
// after the hop-by-hop headers are removed, so a client "Connection:
// X-Auth-User-Id" cannot delete a header the gateway sets (SECURITY
// family 2). The query is forwarded untouched.
//
// As httputil.ReverseProxy does, a client that goes away while the body is
// being copied aborts the handler with panic(http.ErrAbortHandler).
func (p *Proxy) Forward(w http.ResponseWriter, r *http.Request, canonicalPath string, id *Identity) {
	target, ok := p.upstreamPath(canonicalPath)
	if !ok {
		// A path that is not canonical, or outside this mount, is a
		// gateway bug, and not one to paper over by forwarding it.
		p.log.Error("upstream proxy: path not canonical or outside the mount", "prefix", p.stripPrefix)
		p.writeError(w, r, http.StatusInternalServerError)
		return
	}
	if id != nil {
		if err := id.Validate(); err != nil || p.signer == nil {
			p.log.Error("upstream proxy: identity refused", "error", err, "signer", p.signer != nil)
			p.writeError(w, r, http.StatusInternalServerError)
			return
		}
	}
	// A ReverseProxy is a plain struct; a per-request copy carries this
	// request's path and identity into Rewrite for two small closures,
	// cheaper than a context value plus r.WithContext.
	rp := p.template
	rp.Rewrite = func(pr *httputil.ProxyRequest) { p.rewrite(pr, target, id) }
	// ReverseProxy hands its error handler the outbound request (upstream
	// URL, identity headers); ErrorPage and the log get the client's.
	rp.ErrorHandler = func(w http.ResponseWriter, out *http.Request, err error) {
		if refused, ok := out.Context().Value(assertionRefused{}).(error); ok {
			p.log.Error("upstream proxy: assertion not signed: request refused", "error", refused)
			p.writeError(w, r, http.StatusInternalServerError)
			return
		}
		p.handleError(w, r, err)
	}
	rp.ServeHTTP(w, r)
}

// upstreamPath is the upstream's path for a canonical request path: the
// mount prefix removed ("/dedibox/x" → "/x"; "/dedibox" and "/dedibox/" →
// "/"), the upstream's base path prepended, in escaped and decoded form.
// The canonical form is checked again here (no allocation when it is):
// Forward must never be the place where another spelling slips through.
func (p *Proxy) upstreamPath(canonical string) (upstreamTarget, bool) {
	if c, err := CanonicalPath(canonical); err != nil || c != canonical {
		return upstreamTarget{}, false
	}
	rel := canonical
	if p.stripPrefix != "" {
		if !strings.HasPrefix(canonical, p.stripPrefix) {
			return upstreamTarget{}, false
		}
		rel = canonical[len(p.stripPrefix):]
		switch {
		case rel == "":
			rel = "/"
		case rel[0] != '/':
			return upstreamTarget{}, false // "/dediboxx" is not under "/dedibox"
		}
	}
	t := upstreamTarget{escaped: rel}
	if p.basePath != "" {
		t.escaped = p.basePath + rel
	}
	t.decoded = t.escaped
	if strings.IndexByte(t.escaped, '%') >= 0 {
		dec, err := url.PathUnescape(t.escaped)
		if err != nil {
			return upstreamTarget{}, false
		}
		t.decoded = dec
	}
	return t, true
}

// upstreamTarget is the outbound path. Both forms are set on the URL so that
// net/url sends exactly the escaped one (URL.EscapedPath uses RawPath when
// it is a valid encoding of Path, which a canonical path always is).
type upstreamTarget struct{ escaped, decoded string }

// CloseIdleConnections closes the idle upstream connections of this proxy's
// transport (at shutdown or when a configuration reload replaces it).
func (p *Proxy) CloseIdleConnections() {
	if c, ok := p.transport.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// rewrite builds the outbound request. ReverseProxy has already cloned the
// request, removed hop-by-hop headers and Forwarded/X-Forwarded-*, and
// re-added Connection/Upgrade for an upgrade request.
//
// The assertion is signed here, from the identity set beside it, so that
// the token and the headers can never describe two different identities.
// When it cannot be signed, rewrite cancels the outbound request with the
// error in its context (assertionRefused): the transport refuses it before
// dialing, and Forward's error handler answers 500. Nothing reaches the
// upstream without its assertion (fail closed, ASVS V16.5.2).
func (p *Proxy) rewrite(pr *httputil.ProxyRequest, target upstreamTarget, id *Identity) {
	in, out := pr.In, pr.Out

	out.URL.Scheme = p.scheme
	out.URL.Host = p.host
	out.URL.Opaque = ""
	out.URL.User = nil
	out.URL.Path = target.decoded
	out.URL.RawPath = target.escaped
	// ReverseProxy drops query parameters it cannot parse (";"), which
	// would break legacy consoles; the gateway takes no decision on the
	// query, so there is no parser disagreement to defend against here.
	out.URL.RawQuery = in.URL.RawQuery
	out.URL.ForceQuery = in.URL.ForceQuery
	out.Host = in.Host

	// Room for the headers set below, so that the map grows once, not
	// several times.
	h := make(http.Header, len(out.Header)+16)
	for k, v := range out.Header {
		h[k] = v
	}
	out.Header = h

	// Client-sent identity and forwarding claims go first (ASVS V4.1.3),
	// in headers and in declared trailers alike.
	StripAuthHeaders(out.Header)
	StripAuthHeaders(out.Trailer)
	stripSpoofableHeaders(out.Header)
	for _, name := range p.cookieNames {
		RemoveCookie(out.Header, name)
	}
	p.setForwarded(in, out)
	filterUpgrade(out.Header)

	if id == nil {
		return
	}
	assertion, err := p.signer.Assertion(id)
	if err == nil && !safeHeaderValue(assertion) {
		err = errors.New("upstreams: assertion holds a control character")
	}
	if err != nil {
		ctx, cancel := context.WithCancel(context.WithValue(out.Context(), assertionRefused{}, err))
		cancel()
		pr.Out = out.WithContext(ctx)
		return
	}
	SetIdentityHeaders(out.Header, id, assertion)
}

// assertionRefused is the context key under which rewrite leaves the
// signing error of a request it cancelled; only that path sets it.
type assertionRefused struct{}

// setForwarded sets X-Forwarded-For/-Host/-Proto (CONTRACT §6). The incoming
// X-Forwarded-For is kept, and the peer appended, only when the peer is a
// trusted proxy; otherwise it is the client's invention and is replaced.
// Forwarded (RFC 7239) is not produced: one format, set by us alone, leaves
// no second one for a client to forge (ReverseProxy already removed it).
func (p *Proxy) setForwarded(in, out *http.Request) {
	vals := make([]string, 3) // one backing array for the three values
	peer := parsePeer(in.RemoteAddr)
	switch {
	case !peer.IsValid():
		delete(out.Header, "X-Forwarded-For")
	case isTrusted(peer, p.trusted) && len(in.Header["X-Forwarded-For"]) > 0:
		prior := strings.Join(in.Header["X-Forwarded-For"], ", ")
		vals[0] = prior + ", " + addrString(in.RemoteAddr, peer)
		out.Header["X-Forwarded-For"] = vals[0:1:1]
	default:
		vals[0] = addrString(in.RemoteAddr, peer)
		out.Header["X-Forwarded-For"] = vals[0:1:1]
	}
	vals[1], vals[2] = in.Host, p.publicScheme
	out.Header["X-Forwarded-Host"] = vals[1:2:2]
	out.Header["X-Forwarded-Proto"] = vals[2:3:3]
}

// addrString returns the text of peer, reusing the host part of remoteAddr
// (no allocation) when it is already spelled canonically, as net/http
// spells it.
func addrString(remoteAddr string, peer netip.Addr) string {
	host := remoteAddr
	if h, _, err := net.SplitHostPort(remoteAddr); err == nil {
		host = h
	}
	var buf [64]byte
	if b := peer.AppendTo(buf[:0]); string(b) == host {
		return host
	}
	return peer.String()
}

// filterUpgrade lets WebSocket upgrades through and drops every other
// protocol switch, h2c above all: an "Upgrade: h2c" forwarded to an upstream
// that speaks h2c turns the connection into an HTTP/2 tunnel in which further
// requests bypass the gateway entirely (h2c smuggling; one framing of each
// request, ASVS V4.2.1; SECURITY family 2).
func filterUpgrade(h http.Header) {
	delete(h, "Http2-Settings")
	up, ok := h["Upgrade"]
	if !ok {
		return
	}
	if len(up) == 1 && strings.EqualFold(strings.TrimSpace(up[0]), "websocket") {
		return
	}
	delete(h, "Upgrade")
	delete(h, "Connection")
}

// handleError answers a failed upstream exchange: 504 when the upstream did
// not answer in time, 502 for anything else (refused, reset, bad response).
// Nothing is written when the client itself went away. r is the client's
// request. The log line holds the path but not the query, which may hold
// secrets (the transport's url.Error text would carry it, so it is unwrapped).
func (p *Proxy) handleError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(r.Context().Err(), context.Canceled) {
		return
	}
	status := http.StatusBadGateway
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		status = http.StatusGatewayTimeout
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	p.log.Warn("upstream request failed",
		"status", status, "method", r.Method, "path", r.URL.Path, "error", err.Error())
	p.writeError(w, r, status)
}

func (p *Proxy) writeError(w http.ResponseWriter, r *http.Request, status int) {
	if p.errorPage != nil {
		p.errorPage(w, r, status)
		return
	}
	http.Error(w, http.StatusText(status), status)
}

// copyBuffers lends ReverseProxy its 32 KiB copy buffers, which it would
// otherwise allocate for every response. The pool holds array pointers, so
// that neither Get nor Put allocates.
var copyBuffers = &bufferPool{}

const copyBufferSize = 32 << 10

type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if a, ok := b.p.Get().(*[copyBufferSize]byte); ok {
		return a[:]
	}
	return new([copyBufferSize]byte)[:]
}

func (b *bufferPool) Put(buf []byte) {
	if cap(buf) != copyBufferSize {
		return
	}
	b.p.Put((*[copyBufferSize]byte)(buf[:copyBufferSize]))
}

// headerTimeoutTransport enforces a response-header timeout on a RoundTripper
// it does not own, by cancelling the request's context when no response has
// arrived in time. After the headers arrive the timer is stopped and the
// body keeps the context alive until it is closed.
type headerTimeoutTransport struct {
	next    http.RoundTripper
	timeout time.Duration
}

// errHeaderTimeout is a net.Error with Timeout() true: handleError maps it to
// 504.
var errHeaderTimeout = &headerTimeoutError{}

type headerTimeoutError struct{}

func (*headerTimeoutError) Error() string   { return "upstreams: timeout awaiting response headers" }
func (*headerTimeoutError) Timeout() bool   { return true }
func (*headerTimeoutError) Temporary() bool { return true }

// CloseIdleConnections passes through to the wrapped transport.
func (t *headerTimeoutTransport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (t *headerTimeoutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	timer := time.AfterFunc(t.timeout, func() { cancel(errHeaderTimeout) })
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if !timer.Stop() && context.Cause(ctx) == errHeaderTimeout {
		if resp != nil {
			resp.Body.Close()
		}
		cancel(nil)
		return nil, errHeaderTimeout
	}
	if err != nil {
		cancel(nil)
		return nil, err
	}
	release := func() { cancel(nil) }
	if rwc, ok := resp.Body.(io.ReadWriteCloser); ok {
		// A 101 Switching Protocols body is the connection itself:
		// ReverseProxy needs to write to it.
		resp.Body = &cancelOnCloseRW{ReadWriteCloser: rwc, cancel: release}
	} else {
		resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: release}
	}
	return resp, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel func()
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

type cancelOnCloseRW struct {
	io.ReadWriteCloser
	cancel func()
}

func (c *cancelOnCloseRW) Close() error {
	err := c.ReadWriteCloser.Close()
	c.cancel()
	return err
}
