package upstreams

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
)

// Identity is what the upstream is told about the signed-in user of one
// request (CONTRACT §6). The gateway fills it from the session.
type Identity struct {
	UserID           string // unified account id
	Email            string
	Console          string // console id, the assertion's audience
	ConsoleAccountID string // the account's id in that console
	OrganizationID   string // "" when no organization is selected
	OrganizationRole string // ignored when OrganizationID is ""
	MFA              string // "totp" | "passkey" | "recovery_code" | "none" ("" is read as "none")
	Prelinked        bool
	// SessionID is an opaque handle of the session, safe to log upstream:
	// never the cookie value nor the store key derived from it.
	SessionID string
	AMR       []string // authentication methods of the last proof, RFC 8176 values such as "pwd", "otp"
	// AuthTime is the Unix time (seconds) of the session's last proof, its
	// login or a re-authentication (CONTRACT §6, §11): X-Auth-Auth-Time and
	// the assertion's auth_time (OpenID Connect Core §2). 0: not sent.
	AuthTime int64
}

// Validate checks that id can be sent as headers and as an assertion:
// user id and console present, a known MFA value, and no control character
// (CR, LF, NUL, …) in any value. A CR/LF in a header value would let data
// from the account store split the request (ASVS V4.2.1); net/http refuses
// such values too, but refusing here keeps the failure explicit.
func (id *Identity) Validate() error {
	if id == nil {
		return fmt.Errorf("%w: nil", ErrBadIdentity)
	}
	if id.UserID == "" {
		return fmt.Errorf("%w: empty user id", ErrBadIdentity)
	}
	if id.Console == "" {
		return fmt.Errorf("%w: empty console", ErrBadIdentity)
	}
	switch id.MFA {
	case "", "none", "totp", "passkey", "recovery_code":
	default:
		return fmt.Errorf("%w: unknown MFA %q", ErrBadIdentity, id.MFA)
	}
	fields := [...]struct{ name, v string }{
		{"user id", id.UserID},
		{"email", id.Email},
		{"console", id.Console},
		{"console account id", id.ConsoleAccountID},
		{"organization id", id.OrganizationID},
		{"organization role", id.OrganizationRole},
		{"session id", id.SessionID},
	}
	for _, f := range fields {
		if !safeHeaderValue(f.v) {
			return fmt.Errorf("%w: control character in %s", ErrBadIdentity, f.name)
		}
	}
	for _, m := range id.AMR {
		if m == "" || !safeHeaderValue(m) {
			return fmt.Errorf("%w: bad amr value", ErrBadIdentity)
		}
	}
	return nil
}

// safeHeaderValue reports whether v has no control character (any byte
// below 0x20, including HTAB, CR, LF and NUL, or DEL).
func safeHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

func (id *Identity) mfa() string {
	if id.MFA == "" {
		return "none"
	}
	return id.MFA
}

// equal reports whether two identities would produce the same assertion.
func (id *Identity) equal(o *Identity) bool {
	return id.UserID == o.UserID &&
		id.Email == o.Email &&
		id.Console == o.Console &&
		id.ConsoleAccountID == o.ConsoleAccountID &&
		id.OrganizationID == o.OrganizationID &&
		id.OrganizationRole == o.OrganizationRole &&
		id.MFA == o.MFA &&
		id.Prelinked == o.Prelinked &&
		id.SessionID == o.SessionID &&
		id.AuthTime == o.AuthTime &&
		slices.Equal(id.AMR, o.AMR)
}

// Identity header names (CONTRACT §6), in canonical MIME form so they can be
// assigned to the header map directly.
const (
	HeaderUserID           = "X-Auth-User-Id"
	HeaderEmail            = "X-Auth-Email"
	HeaderConsole          = "X-Auth-Console"
	HeaderConsoleAccountID = "X-Auth-Console-Account-Id"
	HeaderOrganizationID   = "X-Auth-Organization-Id"
	HeaderOrganizationRole = "X-Auth-Organization-Role"
	HeaderMFA              = "X-Auth-Mfa"
	HeaderPrelinked        = "X-Auth-Prelinked"
	HeaderSessionID        = "X-Auth-Session-Id"
	HeaderAuthTime         = "X-Auth-Auth-Time"
	HeaderAssertion        = "X-Auth-Assertion"
)

// SetIdentityHeaders sets the identity headers of CONTRACT §6 on h, replacing
// any value present. The organization headers are set only when an
// organization is selected. X-Auth-Prelinked is "true" or "false".
// X-Auth-Auth-Time is the Unix seconds of the last proof, when known.
//
// It is all or nothing: if id does not Validate or the assertion holds a
// control character, no identity header is set, so the upstream sees an
// unauthenticated request rather than a partial identity (fail closed,
// ASVS V16.5.2). Callers strip client-sent X-Auth-* first (StripAuthHeaders)
// and should Validate beforehand to answer an error instead.
func SetIdentityHeaders(h http.Header, id *Identity, assertion string) {
	if id.Validate() != nil || !safeHeaderValue(assertion) {
		return
	}
	prelinked := "false"
	if id.Prelinked {
		prelinked = "true"
	}
	// One backing array for every value: one allocation instead of ten.
	vals := [...]string{
		id.UserID, id.Email, id.Console, id.ConsoleAccountID, id.mfa(),
		prelinked, id.SessionID, assertion, id.OrganizationID, id.OrganizationRole,
	}
	v := vals[:]
	set := func(name string, i int) { h[name] = v[i : i+1 : i+1] }
	set(HeaderUserID, 0)
	set(HeaderEmail, 1)
	set(HeaderConsole, 2)
	set(HeaderConsoleAccountID, 3)
	set(HeaderMFA, 4)
	set(HeaderPrelinked, 5)
	set(HeaderSessionID, 6)
	set(HeaderAssertion, 7)
	if id.OrganizationID != "" {
		set(HeaderOrganizationID, 8)
		set(HeaderOrganizationRole, 9)
	} else {
		delete(h, HeaderOrganizationID)
		delete(h, HeaderOrganizationRole)
	}
	if id.AuthTime > 0 {
		h[HeaderAuthTime] = []string{strconv.FormatInt(id.AuthTime, 10)}
	} else {
		delete(h, HeaderAuthTime)
	}
}
