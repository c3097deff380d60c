package gateway

import (
	"strings"
	"testing"
)

var hostCases = []struct {
	host    string
	valid   bool
	site    string // hostOnly, when valid
	account bool
	console string
}{
	{"account.test:8080", true, "account.test", true, ""},
	{"ACCOUNT.Test", true, "account.test", true, ""},
	{"account.test", true, "account.test", true, ""},
	{"console.scaleway.test:8080", true, "console.scaleway.test", false, "scaleway"},
	{"Console.Scaleway.Test:1", true, "console.scaleway.test", false, "scaleway"},
	{"[::1]:8080", true, "::1", false, ""},
	{"[::1]", true, "::1", false, ""},
	{"elsewhere.test", true, "elsewhere.test", false, ""},
	{"", false, "", false, ""},
	{"account.test:80x", false, "", false, ""},
	{"account.test:123456", false, "", false, ""},
	{"account.test:", true, "account.test", true, ""},
	{"evil.test@account.test", false, "", false, ""},
	{"account.test/x", false, "", false, ""},
	{"account.test\\x", false, "", false, ""},
	{"account.test, evil.test", false, "", false, ""},
	{"a:b:c", false, "", false, ""},
	{"[::1", false, "", false, ""},
	{"[::1]x", false, "", false, ""},
	{"account%2etest", false, "", false, ""},
	{"account.test#x", false, "", false, ""},
	{"account.test?x=1", false, "", false, ""},
}

func siteTestServer() *Server {
	s := &Server{accountHost: "account.test", consoleHosts: map[string]*consoleSite{}}
	s.consoleHosts["console.scaleway.test"] = &consoleSite{id: "scaleway"}
	return s
}

// TestClassifyHost: the router's one reading of the Host header.
func TestClassifyHost(t *testing.T) {
	s := siteTestServer()
	for _, c := range hostCases {
		if got := validHostPort(c.host); got != c.valid {
			t.Errorf("validHostPort(%q): got %v, want %v", c.host, got, c.valid)
			continue
		}
		if !c.valid {
			continue
		}
		site := s.classify(c.host)
		console := ""
		if site.console != nil {
			console = site.console.id
		}
		if site.host != c.site || site.account != c.account || console != c.console {
			t.Errorf("classify(%q): got host %q account %v console %q, want %q %v %q", c.host, site.host, site.account, console, c.site, c.account, c.console)
		}
	}
}

// FuzzHostHeader: whatever the client sends as Host, a host the router
// accepts is classified consistently: lower-case, no port, never both the
// account host and a console, and nothing in it that would change a URL
// built from it (SECURITY family 8).
func FuzzHostHeader(f *testing.F) {
	for _, c := range hostCases {
		f.Add(c.host)
	}
	s := siteTestServer()
	f.Fuzz(func(t *testing.T, host string) {
		if !validHostPort(host) {
			return
		}
		site := s.classify(host)
		if site.host != strings.ToLower(site.host) {
			t.Errorf("classify(%q): host %q not lower-case", host, site.host)
		}
		if strings.ContainsAny(site.host, "/\\@ ,%?#") {
			t.Errorf("classify(%q): host %q holds a URL delimiter", host, site.host)
		}
		if site.account && (site.console != nil || site.host != s.accountHost) {
			t.Errorf("classify(%q): account host and console %v", host, site.console)
		}
		if site.console != nil && s.consoleHosts[site.host] != site.console {
			t.Errorf("classify(%q): console %q for host %q", host, site.console.id, site.host)
		}
		if again := s.classify(host); again != site {
			t.Errorf("classify(%q) is not stable", host)
		}
	})
}
