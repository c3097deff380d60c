package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestEveryPageRenders(t *testing.T) {
	r, err := NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	if len(r.pages) < 3 {
		t.Fatalf("only %d pages parsed", len(r.pages))
	}
	for name := range r.pages {
		var b strings.Builder
		// Templates must cope with a zero data value (missing fields never panic).
		if err := r.Render(&b, name, map[string]any{}); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		out := b.String()
		if !strings.HasPrefix(out, "<!doctype html>") || !strings.Contains(out, `<html lang="en">`) || !strings.Contains(out, `/static/portal.css`) {
			t.Errorf("%s: not a full page: %.200s", name, out)
		}
		if strings.Contains(out, "<script src=\"http") || strings.Contains(out, "https://") {
			t.Errorf("%s: refers to a third-party asset", name)
		}
	}
	if err := r.Render(io.Discard, "no-such-page", nil); err == nil {
		t.Error("unknown page rendered")
	}
}

func TestStaticAssets(t *testing.T) {
	srv := httptest.NewServer(http.StripPrefix("/static/", Static()))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/static/portal.css")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
		t.Fatalf("portal.css: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// Pages rendered with their real data types are checked in the gateway's
// tests; here every template must at least parse and run on empty data.
