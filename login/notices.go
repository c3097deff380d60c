package login

import (
	"context"
	"net/netip"
	"time"

	"unigate/accounts"
	"unigate/mail"
	"unigate/session"
)

// The security notices the machine sends (CONTRACT §10): what happened,
// when, from which address and browser. They never carry a code, a secret
// or a session id (ASVS V6.3.7: the owner learns of a change to the account).

// noticeData is what a notice says of the request behind it.
func (m *Machine) noticeData(client netip.Addr, userAgent string) mail.NoticeData {
	return mail.NoticeData{
		At:        m.now().UTC().Format("2006-01-02 15:04 UTC"),
		IP:        client.String(),
		Device:    session.DeviceOf(userAgent),
		SignInURL: m.cfg.PortalLoginURL,
	}
}

// notify queues the notice kind to acct. A notice that cannot be queued is
// logged, never a failure of the step that caused it: the change is done.
func (m *Machine) notify(ctx context.Context, acct *accounts.Account, kind string, data mail.NoticeData) {
	key := kind + ":" + acct.ID + ":" + m.now().UTC().Format(time.RFC3339Nano)
	if err := m.mailer.Queue(ctx, key, acct.ID, kind, acct.Locale, acct.Email, data); err != nil {
		m.events.Warn(ctx, "notice not queued: "+kind, acct.ID, err)
	}
}

// noticeLocked tells the owner that the consecutive failures locked the
// account (issue 16 finding 6). Unknown emails are locked alike, silently.
func (m *Machine) noticeLocked(ctx context.Context, email string, client netip.Addr) {
	acct, err := m.accountByEmail(ctx, email)
	if err != nil {
		m.events.Warn(ctx, "account_locked notice: account not read", "", err)
		return
	}
	if acct == nil {
		return
	}
	m.notify(ctx, acct, mail.KindAccountLocked, m.noticeData(client, ""))
}
