package sso

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Errors returned by Exchange and CallbackError. Callers test them with
// errors.Is; the wrapped detail is for logs, never for the user.
var (
	// ErrProviderUnavailable: the provider could not be reached, answered
	// with a server error, or is misconfigured (discovery failed, client
	// authentication refused). Nothing the user can fix; try again later.
	ErrProviderUnavailable = errors.New("sso: provider unavailable")
	// ErrDenied: the user refused (the callback carried error=access_denied
	// or an equivalent).
	ErrDenied = errors.New("sso: denied by the user")
	// ErrInvalidCode: the callback carried no code, or the provider refused
	// to redeem it (expired, already used, PKCE verifier or redirect URI
	// mismatch: RFC 6749 §5.2 invalid_grant).
	ErrInvalidCode = errors.New("sso: authorization code refused")
	// ErrInvalidToken: the ID token failed validation: signature (unknown
	// key, alg none or symmetric), issuer, audience, authorized party,
	// expiry, nonce, or a required claim (ASVS V10.5, OIDC Core §3.1.3.7).
	ErrInvalidToken = errors.New("sso: invalid ID token")
	// ErrUnverifiedEmail: the provider did not vouch for the email (see
	// Identity.VerifiedEmail).
	ErrUnverifiedEmail = errors.New("sso: email not verified by the provider")
)

// Provider names.
const (
	Google    = "google"
	Microsoft = "microsoft"
	GitHub    = "github"
)

// Identity is who the provider says signed in.
type Identity struct {
	Provider string // Google, Microsoft or GitHub
	// Subject is the provider's stable, opaque id for the user: the ID
	// token's sub (Microsoft: "<tid>/<sub>", see the package
	// documentation), GitHub's numeric user id. Accounts are linked by
	// (Provider, Subject) only.
	Subject string
	// Email is the address the provider gave, normalised with
	// accounts.NormalizeEmail, or "" when it gave none or an address that
	// does not normalise.
	Email string
	// EmailVerified: the provider vouches that the user controls Email,
	// under each provider's rule ("Which emails are trusted" in the package
	// documentation). Only then may Email find an account.
	EmailVerified bool
}

// VerifiedEmail returns Email when the provider vouched for it, and
// ErrUnverifiedEmail otherwise.
func (id *Identity) VerifiedEmail() (string, error) {
	if id.Email == "" || !id.EmailVerified {
		return "", fmt.Errorf("%w: %s", ErrUnverifiedEmail, id.Provider)
	}
	return id.Email, nil
}

// Provider is one sign-in provider.
type Provider interface {
	// Name is Google, Microsoft or GitHub.
	Name() string
	// AuthCodeURL builds the redirect to the provider for one attempt:
	// state, nonce (OIDC only; GitHub ignores it) and the PKCE S256
	// challenge of verifier (RFC 7636 §4.2). redirectURI must be the
	// registered callback and the same at Exchange.
	AuthCodeURL(state, nonce, verifier, redirectURI string) (string, error)
	// Exchange redeems the code with the PKCE verifier and validates what
	// comes back (OIDC: the ID token's signature against the provider's
	// JWKS with an asymmetric algorithm, exact issuer, audience == client
	// id, expiry, nonce == the expected one), then returns the identity.
	Exchange(ctx context.Context, code, verifier, nonce, redirectURI string) (*Identity, error)
}

// NewState returns a fresh OAuth state: 256 bits from crypto/rand, base64url.
func NewState() string { return randomToken() }

// NewNonce returns a fresh OIDC nonce: 256 bits from crypto/rand, base64url.
func NewNonce() string { return randomToken() }

// NewVerifier returns a fresh PKCE code verifier: 256 bits from crypto/rand,
// base64url, 43 characters (RFC 7636 §4.1, the recommended form).
func NewVerifier() string { return randomToken() }

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand documentation)
	return base64.RawURLEncoding.EncodeToString(b)
}

// CallbackError reads the query of a request to the redirect URI and says
// whether the flow may go on: nil when it carries a code and no error,
// ErrDenied when the user refused, ErrProviderUnavailable for any other
// error the provider reports (RFC 6749 §4.1.2.1: server_error,
// temporarily_unavailable, and misconfiguration such as invalid_scope or
// GitHub's redirect_uri_mismatch), ErrInvalidCode when there is neither.
// The provider's error_description is attacker-controllable text (anyone
// can craft the callback URL): it is quoted, bounded, and for logs only.
func CallbackError(query url.Values) error {
	code := query.Get("error")
	if code == "" {
		if query.Get("code") == "" {
			return fmt.Errorf("%w: the callback carries no code", ErrInvalidCode)
		}
		return nil
	}
	detail := fmt.Sprintf("error=%q", bounded(code))
	if d := query.Get("error_description"); d != "" {
		detail += fmt.Sprintf(" error_description=%q", bounded(d))
	}
	switch code {
	case "access_denied", "consent_required", "interaction_required", "login_required",
		"account_selection_required":
		return fmt.Errorf("%w: %s", ErrDenied, detail)
	default:
		return fmt.Errorf("%w: %s", ErrProviderUnavailable, detail)
	}
}

// bounded cuts s to a length fit for a log line.
func bounded(s string) string {
	const limit = 200
	if len(s) > limit {
		s = strings.ToValidUTF8(s[:limit], "") + "…"
	}
	return s
}

// required refuses an attempt missing one of its bindings (name, value
// pairs): a flow without state, nonce or PKCE is one an attacker can inject
// a code into (RFC 9700 §2.1.1, §4.5).
func required(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			return fmt.Errorf("sso: no %s", pairs[i])
		}
	}
	return nil
}

// checkVerifier checks RFC 7636 §4.1: 43 to 128 characters of
// [A-Za-z0-9-._~].
func checkVerifier(v string) error {
	ok := len(v) >= 43 && len(v) <= 128
	for _, c := range []byte(v) {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9',
			c == '-', c == '.', c == '_', c == '~':
		default:
			ok = false
		}
	}
	if !ok {
		return errors.New("sso: the PKCE verifier must be 43 to 128 unreserved characters (RFC 7636 §4.1)")
	}
	return nil
}
