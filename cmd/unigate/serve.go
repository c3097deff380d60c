package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"unigate/accounts"
	"unigate/config"
	"unigate/gateway"
	"unigate/session"
)

// runServe runs the gateway until ctx ends (SIGTERM/SIGINT), then drains:
// it stops accepting, lets in-flight requests finish within shutdown_grace,
// and returns nil (exit 0). On SIGHUP it reloads the configuration with
// load (CONTRACT §12 "Reload").
func runServe(ctx context.Context, cfg *config.Config, load func() (*config.Config, error), stdout, stderr io.Writer) error {
	logs := newBufferedLog(stderr)
	defer logs.Close()
	level := new(slog.LevelVar)
	level.Set(parseLevel(cfg.Log.Level))
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: level}))
	store, closeStore, err := openSessionStore(cfg, logger)
	if err != nil {
		return err
	}
	defer closeStore()
	acc, err := accounts.Open(ctx, cfg.Accounts.Driver, cfg.Accounts.DSN)
	if err != nil {
		return fmt.Errorf("account store: %w", err)
	}
	defer acc.Close()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	return serveGateway(ctx, serveSetup{cfg: cfg, store: store, acc: acc, logger: logger, level: level, load: load, reloads: hup})
}

// serveGatewayOn builds the gateway on the given stores and serves it on ln
// (nil: cfg.Listen) and the operator listener on cfg.Metrics.Listen. ready,
// when not nil, is called with the bound public address once listening.
func serveGatewayOn(ctx context.Context, cfg *config.Config, store session.Store, acc accounts.Store, logger *slog.Logger, ln net.Listener, ready func(addr string)) error {
	return serveGateway(ctx, serveSetup{cfg: cfg, store: store, acc: acc, logger: logger, ln: ln, ready: ready})
}

// serveSetup is what serveGateway runs.
type serveSetup struct {
	cfg    *config.Config
	store  session.Store
	acc    accounts.Store
	logger *slog.Logger
	// ln is the public listener (nil: cfg.Listen), ready is told its address.
	ln    net.Listener
	ready func(addr string)
	// load reads the configuration again; each value on reloads asks for it
	// (SIGHUP). nil: no reload.
	load    func() (*config.Config, error)
	reloads <-chan os.Signal
	// level is the logger's level, set again on a reload; nil: fixed.
	level *slog.LevelVar
	// reloaded, when not nil, is told the outcome of every reload (tests).
	reloaded func(error)
}

