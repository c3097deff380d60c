package gateway

import (
	"net/http"
	"testing"

	"unigate/config"
)

// TestCloseIdleConnections: a gateway replaced by a reload closes the idle
// connections to its upstreams, whatever its consoles' shapes (a host, a
// path_prefix mount, or only a mount), and keeps serving what it still has.
func TestCloseIdleConnections(t *testing.T) {
	h := newHarness(t, func(c *config.Config) {
		c.Consoles[0].PathPrefix = "/dedibox/"
		c.Consoles[1].PathPrefix, c.Consoles[1].Hosts = "/scaleway/", nil
	})
	b := h.browser()
	if r := b.do("GET", dediboxURL+"/api/x", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("public path: got %d", r.StatusCode)
	}
	h.gw.CloseIdleConnections()
	if r := b.do("GET", dediboxURL+"/api/y", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("after closing the idle connections: got %d, want 200 on a new one", r.StatusCode)
	}
}
