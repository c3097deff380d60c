package layout

import (
	"go/build"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// allowed lists, for each package, the unigate packages it may import.
var allowed = map[string][]string{
	"unigate/cmd/unigate": {"gateway", "access", "upstreams", "session", "accounts", "mfa", "mail", "sso", "unify", "config", "web"},
	"unigate/gateway":     {"access", "upstreams", "session", "accounts", "mfa", "mail", "sso", "config", "web"},
	"unigate/access":      {"session", "upstreams"},
	"unigate/sso":         {"accounts"},
	"unigate/unify":       {"accounts", "mail", "mfa"},
	"unigate/mfa":         {"accounts"},
	"unigate/mail":        {"accounts"},
	"unigate/upstreams":   {},
	"unigate/session":     {},
	"unigate/accounts":    {},
	"unigate/config":      {},
	"unigate/web":         {},
}

// noHTTP lists packages that must not import net/http, except in the files
// where HTTP is their subject (STYLE.md rule 1).
var noHTTP = map[string][]string{
	"unigate/accounts": {},
	"unigate/session":  {"cookie.go"},
	"unigate/mail":     {},
	"unigate/mfa":      {},
}

func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func TestDependencyDirection(t *testing.T) {
	root := repoRoot(t)
	for pkg, may := range allowed {
		dir := filepath.Join(root, strings.TrimPrefix(pkg, "unigate/"))
		p, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatalf("%s: %v", pkg, err)
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, "unigate/") {
				continue
			}
			top := strings.SplitN(strings.TrimPrefix(imp, "unigate/"), "/", 2)[0]
			if !slices.Contains(may, top) {
				t.Errorf("%s imports %s: against DESIGN.md's dependency direction", pkg, imp)
			}
		}
	}
}

func TestNoHTTPInDomainPackages(t *testing.T) {
	root := repoRoot(t)
	for pkg, exempt := range noHTTP {
		dir := filepath.Join(root, strings.TrimPrefix(pkg, "unigate/"))
		p, err := build.ImportDir(dir, build.ImportComment)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range p.GoFiles {
			for _, imp := range fileImports(t, filepath.Join(dir, f)) {
				if (imp == "net/http" || strings.HasPrefix(imp, "net/http/")) && !slices.Contains(exempt, f) {
					t.Errorf("%s/%s imports %s", pkg, f, imp)
				}
			}
		}
	}
}
