package mfa

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/go-webauthn/webauthn/webauthn"

	"unigate/accounts"
)

// WebAuthn runs passkey ceremonies (W3C WebAuthn Level 3) with go-webauthn:
// registration of discoverable credentials, second-factor login with the
// account's credentials, and passwordless (discoverable) login. User
// verification is required everywhere: a passkey alone is then a
// phishing-resistant multi-factor authenticator (800-63B §2.2.2, AAL2).
//
// Begin* return the options for the browser, JSON of the form
// {"publicKey": {…}}: pass the publicKey member to
// navigator.credentials.create or .get after decoding its base64url members
// (challenge, user.id, excludeCredentials[].id, allowCredentials[].id) to
// ArrayBuffers, or give it as is to PublicKeyCredential.parseCreationOptionsFromJSON
// / parseRequestOptionsFromJSON. They also return an opaque session blob: keep
// it server-side (it must never reach the client), hand it to the matching
// Finish* once, and delete it before or when calling Finish: a challenge
// serves one answer. The blob carries its expiry (Config.Timeout) and the
// ceremony it belongs to; Finish refuses it otherwise (ErrCeremony).
//
// Safe for concurrent use.
type WebAuthn struct {
	wa      *webauthn.WebAuthn
	timeout time.Duration
	now     func() time.Time
}

// Config configures WebAuthn; NewWebAuthn validates it.
type Config struct {
	// RPID is the relying party id: the account host's name, without scheme
	// or port ("account.example.com"). Passkeys are bound to it for good:
	// changing it orphans every registered passkey. Required.
	RPID string
	// RPDisplayName is the name authenticators show ("Scaleway"). Required.
	RPDisplayName string
	// Origins are the exact origins whose pages run ceremonies
	// ("https://account.example.com"); a response from any other origin is
	// refused. Each host must be RPID or a subdomain of it: a browser refuses
	// any other. http is accepted (public_url may be http in tests and
	// demos), but browsers offer WebAuthn only in secure contexts: https, or
	// http on localhost. Required.
	Origins []string
	// Timeout is how long a ceremony lasts: given to the browser, and after
	// it the session blob is refused. Zero means 5 minutes.
	Timeout time.Duration
	// Now is the clock used to stamp session blobs; nil means time.Now.
	Now func() time.Time
}

// DefaultWebAuthnTimeout is Config.Timeout's default (WebAuthn §5.4's
// recommended range for user verification is 5 to 10 minutes).
const DefaultWebAuthnTimeout = 5 * time.Minute

// maxResponseBytes bounds the authenticator response read by Finish*: an
// attestation object is a few KiB.
const maxResponseBytes = 64 << 10

// credentialParameters are the public key algorithms offered: ES256 (every
// platform authenticator and security key), RS256 (Windows Hello) and EdDSA,
// in order of preference.
var credentialParameters = []protocol.CredentialParameter{
	{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgES256},
	{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgRS256},
	{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgEdDSA},
}

// authenticatorSelection asks for a discoverable credential (resident key
// required, so it can log in without an email) with user verification.
var authenticatorSelection = protocol.AuthenticatorSelection{
	RequireResidentKey: protocol.ResidentKeyRequired(),
	ResidentKey:        protocol.ResidentKeyRequirementRequired,
	UserVerification:   protocol.VerificationRequired,
}

// NewWebAuthn validates cfg and returns the ceremonies it describes.
func NewWebAuthn(cfg Config) (*WebAuthn, error) {
	if err := protocol.ValidateRPID(cfg.RPID); err != nil || cfg.RPID != strings.ToLower(cfg.RPID) {
		return nil, fmt.Errorf("mfa: webauthn: RPID %q is not a lower-case domain name", cfg.RPID)
	}
	if strings.TrimSpace(cfg.RPDisplayName) == "" {
		return nil, errors.New("mfa: webauthn: RPDisplayName is required")
	}
	if len(cfg.Origins) == 0 {
		return nil, errors.New("mfa: webauthn: at least one origin is required")
	}
	for _, o := range cfg.Origins {
		if err := checkOrigin(o, cfg.RPID); err != nil {
			return nil, err
		}
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("mfa: webauthn: negative timeout %v", cfg.Timeout)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultWebAuthnTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	timeout := webauthn.TimeoutConfig{Enforce: true, Timeout: cfg.Timeout, TimeoutUVD: cfg.Timeout}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          cfg.RPID,
		RPDisplayName: cfg.RPDisplayName,
		RPOrigins:     append([]string(nil), cfg.Origins...),
		// "none": no attestation is asked for nor needed; any authenticator
		// the user holds is accepted, and no identifying certificate is sent.
		AttestationPreference:  protocol.PreferNoAttestation,
		AuthenticatorSelection: authenticatorSelection,
		// The library also checks expiry, on the real clock; ours (below) is
		// on cfg.Now and in the blob itself.
		Timeouts: webauthn.TimeoutsConfig{Login: timeout, Registration: timeout},
	})
	if err != nil {
		return nil, fmt.Errorf("mfa: webauthn: %w", err)
	}
	return &WebAuthn{wa: wa, timeout: cfg.Timeout, now: cfg.Now}, nil
}

