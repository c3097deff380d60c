// Package ssotest runs real sign-in providers inside a test process: an
// OpenID Connect provider (oauth2-proxy/mockoidc on a TLS listener) and a
// fake of GitHub's OAuth and user API, each with an http.Client that trusts
// its certificate. Tests queue the next user, make the user refuse, age the
// codes, or have the next ID token forged, and drive the authorization
// endpoint with Authorize (or a browser, trusting CertPEM).
package ssotest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"unigate/sso"
)

// DefaultCodeTTL is how long an authorization code stays redeemable, as at
// Google and Microsoft (RFC 6749 §4.1.2 recommends at most 10 minutes).
const DefaultCodeTTL = 10 * time.Minute

// User is the next user to sign in at the OIDC provider.
type User struct {
	Subject       string
	Email         string
	EmailVerified bool
	// Claims are added to the ID token, or replace what it would carry:
	// "tid" and "xms_edov" make a Microsoft user; "iss", "aud", "exp",
	// "azp" and "nonce" spoil the token while the provider still signs it.
	Claims map[string]any
}

// Forgery is a way to spoil the next ID token's signature.
type Forgery int

const (
	// AlgNone: the header says "alg":"none" and there is no signature.
	AlgNone Forgery = iota + 1
	// OtherKey: signed with RS256 by a key the provider never published,
	// under the provider's own key id.
	OtherKey
	// HS256ClientSecret: HMAC-SHA256 keyed with the client secret, which
	// OIDC Core §10.1 allows and unigate refuses.
	HS256ClientSecret
	// BadSignature: the genuine token with one signature byte changed.
	BadSignature
)

// OIDC is a running OpenID Connect provider.
type OIDC struct {
	// Issuer, ClientID and ClientSecret configure the relying party.
	Issuer, ClientID, ClientSecret string
	// Client trusts the provider's certificate.
	Client *http.Client
	// CertPEM is the provider's self-signed certificate, for a browser.
	CertPEM []byte

	m           *mockoidc.MockOIDC
	multiTenant bool

	// mu serialises every request to the provider, and the test's calls
	// into it: mockoidc keeps its sessions and clock unguarded.
	mu      sync.Mutex
	codeTTL time.Duration
	issued  map[string]time.Time // code -> when the provider's clock issued it
	deny    int
	forge   []Forgery
}

// Option configures StartOIDC.
type Option func(*OIDC)

// MultiTenant makes the provider behave like Microsoft's multi-tenant
// endpoint: its discovery document names the issuer template
// Issuer+"/{tenantid}/v2.0", and a user whose Claims hold a "tid" gets
// TenantIssuer(tid) as iss (unless Claims set one).
func MultiTenant() Option { return func(o *OIDC) { o.multiTenant = true } }

// CodeTTL sets how long a code stays redeemable on the provider's clock
// (DefaultCodeTTL otherwise).
func CodeTTL(d time.Duration) Option { return func(o *OIDC) { o.codeTTL = d } }

// StartOIDC starts mockoidc over TLS on 127.0.0.1, stopped at cleanup. It
// signs ID tokens with RS256 and advertises PKCE S256.
func StartOIDC(tb testing.TB, opts ...Option) *OIDC {
	tb.Helper()
	providerKey, _ := signingKeys()
	m, err := mockoidc.NewServer(providerKey)
	if err != nil {
		tb.Fatalf("ssotest: mockoidc: %v", err)
	}
	m.CodeChallengeMethodsSupported = []string{mockoidc.CodeChallengeMethodS256}
	o := &OIDC{m: m, codeTTL: DefaultCodeTTL, issued: map[string]time.Time{}}
	for _, opt := range opts {
		opt(o)
	}
	if err := m.AddMiddleware(o.middleware); err != nil {
		tb.Fatalf("ssotest: %v", err)
	}
	srvTLS := newServerTLS(tb)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("ssotest: listen: %v", err)
	}
	// mockoidc's Start serves whatever listener it gets; TLS is this one's.
	if err := m.Start(newTLSListener(ln, srvTLS), srvTLS.config); err != nil {
		tb.Fatalf("ssotest: mockoidc: %v", err)
	}
	tb.Cleanup(func() { _ = m.Shutdown() })
	o.Issuer, o.ClientID, o.ClientSecret = m.Issuer(), m.ClientID, m.ClientSecret
	o.Client, o.CertPEM = srvTLS.client, srvTLS.certPEM
	return o
}

// Config is the relying party's configuration for this provider.
func (o *OIDC) Config() sso.OIDCConfig {
	return sso.OIDCConfig{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: o.ClientSecret, HTTPClient: o.Client}
}

// TenantIssuer is the issuer of tenant tid under MultiTenant.
func (o *OIDC) TenantIssuer(tid string) string { return o.Issuer + "/" + tid + "/v2.0" }

// QueueUser makes u the user of the next authorization (mockoidc's default
// user, jane.doe@example.com with a verified email, when none is queued).
func (o *OIDC) QueueUser(u User) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.m.QueueUser(&mockUser{u: u, o: o})
}

// DenyNext makes the next authorization end as a refusal: a redirect with
// error=access_denied and the request's state.
func (o *OIDC) DenyNext() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.deny++
}

// ForgeNextIDToken spoils the signature of the next ID token the token
// endpoint returns; the code is still redeemed.
func (o *OIDC) ForgeNextIDToken(f Forgery) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.forge = append(o.forge, f)
}

