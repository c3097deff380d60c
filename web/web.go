// Package web holds the account portal's embedded templates and static
// assets. Nothing is loaded from a third party: the pages work offline and
// under a strict Content-Security-Policy.
package web

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Renderer renders the portal pages. Each page template is parsed together
// with the shared layout once, at start.
type Renderer struct {
	pages map[string]*template.Template
}

// NewRenderer parses every page under templates/ with layout.html.
func NewRenderer() (*Renderer, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	r := &Renderer{pages: map[string]*template.Template{}}
	for _, n := range names {
		base := n[len("templates/") : len(n)-len(".html")]
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("web: %s: %w", n, err)
		}
		r.pages[base] = t
	}
	return r, nil
}

// Render writes page name with data.
func (r *Renderer) Render(w io.Writer, name string, data any) error {
	t, ok := r.pages[name]
	if !ok {
		return fmt.Errorf("web: no page %q", name)
	}
	return t.ExecuteTemplate(w, "layout.html", data)
}

// Static serves the embedded assets (mount it under /static/).
func Static() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the embed pattern above guarantees the folder
	}
	return http.FileServerFS(sub)
}
