package access

import (
	"slices"
	"time"

	"unigate/session"
)

// StepUpRule is one of a console's step-up rules (CONTRACT §11): a request at or
// below PathPrefix needs a last proof younger than MaxAge, made with one of
// Methods.
type StepUpRule struct {
	// PathPrefix is matched on the console's own path (under a mount, the
	// mount prefix removed), like public paths.
	PathPrefix string
	// MaxAge is the age a last proof may have; always positive (the
	// configuration refuses 0).
	MaxAge time.Duration
	// Methods are the proofs accepted ("password", "totp", "passkey"). Empty:
	// any second factor when the account holds one, else the password.
	Methods []string
}

// ErrStepUpRequired: the path needs a fresher or stronger proof than the
// session's last one: 401 step_up_required, or the step-up page.
var ErrStepUpRequired = &Error{Code: "step_up_required"}

// ErrMFARequiredByOrganization: the selected organization requires a second
// factor of its members, the grace is over and the account holds none.
var ErrMFARequiredByOrganization = &Error{Code: "mfa_required_by_organization"}

// StepUpFor returns the first rule of c that covers the canonical local
// path (the console's own path), or nil.
func (c *Console) StepUpFor(local string) *StepUpRule {
	for i := range c.StepUp {
		if stepUpCovers(local, c.StepUp[i].PathPrefix) {
			return &c.StepUp[i]
		}
	}
	return nil
}

// stepUpCovers reports whether a canonical path is at or below a step-up
// prefix. It reads the path as the most lenient upstream could, so that
// another spelling of a protected page is protected too (the opposite of
// public paths, where the strict reading is the safe one): ASCII case is
// folded, a segment's ";params" are skipped (servlet containers drop them),
// and a prefix "/billing/" covers "/billing" itself. It allocates nothing.
func stepUpCovers(path, prefix string) bool {
	i, j := 0, 0
	for j < len(prefix) {
		if i == len(path) {
			return prefix[j:] == "/" // the directory itself
		}
		c := path[i]
		if c == ';' && prefix[j] != ';' {
			for i < len(path) && path[i] != '/' {
				i++
			}
			continue
		}
		if lowerASCII(c) != lowerASCII(prefix[j]) {
			return false
		}
		i++
		j++
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// SatisfiedBy reports whether the session's last proof meets the rule at
// now: what the step-up page checks before sending the browser back.
func (rule *StepUpRule) SatisfiedBy(sess *session.Session, now time.Time) bool {
	return !needsStepUp(rule, sess, now)
}

// needsStepUp: the session's last proof does not satisfy rule at now.
func needsStepUp(rule *StepUpRule, sess *session.Session, now time.Time) bool {
	if sess.AuthTime.IsZero() || now.Sub(sess.AuthTime) > rule.MaxAge || sess.AuthTime.After(now.Add(time.Minute)) {
		return true
	}
	proof := LastProof(sess)
	if len(rule.Methods) > 0 {
		return !slices.ContainsFunc(proof, func(f string) bool { return slices.Contains(rule.Methods, f) })
	}
	if HoldsSecondFactor(sess) {
		return !slices.ContainsFunc(proof, secondFactor)
	}
	return !slices.Contains(proof, "password")
}

// LastProof is the factors of the session's last proof: the last
// re-authentication, or the login's factors.
func LastProof(sess *session.Session) []string {
	if len(sess.Proof) > 0 {
		return sess.Proof
	}
	return sess.Factors
}

// HoldsSecondFactor tells whether the account holds a second factor,
// without a store read per request: the decision runs on every console
// request and reads nothing but the session.
//
// The login state machine never completes a session of an account holding
// a second factor without one (login's nextStep: a held factor is always
// asked for), so the session's MFA at login says it: "none" only when the
// account held none. A re-authentication reads the account's factors again
// and records the answer (HoldsMFA), which then wins. A factor enrolled or
// removed after both is seen at the next login or re-authentication; until
// then the rule the session was made under applies.
func HoldsSecondFactor(sess *session.Session) bool {
	if sess.HoldsMFA != nil {
		return *sess.HoldsMFA
	}
	return sess.MFA != "" && sess.MFA != "none"
}

// OrgMFARefused: the selected organization's MFA rule is past its grace and
// the account still holds no second factor. The proxy's decision and the
// console entry (gateway) both ask it.
func OrgMFARefused(sel session.ConsoleSelection, sess *session.Session, now time.Time) bool {
	// A selection whose organization was taken away (the member removed)
	// keeps no rule of it.
	return sel.OrganizationID != "" && !sel.MFADeadline.IsZero() && !now.Before(sel.MFADeadline) && !HoldsSecondFactor(sess)
}
