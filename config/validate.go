package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Validate checks the whole configuration and reports every problem it
// finds, not only the first, so that check-config shows the operator all of
// them at once (oauth2-proxy's lesson). The files it names (keys, secrets)
// are read too: a key that cannot be read is a configuration problem, to be
// found by check-config and not at the first login.
//
// Validate also normalises (console hosts lower-cased) and computes the typed
// forms behind the accessors; they are valid once Validate returned nil.
// Defaults are not filled here: Load calls SetDefaults first.
func (c *Config) Validate() error {
	var ps Problems
	c.typed = typed{}
	c.checkEdge(&ps)
	c.checkTLS(&ps)
	c.checkSecrets(&ps)
	c.checkSession(&ps)
	c.checkAccounts(&ps)
	c.checkMail(&ps)
	c.checkLogin(&ps)
	c.checkConsoles(&ps)
	c.checkSSO(&ps)
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		ps.add("log.level", "want debug, info, warn or error, got %q", c.Log.Level)
	}
	return ps.err()
}

// checkEdge checks what faces the network: the listeners, public_url and
// the proxies whose X-Forwarded-For is believed.
func (c *Config) checkEdge(ps *Problems) {
	if msg := checkHostPort(c.Listen, true); msg != "" {
		ps.add("listen", "%s", msg)
	}
	if c.PublicURL == "" {
		ps.add("public_url", "required: the account portal's URL, such as https://account.example.com")
	} else if u, msg := checkURL(c.PublicURL, urlRule{schemes: []string{"https", "http"}}); msg != "" {
		ps.add("public_url", "%s", msg)
	} else {
		// Stored without the "/" so that public_url + "/login" is one slash.
		u.Path, u.RawPath, u.Host = "", "", strings.ToLower(u.Host)
		c.typed.public = u
	}
	for i, s := range c.TrustedProxies {
		p, err := parsePrefix(s)
		if err != nil {
			ps.add(fmt.Sprintf("trusted_proxies[%d]", i), "%v", err)
			continue
		}
		c.typed.prefixes = append(c.typed.prefixes, p)
	}
	if c.ShutdownGrace < 0 {
		ps.add("shutdown_grace", "must not be negative")
	}
	if c.Metrics.Listen != "" {
		if msg := checkHostPort(c.Metrics.Listen, true); msg != "" {
			ps.add("metrics.listen", "%s", msg)
		} else if c.Metrics.Listen == c.Listen && !strings.HasSuffix(c.Listen, ":0") {
			ps.add("metrics.listen", "must differ from listen (%s)", c.Listen)
		}
	}
	if l := c.ForwardAuth.Listen; l != "" {
		if msg := checkHostPort(l, true); msg != "" {
			ps.add("forward_auth.listen", "%s", msg)
		} else if (l == c.Listen || l == c.Metrics.Listen) && !strings.HasSuffix(l, ":0") {
			ps.add("forward_auth.listen", "must differ from listen and metrics.listen")
		}
	}
}

// parsePrefix reads a CIDR or a single address (as a one-address prefix).
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("want a CIDR such as 10.0.0.0/8 or an IP address, got %q", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("want a CIDR such as 10.0.0.0/8 or an IP address, got %q", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// checkAccounts checks the account store.
func (c *Config) checkAccounts(ps *Problems) {
	switch d := c.Accounts.Driver; {
	case d == "":
		ps.add("accounts.driver", "required: postgres or sqlite")
	case !slices.Contains([]string{"postgres", "sqlite"}, d):
		ps.add("accounts.driver", "want postgres or sqlite, got %q", d)
	}
	// The DSN may hold a password: it is never echoed.
	if c.Accounts.DSN == "" {
		ps.add("accounts.dsn", "required: a postgres URL, or a file path for sqlite")
	}
}

// checkLogin checks the brute-force limits and the password policy.
func (c *Config) checkLogin(ps *Problems) {
	l := &c.Login
	if l.MaxFailures < 1 {
		ps.add("login.max_failures", "must be at least 1, got %d", l.MaxFailures)
	}
	if l.Lockout <= 0 {
		ps.add("login.lockout", "must be more than 0")
	}
	if l.IPMaxFailures < l.MaxFailures {
		// Otherwise one client IP would be locked out before the account it
		// guesses at, and a lockout per account would never trigger.
		ps.add("login.ip_max_failures", "must be at least login.max_failures (%d), got %d", l.MaxFailures, l.IPMaxFailures)
	}
	if l.MaxConsecutiveFailures < l.MaxFailures || l.MaxConsecutiveFailures > 100 {
		// NIST SP 800-63B §5.2.2: at most 100 consecutive failed attempts;
		// below max_failures the soft lock would never be reached.
		ps.add("login.max_consecutive_failures", "must be from login.max_failures (%d) to 100, got %d", l.MaxFailures, l.MaxConsecutiveFailures)
	}
	if l.EmailCodeTTL <= 0 || l.EmailCodeTTL > 10*time.Minute {
		// Short-lived one-time codes: ASVS V6.6.3, NIST SP 800-63B §3.1.3; SECURITY.md: at most 10 minutes.
		ps.add("login.email_code_ttl", "must be more than 0 and at most 10m, got %s", l.EmailCodeTTL)
	}
	if l.PasswordMinLength < 8 || l.PasswordMinLength > 256 {
		// NIST SP 800-63B §3.1.1.2: at least 8; 256 is the gateway's maximum.
		ps.add("login.password_min_length", "must be from 8 to 256, got %d", l.PasswordMinLength)
	}
	if l.ImportedBcryptCost < 4 || l.ImportedBcryptCost > 16 {
		// bcrypt's costs; the account store refuses hashes above 16.
		ps.add("login.imported_bcrypt_cost", "must be from 4 to 16, got %d", l.ImportedBcryptCost)
	}
	if l.LegacyLoginCutoff == "" {
		for i, con := range c.Consoles {
			if con.LegacyLogin {
				ps.add("login.legacy_login_cutoff", "required because consoles[%d] has legacy_login: true", i)
				break
			}
		}
		return
	}
	t, err := time.Parse(time.DateOnly, l.LegacyLoginCutoff)
	if err != nil {
		ps.add("login.legacy_login_cutoff", "want a date as YYYY-MM-DD, got %q", l.LegacyLoginCutoff)
		return
	}
	c.typed.cutoff = t.UTC()
}