// checkOrigin accepts http(s)://host[:port] with nothing after, whose host
// is rpID or below it (WebAuthn §5.1.3: the RP ID must be a registrable
// suffix of the origin's domain).
func checkOrigin(origin, rpID string) error {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Opaque != "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.Host == "" {
		return fmt.Errorf("mfa: webauthn: origin %q: want https://host[:port]", origin)
	}
	host := u.Hostname()
	if host != rpID && !strings.HasSuffix(host, "."+rpID) {
		return fmt.Errorf("mfa: webauthn: origin %q is not on RP ID %q or below it", origin, rpID)
	}
	return nil
}

// Ceremony kinds recorded in session blobs.
const (
	kindRegistration = "registration"
	kindLogin        = "login"
	kindDiscoverable = "discoverable"
)

// ceremonySession is the opaque session blob: go-webauthn's SessionData and
// what this package adds to it.
type ceremonySession struct {
	Kind    string               `json:"kind"`
	Expires time.Time            `json:"expires"`
	Data    webauthn.SessionData `json:"data"`
}

// BeginRegistration starts registering a passkey for user: a discoverable
// credential (resident key required, so it can later log in without an
// email), user verification required, no attestation, ES256/RS256/EdDSA,
// and the user's existing credentials excluded (an authenticator holding one
// declines instead of making a second).
func (w *WebAuthn) BeginRegistration(user *User) (options, session []byte, err error) {
	creation, data, err := w.wa.BeginRegistration(user,
		webauthn.WithCredentialParameters(credentialParameters),
		webauthn.WithExclusions(webauthn.Credentials(user.WebAuthnCredentials()).CredentialDescriptors()),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation),
		webauthn.WithAuthenticatorSelection(authenticatorSelection),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("mfa: webauthn registration: %w", err)
	}
	return w.begin(kindRegistration, creation, data)
}

// FinishRegistration checks the browser's answer (body: the
// PublicKeyCredential as JSON, e.g. from its toJSON()) against the session
// blob from BeginRegistration, and returns the credential to store, named
// name, created at now. ErrCeremony or ErrWebAuthn when refused.
func (w *WebAuthn) FinishRegistration(user *User, session []byte, body io.Reader, name string, now time.Time) (*accounts.WebAuthnCredential, error) {
	data, err := openSession(session, kindRegistration, now)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBody(io.LimitReader(body, maxResponseBytes))
	if err != nil {
		return nil, refused(err)
	}
	cred, err := w.wa.CreateCredential(user, data, parsed)
	if err != nil {
		return nil, refused(err)
	}
	transports := make([]string, 0, len(cred.Transport))
	for _, t := range cred.Transport {
		transports = append(transports, string(t))
	}
	var aaguid []byte
	if len(cred.Authenticator.AAGUID) == 16 {
		aaguid = cred.Authenticator.AAGUID
	}
	return &accounts.WebAuthnCredential{
		ID:                cred.ID,
		AccountID:         user.accountID,
		Name:              name,
		PublicKey:         cred.PublicKey,
		SignCount:         cred.Authenticator.SignCount,
		AAGUID:            aaguid,
		Transports:        transports,
		AttestationType:   cred.AttestationType,
		AttestationFormat: cred.AttestationFormat,
		UserPresent:       cred.Flags.UserPresent,
		UserVerified:      cred.Flags.UserVerified,
		BackupEligible:    cred.Flags.BackupEligible,
		BackupState:       cred.Flags.BackupState,
		CreatedAt:         now.UTC(),
	}, nil
}

