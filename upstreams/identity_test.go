package upstreams

import (
	"net/http"
	"testing"
)

func TestSetIdentityHeaders(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Identity)
		want   map[string]string // "" : header absent
	}{
		{"full", func(*Identity) {}, map[string]string{
			HeaderUserID:           "6f1c1b1e-1111-4a4a-9b9b-000000000001",
			HeaderEmail:            "alice@example.test",
			HeaderConsole:          "dedibox",
			HeaderConsoleAccountID: "12345",
			HeaderOrganizationID:   "org-1",
			HeaderOrganizationRole: "admin",
			HeaderMFA:              "totp",
			HeaderPrelinked:        "true",
			HeaderSessionID:        "sess-opaque-1",
			HeaderAssertion:        "a.b.c",
			HeaderAuthTime:         "1780000000",
		}},
		{"no proof time", func(id *Identity) { id.AuthTime = 0 }, map[string]string{HeaderAuthTime: ""}},
		{"no organization", func(id *Identity) { id.OrganizationID = "" }, map[string]string{
			HeaderOrganizationID:   "",
			HeaderOrganizationRole: "",
			HeaderUserID:           "6f1c1b1e-1111-4a4a-9b9b-000000000001",
		}},
		{"not prelinked, no mfa", func(id *Identity) { id.Prelinked = false; id.MFA = "" }, map[string]string{
			HeaderPrelinked: "false",
			HeaderMFA:       "none",
		}},
		{"passkey", func(id *Identity) { id.MFA = "passkey" }, map[string]string{HeaderMFA: "passkey"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := testIdentity()
			tc.mutate(id)
			h := http.Header{
				HeaderUserID:           {"spoofed", "twice"},
				HeaderOrganizationID:   {"spoofed-org"},
				HeaderOrganizationRole: {"owner"},
				HeaderAuthTime:         {"1"},
			}
			SetIdentityHeaders(h, id, "a.b.c")
			for name, want := range tc.want {
				got, ok := h[name]
				if want == "" {
					if ok {
						t.Errorf("%s = %q, want absent", name, got)
					}
					continue
				}
				if len(got) != 1 || got[0] != want {
					t.Errorf("%s = %q, want [%q]", name, got, want)
				}
			}
			// The wire spelling of the contract is case-insensitive.
			if h.Get("X-Auth-MFA") == "" {
				t.Error("X-Auth-MFA not found by Get")
			}
			if id.AuthTime != 0 && h.Get("x-auth-auth-time") == "" {
				t.Error("X-Auth-Auth-Time not found by Get")
			}
		})
	}
}

// TestSetIdentityHeadersRefuses: a value with CR, LF or NUL means no
// identity at all, not a partial one.
func TestSetIdentityHeadersRefuses(t *testing.T) {
	cases := map[string]func(*Identity) string{
		"crlf in email":      func(id *Identity) string { id.Email = "a@b.test\r\nX-Auth-User-Id: admin"; return "a.b.c" },
		"lf in console acct": func(id *Identity) string { id.ConsoleAccountID = "1\n2"; return "a.b.c" },
		"nul in session":     func(id *Identity) string { id.SessionID = "s\x00"; return "a.b.c" },
		"tab in user":        func(id *Identity) string { id.UserID = "u\t"; return "a.b.c" },
		"del in role":        func(id *Identity) string { id.OrganizationRole = "admin\x7f"; return "a.b.c" },
		"crlf in assertion":  func(*Identity) string { return "a.b.c\r\nX-Auth-User-Id: admin" },
		"unknown mfa":        func(id *Identity) string { id.MFA = "sms"; return "a.b.c" },
		"no user":            func(id *Identity) string { id.UserID = ""; return "a.b.c" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			id := testIdentity()
			assertion := mutate(id)
			h := http.Header{}
			SetIdentityHeaders(h, id, assertion)
			if len(h) != 0 {
				t.Errorf("headers set: %v", h)
			}
		})
	}
	h := http.Header{}
	SetIdentityHeaders(h, nil, "a.b.c")
	if len(h) != 0 {
		t.Errorf("nil identity set %v", h)
	}
}
