package config

import (
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fullYAML is a complete configuration; %s are the two key files and a
// client secret file.
const fullYAML = `
listen: "127.0.0.1:8080"
public_url: "https://account.example.com"
trusted_proxies: ["10.0.0.0/24"]
shutdown_grace: 20s
metrics:
  listen: "127.0.0.1:9464"
secrets:
  session_key_file: %q
  signing_key_file: %q
session:
  store: redis
  redis:
    url: "redis://127.0.0.1:6379/0"
  cookie_name: "unigate_session"
  idle_timeout: 30m
  absolute_timeout: 12h
  handoff_ttl: 60s
accounts:
  driver: postgres
  dsn: "postgres://unigate@127.0.0.1/unigate"
mail:
  transport: smtp
  from: "Accounts <no-reply@example.com>"
  smtp: {host: "127.0.0.1", port: 1025, username: "", password_file: "", tls: "none"}
  dir: "./mail-out"
login:
  max_failures: 5
  lockout: 15m
  ip_max_failures: 50
  email_code_ttl: 10m
  password_min_length: 12
  require_mfa: true
  legacy_login_cutoff: "2025-10-28"
consoles:
  - id: dedibox
    name: "Dedibox"
    hosts: ["console.online.net"]
    path_prefix: ""
    upstream: "http://10.0.0.10:8000"
    timeout: 30s
    public_paths: ["/api/"]
    legacy_login: true
    legacy_login_paths: ["/login"]
    provisioning: {url: "", timeout: 5s}
  - id: scaleway
    name: "Scaleway"
    hosts: ["console.scaleway.com"]
    upstream: "http://10.0.0.20:8000"
    public_paths: []
sso:
  google:    {client_id: "g", client_secret_file: %q, issuer: "https://accounts.google.com"}
  microsoft: {client_id: "", client_secret_file: "", issuer: "https://login.microsoftonline.com/common/v2.0"}
  github:    {client_id: "", client_secret_file: "", base_url: "https://github.com", api_url: "https://api.github.com"}
log:
  level: info
`

// mustConfigFile writes a configuration built from fullYAML, edited by
// replacing old with new (pairs), and returns its path.
func mustConfigFile(tb testing.TB, replace ...string) string {
	tb.Helper()
	dir := tb.TempDir()
	sk, sig := mustKeys(tb, dir)
	secret := mustWriteFile(tb, dir, "client-secret", "s3cret\n")
	y := sprintfQ(fullYAML, sk, sig, secret)
	for i := 0; i+1 < len(replace); i += 2 {
		if !strings.Contains(y, replace[i]) {
			tb.Fatalf("fullYAML has no %q", replace[i])
		}
		y = strings.Replace(y, replace[i], replace[i+1], 1)
	}
	return mustWriteFile(tb, dir, "config.yaml", y)
}

func sprintfQ(format string, args ...string) string {
	for _, a := range args {
		format = strings.Replace(format, "%q", `"`+a+`"`, 1)
	}
	return format
}

func TestLoadFull(t *testing.T) {
	cfg, err := LoadEnviron(mustConfigFile(t), nil)
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	if got, want := cfg.ShutdownGrace, 20*time.Second; got != want {
		t.Errorf("shutdown_grace = %v, want %v", got, want)
	}
	if !cfg.Login.RequireMFA {
		t.Error("login.require_mfa = false, want true")
	}
	if got, want := cfg.Consoles[1].Provisioning.Timeout, 5*time.Second; got != want {
		t.Errorf("consoles[1].provisioning.timeout = %v, want default %v", got, want)
	}
	if got, want := cfg.Mail.SMTP.Port, 1025; got != want {
		t.Errorf("mail.smtp.port = %d, want %d", got, want)
	}
	if cfg.Public() == nil || cfg.SigningKey() == nil {
		t.Error("typed forms not computed by Load")
	}
}

func TestLoadDefaults(t *testing.T) {
	dir := t.TempDir()
	sk, sig := mustKeys(t, dir)
	path := mustWriteFile(t, dir, "config.yaml", sprintfQ(`
public_url: "http://account.localhost:8080"
secrets: {session_key_file: %q, signing_key_file: %q}
session: {store: memory}
accounts: {driver: sqlite, dsn: "accounts.db"}
consoles:
  - {id: dedibox, hosts: [dedibox.localhost], upstream: "http://127.0.0.1:9001"}
`, sk, sig))
	cfg, err := LoadEnviron(path, nil)
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	for _, tt := range []struct {
		key       string
		got, want any
	}{
		{"listen", cfg.Listen, "127.0.0.1:8080"},
		{"shutdown_grace", cfg.ShutdownGrace, 15 * time.Second},
		{"session.cookie_name", cfg.Session.CookieName, "unigate_session"},
		{"session.idle_timeout", cfg.Session.IdleTimeout, 30 * time.Minute},
		{"session.absolute_timeout", cfg.Session.AbsoluteTimeout, 12 * time.Hour},
		{"session.handoff_ttl", cfg.Session.HandoffTTL, 60 * time.Second},
		{"mail.transport", cfg.Mail.Transport, "log"},
		{"mail.smtp.tls", cfg.Mail.SMTP.TLS, "starttls"},
		{"login.max_failures", cfg.Login.MaxFailures, 5},
		{"login.lockout", cfg.Login.Lockout, 15 * time.Minute},
		{"login.ip_max_failures", cfg.Login.IPMaxFailures, 50},
		{"login.email_code_ttl", cfg.Login.EmailCodeTTL, 10 * time.Minute},
		{"login.password_min_length", cfg.Login.PasswordMinLength, 12},
		{"login.imported_bcrypt_cost", cfg.Login.ImportedBcryptCost, 12},
		{"consoles[0].name", cfg.Consoles[0].Name, "dedibox"},
		{"consoles[0].timeout", cfg.Consoles[0].Timeout, 30 * time.Second},
		{"consoles[0].provisioning.timeout", cfg.Consoles[0].Provisioning.Timeout, 5 * time.Second},
		{"sso.google.issuer", cfg.SSO.Google.Issuer, "https://accounts.google.com"},
		{"sso.microsoft.issuer", cfg.SSO.Microsoft.Issuer, "https://login.microsoftonline.com/common/v2.0"},
		{"sso.github.base_url", cfg.SSO.GitHub.BaseURL, "https://github.com"},
		{"sso.github.api_url", cfg.SSO.GitHub.APIURL, "https://api.github.com"},
		{"log.level", cfg.Log.Level, "info"},
		{"metrics.listen", cfg.Metrics.Listen, ""},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.key, tt.got, tt.want)
		}
	}
	if cfg.SecureCookies() {
		t.Error("SecureCookies() = true for http public_url")
	}
	if !cfg.LegacyCutoff().IsZero() {
		t.Errorf("LegacyCutoff() = %v, want zero when unset", cfg.LegacyCutoff())
	}
}

