package sso_test

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"unigate/sso"
)

var callbackCases = []struct {
	query string
	want  error // nil: the flow goes on
}{
	{"code=abc&state=s", nil},
	{"code=abc", nil},
	{"error=access_denied&state=s", sso.ErrDenied},
	{"error=access_denied&error_description=The+user+denied&state=s", sso.ErrDenied},
	{"error=consent_required&state=s", sso.ErrDenied},
	{"error=interaction_required", sso.ErrDenied},
	{"error=login_required", sso.ErrDenied},
	{"error=account_selection_required", sso.ErrDenied},
	{"error=server_error&state=s", sso.ErrProviderUnavailable},
	{"error=temporarily_unavailable", sso.ErrProviderUnavailable},
	{"error=invalid_scope", sso.ErrProviderUnavailable},
	{"error=unauthorized_client", sso.ErrProviderUnavailable},
	{"error=redirect_uri_mismatch&error_description=x", sso.ErrProviderUnavailable},
	{"error=made_up", sso.ErrProviderUnavailable},
	// An error wins over a code: a callback carrying both is not a success.
	{"code=abc&error=access_denied", sso.ErrDenied},
	{"code=abc&error=server_error", sso.ErrProviderUnavailable},
	{"", sso.ErrInvalidCode},
	{"state=s", sso.ErrInvalidCode},
	{"code=", sso.ErrInvalidCode},
	{"error=&code=", sso.ErrInvalidCode},
}

func TestCallbackError(t *testing.T) {
	t.Parallel()
	for _, tc := range callbackCases {
		q, err := url.ParseQuery(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		got := sso.CallbackError(q)
		if (tc.want == nil) != (got == nil) || (tc.want != nil && !errors.Is(got, tc.want)) {
			t.Errorf("CallbackError(%q) = %v, want %v", tc.query, got, tc.want)
		}
	}
}

// TestCallbackErrorBoundsDescription: error_description is anyone's text
// (the callback URL can be crafted); it reaches logs quoted and cut short.
func TestCallbackErrorBoundsDescription(t *testing.T) {
	t.Parallel()
	q := url.Values{"error": {"server_error"}, "error_description": {strings.Repeat("A", 10000) + "\n\x00<script>"}}
	err := sso.CallbackError(q)
	if msg := err.Error(); len(msg) > 600 || strings.ContainsAny(msg, "\n\x00") {
		t.Errorf("error message of %d bytes or with raw control characters: %.200q", len(msg), msg)
	}
}

func FuzzCallbackError(f *testing.F) {
	for _, tc := range callbackCases {
		f.Add(tc.query)
	}
	f.Fuzz(func(t *testing.T, query string) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		got := sso.CallbackError(q)
		switch {
		case got == nil:
			if q.Get("error") != "" || q.Get("code") == "" {
				t.Errorf("CallbackError(%q) = nil for a callback with an error or no code", query)
			}
		case !errors.Is(got, sso.ErrDenied) && !errors.Is(got, sso.ErrProviderUnavailable) && !errors.Is(got, sso.ErrInvalidCode):
			t.Errorf("CallbackError(%q) = %v, not one of the sentinels", query, got)
		case len(got.Error()) > 1200:
			t.Errorf("CallbackError(%q) message of %d bytes", query, len(got.Error()))
		}
	})
}

// TestRandomTokens: state, nonce and verifier are 256-bit base64url strings,
// fresh each time, and the verifier is what RFC 7636 §4.1 allows.
func TestRandomTokens(t *testing.T) {
	t.Parallel()
	shape := regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
	for name, gen := range map[string]func() string{
		"NewState": sso.NewState, "NewNonce": sso.NewNonce, "NewVerifier": sso.NewVerifier,
	} {
		seen := map[string]bool{}
		for range 1000 {
			s := gen()
			if !shape.MatchString(s) {
				t.Fatalf("%s() = %q, want 43 base64url characters", name, s)
			}
			if seen[s] {
				t.Fatalf("%s() repeated %q", name, s)
			}
			seen[s] = true
		}
	}
}
