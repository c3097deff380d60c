package sso

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/oauth2"
)

// GitHub's public endpoints, the defaults of GitHubConfig.
const (
	DefaultGitHubBaseURL = "https://github.com"
	DefaultGitHubAPIURL  = "https://api.github.com"
)

// maxAPIResponse bounds a GitHub API answer read into memory.
const maxAPIResponse = 1 << 20

// GitHubConfig configures GitHub sign-in (an OAuth app or a GitHub App's
// user authorization; GitHub speaks OAuth 2.0, not OpenID Connect).
type GitHubConfig struct {
	// BaseURL serves /login/oauth/authorize and /login/oauth/access_token.
	// "": DefaultGitHubBaseURL. https only.
	BaseURL string
	// APIURL serves /user and /user/emails. "": DefaultGitHubAPIURL
	// (GitHub Enterprise Server: https://HOST/api/v3). https only.
	APIURL string
	// ClientID and ClientSecret are the app's credentials. Both required.
	ClientID, ClientSecret string
	// HTTPClient makes every request to GitHub. nil: a client with
	// DefaultHTTPTimeout.
	HTTPClient *http.Client
}

// NewGitHub returns the GitHub provider. The identity is GitHub's numeric
// user id — the login can be renamed and then taken by someone else — and
// the email is the address /user/emails marks primary, trusted only when it
// is also marked verified (see the package documentation). The scopes asked
// for are read:user and user:email: read-only, and user:email is what lets
// /user/emails answer.
//
// A configuration that the config package would refuse (no client id or
// secret, a URL that is not https) gives a provider whose every call fails
// with ErrProviderUnavailable.
func NewGitHub(cfg GitHubConfig) Provider {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultGitHubBaseURL
	}
	if cfg.APIURL == "" {
		cfg.APIURL = DefaultGitHubAPIURL
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	cfg.APIURL = strings.TrimSuffix(cfg.APIURL, "/")
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	return &githubProvider{cfg: cfg, configErr: checkGitHubConfig(cfg)}
}

// checkGitHubConfig is the configuration error every call of a provider
// made from cfg returns, or nil.
func checkGitHubConfig(cfg GitHubConfig) error {
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return fmt.Errorf("%w: github: client id and client secret are required", ErrProviderUnavailable)
	}
	if err := checkHTTPS(cfg.BaseURL); err != nil {
		return fmt.Errorf("%w: github: base URL: %w", ErrProviderUnavailable, err)
	}
	if err := checkHTTPS(cfg.APIURL); err != nil {
		return fmt.Errorf("%w: github: API URL: %w", ErrProviderUnavailable, err)
	}
	return nil
}

// githubProvider implements Provider for GitHub.
type githubProvider struct {
	cfg       GitHubConfig
	configErr error
}

func (g *githubProvider) Name() string { return GitHub }

// AuthCodeURL ignores nonce: GitHub issues no ID token for it to bind; state
// and PKCE (which GitHub supports, S256) bind the attempt.
func (g *githubProvider) AuthCodeURL(state, _, verifier, redirectURI string) (string, error) {
	if g.configErr != nil {
		return "", g.configErr
	}
	if err := required("state", state, "redirect URI", redirectURI); err != nil {
		return "", err
	}
	if err := checkVerifier(verifier); err != nil {
		return "", err
	}
	return g.oauth2Config(redirectURI).AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), nil
}

func (g *githubProvider) Exchange(ctx context.Context, code, verifier, _, redirectURI string) (*Identity, error) {
	if g.configErr != nil {
		return nil, g.configErr
	}
	if err := required("code", code, "redirect URI", redirectURI); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidCode, err)
	}
	if err := checkVerifier(verifier); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidCode, err)
	}
	// GitHub answers a bad code with 200 and error=bad_verification_code;
	// oauth2 turns that into a RetrieveError like any other refusal.
	tok, err := g.oauth2Config(redirectURI).Exchange(context.WithValue(ctx, oauth2.HTTPClient, g.cfg.HTTPClient),
		code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, tokenError(GitHub, err)
	}

	var user struct {
		ID int64 `json:"id"`
	}
	if err := g.get(ctx, tok.AccessToken, "/user", &user); err != nil {
		return nil, err
	}
	if user.ID <= 0 {
		return nil, fmt.Errorf("%w: github: /user has no id", ErrProviderUnavailable)
	}
	var emails []struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	if err := g.get(ctx, tok.AccessToken, "/user/emails?per_page=100", &emails); err != nil {
		return nil, err
	}
	id := &Identity{Provider: GitHub, Subject: strconv.FormatInt(user.ID, 10)}
	for _, e := range emails {
		if e.Primary {
			// Only the primary address is the user's own choice of contact;
			// a verified secondary is ignored, an unverified primary is not
			// vouched for.
			email, ok := normalizeEmail(e.Email)
			id.Email, id.EmailVerified = email, ok && e.Verified
			break
		}
	}
	return id, nil
}

func (g *githubProvider) oauth2Config(redirectURI string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     g.cfg.ClientID,
		ClientSecret: g.cfg.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   g.cfg.BaseURL + "/login/oauth/authorize",
			TokenURL:  g.cfg.BaseURL + "/login/oauth/access_token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
		RedirectURL: redirectURI,
		Scopes:      []string{"read:user", "user:email"},
	}
}

// get calls the GitHub REST API at path with the user's token and decodes
// the JSON answer into v. Any failure is the provider's: the token was just
// issued for the scopes asked.
func (g *githubProvider) get(ctx context.Context, token, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.cfg.APIURL+path, nil)
	if err != nil {
		return fmt.Errorf("%w: github: %w", ErrProviderUnavailable, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("User-Agent", "unigate")
	resp, err := g.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("%w: github: GET %s: %w", ErrProviderUnavailable, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIResponse))
	if err != nil {
		return fmt.Errorf("%w: github: GET %s: %w", ErrProviderUnavailable, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: github: GET %s: HTTP %d", ErrProviderUnavailable, path, resp.StatusCode)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: github: GET %s: %w", ErrProviderUnavailable, path, err)
	}
	return nil
}