// FastForward moves the provider's clock: codes age (see CodeTTL) and the
// tokens it issues carry the later iat, nbf and exp. A negative d makes
// tokens that are already expired.
func (o *OIDC) FastForward(d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.m.FastForward(d)
}

// middleware runs around each of mockoidc's handlers, one request at a time.
func (o *OIDC) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		defer o.mu.Unlock()
		switch r.URL.Path {
		case mockoidc.AuthorizationEndpoint:
			o.authorize(next, w, r)
		case mockoidc.TokenEndpoint:
			o.token(next, w, r)
		case mockoidc.DiscoveryEndpoint:
			o.discovery(next, w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

func (o *OIDC) authorize(next http.Handler, w http.ResponseWriter, r *http.Request) {
	if o.deny > 0 {
		o.deny--
		back, err := url.Parse(r.FormValue("redirect_uri"))
		if err != nil || back.Scheme == "" {
			http.Error(w, "bad redirect_uri", http.StatusBadRequest)
			return
		}
		q := back.Query()
		q.Set("error", "access_denied")
		q.Set("error_description", "The user denied the request.")
		q.Set("state", r.FormValue("state"))
		back.RawQuery = q.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
		return
	}
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r)
	if loc, err := url.Parse(rec.Header().Get("Location")); err == nil && rec.Code == http.StatusFound {
		if code := loc.Query().Get("code"); code != "" {
			o.issued[code] = o.m.Now()
		}
	}
	copyResponse(w, rec)
}

// token refuses codes older than the TTL (mockoidc keeps them forever),
// then lets mockoidc answer, forging the ID token when asked.
func (o *OIDC) token(next http.Handler, w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if r.PostForm.Get("grant_type") == "authorization_code" {
		if at, ok := o.issued[r.PostForm.Get("code")]; ok && o.m.Now().Sub(at) > o.codeTTL {
			writeJSON(w, http.StatusBadRequest, map[string]string{
				"error": "invalid_grant", "error_description": "The authorization code has expired.",
			})
			return
		}
	}
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r)
	if rec.Code == http.StatusOK && len(o.forge) > 0 {
		f := o.forge[0]
		o.forge = o.forge[1:]
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err == nil {
			if raw, ok := body["id_token"].(string); ok {
				body["id_token"] = o.forgeToken(raw, f)
				writeJSON(w, http.StatusOK, body)
				return
			}
		}
	}
	copyResponse(w, rec)
}

func (o *OIDC) discovery(next http.Handler, w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r)
	if !o.multiTenant || rec.Code != http.StatusOK {
		copyResponse(w, rec)
		return
	}
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		copyResponse(w, rec)
		return
	}
	doc["issuer"] = o.Issuer + "/{tenantid}/v2.0"
	writeJSON(w, http.StatusOK, doc)
}

// forgeToken rebuilds raw's header and payload into a token spoiled by f.
func (o *OIDC) forgeToken(raw string, f Forgery) string {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return raw
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return raw
	}
	var header struct {
		Kid string `json:"kid"`
	}
	if h, err := base64.RawURLEncoding.DecodeString(parts[0]); err == nil {
		_ = json.Unmarshal(h, &header)
	}
	switch f {
	case AlgNone:
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
		return h + "." + parts[1] + "."
	case OtherKey:
		_, other := signingKeys()
		return sign(jose.SigningKey{Algorithm: jose.RS256, Key: other}, header.Kid, payload)
	case HS256ClientSecret:
		return sign(jose.SigningKey{Algorithm: jose.HS256, Key: []byte(o.ClientSecret)}, header.Kid, payload)
	case BadSignature:
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil || len(sig) == 0 {
			return raw
		}
		sig[len(sig)/2] ^= 0x01
		return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	return raw
}

func sign(key jose.SigningKey, kid string, payload []byte) string {
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	signer, err := jose.NewSigner(key, opts)
	if err != nil {
		panic(fmt.Sprintf("ssotest: signer: %v", err))
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		panic(fmt.Sprintf("ssotest: sign: %v", err))
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		panic(fmt.Sprintf("ssotest: serialize: %v", err))
	}
	return s
}

// mockUser is a User as mockoidc sees one.
type mockUser struct {
	u User
	o *OIDC
}

func (m *mockUser) ID() string { return m.u.Subject }

func (m *mockUser) Userinfo(scopes []string) ([]byte, error) {
	info := map[string]any{"sub": m.u.Subject}
	if slices.Contains(scopes, "email") {
		info["email"], info["email_verified"] = m.u.Email, m.u.EmailVerified
	}
	return json.Marshal(info)
}

// Claims builds the ID token's claims: mockoidc's registered claims and
// nonce, the email when the scope asks for it, the tenant's issuer under
// MultiTenant, then the user's own Claims over all of them.
func (m *mockUser) Claims(scopes []string, base *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	b, err := json.Marshal(base)
	if err != nil {
		return nil, err
	}
	claims := jwt.MapClaims{}
	if err := json.Unmarshal(b, &claims); err != nil {
		return nil, err
	}
	if slices.Contains(scopes, "email") && m.u.Email != "" {
		claims["email"] = m.u.Email
		claims["email_verified"] = m.u.EmailVerified
	}
	if tid, ok := m.u.Claims["tid"].(string); ok && m.o.multiTenant {
		claims["iss"] = m.o.TenantIssuer(tid)
	}
	maps.Copy(claims, m.u.Claims)
	return claims, nil
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	maps.Copy(w.Header(), rec.Header())
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	_ = json.NewEncoder(&buf).Encode(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Del("Content-Length")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
