package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/bcrypt"

	"unigate/mail/mailtest"
)

// TestEndToEndEmailCodeOverSMTP: `unigate unify` merges two Dedibox
// accounts of one address (their passwords and MFA erased); `unigate serve`
// then delivers the notice the unification queued, rendered at delivery,
// through a real SMTP server (Mailpit), and mails a sign-in code whose
// reading finishes the login, which then sets a password and enrolls TOTP
// before reaching a console.
func TestEndToEndEmailCodeOverSMTP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	smtp := mailtest.StartMailpit(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "unigate")
	if out, err := execCommand(t, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if out, err := execCommand(t, bin, "keys", "generate", "--dir", filepath.Join(dir, "keys")).CombinedOutput(); err != nil {
		t.Fatalf("keys generate: %v\n%s", err, out)
	}
	port, mport := freePort(t), freePort(t)
	dbPath := filepath.Join(dir, "accounts.db")
	cfg := fmt.Sprintf(`listen: "127.0.0.1:%[1]s"
public_url: "http://account.e2e.test:%[1]s"
metrics: {listen: "127.0.0.1:%[2]s"}
secrets: {session_key_file: %[3]q, signing_key_file: %[4]q}
session: {store: memory}
accounts: {driver: sqlite, dsn: %[5]q}
mail:
  transport: smtp
  from: "Accounts <no-reply@e2e.test>"
  smtp: {host: %[6]q, port: %[7]d, tls: none}
login: {legacy_login_cutoff: "2025-10-28"}
consoles:
  - {id: dedibox, name: Dedibox, hosts: [console.online.e2e.test], upstream: "http://127.0.0.1:9"}
  - {id: scaleway, name: Scaleway, hosts: [console.scaleway.e2e.test], upstream: "http://127.0.0.1:9"}
`, port, mport, filepath.Join(dir, "keys", "session.key"), filepath.Join(dir, "keys", "signing.pem"), dbPath, smtp.SMTPHost, smtp.SMTPPort)
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// Two Dedibox accounts under one address: the unification erases their
	// passwords and MFA (no password, MFA to enroll) and queues a notice.
	dedibox, scaleway := filepath.Join(dir, "dedibox.jsonl"), filepath.Join(dir, "scaleway.jsonl")
	hash, err := bcrypt.GenerateFromPassword([]byte("a Dedibox password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	lines := fmt.Sprintf(`{"id":"d-a","email":"erased@example.com","password_hash":%[1]q,"created_at":"2015-01-01T00:00:00Z"}
{"id":"d-b","email":"Erased@Example.com","password_hash":%[1]q,"created_at":"2016-01-01T00:00:00Z"}
`, hash)
	if err := os.WriteFile(dedibox, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(scaleway, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := execCommand(t, bin, "unify", "--config", cfgPath, "--dedibox", dedibox, "--scaleway", scaleway).CombinedOutput(); err != nil {
		t.Fatalf("unify: %v\n%s", err, out)
	}

	serve := exec.Command(bin, "serve", "--config", cfgPath)
	logs := &syncWriter{}
	serve.Stderr = logs
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		serve.Process.Kill()
		serve.Wait()
		if t.Failed() {
			t.Logf("gateway logs:\n%s", logs.String())
		}
	})
	waitHealthy(t, "http://127.0.0.1:"+mport+"/healthz")

	// The sender delivers the notice unify queued, rendered now.
	notice := smtp.WaitMessages(t, "erased@example.com", 1)[0]
	if !strings.HasPrefix(notice.Subject, "Your accounts are now one") {
		t.Fatalf("first message %q, want the unification notice", notice.Subject)
	}
	if text := smtp.Text(t, notice.ID); !strings.Contains(text, "Dedibox accounts d-a, d-b") ||
		!strings.Contains(text, "http://account.e2e.test:"+port+"/login") {
		t.Errorf("notice text:\n%s", text)
	}

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+port)
	}}}
	account := "http://account.e2e.test:" + port
	post := func(path string, body any) map[string]any {
		t.Helper()
		data, _ := json.Marshal(body)
		resp, err := client.Post(account+path, "application/json", bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		m := map[string]any{"status": resp.StatusCode}
		json.Unmarshal(raw, &m)
		return m
	}
	if m := post("/api/v1/login/identify", map[string]string{"email": "Erased@Example.com"}); fmt.Sprint(m["methods"]) != "[email_code]" {
		t.Fatalf("identify: %v", m)
	}
	if m := post("/api/v1/login/email-code", map[string]string{}); m["sent"] != true {
		t.Fatalf("email-code: %v", m)
	}
	msgs := smtp.WaitMessages(t, "erased@example.com", 2) // the notice, then the code
	if strings.Contains(msgs[0].Subject, smtp.LatestCode(t, "erased@example.com")) {
		t.Error("the code is in the subject")
	}
	code := smtp.LatestCode(t, "erased@example.com")
	if m := post("/api/v1/login/email-code/verify", map[string]string{"code": code}); m["next"] != "set_password" {
		t.Fatalf("verify: %v", m)
	}
	if m := post("/api/v1/login/password/set", map[string]string{"password": "a brand new passphrase"}); m["next"] != "enroll_mfa" {
		t.Fatalf("set password: %v", m)
	}
	enroll := post("/api/v1/me/mfa/totp", map[string]string{})
	secret, _ := enroll["secret"].(string)
	now, err := totp.GenerateCode(secret, timeNow())
	if err != nil {
		t.Fatalf("totp: %v (%v)", err, enroll)
	}
	if m := post("/api/v1/me/mfa/totp/confirm", map[string]string{"code": now}); m["next"] != "done" {
		t.Fatalf("confirm: %v", m)
	}
	resp, err := client.Get(account + "/api/v1/session")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("session: %v %v", err, resp.StatusCode)
	}
	resp.Body.Close()
	if strings.Contains(logs.String(), code) {
		t.Error("the email code appears in the gateway's logs")
	}
}
