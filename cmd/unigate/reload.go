package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"unigate/accounts"
	"unigate/config"
	"unigate/gateway"
	"unigate/mail"
	"unigate/session"
	"unigate/upstreams"
)

// Reload (CONTRACT §12): SIGHUP reads config.yaml and every secret file
// again and applies them without dropping a connection. The design is the
// simplest that is safe: a whole new gateway (a generation) is built from
// the new configuration, on the same stores, and swapped in atomically
// behind the listeners. A request already being served keeps the
// generation it started on to its end, so no request ever sees half of one
// configuration and half of another; the next request gets the new one.
// Anything that fails to build leaves the running generation untouched.

// generation is one configuration, ready to serve.
type generation struct {
	cfg    *config.Config
	gw     *gateway.Server
	mailer *mail.Outbox
	certs  *certReloader // nil without TLS
}

// generations builds generations on the process's stores.
type generations struct {
	store  session.Store
	acc    accounts.Store
	logger *slog.Logger
	reg    prometheus.Registerer
	// hasher bounds the password hashes running at once for the whole
	// process: one, whatever the generation.
	hasher *accounts.Hasher
	// mailLimiter caps the replicas' mail together (mail.rate_per_second)
	// and mailSent counts deliveries: both outlive generations.
	mailLimiter mail.Limiter
	mailSent    func(kind, result string)
}

// build makes a generation from cfg; prev is the one it replaces (nil at start).
func (g *generations) build(cfg *config.Config, prev *generation) (*generation, error) {
	signer, err := newSigner(cfg)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	mailer, err := newOutbox(cfg, g.acc, g.logger, g.mailLimiter, g.mailSent)
	if err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	gen := &generation{cfg: cfg, mailer: mailer}
	if cfg.TLS.CertFile != "" {
		if gen.certs, err = newCertReloader(cfg.TLS.CertFile, cfg.TLS.KeyFile, g.logger); err != nil {
			return nil, err
		}
	}
	deps := gateway.Deps{
		Config:   cfg,
		Sessions: g.store,
		Accounts: g.acc,
		Hasher:   g.hasher,
		Signer:   signer,
		Logger:   g.logger,
		Registry: g.reg,
		Mailer:   mailer,
	}
	if prev != nil {
		deps.Previous = prev.gw
	}
	if gen.gw, err = gateway.New(deps); err != nil {
		return nil, err
	}
	return gen, nil
}

// newSigner signs with signing_key_file and publishes the previous signing
// keys beside it in the JWKS (CONTRACT §12 "Key rotation").
func newSigner(cfg *config.Config) (*upstreams.Signer, error) {
	var previous []*ecdsa.PublicKey
	for _, k := range cfg.PreviousSigningKeys() {
		previous = append(previous, &k.PublicKey)
	}
	return upstreams.NewRotatedSigner(cfg.SigningKey(), previous, cfg.Public().String(), time.Now)
}

// liveGateway is what the listeners serve: the current generation.
type liveGateway struct {
	cur atomic.Pointer[generation]
}

func (l *liveGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.cur.Load().gw.ServeHTTP(w, r)
}

func (l *liveGateway) forwardAuth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.cur.Load().gw.ForwardAuth().ServeHTTP(w, r)
	})
}

// getCertificate is the TLS hook: the current generation's certificate.
func (l *liveGateway) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	certs := l.cur.Load().certs
	if certs == nil {
		return nil, errors.New("tls: no certificate configured")
	}
	return certs.GetCertificate(hello)
}

// background runs the tasks of the current generation: the outbox sender
// and the provisioning queue. A new generation's tasks start once the
// previous ones have stopped, so two senders never run side by side.
type background struct {
	parent context.Context
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

func newBackground(parent context.Context) *background { return &background{parent: parent} }

func (b *background) start(gen *generation) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopLocked()
	ctx, cancel := context.WithCancel(b.parent)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); gen.mailer.Sender.Run(ctx) }()
	go func() { defer wg.Done(); gen.gw.RunProvisioning(ctx) }()
	go func() { wg.Wait(); close(done) }()
	b.cancel, b.done = cancel, done
}

func (b *background) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopLocked()
}

func (b *background) stopLocked() {
	if b.cancel != nil {
		b.cancel()
		<-b.done
		b.cancel, b.done = nil, nil
	}
}

