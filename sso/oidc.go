package sso

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Timing of the calls to a provider.
const (
	// DefaultHTTPTimeout bounds each request when OIDCConfig.HTTPClient or
	// GitHubConfig.HTTPClient is nil.
	DefaultHTTPTimeout = 10 * time.Second
	// discoveryTimeout bounds a discovery started by AuthCodeURL, which has
	// no context of its own.
	discoveryTimeout = 10 * time.Second
	// discoveryRetryAfter is how long a failed discovery is remembered:
	// logins in that window fail at once instead of each waiting on a
	// provider that is down.
	discoveryRetryAfter = 5 * time.Second
)

// OIDCConfig configures an OpenID Connect provider.
type OIDCConfig struct {
	// Issuer is the provider's issuer URL, https only; its discovery
	// document is Issuer + "/.well-known/openid-configuration" and must name
	// this same issuer (for Microsoft, see NewOIDC).
	Issuer string
	// ClientID and ClientSecret are the registered client's credentials,
	// sent in the token request body (client_secret_post). Both required.
	ClientID, ClientSecret string
	// HTTPClient makes every request to the provider (discovery, JWKS,
	// token). nil: a client with DefaultHTTPTimeout.
	HTTPClient *http.Client
	// Now is the clock that ID-token expiry is checked against and that
	// paces discovery retries. nil: time.Now.
	Now func() time.Time
}

// NewOIDC returns the OIDC provider name, Google or Microsoft, whose claims
// rules (see the package documentation) it applies. The configuration is
// checked now; discovery waits for the first AuthCodeURL or Exchange, and a
// failed discovery is tried again on a later call, so an unreachable
// provider never stops the gateway from starting (ErrProviderUnavailable
// until it answers).
//
// For Microsoft, the discovery document of the tenant-independent endpoints
// (…/common/v2.0, …/organizations/v2.0, …/consumers/v2.0) does not name
// the configured issuer: it names "https://login.microsoftonline.com/
// {tenantid}/v2.0", a template, or the consumer tenant's issuer. Microsoft's
// document is accepted when it names an issuer on the configured issuer's
// origin, fetched from there over TLS; a template issuer is then checked per
// token, with {tenantid} replaced by the token's tid claim.
func NewOIDC(name string, cfg OIDCConfig) (Provider, error) {
	var identity func(sub string, claims *idClaims) (*Identity, error)
	switch name {
	case Google:
		identity = googleIdentity
	case Microsoft:
		identity = microsoftIdentity
	default:
		return nil, fmt.Errorf("sso: NewOIDC: unknown provider %q (want %q or %q)", name, Google, Microsoft)
	}
	if err := checkIssuer(cfg.Issuer); err != nil {
		return nil, fmt.Errorf("sso: %s issuer: %w", name, err)
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, fmt.Errorf("sso: %s: client id and client secret are required", name)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &oidcProvider{name: name, cfg: cfg, identity: identity}, nil
}

// oidcProvider implements Provider for Google and Microsoft.
type oidcProvider struct {
	name     string
	cfg      OIDCConfig
	identity func(sub string, claims *idClaims) (*Identity, error)

	mu         sync.Mutex // held during discovery, so concurrent first logins make one request
	meta       *discovered
	failedAt   time.Time
	failedWith error
}

// discovered is what discovery yields, fixed for the provider's lifetime.
type discovered struct {
	endpoint oauth2.Endpoint
	verifier *oidc.IDTokenVerifier
	// issuer is the exact iss expected, or a template holding
	// tenantPlaceholder (Microsoft's multi-tenant endpoints).
	issuer   string
	template bool
	// jwksDown records whether the last JWKS fetch failed, to tell an
	// outage (ErrProviderUnavailable) from a bad signature (ErrInvalidToken).
	jwksDown *atomic.Bool
}

const tenantPlaceholder = "{tenantid}"

func (p *oidcProvider) Name() string { return p.name }

func (p *oidcProvider) AuthCodeURL(state, nonce, verifier, redirectURI string) (string, error) {
	if err := required("state", state, "nonce", nonce, "redirect URI", redirectURI); err != nil {
		return "", err
	}
	if err := checkVerifier(verifier); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), discoveryTimeout)
	defer cancel()
	d, err := p.discover(ctx)
	if err != nil {
		return "", err
	}
	return p.oauth2Config(d, redirectURI).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), nil
}

func (p *oidcProvider) Exchange(ctx context.Context, code, verifier, nonce, redirectURI string) (*Identity, error) {
	if err := required("code", code, "nonce", nonce, "redirect URI", redirectURI); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidCode, err)
	}
	if err := checkVerifier(verifier); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidCode, err)
	}
	d, err := p.discover(ctx)
	if err != nil {
		return nil, err
	}
	tok, err := p.oauth2Config(d, redirectURI).Exchange(oidc.ClientContext(ctx, p.cfg.HTTPClient), code,
		oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, tokenError(p.name, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, fmt.Errorf("%w: %s: the token response has no id_token", ErrInvalidToken, p.name)
	}
	idt, claims, err := p.verify(ctx, d, raw, nonce)
	if err != nil {
		return nil, err
	}
	// at_hash is optional in the code flow (OIDC Core §3.1.3.8); when the
	// provider sends it, it must bind the access token to this ID token.
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInvalidToken, p.name, err)
		}
	}
	return p.identity(idt.Subject, claims)
}

