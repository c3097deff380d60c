package gateway

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"unigate/accounts"
	"unigate/config"
)

func TestLoginPasswordFlow(t *testing.T) {
	h := newHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()

	r := b.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": "  Alice@Example.COM "})
	if r.StatusCode != 200 {
		t.Fatalf("identify: got %d %s", r.StatusCode, r.body)
	}
	if got := fmt.Sprint(r.json(t)["methods"]); got != "[password passkey]" {
		t.Fatalf("methods: got %s, want [password passkey]", got)
	}
	pre := b.cookie("account.test")
	if pre == nil {
		t.Fatal("identify set no cookie")
	}
	if !pre.HttpOnly || pre.SameSite != http.SameSiteLaxMode || pre.Path != "/" || pre.Domain != "" {
		t.Errorf("cookie attributes: %+v", pre)
	}
	r = b.do("GET", accountURL+"/api/v1/login/state", nil)
	if m := r.json(t); r.StatusCode != 200 || m["next"] != "first_factor" {
		t.Fatalf("state: %d %s", r.StatusCode, r.body)
	}
	// Not logged in yet: no console, no session.
	if r := b.do("GET", accountURL+"/api/v1/session", nil); r.StatusCode != 401 {
		t.Fatalf("session before login: got %d, want 401", r.StatusCode)
	}
	r = b.do("POST", accountURL+"/api/v1/login/password", map[string]string{"password": "correct horse battery"})
	m := r.json(t)
	if r.StatusCode != 200 || m["next"] != "done" {
		t.Fatalf("password: %d %s", r.StatusCode, r.body)
	}
	if cs, _ := m["consoles"].([]any); len(cs) != 2 {
		t.Errorf("consoles in done: %v", m["consoles"])
	}
	post := b.cookie("account.test")
	if post == nil || post.Value == pre.Value {
		t.Fatal("session token was not rotated at login (V7.2.4)")
	}
	r = b.do("GET", accountURL+"/api/v1/session", nil)
	if r.StatusCode != 200 {
		t.Fatalf("session: %d %s", r.StatusCode, r.body)
	}
	s := r.json(t)
	if u := s["user"].(map[string]any); u["email"] != "alice@example.com" || s["mfa"] != "none" {
		t.Errorf("session view: %s", r.body)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control: got %q", r.Header.Get("Cache-Control"))
	}
	if r := b.do("GET", accountURL+"/api/v1/login/state", nil); r.StatusCode != 404 {
		t.Errorf("state after done: got %d, want 404", r.StatusCode)
	}
}

// The pre-login cookie is useless after the login: a fixed id cannot be planted (SECURITY family 4).
func TestSessionFixation(t *testing.T) {
	h := newHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	attacker := h.browser()
	attacker.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": "alice@example.com"})
	planted := attacker.cookie("account.test")

	victim := h.browser()
	victim.cookies["account.test"] = map[string]*http.Cookie{planted.Name: planted}
	victim.do("POST", accountURL+"/api/v1/login/password", map[string]string{"password": "correct horse battery"})
	if victim.cookie("account.test").Value == planted.Value {
		t.Fatal("the planted cookie survived the login")
	}
	if r := attacker.do("GET", accountURL+"/api/v1/session", nil); r.StatusCode != 401 {
		t.Fatalf("attacker's planted id: got %d, want 401", r.StatusCode)
	}
}

func TestUnknownEmailLooksLikePasswordAccount(t *testing.T) {
	h := newHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	for _, email := range []string{"alice@example.com", "nobody@example.com"} {
		b := h.browser()
		r := b.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": email})
		if r.StatusCode != 200 || strings.TrimSpace(string(r.body)) != `{"methods":["password","passkey"]}` {
			t.Errorf("%s identify: %d %s", email, r.StatusCode, r.body)
		}
		r = b.do("POST", accountURL+"/api/v1/login/password", map[string]string{"password": "wrong password!!"})
		if r.StatusCode != 401 || r.json(t)["error"] != "invalid_credentials" {
			t.Errorf("%s wrong password: %d %s", email, r.StatusCode, r.body)
		}
	}
}

func TestIdentifyRejectsBadInput(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	cases := []struct {
		name   string
		body   string
		ctype  string
		status int
		code   string
	}{
		{"malformed email", `{"email":"not-an-email"}`, "application/json", 400, "invalid_email"},
		{"two ats", `{"email":"a@b@example.com"}`, "application/json", 400, "invalid_email"},
		{"zero width", `{"email":"a\u200b@example.com"}`, "application/json", 400, "invalid_email"},
		{"bad json", `{"email":`, "application/json", 400, "invalid_json"},
		{"empty body", ``, "application/json", 400, "invalid_json"},
		{"form body", `email=a@example.com`, "application/x-www-form-urlencoded", 415, "unsupported_media_type"},
		{"huge body", `{"email":"` + strings.Repeat("a", 70<<10) + `"}`, "application/json", 413, "body_too_large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := b.do("POST", accountURL+"/api/v1/login/identify", tc.body, "Content-Type", tc.ctype)
			if r.StatusCode != tc.status || r.json(t)["error"] != tc.code {
				t.Errorf("got %d %s, want %d %s", r.StatusCode, r.body, tc.status, tc.code)
			}
		})
	}
}

