package session

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports enforces STYLE.md's import rules for this package: session is
// a leaf (it imports no other unigate package: dependencies point down), and
// only cookie.go, whose subject is HTTP, imports net/http.
func TestImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			switch {
			case path == "unigate" || strings.HasPrefix(path, "unigate/"):
				t.Errorf("%s imports %s: session must not depend on other unigate packages", name, path)
			case (path == "net/http" || strings.HasPrefix(path, "net/http/")) && name != "cookie.go":
				t.Errorf("%s imports %s: only cookie.go may (STYLE.md: session is not about HTTP)", name, path)
			}
		}
	}
}