func (p *oidcProvider) oauth2Config(d *discovered, redirectURI string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     p.cfg.ClientID,
		ClientSecret: p.cfg.ClientSecret,
		Endpoint:     d.endpoint,
		RedirectURL:  redirectURI,
		// Only what the login needs (data minimisation): the subject and the
		// email with the claims that say whether to trust it.
		Scopes: []string{oidc.ScopeOpenID, "email"},
	}
}

// verify checks the ID token: signature, algorithm, audience and expiry
// through go-oidc, then what go-oidc leaves to its caller — the issuer of a
// template, the authorized party, the nonce and the subject.
func (p *oidcProvider) verify(ctx context.Context, d *discovered, raw, nonce string) (*oidc.IDToken, *idClaims, error) {
	idt, err := d.verifier.Verify(ctx, raw)
	if err != nil {
		if d.jwksDown.Load() {
			return nil, nil, fmt.Errorf("%w: %s: fetching its keys: %w", ErrProviderUnavailable, p.name, err)
		}
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrInvalidToken, p.name, err)
	}
	var claims idClaims
	if err := idt.Claims(&claims); err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrInvalidToken, p.name, err)
	}
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidToken, p.name, fmt.Sprintf(format, args...))
	}
	if d.template {
		// Microsoft's multi-tenant validation: the issuer is the template
		// with the token's own tenant, so a token's tid cannot disagree with
		// the issuer that signed for it.
		if !isTenantID(claims.TenantID) {
			return nil, nil, invalid("tid %q is not a tenant id", bounded(claims.TenantID))
		}
		if want := strings.Replace(d.issuer, tenantPlaceholder, claims.TenantID, 1); idt.Issuer != want {
			return nil, nil, invalid("issuer %q, want %q", bounded(idt.Issuer), want)
		}
	}
	// OIDC Core §3.1.3.7 steps 4 and 5: with several audiences, azp must
	// be there; when there, it must be this client.
	if (len(idt.Audience) > 1 || claims.AuthorizedParty != "") && claims.AuthorizedParty != p.cfg.ClientID {
		return nil, nil, invalid("authorized party %q, want the client id", bounded(claims.AuthorizedParty))
	}
	// The nonce binds the token to the attempt this browser started
	// (OIDC Core §3.1.3.7 step 11; SECURITY.md federation).
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return nil, nil, invalid("nonce does not match the attempt's")
	}
	if idt.Subject == "" {
		return nil, nil, invalid("no sub")
	}
	return idt, &claims, nil
}

// discover returns the provider's metadata, fetching it on the first call and
// again after a failure once discoveryRetryAfter has passed.
func (p *oidcProvider) discover(ctx context.Context) (*discovered, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.meta != nil {
		return p.meta, nil
	}
	if p.failedWith != nil && p.cfg.Now().Sub(p.failedAt) < discoveryRetryAfter {
		return nil, p.failedWith
	}
	d, err := p.fetchMetadata(ctx)
	if err != nil {
		p.failedAt, p.failedWith = p.cfg.Now(), fmt.Errorf("%w: %s: discovery: %w", ErrProviderUnavailable, p.name, err)
		return nil, p.failedWith
	}
	p.meta, p.failedWith = d, nil
	return d, nil
}

// providerMetadata is the part of the discovery document used here.
type providerMetadata struct {
	Issuer     string   `json:"issuer"`
	AuthURL    string   `json:"authorization_endpoint"`
	TokenURL   string   `json:"token_endpoint"`
	JWKSURL    string   `json:"jwks_uri"`
	Algorithms []string `json:"id_token_signing_alg_values_supported"`
}

// asymmetricAlgs are the ID-token algorithms accepted, whatever the provider
// advertises: no "none", and no HMAC, whose key would be the client secret
// (ASVS V10.5; RFC 8725 §3.1-3.2).
var asymmetricAlgs = []string{
	oidc.RS256, oidc.RS384, oidc.RS512, oidc.PS256, oidc.PS384, oidc.PS512,
	oidc.ES256, oidc.ES384, oidc.ES512, oidc.EdDSA,
}

