package unify

import (
	"unigate/accounts"
	"unigate/mail"
)

// KindNotice is the mail kind of the notification each unified account is
// sent (rule 6): templates mail/templates/<locale>/unify_notice.*.
const KindNotice = mail.KindUnifyNotice

// NoticeKey is the outbox key of an account's notification: one per
// account, ever, whatever runs and re-runs happen.
func NoticeKey(accountID string) string { return KindNotice + ":" + accountID }

// NoticeData fills the unify_notice templates: what changed for one account.
type NoticeData = mail.UnifyNoticeData

// newNotice is p's notification as the outbox stores it: its data, rendered
// by the mail sender when it sends it (mail.NewStoredMessage). Rendering a
// million messages here would cost more than the rest of the run, and the
// message goes into the account's own transaction (accounts.UnifyWrite): an
// account is never stored without its notice, nor a notice without its
// account.
func newNotice(p *plan) (*accounts.OutboxMessage, error) {
	a := &p.account
	return mail.NewStoredMessage(NoticeKey(a.ID), a.ID, KindNotice, a.Locale, a.Email, p.notice)
}
