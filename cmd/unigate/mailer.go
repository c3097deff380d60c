package main

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"unigate/accounts"
	"unigate/config"
	"unigate/mail"
	"unigate/mfa"
	"unigate/session"
)

// newOutbox builds the transport and the sender.
func newOutbox(cfg *config.Config, store accounts.OutboxStore, logger *slog.Logger, limiter mail.Limiter, onResult func(kind, result string)) (*mail.Outbox, error) {
	var t mail.Transport
	switch cfg.Mail.Transport {
	case "smtp":
		password := ""
		if f := cfg.Mail.SMTP.PasswordFile; f != "" {
			p, err := config.ReadSecret(f)
			if err != nil {
				return nil, fmt.Errorf("mail.smtp.password_file: %w", err)
			}
			password = p
		}
		smtp, err := mail.NewSMTP(mail.SMTPConfig{
			Host: cfg.Mail.SMTP.Host, Port: cfg.Mail.SMTP.Port, Username: cfg.Mail.SMTP.Username,
			Password: password, TLS: cfg.Mail.SMTP.TLS, From: cfg.Mail.From,
		})
		if err != nil {
			return nil, err
		}
		t = smtp
	case "file":
		ft, err := mail.NewFileTransport(cfg.Mail.Dir)
		if err != nil {
			return nil, err
		}
		t = ft
	default:
		t = mail.NewLogTransport(logger)
	}
	from := cfg.Mail.From
	if from == "" {
		from = "Accounts <no-reply@" + cfg.Public().Hostname() + ">"
	}
	renderer, err := mail.NewRenderer(from)
	if err != nil {
		return nil, err
	}
	// The bodies wait in the outbox sealed: they hold one-time codes and
	// invitation links (issue 16, finding 18).
	sealer, err := outboxSealer(cfg.SessionKey(), cfg.PreviousSessionKeys()...)
	if err != nil {
		return nil, err
	}
	sender, err := mail.NewSender(store, t, mail.SenderOptions{Logger: logger, Renderer: renderer, Sealer: sealer,
		Limiter: limiter, OnResult: onResult})
	if err != nil {
		return nil, err
	}
	return &mail.Outbox{Store: store, Renderer: renderer, Sender: sender, Sealer: sealer}, nil
}

// outboxSealer seals the outbox's bodies under a key derived from the
// session key for that purpose alone (HKDF, mail.OutboxKeyInfo); bodies
// queued under a previous session key still open, to be sent.
func outboxSealer(sessionKey []byte, previous ...[]byte) (*mfa.Sealer, error) {
	sub, err := hkdf.Key(sha256.New, sessionKey, nil, mail.OutboxKeyInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("mail: outbox key: %w", err)
	}
	var older [][]byte
	for _, k := range previous {
		old, err := hkdf.Key(sha256.New, k, nil, mail.OutboxKeyInfo, 32)
		if err != nil {
			return nil, fmt.Errorf("mail: outbox key: %w", err)
		}
		older = append(older, old)
	}
	return mfa.NewSealer(sub, older...)
}

// newMailLimiter is the bucket of mail.rate_per_second (CONTRACT §9): in
// the session Redis, shared by every replica on it, or this process's own
// when sessions live in memory (one instance only); nil for no limit.
func newMailLimiter(cfg *config.Config) (mail.Limiter, func(), error) {
	rate := cfg.Mail.RateLimit()
	if rate == 0 {
		return nil, func() {}, nil
	}
	if cfg.Session.Store == "memory" {
		l, err := mail.NewLocalLimiter(rate)
		return l, func() {}, err
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
	// A client of its own: the sender's waits never hold a connection the
	// requests need.
	client, err := session.NewRedisClient(session.RedisClientOptions{
		URL: r.URL, Addrs: r.Addrs, MasterName: r.MasterName, Cluster: r.Cluster,
		Username: r.Username, Password: password, DB: r.DB,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("mail.rate_per_second: redis: %w", err)
	}
	l, err := mail.NewRedisLimiter(client, mail.RateLimitKey(r.KeyPrefix), rate)
	if err != nil {
		client.Close()
		return nil, nil, err
	}
	return l, func() { client.Close() }, nil
}

// newMailMetrics registers unigate_mail_sent_total{kind,result} and
// unigate_outbox_pending (CONTRACT §12) on reg, and returns the sender's
// OnResult hook; nil without a registry.
func newMailMetrics(reg prometheus.Registerer, store accounts.OutboxStore) func(kind, result string) {
	if reg == nil {
		return nil
	}
	sent := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "unigate_mail_sent_total",
		Help: "Mail delivery attempts by kind and result (sent, retry, gave_up).",
	}, []string{"kind", "result"})
	reg.MustRegister(sent, &outboxPending{store: store, desc: prometheus.NewDesc("unigate_outbox_pending",
		"Messages in the outbox still to send (neither sent nor given up), all replicas together.", nil, nil)})
	return func(kind, result string) { sent.WithLabelValues(kind, result).Inc() }
}

// outboxPending is the gauge unigate_outbox_pending, counted in the outbox
// at each scrape: watching a million notices drain is watching it fall. A
// scrape while the account store does not answer leaves it out rather than
// report a number that is not one.
type outboxPending struct {
	store accounts.OutboxStore
	desc  *prometheus.Desc
}

func (o *outboxPending) Describe(ch chan<- *prometheus.Desc) { ch <- o.desc }

func (o *outboxPending) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, err := o.store.PendingMail(ctx)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(o.desc, prometheus.GaugeValue, float64(n))
}
