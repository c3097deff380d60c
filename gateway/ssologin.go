package gateway

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"unigate/account"
	"unigate/config"
	"unigate/login"
	"unigate/session"
	"unigate/sso"
)

// Sign in with Google, Microsoft or GitHub (CONTRACT §5; SECURITY family 7).
// An identity signs in only the account it was linked to, found by
// (provider, subject), never by email (V6.8.1). state, nonce and the PKCE
// verifier belong to one attempt in one browser: they live in that browser's
// session and are used once. Linking happens only from settings, with a
// recent proof, for an identity whose verified email is the account's own.

// ssoAttempt is kept in the session between the redirect and the callback.
type ssoAttempt struct {
	Provider string    `json:"provider"`
	Purpose  string    `json:"purpose"` // "login" or "link"
	State    string    `json:"state"`
	Nonce    string    `json:"nonce"`
	Verifier string    `json:"verifier"`
	Expires  time.Time `json:"expires"`
}

// ssoAttemptLifetime bounds the time spent at the provider.
const ssoAttemptLifetime = 10 * time.Minute

// newSSOProviders builds the providers the configuration enables.
func newSSOProviders(cfg *config.Config) (map[string]sso.Provider, error) {
	out := map[string]sso.Provider{}
	secret := func(file string) (string, error) {
		if file == "" {
			return "", nil
		}
		return config.ReadSecret(file)
	}
	for name, p := range map[string]config.OIDCProvider{sso.Google: cfg.SSO.Google, sso.Microsoft: cfg.SSO.Microsoft} {
		if p.ClientID == "" {
			continue
		}
		sec, err := secret(p.ClientSecretFile)
		if err != nil {
			return nil, fmt.Errorf("sso.%s.client_secret_file: %w", name, err)
		}
		prov, err := sso.NewOIDC(name, sso.OIDCConfig{Issuer: p.Issuer, ClientID: p.ClientID, ClientSecret: sec})
		if err != nil {
			return nil, fmt.Errorf("sso.%s: %w", name, err)
		}
		out[name] = prov
	}
	if g := cfg.SSO.GitHub; g.ClientID != "" {
		sec, err := secret(g.ClientSecretFile)
		if err != nil {
			return nil, fmt.Errorf("sso.github.client_secret_file: %w", err)
		}
		out[sso.GitHub] = sso.NewGitHub(sso.GitHubConfig{BaseURL: g.BaseURL, APIURL: g.APIURL, ClientID: g.ClientID, ClientSecret: sec})
	}
	return out, nil
}

// configuredProviders are the identity providers configured, in the order of
// the pages' buttons.
func (s *Server) configuredProviders() []string {
	var out []string
	for _, name := range []string{sso.Google, sso.Microsoft, sso.GitHub} {
		if s.ssoProviders[name] != nil {
			out = append(out, name)
		}
	}
	return out
}

func (s *Server) ssoRedirectURI(provider string) string {
	return s.public.Scheme + "://" + s.public.Host + "/sso/" + provider + "/callback"
}

// beginSSO records a new attempt in sess and returns the provider's URL.
func (s *Server) beginSSO(r *http.Request, sess *session.Session, p sso.Provider, purpose string) (string, error) {
	a := ssoAttempt{Provider: p.Name(), Purpose: purpose, State: sso.NewState(), Nonce: sso.NewNonce(),
		Verifier: sso.NewVerifier(), Expires: s.now().Add(ssoAttemptLifetime)}
	target, err := p.AuthCodeURL(a.State, a.Nonce, a.Verifier, s.ssoRedirectURI(p.Name()))
	if err != nil {
		return "", internal(err)
	}
	sess.SSO, _ = json.Marshal(a)
	if err := s.saveSession(r.Context(), sess); err != nil {
		return "", err
	}
	return target, nil
}

// ssoLoginStart is GET /login/sso/{provider}: a new login attempt that goes to the provider.
func (s *Server) ssoLoginStart(w http.ResponseWriter, r *http.Request) {
	p := s.ssoProviders[r.PathValue("provider")]
	if p == nil {
		s.errorPage(w, r, fail("unknown_provider"))
		return
	}
	l, err := s.openingLogin(r)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	res, err := s.login.OpenSSO(r.Context(), l, s.opening(r, r.URL.Query().Get("return_to")))
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	target, err := s.beginSSO(r, l.Session, p, "login")
	if err == nil {
		err = s.setSessionCookie(w, r, res.Token)
	}
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusFound)
}

