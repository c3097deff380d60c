package config

import (
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEnvOverrides(t *testing.T) {
	dir := t.TempDir()
	secret := mustWriteFile(t, dir, "ms-secret", "ms\n")
	tests := []struct {
		name  string
		env   []string
		check func(t *testing.T, c *Config)
	}{
		{"scalar int", []string{"UNIGATE_LOGIN_MAX_FAILURES=7"}, func(t *testing.T, c *Config) {
			if got, want := c.Login.MaxFailures, 7; got != want {
				t.Errorf("login.max_failures = %d, want %d", got, want)
			}
		}},
		{"scalar string with underscores in the key", []string{"UNIGATE_PUBLIC_URL=https://account.example.org"}, func(t *testing.T, c *Config) {
			if got, want := c.Public().Host, "account.example.org"; got != want {
				t.Errorf("public host = %q, want %q", got, want)
			}
		}},
		{"nested scalar", []string{"UNIGATE_SESSION_REDIS_URL=redis://redis.internal:6379/1"}, func(t *testing.T, c *Config) {
			if got, want := c.Session.Redis.URL, "redis://redis.internal:6379/1"; got != want {
				t.Errorf("session.redis.url = %q, want %q", got, want)
			}
		}},
		{"string taken literally", []string{"UNIGATE_MAIL_FROM=Accounts #1 <no-reply@example.com>"}, func(t *testing.T, c *Config) {
			if got, want := c.Mail.From, "Accounts #1 <no-reply@example.com>"; got != want {
				t.Errorf("mail.from = %q, want %q", got, want)
			}
		}},
		{"quoted empty string", []string{`UNIGATE_METRICS_LISTEN=""`}, func(t *testing.T, c *Config) {
			if got := c.Metrics.Listen; got != "" {
				t.Errorf("metrics.listen = %q, want empty", got)
			}
		}},
		{"duration", []string{"UNIGATE_SESSION_IDLE_TIMEOUT=45m"}, func(t *testing.T, c *Config) {
			if got, want := c.Session.IdleTimeout, 45*time.Minute; got != want {
				t.Errorf("session.idle_timeout = %v, want %v", got, want)
			}
		}},
		{"bool", []string{"UNIGATE_LOGIN_REQUIRE_MFA=false"}, func(t *testing.T, c *Config) {
			if c.Login.RequireMFA {
				t.Error("login.require_mfa = true, want false")
			}
		}},
		{"list", []string{`UNIGATE_TRUSTED_PROXIES=["10.0.0.0/8", 192.0.2.1]`}, func(t *testing.T, c *Config) {
			want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32")}
			if got := c.TrustedPrefixes(); !slices.Equal(got, want) {
				t.Errorf("TrustedPrefixes() = %v, want %v", got, want)
			}
		}},
		{"empty list", []string{`UNIGATE_CONSOLES_0_PUBLIC_PATHS=[]`}, func(t *testing.T, c *Config) {
			if got := c.Consoles[0].PublicPaths; len(got) != 0 {
				t.Errorf("consoles[0].public_paths = %q, want empty", got)
			}
		}},
		{"list entry", []string{"UNIGATE_CONSOLES_1_UPSTREAM=http://10.0.0.21:8000"}, func(t *testing.T, c *Config) {
			if got, want := c.Consoles[1].Upstream, "http://10.0.0.21:8000"; got != want {
				t.Errorf("consoles[1].upstream = %q, want %q", got, want)
			}
		}},
		{"list in a list entry", []string{"UNIGATE_CONSOLES_0_HOSTS=[console.online.net, Dedibox.Online.net]"}, func(t *testing.T, c *Config) {
			if got, want := c.Consoles[0].Hosts, []string{"console.online.net", "dedibox.online.net"}; !slices.Equal(got, want) {
				t.Errorf("consoles[0].hosts = %q, want %q", got, want)
			}
		}},
		{"nested in a list entry", []string{"UNIGATE_CONSOLES_0_PROVISIONING_TIMEOUT=2s"}, func(t *testing.T, c *Config) {
			if got, want := c.Consoles[0].Provisioning.Timeout, 2*time.Second; got != want {
				t.Errorf("consoles[0].provisioning.timeout = %v, want %v", got, want)
			}
		}},
		{"sso provider", []string{"UNIGATE_SSO_MICROSOFT_CLIENT_ID=ms-app", "UNIGATE_SSO_MICROSOFT_CLIENT_SECRET_FILE=" + secret}, func(t *testing.T, c *Config) {
			if got, want := c.SSO.Microsoft.ClientID, "ms-app"; got != want {
				t.Errorf("sso.microsoft.client_id = %q, want %q", got, want)
			}
		}},
		{"empty value is unset", []string{"UNIGATE_LISTEN="}, func(t *testing.T, c *Config) {
			if got, want := c.Listen, "127.0.0.1:8080"; got != want {
				t.Errorf("listen = %q, want the file's %q", got, want)
			}
		}},
		{"test variables ignored", []string{"UNIGATE_TEST_REDIS_URL=redis://x", "UNIGATE_REQUIRE_SERVICES=1", "OTHER_VAR=x"}, func(t *testing.T, c *Config) {}},
		{"override then default", []string{`UNIGATE_SESSION_COOKIE_NAME=""`}, func(t *testing.T, c *Config) {
			if got, want := c.Session.CookieName, DefaultCookieName; got != want {
				t.Errorf("session.cookie_name = %q, want the default %q", got, want)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := LoadEnviron(mustConfigFile(t), tt.env)
			if err != nil {
				t.Fatalf("Load() = %v", err)
			}
			tt.check(t, cfg)
		})
	}
}

func TestEnvProblems(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want []string
	}{
		{"unknown variable", []string{"UNIGATE_SESSION_REDIS_UR=redis://x"},
			[]string{`config: UNIGATE_SESSION_REDIS_UR: environment variable names no configuration key; did you mean UNIGATE_SESSION_REDIS_URL?`}},
		{"unknown variable far from any", []string{"UNIGATE_COLOR=blue"},
			[]string{`config: UNIGATE_COLOR: environment variable names no configuration key`}},
		{"section instead of leaf", []string{"UNIGATE_SESSION=x"},
			[]string{`config: UNIGATE_SESSION: environment variable names no configuration key`}},
		{"entry beyond the list", []string{"UNIGATE_CONSOLES_2_UPSTREAM=http://x"},
			[]string{`config: UNIGATE_CONSOLES_2_UPSTREAM: environment variable names entry 2 of consoles, which has 2; the environment can change entries, not add them`}},
		{"bad duration", []string{"UNIGATE_SESSION_IDLE_TIMEOUT=half an hour"},
			[]string{`config: session.idle_timeout: UNIGATE_SESSION_IDLE_TIMEOUT: want a duration such as 30s or 15m, got "half an hour"`}},
		{"bad int", []string{"UNIGATE_LOGIN_MAX_FAILURES=5.x"},
			[]string{`config: login.max_failures: UNIGATE_LOGIN_MAX_FAILURES: want an integer, got "5.x"`}},
		{"bad list", []string{"UNIGATE_TRUSTED_PROXIES=[10.0.0.0/8"},
			[]string{`config: trusted_proxies: UNIGATE_TRUSTED_PROXIES: want a list of strings, got "[10.0.0.0/8"`}},
		{"bad quoted string", []string{`UNIGATE_LISTEN="127.0.0.1:8080`},
			[]string{`config: listen: UNIGATE_LISTEN: want a string, got "\"127.0.0.1:8080"`}},
		{"env problems and validation problems together",
			[]string{"UNIGATE_LOG_LEVL=debug", "UNIGATE_SESSION_HANDOFF_TTL=5m"},
			[]string{
				`config: UNIGATE_LOG_LEVL: environment variable names no configuration key; did you mean UNIGATE_LOG_LEVEL?`,
				`config: session.handoff_ttl: must be more than 0 and at most 60s, got 5m0s`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadEnviron(mustConfigFile(t), tt.env)
			if got := problemLines(t, err); !slices.Equal(got, tt.want) {
				t.Errorf("Load():\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestLoadUsesGetenvForValues checks that Load's own getenv decides what is
// set: a name in the process environment that getenv does not return is
// not looked at, so a test's getenv keeps Load hermetic.
func TestLoadUsesGetenvForValues(t *testing.T) {
	getenv := func(name string) string {
		if name == "UNIGATE_LOGIN_LOCKOUT" {
			return "20m"
		}
		return ""
	}
	cfg, err := Load(mustConfigFile(t), getenv)
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	if got, want := cfg.Login.Lockout, 20*time.Minute; got != want {
		t.Errorf("login.lockout = %v, want %v", got, want)
	}
}

// TestEnvNamesUnique guards the naming scheme: two keys must never map to
// one variable (a_b.c and a.b_c would).
func TestEnvNamesUnique(t *testing.T) {
	c := validConfig(t)
	seen := make(map[string]string)
	walkLeaves(reflect.ValueOf(c).Elem(), "", "UNIGATE", func(_ reflect.Value, key, name string) {
		if other, dup := seen[name]; dup {
			t.Errorf("%s and %s both map to %s", other, key, name)
		}
		seen[name] = key
		if want := "UNIGATE_" + strings.NewReplacer(".", "_", "[", "_", "]", "").Replace(strings.ToUpper(key)); name != want {
			t.Errorf("%s maps to %s, want %s", key, name, want)
		}
	})
	for _, name := range []string{"UNIGATE_SESSION_REDIS_URL", "UNIGATE_LOGIN_MAX_FAILURES", "UNIGATE_METRICS_LISTEN", "UNIGATE_CONSOLES_0_UPSTREAM", "UNIGATE_SSO_GOOGLE_CLIENT_ID", "UNIGATE_PUBLIC_URL"} {
		if _, ok := seen[name]; !ok {
			t.Errorf("no key maps to %s", name)
		}
	}
}