func TestLoadShapeProblems(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     []string
	}{
		{"unknown top-level key", "listen:", "listne:",
			[]string{`config: listne: unknown key (line 2); did you mean "listen"?`}},
		{"unknown nested key", `    url: "redis://`, `    urll: "redis://`,
			[]string{`config: session.redis.urll: unknown key (line 14); did you mean "url"?`}},
		{"unknown key in a list entry", `    public_paths: []`, "    public_paths: []\n    color: blue",
			[]string{`config: consoles[1].color: unknown key (line 51)`}},
		{"unknown key in flow mapping", `port: 1025,`, `port: 1025, pot: 1,`,
			[]string{`config: mail.smtp.pot: unknown key (line 25); did you mean "port"?`}},
		{"several unknown keys", "shutdown_grace: 20s", "shutdown_grace: 20s\nfoo: 1\nmetrics_listen: x",
			[]string{`config: foo: unknown key (line 6)`, `config: metrics_listen: unknown key (line 7)`}},
		{"duration without unit", "idle_timeout: 30m", "idle_timeout: 30",
			[]string{`config: session.idle_timeout: want a duration such as 30s or 15m, got "30" (line 16)`}},
		{"bad duration", "handoff_ttl: 60s", "handoff_ttl: a minute",
			[]string{`config: session.handoff_ttl: want a duration such as 30s or 15m, got "a minute" (line 18)`}},
		{"string for int", "max_failures: 5", "max_failures: five",
			[]string{`config: login.max_failures: want an integer, got "five" (line 28)`}},
		{"string for bool", "require_mfa: true", "require_mfa: maybe",
			[]string{`config: login.require_mfa: want true or false, got "maybe" (line 33)`}},
		{"scalar for list", `trusted_proxies: ["10.0.0.0/24"]`, `trusted_proxies: 10.0.0.0/24`,
			[]string{`config: trusted_proxies: want a list of strings, got "10.0.0.0/24" (line 4)`}},
		{"scalar for mapping", "metrics:\n  listen: \"127.0.0.1:9464\"", "metrics: on",
			[]string{`config: metrics: want a mapping of keys, got "on" (line 6)`}},
		{"duplicate key", "listen: \"127.0.0.1:8080\"", "listen: \"127.0.0.1:8080\"\nlisten: \"127.0.0.1:8081\"",
			[]string{`config: listen: duplicate key (line 3; first at line 2)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadEnviron(mustConfigFile(t, tt.old, tt.new), nil)
			if got := problemLines(t, err); !slices.Equal(got, tt.want) {
				t.Errorf("Load():\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestLoadFileProblems(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content, want string
	}{
		{"syntax error", "listen: [\n", `config: %s: yaml: line 1: did not find expected node content`},
		{"mapping for consoles", "consoles: {dedibox: {id: dedibox}}\n", `config: consoles: want a list, got a mapping (line 1)`},
		{"tab indentation", "session:\n\tstore: redis\n", `config: %s: yaml: line 2: found character that cannot start any token`},
		{"two documents", "listen: a\n---\nlisten: b\n", `config: %s: more than one YAML document; want exactly one`},
		{"not a mapping", "- a\n- b\n", `config: the file must be a YAML mapping of keys (line 1)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := mustWriteFile(t, dir, "c.yaml", tt.content)
			_, err := LoadEnviron(path, nil)
			want := strings.ReplaceAll(tt.want, "%s", path)
			if got := strings.Join(problemLines(t, err), "\n"); got != want {
				t.Errorf("Load():\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestLoadEmptyFileReportsMissingKeys(t *testing.T) {
	path := mustWriteFile(t, t.TempDir(), "c.yaml", "# nothing yet\n")
	_, err := LoadEnviron(path, nil)
	lines := problemLines(t, err)
	if !slices.Contains(lines, `config: public_url: required: the account portal's URL, such as https://account.example.com`) {
		t.Errorf("Load(empty) = %q, want public_url required among them", lines)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := LoadEnviron(filepath.Join(t.TempDir(), "nope.yaml"), nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want fs.ErrNotExist", err)
	}
	if err != nil && !strings.HasPrefix(err.Error(), "config: open ") {
		t.Errorf("Load(missing) = %q, want it to start with \"config: open \"", err)
	}
}

func TestLoadShapeThenValidateDoNotMix(t *testing.T) {
	// An unknown key stops the load: no validation echoes follow it.
	_, err := LoadEnviron(mustConfigFile(t, "listen:", "lisen:", `public_url: "https://account.example.com"`, `public_url: "ftp://x"`), nil)
	want := []string{`config: lisen: unknown key (line 2); did you mean "listen"?`}
	if got := problemLines(t, err); !slices.Equal(got, want) {
		t.Errorf("Load() = %q, want %q", got, want)
	}
}
