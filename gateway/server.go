// Package gateway is the HTTP edge of unigate: it picks the site by host,
// serves the account portal (pages and JSON API) with its login state
// machine, and guards the console hosts, forwarding authenticated traffic
// through package upstreams.
package gateway

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"unigate/access"
	"unigate/account"
	"unigate/accounts"
	"unigate/config"
	"unigate/login"
	"unigate/mfa"
	"unigate/session"
	"unigate/sso"
	"unigate/upstreams"
	"unigate/web"
)

// Deps is what the gateway is built from. Stores are passed in, never global.
type Deps struct {
	Config   *config.Config // validated
	Sessions session.Store
	Accounts accounts.Store
	Hasher   *accounts.Hasher
	Signer   *upstreams.Signer
	Logger   *slog.Logger
	// Registry receives the gateway's metrics; nil => a private registry.
	Registry prometheus.Registerer
	// Clock is injected so that timeouts and lockouts are testable; nil => time.Now.
	Clock func() time.Time
	// Mailer queues the messages the login sends (email codes).
	Mailer Mailer
	// SSOProviders overrides the providers built from the configuration (tests).
	SSOProviders map[string]sso.Provider
	// Transport to the upstreams; nil => a tuned transport per console (production).
	Transport http.RoundTripper
	// Previous is the gateway this one replaces on a reload (SIGHUP): its
	// metrics (already registered) and its provisioning queue are taken over.
	Previous *Server
}

// Mailer queues one message (rendered from the kind's template in the
// locale) for delivery; the outbox sends it. key makes queueing idempotent.
type Mailer interface {
	Queue(ctx context.Context, key, accountID, kind, locale, to string, data any) error
}

// Server is the gateway. It is an http.Handler for the public listener;
// MetricsHandler serves the operator listener.
type Server struct {
	cfg      *config.Config
	sessions session.Store
	accounts accounts.Store
	hasher   *accounts.Hasher
	signer   *upstreams.Signer
	logger   *slog.Logger
	clock    func() time.Time
	metrics  *metrics
	cookies  *session.CookieCodec
	mailer   Mailer
	sealer   *mfa.Sealer
	webauthn *mfa.WebAuthn
	// login is the login state machine (package login), over the stores above.
	login *login.Machine
	// ssoProviders are the configured identity providers by name.
	ssoProviders map[string]sso.Provider
	// provisionPoke wakes RunProvisioning; provisionClient calls the endpoints.
	provisionPoke   chan struct{}
	provisionClient *http.Client
	// codeKey keys the HMAC of email codes (derived from the session key).
	codeKey []byte

	public      *url.URL
	accountHost string // lower-case, no port
	portSuffix  string // ":port" of public_url, or ""
	secure      bool
	trusted     []netip.Prefix

	consoles     map[string]*consoleSite // by id
	consoleList  []*consoleSite          // config order
	consoleHosts map[string]*consoleSite // by lower-case host
	mounts       []*consoleSite          // with a path_prefix, longest prefix first
	access       *access.Decider         // the decision of every console request

	pages   *web.Renderer
	handler http.Handler
	// forwardAuthHandler serves forward_auth.listen (forwardauth.go).
	forwardAuthHandler http.Handler

	// orgs, profile and security are the self-service of package account.
	orgs     *account.Orgs
	profile  *account.Profile
	security *account.Security
}

// consoleSite is one configured console, ready to serve.
type consoleSite struct {
	id, name    string
	hosts       []string
	prefix      string // "" or "/x/"
	public      upstreams.PublicPaths
	proxy       *upstreams.Proxy // for the console's own hosts
	mountProxy  *upstreams.Proxy // for the path_prefix mount: strips the prefix
	legacyLogin bool
	legacyPaths []string // canonical paths served as the legacy login page
	// provisioning is the endpoint that names the console's accounts (URL "" when the gateway does).
	provisioning config.Provisioning
	access       *access.Console // the console as the access decision sees it
}

