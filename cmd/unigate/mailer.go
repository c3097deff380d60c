package main

import (
	"context"
	"fmt"
	"log/slog"

	"unigate/accounts"
	"unigate/config"
	"unigate/mail"
)

// outboxMailer queues a message in the account store's outbox and wakes the
// sender, so a login code leaves within milliseconds yet survives a restart.
type outboxMailer struct {
	store    accounts.OutboxStore
	renderer *mail.Renderer
	sender   *mail.Sender
}

func (m *outboxMailer) Queue(ctx context.Context, key, accountID, kind, locale, to string, data any) error {
	if _, err := mail.Queue(ctx, m.store, m.renderer, key, accountID, kind, locale, to, data); err != nil {
		return err
	}
	m.sender.Poke()
	return nil
}

// newMailer builds the transport named by mail.transport and the outbox sender.
func newMailer(cfg *config.Config, store accounts.OutboxStore, logger *slog.Logger) (*outboxMailer, error) {
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
	sender, err := mail.NewSender(store, t, mail.SenderOptions{Logger: logger})
	if err != nil {
		return nil, err
	}
	return &outboxMailer{store: store, renderer: renderer, sender: sender}, nil
}
