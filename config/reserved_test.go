package config

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// accountRoutePattern finds the account host's routes in gateway/routes.go:
// account.Handle("GET /orgs/{id}", …) and account.HandleFunc alike.
var accountRoutePattern = regexp.MustCompile(`\baccount\.Handle(?:Func)?\("(?:[A-Z]+ )?(/[^"]*)"`)

// accountRouteSegments are the first path segments of the account host's
// routes, read from gateway/routes.go ("/orgs/{id}" gives "orgs"; the home
// page "/{$}" gives none).
func accountRouteSegments(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile("../gateway/routes.go")
	if err != nil {
		t.Fatal(err)
	}
	var segs []string
	for _, m := range accountRoutePattern.FindAllStringSubmatch(string(src), -1) {
		seg, _, _ := strings.Cut(strings.TrimPrefix(m[1], "/"), "/")
		if seg == "" || strings.HasPrefix(seg, "{") {
			continue
		}
		if !slices.Contains(segs, seg) {
			segs = append(segs, seg)
		}
	}
	if len(segs) < 10 {
		t.Fatalf("found only %d route segments in gateway/routes.go: %q", len(segs), segs)
	}
	return segs
}

// TestReservedPathsCoverAccountRoutes (issue 16, finding 17): a path_prefix
// on, or under, any route of the account host is refused by check-config
// with one line naming the console's path_prefix; the routes are read from
// gateway/routes.go, so that a new portal route cannot be shadowed either.
func TestReservedPathsCoverAccountRoutes(t *testing.T) {
	segs := accountRouteSegments(t)
	for _, want := range []string{"orgs", "invitations", "login", "signup", "settings", "consoles", "api", "static", "sso", ".auth", ".well-known", "healthz", "readyz"} {
		if !slices.Contains(segs, want) {
			t.Errorf("routes.go: no account route under /%s/ found (segments %q)", want, segs)
		}
	}
	// And the ones kept for the portal without a route today.
	segs = append(segs, "me", "security")
	for _, seg := range segs {
		for _, prefix := range []string{"/" + seg + "/", "/" + seg + "/x/"} {
			t.Run(prefix, func(t *testing.T) {
				c := validConfig(t)
				c.Consoles[1].PathPrefix = prefix
				lines := problemLines(t, c.Validate())
				if len(lines) != 1 || !strings.HasPrefix(lines[0], `config: consoles[1].path_prefix: "`+prefix+`" collides with the gateway's own /`+seg) {
					t.Errorf("path_prefix %q: Validate() = %q, want one line saying it collides with /%s", prefix, lines, seg)
				}
			})
		}
	}
}

// TestPrefixBesideReservedPathsAccepted: names that only begin like a
// gateway route are the console's.
func TestPrefixBesideReservedPathsAccepted(t *testing.T) {
	for _, prefix := range []string{"/orgsx/", "/organizations/", "/memo/", "/security-console/", "/dedibox/", "/apis/"} {
		c := validConfig(t)
		c.Consoles[1].PathPrefix = prefix
		if err := c.Validate(); err != nil {
			t.Errorf("path_prefix %q: %v", prefix, err)
		}
	}
}
