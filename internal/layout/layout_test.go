package layout

import (
	"slices"
	"strings"
	"testing"
)

// allowed lists every package of the module (relative to the module root)
// with the module packages its non-test files may import. A package missing
// here fails TestEveryPackageIsKnown: a new package needs a decision about
// where it sits. A package listed but absent (login, access, account before
// the redesign lands) is no failure.
var allowed = map[string][]string{
	// The wiring: it builds every part from the config.
	"cmd/unigate": {"gateway", "login", "access", "account", "upstreams", "session", "accounts", "mfa", "mail", "sso", "unify", "config", "web"},
	// The HTTP edge over the packages below.
	"gateway": {"login", "access", "account", "upstreams", "session", "accounts", "mfa", "mail", "sso", "config", "web"},
	// The domain packages under the edge: no gateway, no cmd, not each other.
	"login":   {"upstreams", "session", "accounts", "mfa", "sso", "mail"},
	"access":  {"upstreams", "session", "accounts", "mfa"},
	"account": {"upstreams", "session", "accounts", "mfa", "sso", "mail"},
	// The stores and the building blocks.
	"upstreams": {},
	"session":   {},
	"accounts":  {},
	"mfa":       {"accounts"},
	"sso":       {"accounts"},
	"mail":      {"accounts", "mfa"}, // mfa's sealer keeps queued bodies sealed
	"unify":     {"accounts", "mail", "mfa"},
	"config":    {},
	"web":       {},
	// Test helpers: imported by tests only (no production package lists them).
	"accounts/accountstest": {"accounts", "internal/testdb"},
	"session/sessiontest":   {"session"},
	"sso/ssotest":           {"sso", "internal/testcert"},
	"mail/mailtest":         {"mail", "accounts", "accounts/accountstest", "internal/testcert"},
	"unify/unifygen":        {},
	"internal/testcert":     {},
	"internal/testdb":       {},
	"internal/layout":       {},
	// Developer tools and the benchmark's processes: stand-alone programs.
	"unify/cmd/gen":   {"unify/unifygen"},
	"bench/loadgen":   {},
	"bench/bareproxy": {},
	"bench/upstream":  {},
	"bench/idleconns": {},
	// Operators' files (Prometheus rules, Grafana dashboard) and their test.
	"deploy": {},
}

// rule is one of DESIGN.md's import rules, held apart from allowed so that
// widening a package's list cannot quietly break it.
type rule struct {
	from     []string // packages the rule binds (relative to the module)
	mustNot  []string // packages (and their sub-packages) they must not import
	andTests bool     // the rule binds their _test.go files too
	why      string
}

var domain = []string{"login", "access", "account"}
var lowerLayers = []string{"upstreams", "session", "accounts", "mfa", "sso", "mail"}

var rules = []rule{
	{from: domain, mustNot: []string{"gateway", "cmd"}, andTests: true,
		why: "login, access and account sit under the edge"},
	{from: []string{"login"}, mustNot: []string{"access", "account"}, why: "the domain packages do not import each other"},
	{from: []string{"access"}, mustNot: []string{"login", "account"}, why: "the domain packages do not import each other"},
	{from: []string{"account"}, mustNot: []string{"login", "access"}, why: "the domain packages do not import each other"},
	{from: lowerLayers, mustNot: append([]string{"gateway", "cmd"}, domain...), andTests: true,
		why: "dependencies point down"},
	{from: []string{"unify"}, mustNot: append([]string{"gateway", "cmd", "upstreams", "session"}, domain...),
		why: "unify uses accounts and mail"},
}

// noHTTP lists the packages whose non-test files must not import net/http
// (nor net/http/...), with the files where HTTP is their subject (STYLE.md
// rule 1, DESIGN.md: login and account have no net/http at all).
var noHTTP = map[string][]string{
	"login":    {},
	"account":  {},
	"accounts": {},
	"session":  {"cookie.go"},
	"mail":     {},
	"mfa":      {},
	"unify":    {},
}

// readsRequestOnly lists the packages that may read an *http.Request but
// never answer one: DESIGN.md's access "owns nothing HTTP but the request it
// reads", so the edge alone writes responses.
var readsRequestOnly = []string{"access"}

// answering are the net/http names that write or shape a response.
var answering = []string{"ResponseWriter", "Handler", "HandlerFunc", "Error", "Redirect", "SetCookie", "ServeMux", "NotFound"}

