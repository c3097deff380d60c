package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"unigate/accounts"
	"unigate/config"
	"unigate/session"
)

// The demo account's email; its password is drawn anew at every start.
const demoEmail = "demo@example.com"

// runDemo runs the embedded default: memory sessions, SQLite in a temporary
// directory, two demo consoles that show what they receive, and a seeded
// account. Nothing outside this process is needed.
func runDemo(ctx context.Context, listen string, stdout, stderr io.Writer) error {
	dir, err := os.MkdirTemp("", "unigate-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", listen, err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())

	dedibox, err := startDemoConsole("Dedibox", "scaleway", "Scaleway")
	if err != nil {
		ln.Close()
		return err
	}
	defer dedibox.Close()
	scaleway, err := startDemoConsole("Scaleway", "dedibox", "Dedibox")
	if err != nil {
		ln.Close()
		return err
	}
	defer scaleway.Close()

	cfg, err := demoConfig(dir, ln.Addr().String(), port, dedibox.URL, scaleway.URL)
	if err != nil {
		ln.Close()
		return err
	}
	acc, err := accounts.Open(ctx, "sqlite", cfg.Accounts.DSN)
	if err != nil {
		ln.Close()
		return fmt.Errorf("account store: %w", err)
	}
	defer acc.Close()
	password, err := seedDemoAccount(ctx, acc)
	if err != nil {
		ln.Close()
		return err
	}

	logger := newLogger(stderr, "info")
	return serveGatewayOn(ctx, cfg, session.NewMemoryStore(nil), acc, logger, ln, func(string) {
		fmt.Fprintf(stdout, "unigate demo: memory sessions, SQLite in %s, two demo consoles\n", dir)
		fmt.Fprintf(stdout, "portal: http://account.localhost:%s/login\n", port)
		fmt.Fprintf(stdout, "email: %s\n", demoEmail)
		fmt.Fprintf(stdout, "password: %s\n", password)
		fmt.Fprintf(stdout, "consoles: http://dedibox.localhost:%s/ and http://scaleway.localhost:%s/\n", port, port)
		fmt.Fprintf(stdout, "mail (sign-in codes): .eml files in %s\n", cfg.Mail.Dir)
		fmt.Fprintf(stdout, "(*.localhost resolves to 127.0.0.1 in browsers; with curl use --resolve or a Host header)\n")
	})
}

