package login

import (
	"strings"
	"testing"

	"unigate/mail"
)

// The notices the machine queues carry what happened, when and from where,
// never the reset code, a recovery code or the session's handle.
func TestNoticesCarryNoSecret(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxConsecutiveFailures = 5; c.MaxFailures = 5 })
	a := f.account("alice@example.com", "correct horse battery")
	f.withTOTP(a)
	codes := f.withRecoveryCodes(a)
	for i := range 5 {
		f.m.Password(f.ctx, f.from(a.Email, network(i)), "wrong") // account_locked
	}
	l := f.identify(a.Email)
	l.Session.UserAgent = "Firefox/140.0"
	resetCode := f.resetCode(l)
	if _, err := f.m.VerifyReset(f.ctx, l, resetCode); err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.RecoveryCode(f.ctx, l, codes[0]); err != nil { // recovery_code_used
		t.Fatal(err)
	}
	if _, err := f.m.SetPassword(f.ctx, l, newPassword); err != nil { // password_reset
		t.Fatal(err)
	}
	secrets := append([]string{resetCode, l.Session.Handle, newPassword}, codes...)
	seen := map[string]bool{}
	for _, q := range f.mail.sent {
		d, ok := q.data.(mail.NoticeData)
		if !ok {
			continue
		}
		seen[q.kind] = true
		if d.At == "" || d.IP != f.client.String() && !strings.HasPrefix(d.IP, "198.51.") {
			t.Errorf("%s: when and where missing: %+v", q.kind, d)
		}
		text := fmtData(d)
		for _, s := range secrets {
			if s != "" && (strings.Contains(text, strings.ToLower(s)) || strings.Contains(text, strings.ReplaceAll(s, "-", ""))) {
				t.Errorf("%s carries a secret: %+v", q.kind, d)
			}
		}
	}
	for _, kind := range []string{mail.KindAccountLocked, mail.KindRecoveryCodesCreated, mail.KindRecoveryCodeUsed, mail.KindPasswordReset} {
		if !seen[kind] {
			t.Errorf("no %s notice queued", kind)
		}
	}
}
