package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/pquerna/otp/totp"

	"unigate/accounts"
	"unigate/config"
	"unigate/mfa"
)

// hostClient is a browser for the rig: cookies kept per host, the Host
// header chosen per request, redirects not followed.
type hostClient struct {
	t       *testing.T
	addr    string
	account string // the account host's origin
	cookies map[string]map[string]string
}

func newHostClient(t *testing.T, addr string) *hostClient {
	return &hostClient{t: t, addr: addr, account: "http://account.localhost:8080", cookies: map[string]map[string]string{}}
}

// do sends method to rawURL (its host goes in Host) with a JSON body.
func (c *hostClient) do(method, rawURL string, body any) (*http.Response, []byte) {
	c.t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		c.t.Fatal(err)
	}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+c.addr+u.RequestURI(), rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Host = u.Host
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	host := u.Hostname()
	for name, v := range c.cookies[host] {
		req.AddCookie(&http.Cookie{Name: name, Value: v})
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	for _, ck := range resp.Cookies() {
		if c.cookies[host] == nil {
			c.cookies[host] = map[string]string{}
		}
		if ck.MaxAge < 0 || ck.Value == "" {
			delete(c.cookies[host], ck.Name)
		} else {
			c.cookies[host][ck.Name] = ck.Value
		}
	}
	return resp, data
}

// step posts one login step and returns its "next".
func (c *hostClient) step(path string, body any) string {
	c.t.Helper()
	resp, data := c.do("POST", c.account+path, body)
	if resp.StatusCode != 200 {
		c.t.Fatalf("%s: %d %s", path, resp.StatusCode, data)
	}
	var m map[string]any
	json.Unmarshal(data, &m)
	next, _ := m["next"].(string)
	return next
}

// loginTOTP signs in with the password and a TOTP code for at.
func (c *hostClient) loginTOTP(email, password, secret string, at time.Time) {
	c.t.Helper()
	c.step("/api/v1/login/identify", map[string]string{"email": email})
	if next := c.step("/api/v1/login/password", map[string]string{"password": password}); next != "mfa" {
		c.t.Fatalf("after the password: next %q, want mfa", next)
	}
	code, err := totp.GenerateCode(secret, at)
	if err != nil {
		c.t.Fatal(err)
	}
	if next := c.step("/api/v1/login/totp", map[string]string{"code": code}); next != "done" {
		c.t.Fatalf("after the TOTP code: next %q, want done", next)
	}
}

// enter opens the console through the handoff and returns the console host's cookie count.
func (c *hostClient) enter(console string) {
	c.t.Helper()
	resp, data := c.do("POST", c.account+"/api/v1/consoles/"+console+"/enter", map[string]string{})
	if resp.StatusCode != 200 {
		c.t.Fatalf("enter: %d %s", resp.StatusCode, data)
	}
	var m map[string]any
	json.Unmarshal(data, &m)
	link, _ := m["redirect"].(string)
	for range 3 {
		resp, data = c.do("GET", link, nil)
		if resp.StatusCode != http.StatusFound {
			c.t.Fatalf("handoff %s: %d %s", link, resp.StatusCode, data)
		}
		link = resp.Header.Get("Location")
	}
	if link != "/" {
		c.t.Fatalf("the handoff ended at %q, want /", link)
	}
}

