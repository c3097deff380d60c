package mail

import (
	"context"
	"log/slog"
)

// LogTransport delivers nothing: it logs that a message would have been
// sent, with the recipient's domain, the kind and the size, and never the
// body, the subject or the local part of the address: a body holds one-time
// codes, which must never reach a log (SECURITY.md).
type LogTransport struct {
	log *slog.Logger
}

// NewLogTransport logs to logger (slog.Default when nil).
func NewLogTransport(logger *slog.Logger) *LogTransport {
	if logger == nil {
		logger = slog.Default()
	}
	return &LogTransport{log: logger}
}

func (t *LogTransport) Send(ctx context.Context, to string, raw []byte) error {
	t.log.LogAttrs(ctx, slog.LevelInfo, "mail not sent (log transport)",
		slog.String("to_domain", recipientDomain(to)),
		slog.String("kind", kindFrom(ctx)),
		slog.Int("bytes", len(raw)))
	return nil
}
