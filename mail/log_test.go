package mail

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

// TestLogTransportNeverLogsContent: the log line names the recipient's
// domain, the kind and the size, never the code, the subject or the local
// part (SECURITY.md: never log a code).
func TestLogTransportNeverLogsContent(t *testing.T) {
	const code = "73910284"
	raw, err := mustRenderer(t).Render(KindEmailCode, "en", "alice.secret@Example.COM", CodeData{Code: code, ExpiresMinutes: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, handler := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var logs bytes.Buffer
		lt := NewLogTransport(slog.New(handler(&logs)))
		if err := lt.Send(withKind(context.Background(), KindEmailCode), "alice.secret@Example.COM", raw); err != nil {
			t.Fatal(err)
		}
		out := logs.String()
		for _, want := range []string{"example.com", KindEmailCode, "bytes", "to_domain"} {
			if !strings.Contains(out, want) {
				t.Errorf("log %q lacks %q", out, want)
			}
		}
		for _, secret := range []string{code, "alice", "sign-in code", "Subject"} {
			if strings.Contains(out, secret) {
				t.Errorf("log %q contains %q", out, secret)
			}
		}
	}
}

func TestRecipientDomain(t *testing.T) {
	for in, want := range map[string]string{
		"a@Example.com": "example.com", "Name <a@b.example>": "b.example", "no-at": "", `"x@y"@z.example`: "z.example",
	} {
		if got := recipientDomain(in); got != want {
			t.Errorf("recipientDomain(%q) = %q, want %q", in, got, want)
		}
	}
}
