package config

import "time"

// Defaults of the keys that have one (CONTRACT §2). Keys without a default
// are either required (public_url, accounts.driver) or off when empty
// (metrics.listen, sso.*.client_id, provisioning.url).
const (
	DefaultListen          = "127.0.0.1:8080"
	DefaultCookieName      = "unigate_session"
	DefaultGoogleIssuer    = "https://accounts.google.com"
	DefaultMicrosoftIssuer = "https://login.microsoftonline.com/common/v2.0"
	DefaultGitHubBaseURL   = "https://github.com"
	DefaultGitHubAPIURL    = "https://api.github.com"
)

// DefaultMailRatePerSecond is mail.rate_per_second when unset: what a relay
// takes from one sender without throttling it (CONTRACT §9).
const DefaultMailRatePerSecond = 50

// RateLimit is mail.rate_per_second: mails per second for all replicas
// together, 0 for no limit.
func (m Mail) RateLimit() int {
	if m.RatePerSecond == nil {
		return DefaultMailRatePerSecond
	}
	return *m.RatePerSecond
}

// SetDefaults fills every zero-valued key that has a default. Load calls it
// after the environment overrides; a Config built in code (the demo) calls
// it before Validate.
func (c *Config) SetDefaults() {
	orDefault(&c.Listen, DefaultListen)
	orDefault(&c.ShutdownGrace, 15*time.Second)

	s := &c.Session
	orDefault(&s.Store, "redis")
	orDefault(&s.CookieName, DefaultCookieName)
	orDefault(&s.IdleTimeout, 30*time.Minute)
	orDefault(&s.AbsoluteTimeout, 12*time.Hour)
	orDefault(&s.HandoffTTL, 60*time.Second)

	orDefault(&c.Mail.Transport, "log")
	orDefault(&c.Mail.SMTP.TLS, "starttls")

	l := &c.Login
	orDefault(&l.MaxFailures, 5)
	orDefault(&l.Lockout, 15*time.Minute)
	orDefault(&l.IPMaxFailures, 50)
	orDefault(&l.MaxConsecutiveFailures, 100)
	orDefault(&l.EmailCodeTTL, 10*time.Minute)
	orDefault(&l.PasswordMinLength, 12)
	orDefault(&l.ImportedBcryptCost, 12)

	for i := range c.Consoles {
		con := &c.Consoles[i]
		orDefault(&con.Name, con.ID)
		orDefault(&con.Timeout, 30*time.Second)
		orDefault(&con.Provisioning.Timeout, 5*time.Second)
	}

	orDefault(&c.SSO.Google.Issuer, DefaultGoogleIssuer)
	orDefault(&c.SSO.Microsoft.Issuer, DefaultMicrosoftIssuer)
	orDefault(&c.SSO.GitHub.BaseURL, DefaultGitHubBaseURL)
	orDefault(&c.SSO.GitHub.APIURL, DefaultGitHubAPIURL)

	orDefault(&c.Log.Level, "info")
}

func orDefault[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}
