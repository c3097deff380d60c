package access

import (
	"strings"

	"unigate/session"
)

// AMR maps the factors a session proved to RFC 8176 authentication method
// references, for the assertion's amr claim.
//
// amr says what was proven, no more (issue 16, finding 2):
//   - "mfa" only when a second factor of the account was used, which is what
//     mfa (the session's MFA: "totp", "passkey", "recovery_code") says, and
//     never because two entries are listed;
//   - an email code is an "otp" only when it was the first factor (the
//     email-code sign-in of an account flagged by the unification). The
//     sign-up's email check comes after the password it set: it proves the
//     address, not the person, and adds nothing.
//
// Values come in one fixed order (pwd, otp, hwk, fed, mfa) from a table, so
// that building the claim allocates nothing per request. The slice is
// shared: read it, never modify it.
func AMR(factors []string, mfa string) []string {
	var set uint8
	for i, f := range factors {
		switch {
		case f == "password":
			set |= amrPwd
		case f == "totp", f == "recovery_code":
			set |= amrOTP
		case f == "email_code":
			if i == 0 {
				set |= amrOTP
			}
		case f == "passkey":
			set |= amrHwk
		case strings.HasPrefix(f, "sso:"):
			set |= amrFed
		}
	}
	if secondFactor(mfa) {
		set |= amrMFA
	}
	return amrTable[set]
}

// ProofAMR is the amr of the session's last proof (CONTRACT §11): the
// login's factors, or those of the last re-authentication. A password or
// TOTP re-authentication proves one factor, never "mfa"; a passkey one is
// made with user verification (the authenticator's PIN or biometric), so it
// is "mfa" as a passwordless login is.
func ProofAMR(sess *session.Session) []string {
	if len(sess.Proof) > 0 {
		mfa := ""
		if len(sess.Proof) == 1 && sess.Proof[0] == "passkey" {
			mfa = "passkey"
		}
		return AMR(sess.Proof, mfa)
	}
	return AMR(sess.Factors, sess.MFA)
}

// secondFactor: the session's MFA names a second factor of the account.
// "remembered" (a device trusted earlier, CONTRACT §11) is not one proven now.
func secondFactor(mfa string) bool {
	return mfa == "totp" || mfa == "passkey" || mfa == "recovery_code"
}

const (
	amrPwd uint8 = 1 << iota
	amrOTP
	amrHwk
	amrFed
	amrMFA
	amrAll = amrMFA<<1 - 1
)

var amrNames = [...]string{"pwd", "otp", "hwk", "fed", "mfa"}

// amrTable holds the claim for every set of methods; nil for the empty set.
var amrTable = func() (t [amrAll + 1][]string) {
	for set := range t {
		var v []string
		for i, name := range amrNames {
			if set&(1<<i) != 0 {
				v = append(v, name)
			}
		}
		t[set] = v
	}
	return t
}()