func TestEveryPackageIsKnown(t *testing.T) {
	pkgs := modulePackages(t, repoRoot(t))
	if len(pkgs) < 10 {
		t.Fatalf("found %d packages, want the whole module (is the walk rooted right?)", len(pkgs))
	}
	for _, path := range sorted(pkgs) {
		if _, ok := allowed[rel(path)]; !ok {
			t.Errorf("package %s is not in allowed: add it with the packages it may import (DESIGN.md, Packages)", path)
		}
	}
	t.Logf("packages: %s", strings.Join(sorted(pkgs), " "))
}

func TestDependencyDirection(t *testing.T) {
	pkgs := modulePackages(t, repoRoot(t))
	for _, path := range sorted(pkgs) {
		p := pkgs[path]
		may, known := allowed[rel(path)]
		for _, imp := range sorted(p.imports) {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			if known && !slices.Contains(may, rel(imp)) {
				t.Errorf("%s imports %s (%s): not in its allowed list", path, imp, strings.Join(p.imports[imp], ", "))
			}
		}
		for _, imp := range sorted(p.testImports) {
			if strings.HasPrefix(imp, module+"/") && imp != path {
				if _, ok := allowed[rel(imp)]; !ok {
					t.Errorf("%s's tests import %s (%s), a package allowed does not know", path, imp, strings.Join(p.testImports[imp], ", "))
				}
			}
		}
	}
}

func TestDesignRules(t *testing.T) {
	pkgs := modulePackages(t, repoRoot(t))
	for _, path := range sorted(pkgs) {
		p := pkgs[path]
		check := func(imports map[string][]string, r rule) {
			for _, imp := range sorted(imports) {
				for _, bad := range r.mustNot {
					if within(imp, bad) {
						t.Errorf("%s imports %s (%s): %s", path, imp, strings.Join(imports[imp], ", "), r.why)
					}
				}
			}
		}
		for _, r := range rules {
			if !slices.ContainsFunc(r.from, func(f string) bool { return within(path, f) }) {
				continue
			}
			check(p.imports, r)
			if r.andTests {
				check(p.testImports, r)
			}
		}
		// Nothing imports cmd: it is wiring, its packages are programs.
		for _, imports := range []map[string][]string{p.imports, p.testImports} {
			for _, imp := range sorted(imports) {
				if within(imp, "cmd") && !within(path, "cmd") {
					t.Errorf("%s imports %s (%s): nothing imports cmd", path, imp, strings.Join(imports[imp], ", "))
				}
			}
		}
	}
}

func TestNoHTTPInDomainPackages(t *testing.T) {
	pkgs := modulePackages(t, repoRoot(t))
	for _, path := range sorted(pkgs) {
		exempt, bound := noHTTP[rel(path)]
		if !bound {
			continue
		}
		p := pkgs[path]
		for _, imp := range sorted(p.imports) {
			if imp != "net/http" && !strings.HasPrefix(imp, "net/http/") {
				continue
			}
			for _, f := range p.imports[imp] {
				if !slices.Contains(exempt, f) {
					t.Errorf("%s/%s imports %s: the package keeps no HTTP", path, f, imp)
				}
			}
		}
	}
}

func TestAccessOnlyReadsRequests(t *testing.T) {
	pkgs := modulePackages(t, repoRoot(t))
	for _, name := range readsRequestOnly {
		p := pkgs[module+"/"+name]
		if p == nil {
			continue // not written yet
		}
		for _, imp := range sorted(p.imports) {
			if strings.HasPrefix(imp, "net/http/") {
				t.Errorf("%s imports %s (%s): it reads the request, nothing more", p.path, imp, strings.Join(p.imports[imp], ", "))
			}
		}
		for _, file := range sorted(p.files) {
			f := p.files[file]
			local := localName(f, "net/http")
			if local == "" {
				continue
			}
			for _, sel := range answering {
				for _, pos := range selectorUses(p.fset, f, local, sel) {
					t.Errorf("%s/%s:%d uses http.%s: only the edge answers requests", p.path, file, pos.Line, sel)
				}
			}
		}
	}
}

// rel is an import path of the module relative to the module root.
func rel(importPath string) string {
	return strings.TrimPrefix(importPath, module+"/")
}
