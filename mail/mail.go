// Package mail renders the gateway's messages and sends them through the
// account store's outbox.
//
// A message is rendered once (Renderer, from the embedded templates), stored
// in the outbox under a key that makes enqueueing idempotent (Queue), and
// sent by a Sender, which any number of replicas may run on one database:
// claims are leased, so no two replicas send one message at once, and a
// message survives a restart and is retried with backoff. The Transport is
// SMTP in production, files (one .eml each) or the log elsewhere.
//
// Nothing here logs or returns message content: a body holds one-time codes
// (SECURITY.md: never log a code).
package mail

import (
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"
)

// Transport delivers one complete RFC 5322 message to one recipient.
// Implementations: SMTPTransport, FileTransport, LogTransport.
type Transport interface {
	// Send delivers raw to the envelope recipient to. An error wrapping
	// ErrPermanent means that retrying the same message cannot succeed.
	Send(ctx context.Context, to string, raw []byte) error
}

// Errors of this package. Callers test them with errors.Is.
var (
	// ErrPermanent marks a delivery failure that a retry will not fix (the
	// relay refused the recipient or the message with a 5xx reply): the
	// Sender gives such a message up at once.
	ErrPermanent = errors.New("mail: permanent failure")
	// ErrUnknownKind: Render was asked for a kind that has no templates.
	ErrUnknownKind = errors.New("mail: unknown message kind")
	// ErrBadData: the data given to Render does not fit the kind (a code
	// that is not 8 digits, a missing field).
	ErrBadData = errors.New("mail: bad message data")
)

// kindKey carries a message's kind from the Sender to its Transport, for the
// log line of LogTransport.
type kindKey struct{}

func withKind(ctx context.Context, kind string) context.Context {
	return context.WithValue(ctx, kindKey{}, kind)
}

func kindFrom(ctx context.Context) string {
	kind, _ := ctx.Value(kindKey{}).(string)
	return kind
}

// CheckRecipient refuses an address this package would not send to as it
// is: anything but a bare addr-spec (RFC 5322 §3.4.1), one that net/mail
// gives back unchanged, without a display name or comment. A recipient such
// as "victim<attacker@evil.test>" would otherwise be delivered to
// attacker@evil.test while it names someone else (issue 16, finding 4);
// accounts.NormalizeEmail accepts no other form, and this is the mailer's
// own check of it.
func CheckRecipient(to string) error {
	a, err := netmail.ParseAddress(to)
	if err != nil || a.Name != "" || a.Address != to || strings.ContainsAny(to, "\r\n") {
		return fmt.Errorf("mail: recipient %q: not a bare address", to)
	}
	return nil
}

// recipientDomain is what may be logged of an address: its domain.
func recipientDomain(to string) string {
	if i := strings.LastIndexByte(to, '@'); i >= 0 {
		return strings.TrimSuffix(strings.ToLower(to[i+1:]), ">")
	}
	return ""
}
