package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"unigate/accounts"
	"unigate/config"
	"unigate/gateway"
	"unigate/session"
	"unigate/upstreams"
)

// runServe runs the gateway until ctx ends (SIGTERM/SIGINT), then drains:
// it stops accepting, lets in-flight requests finish within shutdown_grace,
// and returns nil (exit 0).
func runServe(ctx context.Context, cfg *config.Config, stdout, stderr io.Writer) error {
	logs := newBufferedLog(stderr)
	defer logs.Close()
	logger := newLogger(logs, cfg.Log.Level)
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
	return serveGatewayOn(ctx, cfg, store, acc, logger, nil, nil)
}

// serveGatewayOn builds the gateway on the given stores and serves it on ln
// (nil: cfg.Listen) and the operator listener on cfg.Metrics.Listen. ready,
// when not nil, is called with the bound public address once listening.
func serveGatewayOn(ctx context.Context, cfg *config.Config, store session.Store, acc accounts.Store, logger *slog.Logger, ln net.Listener, ready func(addr string)) error {
	// A listener given by the caller is ours: closed when nothing will serve on it.
	fail := func(err error) error {
		if ln != nil {
			ln.Close()
		}
		return err
	}
	signer, err := upstreams.NewSigner(cfg.SigningKey(), cfg.Public().String(), time.Now)
	if err != nil {
		return fail(fmt.Errorf("signing key: %w", err))
	}
	reg := gateway.NewMetricsRegistry()
	mailer, closeMailer, err := newMailer(cfg, acc, logger, reg)
	if err != nil {
		return fail(fmt.Errorf("mail: %w", err))
	}
	defer closeMailer()
	gw, err := gateway.New(gateway.Deps{
		Config:   cfg,
		Sessions: store,
		Accounts: acc,
		Hasher:   accounts.NewHasher(0),
		Signer:   signer,
		Logger:   logger,
		Registry: reg,
		Mailer:   mailer,
	})
	if err != nil {
		return fail(err)
	}
	// The outbox sender runs beside the server and stops with it.
	senderCtx, stopSender := context.WithCancel(context.WithoutCancel(ctx))
	senderDone := make(chan struct{})
	go func() { defer close(senderDone); mailer.Sender.Run(senderCtx) }()
	// So does the queue of console accounts created through provisioning endpoints.
	provisionDone := make(chan struct{})
	go func() { defer close(provisionDone); gw.RunProvisioning(senderCtx) }()
	defer func() { <-provisionDone }()
	defer func() { stopSender(); <-senderDone }()

	public := gateway.NewHTTPServer(gw, logger)
	if cfg.TLS.CertFile != "" {
		certs, err := newCertReloader(cfg.TLS.CertFile, cfg.TLS.KeyFile, logger)
		if err != nil {
			return fail(err)
		}
		public.TLSConfig = serverTLSConfig(certs)
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
		servers = append(servers, gateway.NewHTTPServer(gw.MetricsHandler(reg), logger))
		listeners = append(listeners, mln)
	}

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
	logger.Info("unigate serving", "listen", ln.Addr().String(), "tls", public.TLSConfig != nil, "metrics", cfg.Metrics.Listen, "public_url", cfg.Public().String())
	if ready != nil {
		ready(ln.Addr().String())
	}

	select {
	case err := <-errc:
		for _, srv := range servers {
			srv.Close()
		}
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down", "grace", cfg.ShutdownGrace.String())
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownGrace)
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
	if cfg.Session.LocalCache <= 0 {
		return store, func() { client.Close() }, nil
	}
	// A local cache in front of Redis; revocations reach every replica through pub/sub.
	cached := session.NewCachedStore(store, client, session.CacheOptions{MaxAge: cfg.Session.LocalCache, Logger: logger})
	return cached, func() { cached.Close(); client.Close() }, nil
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "warn":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}
