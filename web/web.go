// Package web holds the account portal's embedded templates and static
// assets. Nothing is loaded from a third party: the pages work offline and
// under a strict Content-Security-Policy.
//
// Every page exists in English and French. A template is written once and
// says its texts by key, {{t "login.email"}}; the catalog (catalog.go) holds
// each key's English and French. Texts the gateway passes as data (errors,
// notices) are English sentences, translated with {{msg .Error}} through
// messages.go. The Renderer keeps one copy of each page per language, each
// with its own template functions, so a render costs no lookup of the
// language beyond picking the copy.
package web

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"text/template/parse"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Locales are the languages of the pages, the default first.
var Locales = []string{"en", "fr"}

// DefaultLocale is the language of a page when nothing says otherwise.
const DefaultLocale = "en"

// languages names each locale in itself, for the language switch and the
// settings form (these names are the same on every page).
var languages = []Language{{"en", "English"}, {"fr", "Français"}}

// Language is one locale and its name in that language.
type Language struct {
	Code string
	Name string
}

// Supported reports whether locale is one the pages are written in.
func Supported(locale string) bool { return slices.Contains(Locales, locale) }

// missing marks a text the catalog lacks; NewRenderer refuses templates whose
// keys are unknown, so it only shows if a key is computed at run time.
const missing = "⟦missing:"

// Frame is what every page needs besides its own data.
type Frame struct {
	Locale string // "en" or "fr"; anything else renders in English
	// Path is the page's own address (path and query, e.g. "/login?return_to=…"):
	// the language switch links to it with lang set. "" hides the switch.
	Path string
}

// layoutData is the layout's data: the page's own data is .Page, and the
// page templates ("title", "content", "scripts") are run with it as dot.
type layoutData struct {
	Page   any
	Switch []switchLink
}

type switchLink struct {
	Language
	URL     string
	Current bool
}

// Renderer renders the portal pages. Each page template is parsed together
// with the shared layout once, at start, then copied once per locale.
type Renderer struct {
	pages map[string]map[string]*template.Template // page -> locale -> template
}

// NewRenderer parses every page under templates/ with layout.html, and
// checks that every text key the templates use is in the catalog.
func NewRenderer() (*Renderer, error) {
	funcs := map[string]template.FuncMap{}
	for _, loc := range Locales {
		funcs[loc] = localeFuncs(loc, func(key string) (string, bool) { return catalogText(loc, key) })
	}
	return newRenderer(funcs)
}

// newRenderer builds the pages with one function set per locale.
func newRenderer(funcs map[string]template.FuncMap) (*Renderer, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	r := &Renderer{pages: map[string]map[string]*template.Template{}}
	// Parsing needs the functions' names only: the real ones come per locale.
	placeholders := localeFuncs(DefaultLocale, func(string) (string, bool) { return "", true })
	for _, n := range names {
		base := n[len("templates/") : len(n)-len(".html")]
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(placeholders).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("web: %s: %w", n, err)
		}
		if err := checkKeys(t); err != nil {
			return nil, fmt.Errorf("web: %s: %w", n, err)
		}
		r.pages[base] = map[string]*template.Template{}
		for loc, fm := range funcs {
			c, err := t.Clone()
			if err != nil {
				return nil, fmt.Errorf("web: %s: %w", n, err)
			}
			r.pages[base][loc] = c.Funcs(fm)
		}
	}
	return r, nil
}

// localeFuncs are the template functions of one locale:
//
//	{{t "key"}}, {{t "key" arg…}}  the catalog's text (fmt verbs filled with the args)
//	{{msg .Error}}                 a gateway message, translated (messages.go)
//	{{locale}}                     "en" or "fr"
//	{{languages}}                  the locales with their names
//	{{provider "github"}}          a sign-in provider's name ("GitHub")
func localeFuncs(locale string, text func(key string) (string, bool)) template.FuncMap {
	return template.FuncMap{
		"t": func(key string, args ...any) string {
			s, ok := text(key)
			if !ok {
				return missing + key + "⟧"
			}
			if len(args) > 0 {
				s = fmt.Sprintf(s, args...)
			}
			return s
		},
		"msg": func(v any) string {
			s, _ := v.(string) // a page's zero data has no message
			return Translate(locale, s)
		},
		"locale":    func() string { return locale },
		"languages": func() []Language { return languages },
		"provider":  providerName,
	}
}

