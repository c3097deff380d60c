package main

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"log/slog"

	"unigate/accounts"
	"unigate/config"
	"unigate/mail"
	"unigate/mfa"
)

// newMailer builds the transport named by mail.transport and the outbox sender.
func newMailer(cfg *config.Config, store accounts.OutboxStore, logger *slog.Logger) (*mail.Outbox, error) {
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
	sender, err := mail.NewSender(store, t, mail.SenderOptions{Logger: logger, Renderer: renderer, Sealer: sealer})
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
