package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"unigate/config"
)

// A console with a provisioning endpoint names its accounts: sign-up queues
// the request, the chooser says it is on its way, a failing endpoint is
// retried with backoff, and the answer becomes the console account.
func TestProvisioningEndpoint(t *testing.T) {
	var calls atomic.Int32
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req map[string]string
		json.NewDecoder(r.Body).Decode(&req)
		if calls.Add(1) == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		if req["account_id"] == "" || req["email"] != "new@example.com" || r.Header.Get("Idempotency-Key") == "" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"id": "scw-777"})
	}))
	defer endpoint.Close()
	h := newHarness(t, func(c *config.Config) { c.Consoles[1].Provisioning.URL = endpoint.URL })
	mailer := h.gw.mailer.(*recordingMailer)
	b := h.browser()
	b.do("POST", accountURL+"/api/v1/signup", map[string]string{"email": "new@example.com", "password": "a fine new passphrase"})
	if r := b.do("POST", accountURL+"/api/v1/signup/verify", map[string]string{"code": mailer.lastCode(t, "new@example.com")}); r.StatusCode != 200 {
		t.Fatalf("sign-up: %d %s", r.StatusCode, r.body)
	}
	r := b.do("GET", accountURL+"/api/v1/consoles", nil)
	if !strings.Contains(string(r.body), `"id":"scaleway","name":"Scaleway","accounts":[],"provisioning":true`) {
		t.Fatalf("chooser while provisioning: %s", r.body)
	}
	if r := b.do("POST", accountURL+"/api/v1/consoles/scaleway/enter", map[string]string{}); r.StatusCode != 409 || r.json(t)["error"] != "provisioning_pending" {
		t.Fatalf("enter while provisioning: %d %s", r.StatusCode, r.body)
	}
	if n := h.gw.ProvisionOnce(t.Context()); n != 1 || calls.Load() != 1 {
		t.Fatalf("first attempt: ran %d, endpoint called %d times", n, calls.Load())
	}
	if n := h.gw.ProvisionOnce(t.Context()); n != 0 {
		t.Fatalf("retried before its backoff: %d", n)
	}
	h.clock.Advance(10 * time.Second)
	if n := h.gw.ProvisionOnce(t.Context()); n != 1 {
		t.Fatalf("retry after backoff: %d", n)
	}
	b.enter("scaleway")
	b.do("GET", scalewayURL+"/", nil)
	if got := h.scaleway.last(t).Header.Get("X-Auth-Console-Account-Id"); got != "scw-777" {
		t.Fatalf("console account id: %q", got)
	}
	// Dedibox has no endpoint: the gateway named its account at sign-up.
	b.enter("dedibox")
}