// providerName is a sign-in provider's name as written on the buttons.
func providerName(id string) string {
	switch id {
	case "google":
		return "Google"
	case "microsoft":
		return "Microsoft"
	case "github":
		return "GitHub"
	}
	return id
}

// Render writes page name with data, in frame's locale.
func (r *Renderer) Render(w io.Writer, frame Frame, name string, data any) error {
	byLocale, ok := r.pages[name]
	if !ok {
		return fmt.Errorf("web: no page %q", name)
	}
	loc := frame.Locale
	if !Supported(loc) {
		loc = DefaultLocale
	}
	t := byLocale[loc]
	if t == nil {
		return fmt.Errorf("web: page %q has no locale %q", name, loc)
	}
	return t.ExecuteTemplate(w, "layout.html", layoutData{Page: data, Switch: switchLinks(loc, frame.Path)})
}

// switchLinks are the language switch's links: path with lang set to each locale.
func switchLinks(current, path string) []switchLink {
	// Only a local path: never "//host" or "/\host", which browsers take as another site.
	if path == "" || path[0] != '/' || strings.HasPrefix(path, "//") || strings.HasPrefix(path, "/\\") {
		return nil
	}
	u, err := url.Parse(path)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return nil
	}
	out := make([]switchLink, 0, len(languages))
	for _, l := range languages {
		q := u.Query()
		q.Set("lang", l.Code)
		v := url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: q.Encode()}
		out = append(out, switchLink{Language: l, URL: v.String(), Current: l.Code == current})
	}
	return out
}

// Static serves the embedded assets (mount it under /static/).
func Static() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the embed pattern above guarantees the folder
	}
	return http.FileServerFS(sub)
}

// checkKeys refuses a template set that calls t with a key the catalog lacks,
// or with anything but a constant key (which could not be checked here).
func checkKeys(t *template.Template) error {
	var errs []string
	for _, tt := range t.Templates() {
		if tt.Tree == nil {
			continue
		}
		templateKeys(tt.Tree.Root, func(key string, constant bool) {
			switch {
			case !constant:
				errs = append(errs, fmt.Sprintf("%s: t needs a constant key", tt.Name()))
			case !inCatalog(key):
				errs = append(errs, fmt.Sprintf("%s: no text %q in the catalog", tt.Name(), key))
			}
		})
	}
	if len(errs) > 0 {
		slices.Sort(errs)
		return fmt.Errorf("%s", strings.Join(slices.Compact(errs), "; "))
	}
	return nil
}

// templateKeys calls found for every t call under node.
func templateKeys(node parse.Node, found func(key string, constant bool)) {
	switch n := node.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			templateKeys(c, found)
		}
	case *parse.ActionNode:
		templateKeys(n.Pipe, found)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Cmds {
			templateKeys(c, found)
		}
	case *parse.CommandNode:
		if len(n.Args) > 0 {
			if id, ok := n.Args[0].(*parse.IdentifierNode); ok && id.Ident == "t" {
				if len(n.Args) < 2 {
					found("", false)
				} else if s, ok := n.Args[1].(*parse.StringNode); ok {
					found(s.Text, true)
				} else {
					found("", false)
				}
			}
		}
		for _, a := range n.Args {
			templateKeys(a, found)
		}
	case *parse.IfNode:
		templateKeys(&n.BranchNode, found)
	case *parse.RangeNode:
		templateKeys(&n.BranchNode, found)
	case *parse.WithNode:
		templateKeys(&n.BranchNode, found)
	case *parse.BranchNode:
		templateKeys(n.Pipe, found)
		templateKeys(n.List, found)
		templateKeys(n.ElseList, found)
	case *parse.TemplateNode:
		templateKeys(n.Pipe, found)
	}
}
