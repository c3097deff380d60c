package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// consoleID is the form of a console id (CONTRACT §3): it appears in
// headers, JWT audiences and URLs unescaped.
var consoleID = regexp.MustCompile(`^[a-z0-9-]+$`)

// reservedPaths are the gateway's own routes on the account host
// (CONTRACT §3), the first segment of each route gateway/routes.go serves
// there (TestReservedPathsCoverAccountRoutes reads them from it). A console
// mounted by path_prefix must not shadow them, nor be shadowed by them: a
// mount on "/orgs/" would take the organization pages, and the session
// cookie of whoever opens them, to the console (issue 16, finding 17).
// "/me" and "/security" are kept for the portal too.
var reservedPaths = []string{
	"/login", "/signup", "/consoles", "/settings", "/logout",
	"/api/", "/.well-known/", "/.auth/", "/healthz", "/readyz",
	"/static/", "/sso/", "/invitations/", "/orgs", "/me", "/security",
}

// checkConsoles checks every console and what they must not share: ids,
// hosts and prefixes.
func (c *Config) checkConsoles(ps *Problems) {
	if len(c.Consoles) == 0 {
		ps.add("consoles", "at least one console is required")
		return
	}
	ids := make(map[string]string)      // id -> key of the console that has it
	hosts := make(map[string]string)    // host -> key of the console that has it
	prefixes := make(map[string]string) // prefix -> key of the console that has it
	publicHost := ""
	if c.typed.public != nil {
		publicHost = c.typed.public.Hostname()
	}
	for i := range c.Consoles {
		con := &c.Consoles[i]
		key := fmt.Sprintf("consoles[%d]", i)
		switch {
		case con.ID == "":
			ps.add(key+".id", "required: lower-case letters, digits and -")
		case !consoleID.MatchString(con.ID):
			ps.add(key+".id", "%q: want lower-case letters, digits and - only", con.ID)
		case ids[con.ID] != "":
			ps.add(key+".id", "%q is already the id of %s", con.ID, ids[con.ID])
		default:
			ids[con.ID] = key
		}
		if len(con.Hosts) == 0 && con.PathPrefix == "" {
			ps.add(key, "needs hosts, a path_prefix, or both")
		}
		for j := range con.Hosts {
			con.Hosts[j] = strings.ToLower(con.Hosts[j])
			h, hkey := con.Hosts[j], fmt.Sprintf("%s.hosts[%d]", key, j)
			switch {
			case strings.Contains(h, "://"):
				ps.add(hkey, "%q: want a host name, not a URL", h)
			case strings.Contains(h, ":"):
				ps.add(hkey, "%q: want a host name without port (hosts match whatever the port)", h)
			case !validHostname(h):
				ps.add(hkey, "%q is not a valid host name", h)
			case h == publicHost:
				ps.add(hkey, "%q is the account host (public_url)", h)
			case hosts[h] != "":
				ps.add(hkey, "%q is already a host of %s", h, hosts[h])
			default:
				hosts[h] = key
			}
		}
		if con.PathPrefix != "" {
			checkPrefix(ps, key+".path_prefix", con.PathPrefix, prefixes, key)
		}
		if con.Upstream == "" {
			ps.add(key+".upstream", "required: the console's http(s) URL")
		} else if _, msg := checkURL(con.Upstream, urlRule{schemes: []string{"http", "https"}, allowPath: true}); msg != "" {
			ps.add(key+".upstream", "%s", msg)
		}
		if con.Timeout <= 0 {
			ps.add(key+".timeout", "must be more than 0")
		}
		for j, p := range con.PublicPaths {
			if msg := checkPath(p); msg != "" {
				ps.add(fmt.Sprintf("%s.public_paths[%d]", key, j), "%s", msg)
			}
		}
		for j, p := range con.LegacyLoginPaths {
			if msg := checkPath(p); msg != "" {
				ps.add(fmt.Sprintf("%s.legacy_login_paths[%d]", key, j), "%s", msg)
			}
		}
		if u := con.Provisioning.URL; u != "" {
			if _, msg := checkURL(u, urlRule{schemes: []string{"http", "https"}, allowPath: true}); msg != "" {
				ps.add(key+".provisioning.url", "%s", msg)
			}
		}
		if con.Provisioning.Timeout <= 0 {
			ps.add(key+".provisioning.timeout", "must be more than 0")
		}
		checkStepUp(ps, key, con.StepUp, c.Session.AbsoluteTimeout)
	}
}

// stepUpMethods are the proofs the step-up page can take.
var stepUpMethods = []string{"password", "totp", "passkey"}

// checkStepUp checks a console's step-up rules: a plain canonical prefix, a
// positive max_age no longer than a session lives (a longer one would never
// ask anything), known methods without repeats.
func checkStepUp(ps *Problems, key string, rules []StepUp, lifetime time.Duration) {
	for j, rule := range rules {
		rk := fmt.Sprintf("%s.step_up[%d]", key, j)
		if rule.PathPrefix == "" {
			ps.add(rk+".path_prefix", "required: a path such as /billing/")
		} else if msg := checkPath(rule.PathPrefix); msg != "" {
			ps.add(rk+".path_prefix", "%s", msg)
		}
		switch {
		case rule.MaxAge <= 0:
			ps.add(rk+".max_age", "must be more than 0")
		case lifetime > 0 && rule.MaxAge > lifetime:
			ps.add(rk+".max_age", "%s is longer than session.absolute_timeout (%s): it would never ask for a proof", rule.MaxAge, lifetime)
		}
		for k, m := range rule.Methods {
			mk := fmt.Sprintf("%s.methods[%d]", rk, k)
			if !slices.Contains(stepUpMethods, m) {
				ps.add(mk, "%q: want one of %s", m, strings.Join(stepUpMethods, ", "))
			} else if slices.Contains(rule.Methods[:k], m) {
				ps.add(mk, "%q is listed twice", m)
			}
		}
	}
}

// checkPrefix checks a path_prefix mount: canonical, "/x/" shaped, clear of
// the gateway's routes and of every other console's prefix (nested prefixes
// would make the console that answers depend on matching order).
func checkPrefix(ps *Problems, key, p string, seen map[string]string, owner string) {
	if msg := checkPath(p); msg != "" {
		ps.add(key, "%s", msg)
		return
	}
	if p == "/" || !strings.HasSuffix(p, "/") {
		ps.add(key, "%q: want a path such as /dedibox/, starting and ending with / and not / alone", p)
		return
	}
	for _, r := range reservedPaths {
		base := strings.TrimSuffix(r, "/") + "/"
		if strings.HasPrefix(p, base) {
			ps.add(key, "%q collides with the gateway's own %s", p, r)
			return
		}
	}
	for other, o := range seen {
		if strings.HasPrefix(p, other) || strings.HasPrefix(other, p) {
			ps.add(key, "%q overlaps the path_prefix %q of %s", p, other, o)
			return
		}
	}
	seen[p] = owner
}