// demoConfig is a complete configuration for the demo, validated like any other.
func demoConfig(dir, listen, port, dediboxURL, scalewayURL string) (*config.Config, error) {
	keyPath := filepath.Join(dir, "session.key")
	sk := make([]byte, 64)
	rand.Read(sk)
	if err := os.WriteFile(keyPath, sk, 0o600); err != nil {
		return nil, err
	}
	pemPath := filepath.Join(dir, "signing.pem")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(pemPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	cfg := &config.Config{
		Listen:    listen,
		PublicURL: "http://account.localhost:" + port,
		Secrets:   config.Secrets{SessionKeyFile: keyPath, SigningKeyFile: pemPath},
		Session:   config.Session{Store: "memory"},
		Accounts:  config.Accounts{Driver: "sqlite", DSN: filepath.Join(dir, "accounts.db")},
		// Mail lands as .eml files that a newcomer can open (codes never go to a log).
		Mail:  config.Mail{Transport: "file", Dir: filepath.Join(dir, "mail"), From: "Accounts <no-reply@account.localhost>"},
		Login: config.Login{LegacyLoginCutoff: "2025-10-28"},
		Consoles: []config.Console{
			// Billing asks for a fresh proof (CONTRACT §11): open
			// http://dedibox.localhost:PORT/billing/ more than 10 minutes
			// after signing in to see the step-up page.
			{ID: "dedibox", Name: "Dedibox", Hosts: []string{"dedibox.localhost"}, Upstream: dediboxURL,
				PublicPaths: []string{"/api/"},
				StepUp:      []config.StepUp{{PathPrefix: "/billing/", MaxAge: 10 * time.Minute}}},
			{ID: "scaleway", Name: "Scaleway", Hosts: []string{"scaleway.localhost"}, Upstream: scalewayURL,
				PublicPaths: []string{"/api/"}},
		},
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("demo configuration: %w", err)
	}
	return cfg, nil
}

// seedDemoAccount creates the demo account with an account in each console
// and returns its freshly drawn password.
func seedDemoAccount(ctx context.Context, acc accounts.Store) (string, error) {
	b := make([]byte, 12)
	rand.Read(b)
	password := "demo-" + base64.RawURLEncoding.EncodeToString(b)
	hash, err := accounts.NewHasher(1).Hash(ctx, password)
	if err != nil {
		return "", err
	}
	a := &accounts.Account{Email: demoEmail, EmailVerified: true, PasswordHash: hash}
	err = acc.CreateAccount(ctx, a, []accounts.ConsoleAccount{
		{Console: "dedibox", ExternalID: "dedibox-1001"},
		{Console: "scaleway", ExternalID: "scw-2002"},
	})
	if err != nil {
		return "", fmt.Errorf("seed demo account: %w", err)
	}
	return password, nil
}

// demoConsole is a stand-in console: it shows the identity it was sent.
type demoConsole struct {
	URL string
	srv *http.Server
}

func (d *demoConsole) Close() error { return d.srv.Close() }

func startDemoConsole(name, otherID, otherName string) (*demoConsole, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"console": name, "public": true, "path": r.URL.Path,
			"identity_headers": len(identityHeaders(r.Header))})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		demoPage.Execute(w, demoPageData{
			Name: name, OtherID: otherID, OtherName: otherName, Path: r.URL.RequestURI(),
			Headers: identityHeaders(r.Header), Claims: assertionClaims(r.Header.Get("X-Auth-Assertion")),
		})
	})
	srv := &http.Server{Handler: mux}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "demo console:", err)
		}
	}()
	return &demoConsole{URL: "http://" + ln.Addr().String(), srv: srv}, nil
}

type headerRow struct{ Name, Value string }

type demoPageData struct {
	Name, OtherID, OtherName, Path string
	Headers                        []headerRow
	Claims                         string
}

func identityHeaders(h http.Header) []headerRow {
	var rows []headerRow
	for k, vs := range h {
		if strings.HasPrefix(k, "X-Auth-") || strings.HasPrefix(k, "X-Forwarded-") || k == "X-Request-Id" {
			v := strings.Join(vs, ", ")
			if k == "X-Auth-Assertion" && len(v) > 40 {
				v = v[:40] + "…"
			}
			rows = append(rows, headerRow{k, v})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	return rows
}

// assertionClaims shows the JWT payload as the console would read it
// (a real console verifies it against /.well-known/jwks.json first).
func assertionClaims(jwt string) string {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var v any
	if json.Unmarshal(payload, &v) != nil {
		return ""
	}
	out, _ := json.MarshalIndent(v, "", "  ")
	return string(out)
}

var demoPage = template.Must(template.New("demo").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Name}} console (demo)</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#1d1b2f}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.35rem;text-align:left;font-family:ui-monospace,monospace;font-size:.85rem;word-break:break-all}
pre{background:#f5f4f9;padding:1rem;overflow:auto}nav a,nav button{margin-right:1rem}</style></head>
<body><h1>{{.Name}} console <small>(demo upstream)</small></h1>
<p>You reached <code>{{.Path}}</code>. This is what the gateway told this console about you:</p>
<table><tr><th>Header</th><th>Value</th></tr>{{range .Headers}}<tr><td>{{.Name}}</td><td>{{.Value}}</td></tr>{{end}}</table>
{{if .Claims}}<h2>X-Auth-Assertion claims</h2><pre>{{.Claims}}</pre>{{end}}
<nav><a href="/.auth/switch/{{.OtherID}}">Switch to {{.OtherName}}</a>
<form method="post" action="/.auth/logout" style="display:inline"><button type="submit">Sign out</button></form></nav>
</body></html>`))
