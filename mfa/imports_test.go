package mfa

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports enforces STYLE.md's import rules for this package: mfa is not
// about HTTP (WebAuthn answers are read from an io.Reader), and of unigate's
// packages it uses only accounts (the credential records).
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
			case (path == "unigate" || strings.HasPrefix(path, "unigate/")) && path != "unigate/accounts":
				t.Errorf("%s imports %s: mfa may use only unigate/accounts", name, path)
			case path == "net/http" || strings.HasPrefix(path, "net/http/"):
				t.Errorf("%s imports %s: mfa must not (STYLE.md)", name, path)
			}
		}
	}
}
