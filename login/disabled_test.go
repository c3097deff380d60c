package login

import (
	"testing"

	"unigate/accounts"
	"unigate/session"
)

// TestDisabledAccount: a disabled account that proves its first factor is
// refused with account_disabled, and so is one disabled between its two
// factors; a wrong password still says only invalid_credentials (CONTRACT §12).
func TestDisabledAccount(t *testing.T) {
	disable := func(f *fixture, a *accounts.Account) {
		t.Helper()
		store := f.accounts.(accounts.OperatorStore)
		if err := store.SetDisabled(f.ctx, a.ID, f.clock.now()); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("the first factor proven: account_disabled", func(t *testing.T) {
		f := newFixture(t)
		a := f.account("alice@example.com", "correct horse battery")
		disable(f, a)
		l := f.identify("alice@example.com")
		_, err := f.m.Password(f.ctx, l, "correct horse battery")
		wantErr(t, err, ErrAccountDisabled)
		if l.Session.Complete() {
			t.Error("the login completed")
		}
	})
	t.Run("a wrong password: invalid_credentials, nothing disclosed", func(t *testing.T) {
		f := newFixture(t)
		a := f.account("alice@example.com", "correct horse battery")
		disable(f, a)
		_, err := f.m.Password(f.ctx, f.identify("alice@example.com"), "wrong")
		wantErr(t, err, ErrInvalidCredentials)
	})
	t.Run("disabled between the factors: refused at completion", func(t *testing.T) {
		f := newFixture(t)
		a := f.account("alice@example.com", "correct horse battery")
		secret := f.withTOTP(a)
		l := f.identify("alice@example.com")
		if res, err := f.m.Password(f.ctx, l, "correct horse battery"); err != nil || res.Next != session.StepMFA {
			t.Fatalf("password: %+v, %v", res, err)
		}
		disable(f, a)
		_, err := f.m.TOTP(f.ctx, l, f.code(secret))
		wantErr(t, err, ErrAccountDisabled)
		if l.Session.Complete() {
			t.Error("the login completed")
		}
	})
}