// serveGateway serves until ctx ends, reloading on setup.reloads.
func serveGateway(ctx context.Context, setup serveSetup) error {
	cfg, logger, ln := setup.cfg, setup.logger, setup.ln
	// A listener given by the caller is ours: closed when nothing will serve on it.
	fail := func(err error) error {
		if ln != nil {
			ln.Close()
		}
		return err
	}
	reg := gateway.NewMetricsRegistry()
	// The mail cap and its metrics belong to the process, not to a
	// generation: a reload keeps them (a new rate needs a restart).
	limiter, closeLimiter, err := newMailLimiter(cfg)
	if err != nil {
		return fail(fmt.Errorf("mail: %w", err))
	}
	gens := &generations{store: setup.store, acc: setup.acc, logger: logger, reg: reg, hasher: accounts.NewHasher(0),
		mailLimiter: limiter, mailSent: newMailMetrics(reg, setup.acc)}
	gen, err := gens.build(cfg, nil)
	if err != nil {
		return fail(err)
	}
	live := &liveGateway{}
	live.cur.Store(gen)
	// The outbox sender and the provisioning queue run beside the server,
	// on the current generation, and stop with it.
	tasks := newBackground(context.WithoutCancel(ctx))
	tasks.start(gen)
	defer closeLimiter() // after the last sender has stopped (deferred calls run in reverse)
	defer tasks.stop()

	public := gateway.NewHTTPServer(live, logger)
	if gen.certs != nil {
		// The certificate of the current generation: a reload may name new files.
		public.TLSConfig = serverTLSConfig(gen.certs)
		public.TLSConfig.GetCertificate = live.getCertificate
	}
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return fmt.Errorf("listen %s: %w", cfg.Listen, err)
		}
	}
	servers := []*http.Server{public}
	listeners := []net.Listener{ln}
	if cfg.Metrics.Listen != "" {
		mln, err := net.Listen("tcp", cfg.Metrics.Listen)
		if err != nil {
			return fail(fmt.Errorf("listen %s (metrics): %w", cfg.Metrics.Listen, err))
		}
		// The stores never change on a reload: the first gateway's probes stay right.
		servers = append(servers, gateway.NewHTTPServer(gen.gw.MetricsHandler(reg), logger))
		listeners = append(listeners, mln)
	}
	if cfg.ForwardAuth.Listen != "" {
		// Forward-auth for the operator's own edge proxy (CONTRACT §12).
		fln, err := net.Listen("tcp", cfg.ForwardAuth.Listen)
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return fmt.Errorf("listen %s (forward_auth): %w", cfg.ForwardAuth.Listen, err)
		}
		servers = append(servers, gateway.NewHTTPServer(live.forwardAuth(), logger))
		listeners = append(listeners, fln)
	}

	// Read before Serve runs: net/http configures HTTP/2 into TLSConfig then.
	tlsOn := public.TLSConfig != nil
	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() {
			serve := srv.Serve
			if srv.TLSConfig != nil { // HTTPS and HTTP/2; the certificate comes from TLSConfig
				serve = func(ln net.Listener) error { return srv.ServeTLS(ln, "", "") }
			}
			if err := serve(listeners[i]); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	logger.Info("unigate serving", "listen", ln.Addr().String(), "tls", tlsOn, "metrics", cfg.Metrics.Listen, "forward_auth", cfg.ForwardAuth.Listen, "public_url", cfg.Public().String())
	if setup.ready != nil {
		setup.ready(ln.Addr().String())
	}

	rl := newReloader(reg, setup, gens, live, tasks)
serving:
	for {
		select {
		case err := <-errc:
			for _, srv := range servers {
				srv.Close()
			}
			return err
		case <-setup.reloads:
			err := rl.reload()
			if setup.reloaded != nil {
				setup.reloaded(err)
			}
		case <-ctx.Done():
			break serving
		}
	}
	grace := rl.current().ShutdownGrace
	logger.Info("shutting down", "grace", grace.String())
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	var firstErr error
	for _, srv := range servers {
		if err := srv.Shutdown(shutdownCtx); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		logger.Warn("in-flight requests cut at the end of the grace period", "err", firstErr)
	}
	logger.Info("stopped")
	return nil
}

func openSessionStore(cfg *config.Config, logger *slog.Logger) (session.Store, func(), error) {
	if cfg.Session.Store == "memory" {
		return session.NewMemoryStore(nil), func() {}, nil
	}
	r := cfg.Session.Redis
	password := ""
	if r.PasswordFile != "" {
		p, err := config.ReadSecret(r.PasswordFile)
		if err != nil {
			return nil, nil, fmt.Errorf("session.redis.password_file: %w", err)
		}
		password = p
	}
	client, err := session.NewRedisClient(session.RedisClientOptions{
		URL: r.URL, Addrs: r.Addrs, MasterName: r.MasterName, Cluster: r.Cluster,
		Username: r.Username, Password: password, DB: r.DB,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("session store: %w", err)
	}
	store := session.NewRedisStore(client, session.RedisOptions{KeyPrefix: r.KeyPrefix})
	if cfg.Session.LocalCache <= 0 && !cfg.Session.TrackingCache {
		// The default: every request asks Redis, so a revocation holds on
		// its next request on every replica.
		return store, func() { client.Close() }, nil
	}
	if cfg.Session.LocalCache <= 0 {
		// Sessions cached per replica and invalidated by Redis itself (CLIENT
		// TRACKING), opted into with session.tracking_cache (see its doc for
		// the window a delayed invalidation leaves). Cluster or TLS: every
		// Get goes to Redis.
		tracked, err := session.NewTrackingStore(store, client, session.TrackingOptions{Logger: logger})
		if err != nil {
			return store, func() { client.Close() }, nil
		}
		return tracked, func() { tracked.Close(); client.Close() }, nil
	}
	// A local cache in front of Redis; revocations reach every replica through pub/sub.
	cached := session.NewCachedStore(store, client, session.CacheOptions{MaxAge: cfg.Session.LocalCache, Logger: logger})
	return cached, func() { cached.Close(); client.Close() }, nil
}

func newLogger(w io.Writer, level string) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: parseLevel(level)}))
}

// parseLevel reads log.level: debug, info (default), warn, error.
func parseLevel(level string) slog.Level {
	switch strings.ToLower(level) {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}
