package layout

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "unigate"

// goPackage is one directory of the module that holds Go files.
type goPackage struct {
	path string // import path: "unigate/accounts"
	dir  string
	fset *token.FileSet
	// files are the parsed non-test files, by file name.
	files map[string]*ast.File
	// imports and testImports map an imported path to the files (non-test,
	// test) that import it. Build constraints are ignored on purpose: a file
	// built only with a tag is still part of the package's dependencies.
	imports, testImports map[string][]string
}

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found from %s: %v", file, err)
	}
	return root
}

// modulePackages walks the module from root as the go command does: hidden
// directories, "_"-prefixed ones, testdata, vendor and nested modules are not
// part of it.
func modulePackages(t *testing.T, root string) map[string]*goPackage {
	t.Helper()
	pkgs := map[string]*goPackage{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path == root {
				return nil
			}
			if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor" {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
			return nil
		}
		dir := filepath.Dir(path)
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			return err
		}
		importPath := module
		if rel != "." {
			importPath += "/" + filepath.ToSlash(rel)
		}
		p := pkgs[importPath]
		if p == nil {
			p = &goPackage{path: importPath, dir: dir, fset: fset, files: map[string]*ast.File{},
				imports: map[string][]string{}, testImports: map[string][]string{}}
			pkgs[importPath] = p
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		into := p.imports
		if strings.HasSuffix(name, "_test.go") {
			into = p.testImports
		} else {
			p.files[name] = f
		}
		for _, imp := range f.Imports {
			ip, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				return err
			}
			into[ip] = append(into[ip], name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// sorted returns the keys of m in order, for stable messages.
func sorted[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// within reports whether import path imp is pkg or one of its sub-packages
// (pkg relative to the module: "gateway", "cmd").
func within(imp, pkg string) bool {
	full := module + "/" + pkg
	return imp == full || strings.HasPrefix(imp, full+"/")
}

// localName is the name file f refers to import path imp by, "" when f does
// not import it (or imports it for side effects or with a dot).
func localName(f *ast.File, imp string) string {
	for _, spec := range f.Imports {
		if p, _ := strconv.Unquote(spec.Path.Value); p != imp {
			continue
		}
		if spec.Name == nil {
			return imp[strings.LastIndex(imp, "/")+1:]
		}
		if spec.Name.Name == "_" || spec.Name.Name == "." {
			return ""
		}
		return spec.Name.Name
	}
	return ""
}

// selectorUses returns the positions in f where pkgName.sel is used.
func selectorUses(fset *token.FileSet, f *ast.File, pkgName, sel string) []token.Position {
	var out []token.Position
	ast.Inspect(f, func(n ast.Node) bool {
		s, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if id, ok := s.X.(*ast.Ident); ok && id.Name == pkgName && s.Sel.Name == sel {
			out = append(out, fset.Position(s.Pos()))
		}
		return true
	})
	return out
}
