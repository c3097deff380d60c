package ssotest

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"unigate/sso"
)

// GitHubUser is the next user to sign in at the fake GitHub.
type GitHubUser struct {
	ID     int64
	Login  string
	Emails []GitHubEmail // what /user/emails lists, in this order
}

// GitHubEmail is one entry of /user/emails.
type GitHubEmail struct {
	Email             string
	Primary, Verified bool
}

// DefaultGitHubUser signs in when no user is queued.
var DefaultGitHubUser = GitHubUser{
	ID:     583231,
	Login:  "octocat",
	Emails: []GitHubEmail{{Email: "octocat@github.test", Primary: true, Verified: true}},
}

// GitHub is a running fake of github.com's OAuth endpoints and the REST
// API's /user and /user/emails, behaving as GitHub does where it matters:
// codes are single-use and die after ten minutes, PKCE S256 is checked, and
// the token endpoint answers a refused code with 200 and
// error=bad_verification_code (form-encoded unless JSON is asked for).
type GitHub struct {
	// BaseURL and APIURL configure the relying party, with ClientID and
	// ClientSecret.
	BaseURL, APIURL, ClientID, ClientSecret string
	// Client trusts the server's certificate.
	Client *http.Client
	// CertPEM is the server's self-signed certificate, for a browser.
	CertPEM []byte

	mu     sync.Mutex
	queue  []GitHubUser
	deny   int
	offset time.Duration // FastForward
	codes  map[string]*githubCode
	tokens map[string]GitHubUser
}

type githubCode struct {
	user        GitHubUser
	challenge   string
	redirectURI string
	issued      time.Time
}

// StartGitHub starts the fake GitHub over TLS on 127.0.0.1, stopped at
// cleanup. APIURL is BaseURL + "/api" (GitHub Enterprise's shape).
func StartGitHub(tb testing.TB) *GitHub {
	tb.Helper()
	g := &GitHub{
		ClientID:     "Iv1." + randomString(8),
		ClientSecret: randomString(20),
		codes:        map[string]*githubCode{},
		tokens:       map[string]GitHubUser{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/oauth/authorize", g.authorize)
	mux.HandleFunc("POST /login/oauth/access_token", g.token)
	mux.HandleFunc("GET /api/user", g.user)
	mux.HandleFunc("GET /api/user/emails", g.emails)

	srvTLS := newServerTLS(tb)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("ssotest: listen: %v", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(newTLSListener(ln, srvTLS)) }()
	tb.Cleanup(func() { _ = srv.Close() })
	g.BaseURL = "https://" + ln.Addr().String()
	g.APIURL = g.BaseURL + "/api"
	g.Client, g.CertPEM = srvTLS.client, srvTLS.certPEM
	return g
}

// Config is the relying party's configuration for this GitHub.
func (g *GitHub) Config() sso.GitHubConfig {
	return sso.GitHubConfig{
		BaseURL: g.BaseURL, APIURL: g.APIURL, ClientID: g.ClientID, ClientSecret: g.ClientSecret, HTTPClient: g.Client,
	}
}

// QueueUser makes u the user of the next authorization.
func (g *GitHub) QueueUser(u GitHubUser) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.queue = append(g.queue, u)
}

// DenyNext makes the next authorization end as GitHub's "Cancel": a
// redirect with error=access_denied and the request's state.
func (g *GitHub) DenyNext() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.deny++
}

// FastForward moves the server's clock, ageing the codes it issued.
func (g *GitHub) FastForward(d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.offset += d
}

func (g *GitHub) now() time.Time { return time.Now().Add(g.offset) }

func (g *GitHub) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	back, err := url.Parse(q.Get("redirect_uri"))
	switch {
	case q.Get("client_id") != g.ClientID:
		http.Error(w, "unknown client_id", http.StatusNotFound)
		return
	case err != nil || back.Scheme == "" || back.Host == "":
		http.Error(w, "redirect_uri required", http.StatusBadRequest)
		return
	case q.Get("code_challenge") != "" && q.Get("code_challenge_method") != "S256":
		http.Error(w, "code_challenge_method must be S256", http.StatusBadRequest)
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	out := back.Query()
	out.Set("state", q.Get("state"))
	if g.deny > 0 {
		g.deny--
		out.Set("error", "access_denied")
		out.Set("error_description", "The user has denied your application access.")
	} else {
		user := DefaultGitHubUser
		if len(g.queue) > 0 {
			user, g.queue = g.queue[0], g.queue[1:]
		}
		code := randomString(20)
		g.codes[code] = &githubCode{user: user, challenge: q.Get("code_challenge"), redirectURI: back.String(), issued: g.now()}
		out.Set("code", code)
	}
	back.RawQuery = out.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (g *GitHub) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f := r.PostForm
	g.mu.Lock()
	defer g.mu.Unlock()
	if f.Get("client_id") != g.ClientID || subtle.ConstantTimeCompare([]byte(f.Get("client_secret")), []byte(g.ClientSecret)) != 1 {
		githubTokenAnswer(w, r, url.Values{"error": {"incorrect_client_credentials"},
			"error_description": {"The client_id and/or client_secret passed are incorrect."}})
		return
	}
	c, ok := g.codes[f.Get("code")]
	delete(g.codes, f.Get("code")) // single use, whatever follows
	bad := url.Values{"error": {"bad_verification_code"},
		"error_description": {"The code passed is incorrect or expired."}}
	switch {
	case !ok, g.now().Sub(c.issued) > DefaultCodeTTL:
		githubTokenAnswer(w, r, bad)
		return
	case f.Get("redirect_uri") != "" && f.Get("redirect_uri") != c.redirectURI:
		githubTokenAnswer(w, r, url.Values{"error": {"redirect_uri_mismatch"},
			"error_description": {"The redirect_uri MUST match the registered callback URL for this application."}})
		return
	case c.challenge != "" && s256(f.Get("code_verifier")) != c.challenge:
		githubTokenAnswer(w, r, bad)
		return
	}
	token := "gho_" + randomString(24)
	g.tokens[token] = c.user
	githubTokenAnswer(w, r, url.Values{"access_token": {token}, "scope": {"read:user,user:email"}, "token_type": {"bearer"}})
}

// githubTokenAnswer answers 200 in GitHub's default form encoding, or in
// JSON when the client accepts it.
func githubTokenAnswer(w http.ResponseWriter, r *http.Request, v url.Values) {
	w.Header().Set("Cache-Control", "no-store")
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		m := map[string]string{}
		for k := range v {
			m[k] = v.Get(k)
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = json.NewEncoder(w).Encode(m)
		return
	}
	w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	_, _ = w.Write([]byte(v.Encode()))
}

func (g *GitHub) bearer(w http.ResponseWriter, r *http.Request) (GitHubUser, bool) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	g.mu.Lock()
	user, known := g.tokens[token]
	g.mu.Unlock()
	if !ok || !known {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"message":"Bad credentials","status":"401"}`))
		return GitHubUser{}, false
	}
	return user, true
}

func (g *GitHub) user(w http.ResponseWriter, r *http.Request) {
	u, ok := g.bearer(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(map[string]any{"id": u.ID, "login": u.Login, "type": "User"})
}

func (g *GitHub) emails(w http.ResponseWriter, r *http.Request) {
	u, ok := g.bearer(w, r)
	if !ok {
		return
	}
	list := make([]map[string]any, 0, len(u.Emails))
	for _, e := range u.Emails {
		var visibility any
		if e.Primary {
			visibility = "private"
		}
		list = append(list, map[string]any{"email": e.Email, "primary": e.Primary, "verified": e.Verified, "visibility": visibility})
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(list)
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