// BeginLogin starts a second-factor login: the browser may use only user's
// credentials (allowCredentials), with user verification. ErrNoPasskeys if
// user holds none.
func (w *WebAuthn) BeginLogin(user *User) (options, session []byte, err error) {
	if len(user.creds) == 0 {
		return nil, nil, ErrNoPasskeys
	}
	assertion, data, err := w.wa.BeginLogin(user, webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, nil, fmt.Errorf("mfa: webauthn login: %w", err)
	}
	return w.begin(kindLogin, assertion, data)
}

// BeginDiscoverableLogin starts a passwordless login: no allow list (the
// options are the same whoever asks, so they reveal nothing about an
// account), user verification required; the authenticator names the user.
func (w *WebAuthn) BeginDiscoverableLogin() (options, session []byte, err error) {
	assertion, data, err := w.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, nil, fmt.Errorf("mfa: webauthn login: %w", err)
	}
	return w.begin(kindDiscoverable, assertion, data)
}

// FinishLogin checks a second-factor assertion by one of user's credentials
// against the session blob from BeginLogin. It returns the credential used,
// the sign count to store, and cloneWarning: the authenticator's signature
// counter did not increase (WebAuthn §7.2 step 21), a sign that the key may
// have been copied. The login is not refused for it (synced passkeys and
// some authenticators misbehave here); the caller records it
// (UpdateWebAuthnCredentialUse) and writes an audit line.
func (w *WebAuthn) FinishLogin(user *User, session []byte, body io.Reader, now time.Time) (credID []byte, signCount uint32, cloneWarning bool, err error) {
	data, err := openSession(session, kindLogin, now)
	if err != nil {
		return nil, 0, false, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBody(io.LimitReader(body, maxResponseBytes))
	if err != nil {
		return nil, 0, false, refused(err)
	}
	cred, err := w.wa.ValidateLogin(user.forAssertion(parsed), data, parsed)
	if err != nil {
		return nil, 0, false, refused(err)
	}
	return cred.ID, cred.Authenticator.SignCount, cred.Authenticator.CloneWarning, nil
}

// FinishDiscoverableLogin checks a passwordless assertion against the
// session blob from BeginDiscoverableLogin. lookup finds the account from the
// credential id and the user handle the authenticator returned (the handle is
// the account id, see User); an error from it refuses the login. Returns what
// FinishLogin does, and the account that logged in.
func (w *WebAuthn) FinishDiscoverableLogin(session []byte, body io.Reader, lookup func(rawID, userHandle []byte) (*User, error), now time.Time) (accountID string, credID []byte, signCount uint32, cloneWarning bool, err error) {
	data, err := openSession(session, kindDiscoverable, now)
	if err != nil {
		return "", nil, 0, false, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBody(io.LimitReader(body, maxResponseBytes))
	if err != nil {
		return "", nil, 0, false, refused(err)
	}
	var found *User
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		u, err := lookup(rawID, userHandle)
		if err != nil {
			return nil, err
		}
		if u == nil { // a nil *User in the interface would not compare equal to nil
			return nil, errors.New("no such user")
		}
		found = u.forAssertion(parsed)
		return found, nil
	}
	_, cred, err := w.wa.ValidatePasskeyLogin(handler, data, parsed)
	if err != nil {
		return "", nil, 0, false, refused(err)
	}
	return found.accountID, cred.ID, cred.Authenticator.SignCount, cred.Authenticator.CloneWarning, nil
}

// begin encodes the browser's options and the session blob.
func (w *WebAuthn) begin(kind string, options any, data *webauthn.SessionData) ([]byte, []byte, error) {
	opts, err := json.Marshal(options)
	if err != nil {
		return nil, nil, fmt.Errorf("mfa: webauthn options: %w", err)
	}
	session, err := json.Marshal(ceremonySession{Kind: kind, Expires: w.now().Add(w.timeout).UTC(), Data: *data})
	if err != nil {
		return nil, nil, fmt.Errorf("mfa: webauthn session: %w", err)
	}
	return opts, session, nil
}

// openSession decodes a session blob of the given kind that has not expired at now.
func openSession(session []byte, kind string, now time.Time) (webauthn.SessionData, error) {
	var s ceremonySession
	if len(session) == 0 {
		return webauthn.SessionData{}, fmt.Errorf("%w: none", ErrCeremony)
	}
	if err := json.Unmarshal(session, &s); err != nil {
		return webauthn.SessionData{}, fmt.Errorf("%w: %w", ErrCeremony, err)
	}
	if s.Kind != kind {
		return webauthn.SessionData{}, fmt.Errorf("%w: a %q ceremony, want %q", ErrCeremony, s.Kind, kind)
	}
	if !now.Before(s.Expires) {
		return webauthn.SessionData{}, fmt.Errorf("%w: expired at %v", ErrCeremony, s.Expires)
	}
	if s.Data.Challenge == "" {
		return webauthn.SessionData{}, fmt.Errorf("%w: no challenge", ErrCeremony)
	}
	return s.Data, nil
}

// refused wraps a go-webauthn error in ErrWebAuthn, keeping its details for logs.
func refused(err error) error {
	var perr *protocol.Error
	if errors.As(err, &perr) && perr.DevInfo != "" {
		return fmt.Errorf("%w: %w (%s)", ErrWebAuthn, err, perr.DevInfo)
	}
	return fmt.Errorf("%w: %w", ErrWebAuthn, err)
}

// User is an account as WebAuthn sees it (webauthn.User). Its user handle
// (WebAuthnID) is the account id: a discoverable credential returns it at
// login, which is how the account is found without an email. It holds no
// personal data beyond the email shown by the authenticator.
type User struct {
	accountID, email string
	creds            []accounts.WebAuthnCredential
}

// NewUser makes the WebAuthn view of an account and its stored credentials.
func NewUser(accountID, email string, creds []accounts.WebAuthnCredential) *User {
	return &User{accountID: accountID, email: email, creds: creds}
}

// AccountID returns the account id (also the user handle).
func (u *User) AccountID() string { return u.accountID }

func (u *User) WebAuthnID() []byte          { return []byte(u.accountID) }
func (u *User) WebAuthnName() string        { return u.email }
func (u *User) WebAuthnDisplayName() string { return u.email }

// WebAuthnCredentials converts the stored records. CloneWarning is left
// false, so that a login reports only its own counter problem.
func (u *User) WebAuthnCredentials() []webauthn.Credential {
	out := make([]webauthn.Credential, 0, len(u.creds))
	for _, c := range u.creds {
		transports := make([]protocol.AuthenticatorTransport, 0, len(c.Transports))
		for _, t := range c.Transports {
			transports = append(transports, protocol.AuthenticatorTransport(t))
		}
		var flags protocol.AuthenticatorFlags
		for _, f := range []struct {
			set  bool
			flag protocol.AuthenticatorFlags
		}{
			{c.UserPresent, protocol.FlagUserPresent},
			{c.UserVerified, protocol.FlagUserVerified},
			{c.BackupEligible, protocol.FlagBackupEligible},
			{c.BackupState, protocol.FlagBackupState},
		} {
			if f.set {
				flags |= f.flag
			}
		}
		out = append(out, webauthn.Credential{
			ID:                c.ID,
			PublicKey:         c.PublicKey,
			AttestationType:   c.AttestationType,
			AttestationFormat: c.AttestationFormat,
			Transport:         transports,
			Flags:             webauthn.NewCredentialFlags(flags),
			Authenticator:     webauthn.Authenticator{AAGUID: c.AAGUID, SignCount: c.SignCount},
		})
	}
	return out
}

// forAssertion returns u ready to check parsed. A credential whose flags were
// never recorded (imported by the unification: every registration here has
// the user-present flag) takes the backup-eligibility flags of the assertion
// itself, which the signature covers; otherwise go-webauthn would refuse
// every synced passkey among them for a BE flag that "changed" from unknown.
func (u *User) forAssertion(parsed *protocol.ParsedCredentialAssertionData) *User {
	out := *u
	out.creds = make([]accounts.WebAuthnCredential, len(u.creds))
	copy(out.creds, u.creds)
	for i := range out.creds {
		c := &out.creds[i]
		if !c.UserPresent && bytes.Equal(c.ID, parsed.RawID) {
			f := parsed.Response.AuthenticatorData.Flags
			c.BackupEligible, c.BackupState = f.HasBackupEligible(), f.HasBackupState()
		}
	}
	return &out
}