// TestKeyRotation: both keys rotated by SIGHUP while a user is signed in
// with TOTP: the session survives (its cookie re-issued under the new key),
// the next TOTP login works (the secret sealed again under the new key), and
// a console verifies the assertions signed before and after with the JWKS
// (CONTRACT §12 "Key rotation").
func TestKeyRotation(t *testing.T) {
	var mu sync.Mutex
	var assertions []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		assertions = append(assertions, r.Header.Get("X-Auth-Assertion"))
		mu.Unlock()
		io.WriteString(w, "user "+r.Header.Get("X-Auth-Email"))
	}))
	defer up.Close()
	rig := startReloadRig(t, up.URL, `[]`)
	ctx := context.Background()

	// An account with a confirmed TOTP, sealed under the first session key.
	cfg, err := config.Load(rig.path, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	const email, password = "rotate@example.com", "correct horse battery staple"
	hash, err := accounts.NewHasher(0).Hash(ctx, password)
	if err != nil {
		t.Fatal(err)
	}
	acct := &accounts.Account{Email: email, EmailVerified: true, PasswordHash: hash}
	if err := rig.acc.CreateAccount(ctx, acct, []accounts.ConsoleAccount{{Console: "dedibox", ExternalID: "ded-1"}}); err != nil {
		t.Fatal(err)
	}
	secret, _, _, err := mfa.GenerateTOTP("unigate", email)
	if err != nil {
		t.Fatal(err)
	}
	oldSealer, err := mfa.NewSealer(cfg.SessionKey())
	if err != nil {
		t.Fatal(err)
	}
	if err := rig.acc.PutPendingTOTP(ctx, acct.ID, oldSealer.Seal([]byte(secret), []byte(acct.ID))); err != nil {
		t.Fatal(err)
	}
	if err := rig.acc.ConfirmTOTP(ctx, acct.ID, 1, time.Now()); err != nil {
		t.Fatal(err)
	}

	browser := newHostClient(t, rig.addr)
	now := time.Now()
	browser.loginTOTP(email, password, secret, now)
	browser.enter("dedibox")
	get := func(c *hostClient, host, path string) (int, string) {
		t.Helper()
		resp, data := c.do("GET", "http://"+host+":8080"+path, nil)
		return resp.StatusCode, string(data)
	}
	if code, body := get(browser, "dedibox.localhost", "/before"); code != 200 || body != "user "+email {
		t.Fatalf("before the rotation: got %d %q", code, body)
	}
	oldCookies := map[string]string{}
	for host, cs := range browser.cookies {
		for name, v := range cs {
			if strings.HasSuffix(name, "unigate_session") {
				oldCookies[host] = v
			}
		}
	}

	// Rotate both keys: new files, the old ones listed as previous.
	newKeys, err := generateKeys(filepath.Join(rig.dir, "keys2"))
	if err != nil {
		t.Fatal(err)
	}
	rig.previous = []string{rig.keys[0], rig.keys[1]}
	rig.keys = newKeys
	rig.write(`[]`, "")
	if err := rig.reload(); err != nil {
		t.Fatalf("reload: %v\n%s", err, rig.logs)
	}

	t.Run("the session survives, its cookies re-issued under the new key", func(t *testing.T) {
		if code, body := get(browser, "dedibox.localhost", "/after"); code != 200 || body != "user "+email {
			t.Fatalf("after the rotation: got %d %q, want 200 for the same user", code, body)
		}
		resp, data := browser.do("GET", "http://account.localhost:8080/api/v1/session", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("account host session after the rotation: %d %s", resp.StatusCode, data)
		}
		for host, old := range oldCookies {
			for name, v := range browser.cookies[host] {
				if strings.HasSuffix(name, "unigate_session") && v == old {
					t.Errorf("%s: the cookie was not re-issued under the new key", host)
				}
			}
		}
	})

	t.Run("a console verifies assertions signed before and after", func(t *testing.T) {
		resp, jwks := browser.do("GET", "http://account.localhost:8080/.well-known/jwks.json", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("jwks: %d", resp.StatusCode)
		}
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(jwks, &set); err != nil {
			t.Fatal(err)
		}
		if len(set.Keys) != 2 {
			t.Fatalf("got %d keys in the JWKS, want 2 (the new key and the previous one)", len(set.Keys))
		}
		mu.Lock()
		got := append([]string(nil), assertions...)
		mu.Unlock()
		if len(got) < 2 {
			t.Fatalf("the upstream saw %d requests", len(got))
		}
		first, last := got[0], got[len(got)-1]
		kids := map[string]bool{}
		for _, tok := range []string{first, last} {
			parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
			if err != nil {
				t.Fatal(err)
			}
			kids[parsed.Headers[0].KeyID] = true
			var claims jwt.Claims
			if err := parsed.Claims(set, &claims); err != nil {
				t.Errorf("an assertion of kid %s does not verify with the JWKS: %v", parsed.Headers[0].KeyID, err)
			}
		}
		if len(kids) != 2 {
			t.Errorf("the assertions before and after share a kid: the new key does not sign")
		}
	})

	t.Run("the next TOTP login works and re-seals the secret", func(t *testing.T) {
		other := newHostClient(t, rig.addr)
		other.loginTOTP(email, password, secret, now.Add(30*time.Second)) // the next time step: the first is spent
		cred, err := rig.acc.TOTPCredential(ctx, acct.ID)
		if err != nil {
			t.Fatal(err)
		}
		newCfg, err := config.Load(rig.path, func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		onlyNew, err := mfa.NewSealer(newCfg.SessionKey())
		if err != nil {
			t.Fatal(err)
		}
		if plain, err := onlyNew.Open(cred.SecretSealed, []byte(acct.ID)); err != nil || string(plain) != secret {
			t.Errorf("the TOTP secret does not open under the new key alone (%v): not re-sealed", err)
		}
	})
}