// New validates the dependencies and builds the gateway.
func New(d Deps) (*Server, error) {
	if d.Config == nil || d.Sessions == nil || d.Accounts == nil || d.Hasher == nil || d.Signer == nil || d.Mailer == nil {
		return nil, errors.New("gateway: config, session store, account store, hasher, signer and mailer are required")
	}
	cfg := d.Config
	s := &Server{
		cfg:          cfg,
		sessions:     d.Sessions,
		accounts:     d.Accounts,
		hasher:       d.Hasher,
		signer:       d.Signer,
		mailer:       d.Mailer,
		logger:       d.Logger,
		clock:        d.Clock,
		public:       cfg.Public(),
		trusted:      cfg.TrustedPrefixes(),
		secure:       cfg.SecureCookies(),
		consoles:     map[string]*consoleSite{},
		consoleHosts: map[string]*consoleSite{},

		provisionPoke:   make(chan struct{}, 1),
		provisionClient: &http.Client{Transport: upstreams.NewTransport()},
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.public == nil {
		return nil, errors.New("gateway: config is not validated (public_url missing)")
	}
	s.accountHost = strings.ToLower(s.public.Hostname())
	if p := s.public.Port(); p != "" {
		s.portSuffix = ":" + p
	}
	reg := d.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	if d.Previous != nil {
		// One set of collectors for the life of the process: counters go on
		// across reloads, and nothing is registered twice.
		s.metrics, s.provisionPoke = d.Previous.metrics, d.Previous.provisionPoke
	} else {
		s.metrics = newMetrics(reg)
	}

	codec, err := session.NewCookieCodec(session.CookieConfig{
		Name:    cfg.Session.CookieName,
		Secure:  s.secure,
		HashKey: cfg.SessionKey(),
		MaxAge:  cfg.Session.AbsoluteTimeout,
		// Cookies of a previous session key still open (keyrotation.go).
		PreviousHashKeys: cfg.PreviousSessionKeys(),
	})
	if err != nil {
		return nil, fmt.Errorf("gateway: cookie codec: %w", err)
	}
	s.cookies = codec
	if s.sealer, err = mfa.NewSealer(cfg.SessionKey(), cfg.PreviousSessionKeys()...); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	s.codeKey = deriveKey(cfg.SessionKey(), "unigate email code v1")
	s.ssoProviders = d.SSOProviders
	if s.ssoProviders == nil {
		if s.ssoProviders, err = newSSOProviders(cfg); err != nil {
			return nil, fmt.Errorf("gateway: %w", err)
		}
	}
	// Passkeys belong to the account host: its name is the RP ID, its origin the only one accepted.
	s.webauthn, err = mfa.NewWebAuthn(mfa.Config{
		RPID:          s.accountHost,
		RPDisplayName: "Scaleway and Dedibox account",
		Origins:       []string{s.public.Scheme + "://" + s.public.Host},
		Timeout:       5 * time.Minute,
		Now:           s.now,
	})
	if err != nil {
		return nil, fmt.Errorf("gateway: webauthn: %w", err)
	}

	for _, c := range cfg.Consoles {
		// A nil transport gives each console its own clone of the tuned
		// transport, with the console's timeout as its response-header timeout.
		site, err := s.newConsoleSite(c, d.Transport)
		if err != nil {
			return nil, err
		}
		s.consoles[site.id] = site
		s.consoleList = append(s.consoleList, site)
		for _, h := range site.hosts {
			s.consoleHosts[h] = site
		}
		if site.prefix != "" {
			s.mounts = append(s.mounts, site)
		}
	}
	// Longest prefix first, so that "/a/b/" wins over "/a/".
	for i := 1; i < len(s.mounts); i++ {
		for j := i; j > 0 && len(s.mounts[j].prefix) > len(s.mounts[j-1].prefix); j-- {
			s.mounts[j], s.mounts[j-1] = s.mounts[j-1], s.mounts[j]
		}
	}
	s.metrics.preset(s.consoleList)
	s.login = s.newLogin()
	if err := s.newAccess(); err != nil {
		return nil, err
	}

	s.orgs, err = account.NewOrgs(account.OrgsConfig{
		Store:     d.Accounts,
		Mailer:    d.Mailer,
		Counters:  d.Sessions,
		Audit:     s,
		Watcher:   membershipWatcher{s},
		PublicURL: s.public.Scheme + "://" + s.public.Host,
		Now:       s.now,
	})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}

	if s.profile, err = account.NewProfile(d.Accounts, s); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if s.security, err = s.newSecurity(d); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}

	s.pages, err = web.NewRenderer()
	if err != nil {
		return nil, fmt.Errorf("gateway: pages: %w", err)
	}
	s.handler = s.withCookieRotation(s.routes())
	s.forwardAuthHandler = s.newForwardAuthHandler()
	return s, nil
}

