package config

import (
	"testing"
)

// TestExampleConfig checks the repository's config.yaml: every key known,
// every value valid, once its secret files point at real files.
func TestExampleConfig(t *testing.T) {
	dir := t.TempDir()
	sk, sig := mustKeys(t, dir)
	secret := mustWriteFile(t, dir, "secret", "s3cret\n")
	env := []string{
		"UNIGATE_SECRETS_SESSION_KEY_FILE=" + sk,
		"UNIGATE_SECRETS_SIGNING_KEY_FILE=" + sig,
		"UNIGATE_SESSION_REDIS_PASSWORD_FILE=" + secret,
		"UNIGATE_MAIL_SMTP_PASSWORD_FILE=" + secret,
		"UNIGATE_SSO_GOOGLE_CLIENT_SECRET_FILE=" + secret,
		"UNIGATE_SSO_GITHUB_CLIENT_SECRET_FILE=" + secret,
	}
	cfg, err := LoadEnviron("../config.yaml", env)
	if err != nil {
		t.Fatalf("Load(config.yaml):\n%v", err)
	}
	if got, want := cfg.Public().String(), "https://account.example.com"; got != want {
		t.Errorf("public_url = %q, want %q", got, want)
	}
	if got := len(cfg.Consoles); got != 2 {
		t.Errorf("%d consoles, want 2", got)
	}
}

// TestExampleConfigNamesEveryKey checks that config.yaml shows every key of
// the Config type, so that it stays the complete reference it claims to be.
func TestExampleConfigNamesEveryKey(t *testing.T) {
	_, ps := decodeFileForTest(t, "../config.yaml")
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	for _, key := range missingKeys(t, "../config.yaml") {
		t.Errorf("config.yaml lacks %s", key)
	}
}
