package unify

import (
	"context"
	"errors"

	"unigate/accounts"
	"unigate/mail"
)

// KindNotice is the mail kind of the notification each unified account is
// sent (rule 6): templates mail/templates/<locale>/unify_notice.*.
const KindNotice = "unify_notice"

// NoticeKey is the outbox key of an account's notification: one per
// account, ever, whatever runs and re-runs happen.
func NoticeKey(accountID string) string { return KindNotice + ":" + accountID }

// NoticeData fills the unify_notice templates: what changed for one
// account. It names accounts, never a secret.
type NoticeData struct {
	Email     string // the unified account's, which signs in
	SignInURL string // where to sign in; "" leaves the link out

	// Exactly one of these four says what happened.
	NothingChanges bool // a Scaleway account without Dedibox records
	JoinedScaleway bool // the Dedibox account joined its Scaleway account (linked or same email)
	NewScaleway    bool // no Scaleway account: one was created
	Merged         bool // several accounts of a console: password and second factors erased

	SMSRemoved          bool // SMS was the only second factor: another must be set up
	NoPassword          bool // no password was imported: sign in by email code and choose one
	DediboxTOTPKept     bool // the Dedibox authenticator app keeps working
	DediboxTOTPReplaced bool // the Scaleway second factors replace the Dedibox TOTP

	DediboxAccounts  []string // ids of the Dedibox accounts it holds
	ScalewayAccounts []string // ids of the Scaleway accounts it holds (the new one for NewScaleway)
}

// renderNotice renders p's notification through mail.Queue, which is what
// puts a message in the outbox: here it lands in a collector, so that the
// message is written in the account's own transaction (accounts.UnifyWrite)
// and an account is never stored without its notice, nor a notice without
// its account.
func renderNotice(ctx context.Context, r *mail.Renderer, p *plan) (*accounts.OutboxMessage, error) {
	var c collector
	a := &p.account
	if _, err := mail.Queue(ctx, &c, r, NoticeKey(a.ID), a.ID, KindNotice, a.Locale, a.Email, p.notice); err != nil {
		return nil, err
	}
	if c.msg == nil {
		return nil, errors.New("unify: mail.Queue queued nothing")
	}
	return c.msg, nil
}

// collector is an outbox that keeps the one message given to it.
type collector struct {
	accounts.OutboxStore // only EnqueueMail is called
	msg                  *accounts.OutboxMessage
}

func (c *collector) EnqueueMail(_ context.Context, m *accounts.OutboxMessage) (bool, error) {
	msg := *m
	c.msg = &msg
	return true, nil
}
