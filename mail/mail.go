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

// recipientDomain is what may be logged of an address: its domain.
func recipientDomain(to string) string {
	if i := strings.LastIndexByte(to, '@'); i >= 0 {
		return strings.TrimSuffix(strings.ToLower(to[i+1:]), ">")
	}
	return ""
}
