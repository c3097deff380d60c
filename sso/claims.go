package sso

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"unigate/accounts"
)

// MicrosoftConsumerTenant is the tenant of personal Microsoft accounts
// (MSA): Microsoft administers it, no third party sets its users' addresses.
const MicrosoftConsumerTenant = "9188040d-6c67-4c5b-b112-36a304b66dad"

// idClaims are the ID-token claims the rules read beyond go-oidc's own.
type idClaims struct {
	Email           string          `json:"email"`
	EmailVerified   json.RawMessage `json:"email_verified"` // Google: true (or "true")
	TenantID        string          `json:"tid"`            // Microsoft
	EDOV            json.RawMessage `json:"xms_edov"`       // Microsoft: email domain owner verified
	AuthorizedParty string          `json:"azp"`
}

// googleIdentity: Google vouches for the email when email_verified is true
// (see the package documentation).
func googleIdentity(sub string, c *idClaims) (*Identity, error) {
	email, ok := normalizeEmail(c.Email)
	verified, _ := claimBool(c.EmailVerified)
	return &Identity{Provider: Google, Subject: sub, Email: email, EmailVerified: ok && verified}, nil
}

// microsoftIdentity applies the rule the package documentation explains:
// the email is trusted only on Microsoft's own verdict, xms_edov, or for a
// personal account of the consumer tenant without one; never on the email
// claim alone ("nOAuth"). The subject carries the tenant.
func microsoftIdentity(sub string, c *idClaims) (*Identity, error) {
	if !isTenantID(c.TenantID) {
		return nil, fmt.Errorf("%w: %s: tid %q is not a tenant id", ErrInvalidToken, Microsoft, bounded(c.TenantID))
	}
	email, ok := normalizeEmail(c.Email)
	edov, present := claimBool(c.EDOV)
	verified := ok && (edov || (!present && c.TenantID == MicrosoftConsumerTenant))
	return &Identity{Provider: Microsoft, Subject: c.TenantID + "/" + sub, Email: email, EmailVerified: verified}, nil
}

// normalizeEmail gives the canonical form of a provider's address, or ""
// and false when there is none or it does not normalise: a provider's
// spelling never reaches a lookup unnormalised (SECURITY.md family 10).
func normalizeEmail(s string) (string, bool) {
	if s == "" {
		return "", false
	}
	n, err := accounts.NormalizeEmail(s)
	if err != nil {
		return "", false
	}
	return n, true
}

// claimBool reads a boolean claim that providers send as a JSON boolean or,
// in some tokens, as the string "true" / "false". present is false when the
// claim is missing or null; any other value reads as false (fail closed).
func claimBool(raw json.RawMessage) (value, present bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return false, false
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b, true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.EqualFold(s, "true"), true
	}
	return false, true
}

// isTenantID checks the form of an Entra tenant id: a GUID, in the lower
// case Microsoft's tokens and issuers use.
func isTenantID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}