// reloader applies a new configuration on SIGHUP.
type reloader struct {
	setup  serveSetup
	gens   *generations
	live   *liveGateway
	tasks  *background
	logger *slog.Logger

	reloads     *prometheus.CounterVec
	lastSuccess prometheus.Gauge
}

func newReloader(reg *prometheus.Registry, setup serveSetup, gens *generations, live *liveGateway, tasks *background) *reloader {
	r := &reloader{
		setup: setup, gens: gens, live: live, tasks: tasks, logger: setup.logger,
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "unigate_config_reloads_total",
			Help: "Configuration reloads (SIGHUP) by result: success, failure.",
		}, []string{"result"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "unigate_config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last configuration that was applied (at start or by a reload).",
		}),
	}
	reg.MustRegister(r.reloads, r.lastSuccess)
	r.reloads.WithLabelValues("success")
	r.reloads.WithLabelValues("failure")
	r.lastSuccess.SetToCurrentTime()
	return r
}

// current is the configuration being served.
func (r *reloader) current() *config.Config { return r.live.cur.Load().cfg }

// reload loads, builds and swaps; on any problem nothing changes and each
// problem is logged as a "config: …" line.
func (r *reloader) reload() error {
	if r.setup.load == nil {
		return errors.New("reload: not supported here")
	}
	r.logger.Info("reloading the configuration (SIGHUP)")
	cfg, err := r.setup.load()
	if err == nil {
		err = r.apply(cfg)
	}
	if err != nil {
		r.reloads.WithLabelValues("failure").Inc()
		for _, line := range problemLines(err) {
			r.logger.Error(line)
		}
		r.logger.Error("reload failed: the configuration in use is unchanged")
		return err
	}
	r.reloads.WithLabelValues("success").Inc()
	r.lastSuccess.SetToCurrentTime()
	return nil
}

func (r *reloader) apply(cfg *config.Config) error {
	old := r.live.cur.Load()
	gen, err := r.gens.build(cfg, old)
	if err != nil {
		return err
	}
	if gen.certs == nil {
		gen.certs = old.certs // the listener speaks TLS until a restart
	}
	for _, key := range restartOnly(old.cfg, cfg) {
		r.logger.Warn("config: "+key+": changed, applied only after a restart; the running value is kept", "key", key)
	}
	r.live.cur.Store(gen)
	// The replaced gateway's idle upstream connections go now, those of its
	// requests still in flight once they are likely done.
	old.gw.CloseIdleConnections()
	time.AfterFunc(max(cfg.ShutdownGrace, time.Minute), old.gw.CloseIdleConnections)
	if r.setup.level != nil {
		r.setup.level.Set(parseLevel(cfg.Log.Level))
	}
	r.tasks.start(gen)
	r.logger.Info("configuration reloaded", "consoles", len(cfg.Consoles))
	return nil
}

// problemLines are the "config: …" lines of a failed load or build.
func problemLines(err error) []string {
	var ps config.Problems
	if errors.As(err, &ps) {
		lines := make([]string, len(ps))
		for i, p := range ps {
			lines[i] = p.String()
		}
		return lines
	}
	var lines []string
	for line := range strings.SplitSeq(err.Error(), "\n") {
		if !strings.HasPrefix(line, "config: ") {
			line = "config: " + line
		}
		lines = append(lines, line)
	}
	return lines
}

// restartOnly names what changed that a reload cannot apply: the listen
// addresses (their sockets are open), TLS on or off (the listener's
// protocol), and the session and account stores (their connections and
// everything kept in them).
func restartOnly(old, cur *config.Config) []string {
	var keys []string
	check := func(key string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			keys = append(keys, key)
		}
	}
	check("listen", old.Listen, cur.Listen)
	check("metrics.listen", old.Metrics.Listen, cur.Metrics.Listen)
	check("forward_auth.listen", old.ForwardAuth.Listen, cur.ForwardAuth.Listen)
	check("tls", old.TLS.CertFile != "", cur.TLS.CertFile != "")
	check("session.store", old.Session.Store, cur.Session.Store)
	check("session.redis", old.Session.Redis, cur.Session.Redis)
	check("session.local_cache", old.Session.LocalCache, cur.Session.LocalCache)
	check("session.tracking_cache", old.Session.TrackingCache, cur.Session.TrackingCache)
	check("accounts", old.Accounts, cur.Accounts)
	return keys
}