// no_login has one status everywhere: 404, the one CONTRACT §5 gives it for
// GET /login/state.
func TestPasswordWithoutLogin(t *testing.T) {
	h := newHarness(t)
	r := h.browser().do("POST", accountURL+"/api/v1/login/password", map[string]string{"password": "x"})
	if r.StatusCode != 404 || r.json(t)["error"] != "no_login" {
		t.Fatalf("got %d %s", r.StatusCode, r.body)
	}
}

func TestAccountLockout(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.Login.MaxFailures = 3 })
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": "alice@example.com"})
	for i := range 3 {
		r := b.do("POST", accountURL+"/api/v1/login/password", map[string]string{"password": "wrong"})
		if r.StatusCode != 401 {
			t.Fatalf("attempt %d: got %d", i+1, r.StatusCode)
		}
	}
	// Locked: even the right password is refused, with Retry-After.
	r := b.do("POST", accountURL+"/api/v1/login/password", map[string]string{"password": "correct horse battery"})
	if r.StatusCode != 429 || r.json(t)["error"] != "rate_limited" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("locked: got %d %s Retry-After=%q", r.StatusCode, r.body, r.Header.Get("Retry-After"))
	}
	// The lock holds from another browser (another login attempt) too.
	b2 := h.browser()
	b2.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": "ALICE@example.com"})
	if r := b2.do("POST", accountURL+"/api/v1/login/password", map[string]string{"password": "correct horse battery"}); r.StatusCode != 429 {
		t.Fatalf("second browser: got %d", r.StatusCode)
	}
	// After the lockout window the right password works.
	h.clock.Advance(h.cfg.Login.Lockout + time.Second)
	b3 := h.browser()
	b3.login("alice@example.com", "correct horse battery")
	if got := counterValue(t, h, "unigate_login_attempts_total", map[string]string{"method": "password", "result": "rate_limited"}); got != 2 {
		t.Errorf("rate_limited metric: got %v, want 2", got)
	}
}

// A parallel burst is counted exactly: no more than max_failures guesses are evaluated.
func TestLockoutParallelBurst(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.Login.MaxFailures = 5 })
	h.createAccount("alice@example.com", "correct horse battery")
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := h.browser()
			b.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": "alice@example.com"})
			r := b.do("POST", accountURL+"/api/v1/login/password", map[string]string{"password": "wrong guess"})
			mu.Lock()
			codes[r.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[401] != 5 || codes[429] != 15 {
		t.Fatalf("burst of 20: got %v, want 5×401 and 15×429", codes)
	}
}

// Spreading guesses over many emails from one IP hits the per-IP limit,
// and a forged X-Forwarded-For from an untrusted peer changes nothing (V6.3.1).
func TestIPLimitIgnoresForgedForwardedFor(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.Login.MaxFailures = 3; c.Login.IPMaxFailures = 4 })
	got429 := false
	for i := range 6 {
		b := h.browser()
		b.headers.Set("X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i))
		b.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": fmt.Sprintf("user%d@example.com", i)})
		r := b.do("POST", accountURL+"/api/v1/login/password", map[string]string{"password": "wrong"})
		if i < 4 && r.StatusCode != 401 {
			t.Fatalf("guess %d: got %d, want 401", i, r.StatusCode)
		}
		if i >= 4 && r.StatusCode == 429 {
			got429 = true
		}
	}
	if !got429 {
		t.Fatal("per-IP limit not applied")
	}
}

// An imported bcrypt hash is accepted and re-hashed to argon2id.
func TestImportedBcryptIsRehashed(t *testing.T) {
	h := newHarness(t)
	bh, _ := bcrypt.GenerateFromPassword([]byte("legacy password 1"), bcrypt.MinCost)
	a := &accounts.Account{Email: "legacy@example.com", PasswordHash: strings.Replace(string(bh), "$2a$", "$2y$", 1)}
	if err := h.accounts.CreateAccount(t.Context(), a, nil); err != nil {
		t.Fatal(err)
	}
	h.browser().login("legacy@example.com", "legacy password 1")
	got, err := h.accounts.AccountByID(t.Context(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got.PasswordHash, "$argon2id$") {
		t.Fatalf("hash after login: %.12s…, want argon2id", got.PasswordHash)
	}
	h.browser().login("legacy@example.com", "legacy password 1")
}

func TestLogoutEndsSessionEverywhere(t *testing.T) {
	h := newHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.login("alice@example.com", "correct horse battery")
	b.enter("scaleway")
	if r := b.do("GET", scalewayURL+"/home", nil, "Accept", "application/json"); r.StatusCode != 200 {
		t.Fatalf("console before logout: %d", r.StatusCode)
	}
	r := b.do("POST", accountURL+"/api/v1/logout", nil)
	if r.StatusCode != 204 || r.Header.Get("Clear-Site-Data") == "" {
		t.Fatalf("logout: %d, Clear-Site-Data=%q", r.StatusCode, r.Header.Get("Clear-Site-Data"))
	}
	if r := b.do("GET", scalewayURL+"/home", nil, "Accept", "application/json"); r.StatusCode != 401 {
		t.Fatalf("console after logout: got %d, want 401", r.StatusCode)
	}
}
