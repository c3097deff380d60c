package login

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"unigate/accounts"
	"unigate/session"
)

// Password is POST /login/password: the password as the first factor.
func (m *Machine) Password(ctx context.Context, l *Login, password string) (*Result, error) {
	if err := inProgress(l, session.StepFirstFactor); err != nil {
		return nil, err
	}
	att, err := m.lockout.Begin(ctx, l.Session.Email, l.Client, "password")
	if err != nil {
		return nil, err
	}
	acct, err := m.accountByEmail(ctx, l.Session.Email)
	if err != nil {
		return nil, err
	}
	ok, rehash, err := m.VerifyPassword(ctx, acct, password)
	if err != nil {
		return nil, err
	}
	if !ok {
		att.Failed(ctx)
		m.events.Attempt("password", "failure")
		m.events.Audit(ctx, l.Client, "login.failure", accountID(acct), map[string]string{"method": "password"})
		return nil, ErrInvalidCredentials
	}
	att.Succeeded(ctx)
	m.events.Attempt("password", "success")
	if rehash {
		// Imported bcrypt or older parameters: move to our argon2id now that
		// we know the password. A failure leaves the old hash, which still works.
		h, err := m.hasher.Hash(ctx, password)
		if err == nil {
			err = m.accounts.SetPasswordHash(ctx, acct.ID, h)
		}
		if err != nil {
			m.events.Warn(ctx, "password rehash not stored", acct.ID, err)
		}
	}
	l.Session.AccountID = acct.ID
	l.Session.Factors = append(l.Session.Factors, "password")
	return m.advance(ctx, l, acct)
}

// VerifyPassword checks password against the account's hash, or does the
// same work against a dummy hash when there is no account or no password.
// A hasher failure (a corrupt stored hash, a cancelled request) is an
// error, not a wrong password: a corrupt hash must not lock the account out
// silently forever.
//
// The answer time must not tell an account from an unknown email (ASVS
// V6.3.8), nor an imported account from one of ours (issue 16 finding 5):
// an imported bcrypt hash (cost 12: ~250 ms) costs far more than our
// argon2id (~30 ms), so without care the time tells which emails are
// imported accounts not yet signed in again. Timing cannot be padded
// reliably (sleeps are visible under load), so every check does the SAME
// hash work instead: one argon2id verification under our parameters and
// bcrypt work of 2^BcryptCost rounds, whatever the account.
//
//   - unknown email, no password, or an argon2id hash: the argon2id
//     verification (real or dummy), then one dummy bcrypt at BcryptCost;
//   - a bcrypt hash of cost c: the bcrypt verification (2^c), one dummy
//     argon2id, and dummy bcrypts at costs c, c+1, …, BcryptCost-1, whose
//     2^c + … + 2^(BcryptCost-1) rounds bring the total to 2^BcryptCost.
//
// A dummy bcrypt verifies against a hash of the right cost that matches
// no password: the same rounds as a real one. An imported hash of a cost
// above BcryptCost stays slower than the rest: BcryptCost must be the
// highest cost imported. The padding is done whatever the outcome, so a
// right and a wrong password take the same time too.
func (m *Machine) VerifyPassword(ctx context.Context, acct *accounts.Account, password string) (ok, rehash bool, err error) {
	stored := ""
	if acct != nil {
		stored = acct.PasswordHash
	}
	cost, isBcrypt := bcryptCost(stored)
	switch {
	case stored == "":
		err = m.hasher.VerifyDummy(ctx, password)
	default:
		ok, rehash, err = m.hasher.Verify(ctx, stored, password)
	}
	if err != nil {
		return false, false, internal(err)
	}
	padding := []int{m.cfg.BcryptCost}
	if isBcrypt {
		if err := m.hasher.VerifyDummy(ctx, password); err != nil {
			return false, false, internal(err)
		}
		padding = padding[:0]
		for c := cost; c < m.cfg.BcryptCost; c++ {
			padding = append(padding, c)
		}
	}
	for _, c := range padding {
		if c < bcryptMinCost {
			continue // BcryptCost 0: no bcrypt hash imported, no padding
		}
		// Always false: the dummy matches no password.
		if _, _, err := m.hasher.Verify(ctx, dummyBcrypt(c), password); err != nil {
			return false, false, internal(err)
		}
	}
	return ok, rehash, nil
}

// bcryptMinCost is bcrypt's least cost.
const bcryptMinCost = 4

// bcryptCost is the cost of a bcrypt hash ($2a$, $2b$, $2y$); false for any other.
func bcryptCost(hash string) (int, bool) {
	if len(hash) < 7 || hash[0] != '$' || hash[1] != '2' || !strings.ContainsRune("aby", rune(hash[2])) || hash[3] != '$' || hash[6] != '$' {
		return 0, false
	}
	c, err := strconv.Atoi(hash[4:6])
	if err != nil {
		return 0, false
	}
	return c, true
}

// dummyBcrypt is a well-formed bcrypt hash of cost c (a zero salt, a zero
// digest) that no password matches: verifying it costs what a real one does.
func dummyBcrypt(c int) string {
	return fmt.Sprintf("$2a$%02d$%s", c, strings.Repeat(".", 53))
}

// CheckPasswordPolicy: at least password_min_length characters, at most 256
// bytes, never truncated, not a common password, no composition rules
// (800-63B §3.1.1.2, ASVS V6.2).
func (m *Machine) CheckPasswordPolicy(pw string) error {
	if err := accounts.CheckPassword(pw, m.cfg.PasswordMinLength); err != nil {
		return &WeakPasswordError{MinLength: m.cfg.PasswordMinLength, Err: err}
	}
	return nil
}

// SetPassword is POST /login/password/set, when the login says set_password.
func (m *Machine) SetPassword(ctx context.Context, l *Login, password string) (*Result, error) {
	if err := inProgress(l, session.StepSetPassword); err != nil {
		return nil, err
	}
	if err := m.CheckPasswordPolicy(password); err != nil {
		return nil, err
	}
	h, err := m.hasher.Hash(ctx, password)
	if err != nil {
		return nil, internal(err)
	}
	if err := m.accounts.SetPasswordHash(ctx, l.Session.AccountID, h); err != nil {
		return nil, internal(err)
	}
	m.events.Audit(ctx, l.Client, "password.set", l.Session.AccountID, nil)
	if resetting(l.Session) {
		l.Session.Factors = append(l.Session.Factors, factorNewPassword)
		if err := m.resetDone(ctx, l); err != nil {
			return nil, err
		}
	}
	acct, err := m.accounts.AccountByID(ctx, l.Session.AccountID)
	if err != nil {
		return nil, internal(err)
	}
	return m.advance(ctx, l, acct)
}

func accountID(acct *accounts.Account) string {
	if acct == nil {
		return ""
	}
	return acct.ID
}