// ssoCallback is GET /sso/{provider}/callback, for sign-in and for linking.
func (s *Server) ssoCallback(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	provider := r.PathValue("provider")
	cur, err := s.loadSession(r)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	var a ssoAttempt
	if cur == nil || len(cur.sess.SSO) == 0 || json.Unmarshal(cur.sess.SSO, &a) != nil {
		s.ssoRefused(w, r, nil, "login", provider, "sso_state", errors.New("no attempt in this browser"))
		return
	}
	// Single use: the attempt is gone whatever happens next.
	cur.sess.SSO = nil
	if err := s.saveSession(r.Context(), cur.sess); err != nil {
		s.errorPage(w, r, err)
		return
	}
	q := r.URL.Query()
	switch {
	case a.Provider != provider || s.now().After(a.Expires):
		s.ssoRefused(w, r, cur, a.Purpose, provider, "sso_state", errors.New("attempt expired or for another provider"))
		return
	case subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(a.State)) != 1:
		s.ssoRefused(w, r, cur, a.Purpose, provider, "sso_state", errors.New("state does not match"))
		return
	}
	if err := sso.CallbackError(q); err != nil {
		s.ssoRefused(w, r, cur, a.Purpose, provider, ssoErrorCode(err), err)
		return
	}
	p := s.ssoProviders[provider]
	if p == nil {
		s.ssoRefused(w, r, cur, a.Purpose, provider, "sso_unavailable", errors.New("provider not configured"))
		return
	}
	id, err := p.Exchange(r.Context(), q.Get("code"), a.Verifier, a.Nonce, s.ssoRedirectURI(provider))
	if err != nil {
		s.ssoRefused(w, r, cur, a.Purpose, provider, ssoErrorCode(err), err)
		return
	}
	if a.Purpose == "link" {
		s.ssoLink(w, r, cur, id)
		return
	}
	s.ssoLogin(w, r, cur, id)
}

// ssoLogin finishes a sign-in (login.SSOSignIn): the account is the one
// linked to (provider, subject), or none.
func (s *Server) ssoLogin(w http.ResponseWriter, r *http.Request, cur *current, id *sso.Identity) {
	l := s.loginOf(r, cur.sess)
	res, err := s.login.SSOSignIn(r.Context(), l, id.Provider, id.Subject)
	if errors.Is(err, login.ErrSSONotLinked) {
		// An unlinked identity signs nobody in, even with a matching email.
		s.ssoRefused(w, r, cur, "login", id.Provider, "sso_not_linked", err)
		return
	}
	out, err := s.afterStep(w, r, l, res, err)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	switch {
	case out.Next != session.StepDone:
		http.Redirect(w, r, "/login", http.StatusFound) // the flow goes on: GET /login/state
	case out.Redirect != "":
		http.Redirect(w, r, out.Redirect, http.StatusFound)
	default:
		http.Redirect(w, r, "/consoles", http.StatusFound)
	}
}

// ssoLink finishes a link from settings (account.Security.FinishLink): a
// refusal lands on the security page with its code.
func (s *Server) ssoLink(w http.ResponseWriter, r *http.Request, cur *current, id *sso.Identity) {
	if !cur.sess.Complete() {
		s.ssoRefused(w, r, cur, "link", id.Provider, "reauth_required", errors.New("no finished login"))
		return
	}
	err := s.security.FinishLink(r.Context(), s.caller(r, cur), id)
	var refused *account.Error
	switch {
	case err == nil:
		http.Redirect(w, r, "/settings/security?notice=sso_linked", http.StatusFound)
	case errors.As(err, &refused) && refused.ErrorCode() != "internal_error":
		s.ssoRefused(w, r, cur, "link", id.Provider, refused.ErrorCode(), err)
	default:
		s.errorPage(w, r, err)
	}
}

