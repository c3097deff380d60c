package config

import (
	"net/mail"
	"net/netip"
	"slices"
)

// checkMail checks the mail transport. With transport "log" nothing leaves
// the process, so no sender address is needed.
func (c *Config) checkMail(ps *Problems) {
	m := &c.Mail
	if m.RateLimit() < 0 {
		ps.add("mail.rate_per_second", "want 0 (no limit) or more mails per second, got %d", m.RateLimit())
	}
	if !slices.Contains([]string{"smtp", "file", "log"}, m.Transport) {
		ps.add("mail.transport", "want smtp, file or log, got %q", m.Transport)
	}
	switch {
	case m.From == "" && m.Transport != "log":
		ps.add("mail.from", "required with transport %s: an address such as \"Accounts <no-reply@example.com>\"", m.Transport)
	case m.From != "":
		if _, err := mail.ParseAddress(m.From); err != nil {
			ps.add("mail.from", "%q is not a valid address: %v", m.From, err)
		}
	}
	switch m.Transport {
	case "smtp":
		c.checkSMTP(ps)
	case "file":
		if m.Dir == "" {
			ps.add("mail.dir", "required with transport file")
		}
	}
}

func (c *Config) checkSMTP(ps *Problems) {
	s := &c.Mail.SMTP
	switch {
	case s.Host == "":
		ps.add("mail.smtp.host", "required with transport smtp")
	case !validHost(s.Host):
		ps.add("mail.smtp.host", "%q is not an IP address or host name", s.Host)
	}
	if s.Port < 1 || s.Port > 65535 {
		ps.add("mail.smtp.port", "want a port from 1 to 65535, got %d", s.Port)
	}
	if !slices.Contains([]string{"starttls", "tls", "none"}, s.TLS) {
		ps.add("mail.smtp.tls", "want starttls, tls or none, got %q", s.TLS)
	}
	checkSecretFile(ps, "mail.smtp.password_file", s.PasswordFile, false)
	if s.PasswordFile != "" && s.TLS == "none" && !isLoopback(s.Host) {
		// The password would cross the network in clear (ASVS V12.3.1).
		ps.add("mail.smtp.tls", "none with a password_file would send the password in clear to %s; use starttls or tls", s.Host)
	}
	if s.Username != "" && s.PasswordFile == "" {
		ps.add("mail.smtp.password_file", "required when username is set")
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