func (p *oidcProvider) fetchMetadata(ctx context.Context) (*discovered, error) {
	// go-oidc compares the discovered issuer with the configured one
	// exactly; Microsoft's multi-tenant endpoints need the rule of
	// acceptIssuer instead, so the comparison is made here for both.
	dctx := oidc.InsecureIssuerURLContext(oidc.ClientContext(ctx, p.cfg.HTTPClient), p.cfg.Issuer)
	op, err := oidc.NewProvider(dctx, p.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	var meta providerMetadata
	if err := op.Claims(&meta); err != nil {
		return nil, err
	}
	template, err := p.acceptIssuer(meta.Issuer)
	if err != nil {
		return nil, err
	}
	for _, u := range []struct{ name, url string }{
		{"authorization_endpoint", meta.AuthURL}, {"token_endpoint", meta.TokenURL}, {"jwks_uri", meta.JWKSURL},
	} {
		if err := checkHTTPS(u.url); err != nil {
			return nil, fmt.Errorf("%s: %w", u.name, err)
		}
	}
	var algs []string
	for _, a := range meta.Algorithms {
		if slices.Contains(asymmetricAlgs, a) {
			algs = append(algs, a)
		}
	}
	if len(algs) == 0 {
		algs = []string{oidc.RS256} // the one OIDC makes mandatory (OIDC Discovery §3)
	}

	jwksDown := new(atomic.Bool)
	keyClient := *p.cfg.HTTPClient
	keyClient.Transport = &outageRecorder{base: keyClient.Transport, down: jwksDown}
	keys := oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), &keyClient), meta.JWKSURL)
	return &discovered{
		endpoint: oauth2.Endpoint{AuthURL: meta.AuthURL, TokenURL: meta.TokenURL, AuthStyle: oauth2.AuthStyleInParams},
		verifier: oidc.NewVerifier(meta.Issuer, keys, &oidc.Config{
			ClientID:             p.cfg.ClientID,
			SupportedSigningAlgs: algs,
			Now:                  p.cfg.Now,
			SkipIssuerCheck:      template, // checked in verify, per token
		}),
		issuer:   meta.Issuer,
		template: template,
		jwksDown: jwksDown,
	}, nil
}

// acceptIssuer applies the issuer rule of NewOIDC to the discovered issuer
// and says whether it is a tenant template.
func (p *oidcProvider) acceptIssuer(discovered string) (template bool, err error) {
	if discovered == p.cfg.Issuer {
		return false, nil
	}
	mismatch := fmt.Errorf("the discovery document names issuer %q, want %q", bounded(discovered), p.cfg.Issuer)
	if p.name != Microsoft {
		return false, mismatch
	}
	d, err1 := url.Parse(discovered)
	c, err2 := url.Parse(p.cfg.Issuer)
	if err1 != nil || err2 != nil || d.Scheme != "https" || d.Scheme != c.Scheme || d.Host != c.Host {
		return false, mismatch
	}
	n := strings.Count(discovered, tenantPlaceholder)
	if n > 1 || (n == 1 && !strings.Contains(d.Path, tenantPlaceholder)) {
		return false, mismatch
	}
	return n == 1, nil
}

// outageRecorder notes whether the last response it saw was a failure.
type outageRecorder struct {
	base http.RoundTripper // nil: http.DefaultTransport
	down *atomic.Bool
}

func (o *outageRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	base := o.base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(r)
	o.down.Store(err != nil || resp.StatusCode != http.StatusOK)
	return resp, err
}

// tokenError maps a failed token request (RFC 6749 §5.2): a refused code is
// the user's attempt gone stale or forged, anything else is the provider's
// or the operator's problem.
func tokenError(provider string, err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return fmt.Errorf("%w: %s: token request: %w", ErrProviderUnavailable, provider, err)
	}
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	detail := fmt.Sprintf("%s: token endpoint: HTTP %d error=%q", provider, status, bounded(re.ErrorCode))
	switch re.ErrorCode {
	case "invalid_client", "unauthorized_client", "incorrect_client_credentials":
		return fmt.Errorf("%w: %s (check the client id and secret)", ErrProviderUnavailable, detail)
	case "server_error", "temporarily_unavailable":
		return fmt.Errorf("%w: %s", ErrProviderUnavailable, detail)
	}
	if status >= 500 {
		return fmt.Errorf("%w: %s", ErrProviderUnavailable, detail)
	}
	return fmt.Errorf("%w: %s", ErrInvalidCode, detail)
}

// checkHTTPS refuses anything but an absolute https URL with a host and no
// user info: the issuer and endpoints are trusted as they answer, so only
// TLS may carry them (CONTRACT §5; ASVS V10.5).
func checkHTTPS(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return err
	case u.Scheme != "https" || u.Host == "" || u.User != nil:
		return fmt.Errorf("%q is not an https URL", bounded(raw))
	}
	return nil
}

// checkIssuer is checkHTTPS plus OIDC's shape of an issuer: no query, no
// fragment (OIDC Discovery §3).
func checkIssuer(raw string) error {
	if err := checkHTTPS(raw); err != nil {
		return err
	}
	if u, _ := url.Parse(raw); u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return fmt.Errorf("%q: an issuer has no query or fragment", bounded(raw))
	}
	return nil
}
