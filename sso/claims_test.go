package sso

import (
	"encoding/json"
	"testing"
)

func TestClaimBool(t *testing.T) {
	t.Parallel()
	cases := []struct {
		raw            string
		value, present bool
	}{
		{"", false, false},
		{"null", false, false},
		{" null ", false, false},
		{"true", true, true},
		{"false", false, true},
		{`"true"`, true, true},
		{`"TRUE"`, true, true},
		{`"false"`, false, true},
		{`"yes"`, false, true},
		{`"1"`, false, true},
		{"1", false, true},
		{"0", false, true},
		{"{}", false, true},
		{"[true]", false, true},
	}
	for _, tc := range cases {
		value, present := claimBool(json.RawMessage(tc.raw))
		if value != tc.value || present != tc.present {
			t.Errorf("claimBool(%s) = %v, %v; want %v, %v", tc.raw, value, present, tc.value, tc.present)
		}
	}
}

func TestIsTenantID(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		MicrosoftConsumerTenant:                 true,
		"72f988bf-86f1-41af-91ab-2d7cd011db47":  true,
		"72F988BF-86F1-41AF-91AB-2D7CD011DB47":  false,
		"72f988bf86f141af91ab2d7cd011db47":      false,
		"72f988bf-86f1-41af-91ab-2d7cd011db4":   false,
		"72f988bf-86f1-41af-91ab-2d7cd011db477": false,
		"72f988bf-86f1-41af-91ab_2d7cd011db47":  false,
		"72f988bg-86f1-41af-91ab-2d7cd011db47":  false,
		"../../../../../../../../../../../../x": false,
		"common":                                false,
		"":                                      false,
	} {
		if got := isTenantID(s); got != want {
			t.Errorf("isTenantID(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestMicrosoftIdentityRule is the decision table of the package
// documentation, on the claims alone.
func TestMicrosoftIdentityRule(t *testing.T) {
	t.Parallel()
	const work = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	cases := []struct {
		name     string
		claims   idClaims
		verified bool
	}{
		{"edov true", idClaims{Email: "a@x.example", TenantID: work, EDOV: json.RawMessage("true")}, true},
		{"edov false", idClaims{Email: "a@x.example", TenantID: work, EDOV: json.RawMessage("false")}, false},
		{"no edov, work tenant", idClaims{Email: "a@x.example", TenantID: work}, false},
		{"no edov, work tenant, email_verified true", idClaims{Email: "a@x.example", TenantID: work,
			EmailVerified: json.RawMessage("true")}, false},
		{"no edov, consumer tenant", idClaims{Email: "a@x.example", TenantID: MicrosoftConsumerTenant}, true},
		{"edov false, consumer tenant", idClaims{Email: "a@x.example", TenantID: MicrosoftConsumerTenant,
			EDOV: json.RawMessage("false")}, false},
		{"edov true, no email", idClaims{TenantID: work, EDOV: json.RawMessage("true")}, false},
		{"consumer tenant, no email", idClaims{TenantID: MicrosoftConsumerTenant}, false},
	}
	for _, tc := range cases {
		id, err := microsoftIdentity("sub", &tc.claims)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if id.EmailVerified != tc.verified || id.Subject != tc.claims.TenantID+"/sub" || id.Provider != Microsoft {
			t.Errorf("%s: identity = %+v, want verified %v", tc.name, *id, tc.verified)
		}
	}
	if _, err := microsoftIdentity("sub", &idClaims{Email: "a@x.example", EDOV: json.RawMessage("true")}); err == nil {
		t.Error("no tid: no error")
	}
}

func TestCheckVerifier(t *testing.T) {
	t.Parallel()
	ok := "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ-._~"
	for v, want := range map[string]bool{
		NewVerifier():             true,
		ok:                        true,
		ok[:43]:                   true,
		ok[:42]:                   false,
		string(make([]byte, 129)): false,
		ok[:42] + "+":             false,
		ok[:42] + " ":             false,
		ok[:42] + "é":             false,
		"":                        false,
	} {
		if got := checkVerifier(v) == nil; got != want {
			t.Errorf("checkVerifier(%q) ok = %v, want %v", v, got, want)
		}
	}
}
