package sso_test

import (
	"errors"
	"testing"

	"unigate/sso"
	"unigate/sso/ssotest"
)

// Tenants of the Microsoft tests.
const (
	victimTenant   = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	attackerTenant = "0b5c7a9e-1111-4c2d-9e8f-a0b1c2d3e4f5"
)

// TestMicrosoftEmailTrust is the nOAuth decision (package documentation):
// the email claim alone is never trusted; xms_edov decides, and a personal
// account of the consumer tenant without it (SECURITY.md family 7: another
// tenant asserting a victim's email).
func TestMicrosoftEmailTrust(t *testing.T) {
	t.Parallel()
	for _, multiTenant := range []bool{true, false} {
		name := "single issuer"
		var opts []ssotest.Option
		if multiTenant {
			name = "multi-tenant endpoint"
			opts = append(opts, ssotest.MultiTenant())
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			op := ssotest.StartOIDC(t, opts...)
			p := mustOIDC(t, sso.Microsoft, op.Config())
			cases := []struct {
				name     string
				claims   map[string]any
				email    string
				verified bool
			}{
				{"domain owner verified", map[string]any{"tid": victimTenant, "xms_edov": true}, "alice@victim.example", true},
				{"domain owner verified as a string", map[string]any{"tid": victimTenant, "xms_edov": "true"}, "alice@victim.example", true},
				{"nOAuth: another tenant sets the victim's email", map[string]any{"tid": attackerTenant}, "alice@victim.example", false},
				{"nOAuth with email_verified true", map[string]any{"tid": attackerTenant, "email_verified": true}, "alice@victim.example", false},
				{"domain owner not verified", map[string]any{"tid": attackerTenant, "xms_edov": false}, "alice@victim.example", false},
				{"domain owner not verified as a string", map[string]any{"tid": attackerTenant, "xms_edov": "false"}, "alice@victim.example", false},
				{"xms_edov of a strange type", map[string]any{"tid": attackerTenant, "xms_edov": 1}, "alice@victim.example", false},
				{"xms_edov null", map[string]any{"tid": attackerTenant, "xms_edov": nil}, "alice@victim.example", false},
				{"personal account", map[string]any{"tid": sso.MicrosoftConsumerTenant}, "bob@outlook.example", true},
				{"personal account, xms_edov false", map[string]any{"tid": sso.MicrosoftConsumerTenant, "xms_edov": false}, "bob@outlook.example", false},
			}
			for i, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					sub := "sub-" + string(rune('a'+i))
					// The email claim is set whatever the verdict: what is
					// tested is whether it is believed.
					op.QueueUser(ssotest.User{Subject: sub, Email: tc.email, EmailVerified: true, Claims: tc.claims})
					id, err := login(t, p, op.Client)
					if err != nil {
						t.Fatalf("Exchange: %v", err)
					}
					want := sso.Identity{
						Provider: sso.Microsoft, Subject: tc.claims["tid"].(string) + "/" + sub,
						Email: tc.email, EmailVerified: tc.verified,
					}
					if *id != want {
						t.Errorf("identity = %+v, want %+v", *id, want)
					}
				})
			}
		})
	}
}

// TestMicrosoftIdentityIsPerTenant: one sub in two tenants is two identities.
func TestMicrosoftIdentityIsPerTenant(t *testing.T) {
	t.Parallel()
	op := ssotest.StartOIDC(t, ssotest.MultiTenant())
	p := mustOIDC(t, sso.Microsoft, op.Config())
	var subjects []string
	for _, tid := range []string{victimTenant, attackerTenant} {
		op.QueueUser(ssotest.User{Subject: "same-sub", Claims: map[string]any{"tid": tid}})
		id, err := login(t, p, op.Client)
		if err != nil {
			t.Fatalf("Exchange: %v", err)
		}
		subjects = append(subjects, id.Subject)
	}
	if subjects[0] == subjects[1] {
		t.Errorf("subjects %q in two tenants are equal", subjects)
	}
}

// TestMicrosoftTenantIssuer: with the multi-tenant endpoint, iss must be the
// template with the token's own tid, and tid must be a tenant id.
func TestMicrosoftTenantIssuer(t *testing.T) {
	t.Parallel()
	op := ssotest.StartOIDC(t, ssotest.MultiTenant())
	p := mustOIDC(t, sso.Microsoft, op.Config())
	cases := []struct {
		name   string
		claims map[string]any
	}{
		{"iss of another tenant", map[string]any{"tid": attackerTenant, "iss": op.TenantIssuer(victimTenant)}},
		{"iss of the template itself", map[string]any{"tid": attackerTenant, "iss": op.Issuer + "/{tenantid}/v2.0"}},
		{"iss of the configured endpoint", map[string]any{"tid": attackerTenant, "iss": op.Issuer}},
		{"no tid", map[string]any{"iss": op.TenantIssuer(victimTenant)}},
		{"tid not a GUID", map[string]any{"tid": "common"}},
		{"tid in upper case", map[string]any{"tid": "72F988BF-86F1-41AF-91AB-2D7CD011DB47"}},
		{"tid with a path", map[string]any{"tid": "../" + victimTenant[3:]}},
		{"tid of another type", map[string]any{"tid": 7, "iss": op.TenantIssuer(victimTenant)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			op.QueueUser(ssotest.User{Subject: "s", Email: "alice@victim.example", Claims: tc.claims})
			if id, err := login(t, p, op.Client); !errors.Is(err, sso.ErrInvalidToken) {
				t.Fatalf("Exchange = %+v, %v; want ErrInvalidToken", id, err)
			}
		})
	}
}

// TestMicrosoftNeedsTenant: even behind a single-tenant issuer, a token
// without tid is refused (the subject is keyed by it).
func TestMicrosoftNeedsTenant(t *testing.T) {
	t.Parallel()
	op := ssotest.StartOIDC(t)
	p := mustOIDC(t, sso.Microsoft, op.Config())
	op.QueueUser(ssotest.User{Subject: "s", Email: "a@example.com", EmailVerified: true})
	if id, err := login(t, p, op.Client); !errors.Is(err, sso.ErrInvalidToken) {
		t.Fatalf("Exchange = %+v, %v; want ErrInvalidToken", id, err)
	}
}