// ssoRefused ends a refused callback: a sign-in leaves no session, a link no
// link; the browser lands on a clear page (CONTRACT §5).
func (s *Server) ssoRefused(w http.ResponseWriter, r *http.Request, cur *current, purpose, provider, code string, cause error) {
	s.metrics.loginAttempts.WithLabelValues("sso", "failure").Inc()
	accountID := ""
	if cur != nil {
		accountID = cur.sess.AccountID
	}
	s.audit(r, "sso.refused", accountID, map[string]string{"provider": truncate(provider, 32), "purpose": purpose, "reason": code})
	s.log(r).Info("sso callback refused", "provider", truncate(provider, 32), "reason", code, "err", cause)
	if purpose == "link" {
		http.Redirect(w, r, "/settings/security?error="+url.QueryEscape(code), http.StatusFound)
		return
	}
	if cur != nil && !cur.sess.Complete() {
		if err := s.endSession(w, r, cur); err != nil {
			s.errorPage(w, r, err)
			return
		}
	}
	http.Redirect(w, r, "/login?error="+url.QueryEscape(code), http.StatusFound)
}

func ssoErrorCode(err error) string {
	switch {
	case errors.Is(err, sso.ErrDenied):
		return "sso_denied"
	case errors.Is(err, sso.ErrProviderUnavailable):
		return "sso_unavailable"
	case errors.Is(err, sso.ErrInvalidToken), errors.Is(err, sso.ErrInvalidCode):
		return "sso_invalid"
	case errors.Is(err, sso.ErrUnverifiedEmail):
		return "sso_unverified_email"
	}
	return "sso_failed"
}

// ssoMessage is what the login and settings pages say for a refused callback.
func ssoMessage(code string) string {
	switch code {
	case "sso_denied":
		return "The sign-in was cancelled at the provider."
	case "sso_unavailable":
		return "The provider is not answering. Try again in a moment, or use another way to sign in."
	case "sso_not_linked":
		return "This account of the provider is not linked to any account here. Sign in another way, then link it from your security settings."
	case "sso_state":
		return "This sign-in attempt expired or was started in another browser. Please start again."
	case "sso_email_mismatch", "sso_unverified_email":
		return "The provider did not confirm the email address of your account, so it cannot be linked."
	case "sso_taken":
		return "This account of the provider is already linked to another account."
	case "sso_exists":
		return "An account of this provider is already linked. Unlink it first."
	case "reauth_required":
		return "Confirm it is you first, then link the provider again."
	case "sso_invalid", "sso_failed":
		return "The provider's answer could not be verified. Please try again."
	}
	return ""
}

// ssoView is one linked identity (GET /me/sso).
type ssoView struct {
	Provider string    `json:"provider"`
	Email    string    `json:"email"`
	LinkedAt time.Time `json:"linked_at"`
}

// ssoViews are the linked identities of GET /me/sso and the security page.
func ssoViews(links []account.Link) []ssoView {
	out := make([]ssoView, 0, len(links))
	for _, l := range links {
		out = append(out, ssoView(l))
	}
	return out
}

func (s *Server) apiSSOList(w http.ResponseWriter, r *http.Request, cur *current) error {
	links, err := s.security.Links(r.Context(), s.caller(r, cur))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"identities": ssoViews(links)})
	return nil
}

// startLink is POST /me/sso/{provider} (needRecentProof): the provider's
// URL, with the attempt kept in the session for the callback.
func (s *Server) startLink(r *http.Request, cur *current) (string, error) {
	provider := r.PathValue("provider")
	if err := s.security.StartLink(s.caller(r, cur), provider); err != nil {
		return "", err
	}
	p := s.ssoProviders[provider]
	if p == nil {
		return "", fail("unknown_provider")
	}
	return s.beginSSO(r, cur.sess, p, "link")
}

func (s *Server) apiSSOLink(w http.ResponseWriter, r *http.Request, cur *current) error {
	target, err := s.startLink(r, cur)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"redirect": target})
	return nil
}

// apiSSOUnlink is DELETE /me/sso/{provider}: the account keeps a way to sign in.
func (s *Server) apiSSOUnlink(w http.ResponseWriter, r *http.Request, cur *current) error {
	if err := s.security.Unlink(r.Context(), s.caller(r, cur), r.PathValue("provider")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// pageSSOLink and pageSSOUnlink are the security page's forms; the link
// form goes on to the provider (securityRedirect).
func (s *Server) pageSSOLink(w http.ResponseWriter, r *http.Request, cur *current) (string, error) {
	return s.startLink(r, cur)
}

func (s *Server) pageSSOUnlink(w http.ResponseWriter, r *http.Request, cur *current) (string, *totpEnrollView, error) {
	return "sso_unlinked", nil, s.security.Unlink(r.Context(), s.caller(r, cur), r.PathValue("provider"))
}