func (s *Server) newConsoleSite(c config.Console, transport http.RoundTripper) (*consoleSite, error) {
	up, err := url.Parse(c.Upstream)
	if err != nil {
		return nil, fmt.Errorf("gateway: console %s: upstream: %w", c.ID, err)
	}
	public, err := upstreams.NewPublicPaths(c.PublicPaths)
	if err != nil {
		return nil, fmt.Errorf("gateway: console %s: public_paths: %w", c.ID, err)
	}
	site := &consoleSite{id: c.ID, name: c.Name, prefix: c.PathPrefix, public: public, legacyLogin: c.LegacyLogin, legacyPaths: c.LegacyLoginPaths,
		provisioning: c.Provisioning}
	for _, h := range c.Hosts {
		site.hosts = append(site.hosts, strings.ToLower(h))
	}
	proxyConfig := upstreams.ProxyConfig{
		Console:        c.ID,
		Upstream:       up,
		Timeout:        c.Timeout,
		CookieName:     s.cookies.Name(),
		GatewayCookies: []string{s.handoffNonceCookie(), langCookie},
		PublicScheme:   s.public.Scheme,
		TrustedProxies: s.trusted,
		Transport:      transport,
		Signer:         s.signer,
		ErrorPage:      s.upstreamErrorPage,
		Logger:         s.logger,
	}
	if len(site.hosts) > 0 {
		if site.proxy, err = upstreams.NewProxy(proxyConfig); err != nil {
			return nil, fmt.Errorf("gateway: console %s: %w", c.ID, err)
		}
	}
	if site.prefix != "" {
		proxyConfig.StripPrefix = strings.TrimSuffix(c.PathPrefix, "/")
		if site.mountProxy, err = upstreams.NewProxy(proxyConfig); err != nil {
			return nil, fmt.Errorf("gateway: console %s: %w", c.ID, err)
		}
	}
	return site, nil
}

// deriveKey derives a purpose-bound key from the session key (HKDF-SHA256).
func deriveKey(secret []byte, info string) []byte {
	k, err := hkdf.Key(sha256.New, secret, nil, info, 32)
	if err != nil {
		panic(err) // only for lengths over 255*32
	}
	return k
}

// ServeHTTP serves the public listener.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// hostOnly returns the lower-cased host of a Host header without its port.
// Host matching ignores the port (CONTRACT: "Host matching ignores the port").
func hostOnly(hostport string) string {
	host := hostport
	if strings.HasPrefix(host, "[") {
		if i := strings.IndexByte(host, ']'); i > 0 {
			return strings.ToLower(host[1:i])
		}
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[:i], ":") {
		host = host[:i]
	}
	return strings.ToLower(host)
}

// siteURL is the origin of a host with the scheme and port of public_url
// (CONTRACT: every URL built for a console host takes them).
func (s *Server) siteURL(host string) string {
	return s.public.Scheme + "://" + host + s.portSuffix
}

func (s *Server) clientIP(r *http.Request) netip.Addr {
	return upstreams.ClientIP(r, s.trusted)
}

// Ready reports whether the session store and the account store answer
// within one second each (CONTRACT §7 /readyz). The map names what failed.
func (s *Server) Ready(ctx context.Context) map[string]string {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	failed := map[string]string{}
	type result struct {
		name string
		err  error
	}
	ch := make(chan result, 2)
	go func() { ch <- result{"session_store", s.sessions.Ping(ctx)} }()
	go func() { ch <- result{"account_store", s.accounts.Ping(ctx)} }()
	for range 2 {
		res := <-ch
		if res.err != nil {
			failed[res.name] = "not answering"
			s.logger.Warn("readiness check failed", "dependency", res.name, "err", res.err)
		}
	}
	return failed
}

// NewHTTPServer wraps h in an http.Server with the limits that protect a
// listener (SECURITY family 8): a header read timeout against slow clients,
// a header size cap (431 past it) and an idle timeout. There is no overall
// read or write timeout: console uploads, downloads and WebSockets may
// legitimately last long.
func NewHTTPServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}
