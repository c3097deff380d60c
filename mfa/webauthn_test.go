package mfa

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol"

	"unigate/accounts"
)

const (
	testRPID    = "account.example.com"
	testOrigin  = "https://account.example.com"
	testAccount = "6f1c2a44-93b0-4d56-a1e5-0c8d7e2b9f10"
	testEmail   = "alice@example.com"
)

// fakeClock is the injected clock: ceremonies expire without sleeping.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 11, 3, 9, 15, 0, 0, time.UTC)}
}

func mustWebAuthn(tb testing.TB, clock *fakeClock) *WebAuthn {
	tb.Helper()
	w, err := NewWebAuthn(Config{
		RPID:          testRPID,
		RPDisplayName: "Example",
		Origins:       []string{testOrigin, "https://console.account.example.com"},
		Now:           clock.Now,
	})
	if err != nil {
		tb.Fatalf("NewWebAuthn: %v", err)
	}
	return w
}

// mustRegister runs a whole registration of auth's credential for the test
// account and returns the record to store.
func mustRegister(tb testing.TB, w *WebAuthn, clock *fakeClock, auth *softAuthenticator, existing ...accounts.WebAuthnCredential) *accounts.WebAuthnCredential {
	tb.Helper()
	user := NewUser(testAccount, testEmail, existing)
	options, session, err := w.BeginRegistration(user)
	if err != nil {
		tb.Fatalf("BeginRegistration: %v", err)
	}
	cred, err := w.FinishRegistration(user, session, bytes.NewReader(auth.register(tb, options)), "Laptop", clock.Now())
	if err != nil {
		tb.Fatalf("FinishRegistration: %v", err)
	}
	return cred
}

func TestWebAuthnRegistrationAndLogin(t *testing.T) {
	clock := newClock()
	w := mustWebAuthn(t, clock)
	auth := newSoftAuthenticator(t, testRPID, testOrigin)
	cred := mustRegister(t, w, clock, auth)

	want := accounts.WebAuthnCredential{
		ID: auth.credID, AccountID: testAccount, Name: "Laptop", SignCount: 0, AAGUID: auth.aaguid,
		Transports: []string{"internal", "hybrid"}, AttestationType: "none", AttestationFormat: "none",
		UserPresent: true, UserVerified: true, CreatedAt: clock.Now(),
	}
	if !bytes.Equal(cred.ID, want.ID) || cred.AccountID != want.AccountID || cred.Name != want.Name ||
		cred.SignCount != want.SignCount || !bytes.Equal(cred.AAGUID, want.AAGUID) ||
		!slices.Equal(cred.Transports, want.Transports) || cred.AttestationType != want.AttestationType ||
		cred.AttestationFormat != want.AttestationFormat || cred.UserPresent != want.UserPresent ||
		cred.UserVerified != want.UserVerified || cred.BackupEligible || cred.BackupState ||
		!cred.CreatedAt.Equal(want.CreatedAt) || len(cred.PublicKey) == 0 {
		t.Errorf("registered credential =\n%+v\nwant\n%+v (and a public key)", *cred, want)
	}
	if !bytes.Equal(auth.userHandle, []byte(testAccount)) {
		t.Errorf("user handle given to the authenticator = %q, want the account id", auth.userHandle)
	}

	user := NewUser(testAccount, testEmail, []accounts.WebAuthnCredential{*cred})
	t.Run("SecondFactor", func(t *testing.T) {
		for i := uint32(1); i <= 3; i++ {
			options, session, err := w.BeginLogin(user)
			if err != nil {
				t.Fatalf("BeginLogin: %v", err)
			}
			id, count, clone, err := w.FinishLogin(user, session, bytes.NewReader(auth.assert(t, options)), clock.Now())
			if err != nil {
				t.Fatalf("FinishLogin: %v", err)
			}
			if !bytes.Equal(id, auth.credID) || count != auth.counter || clone {
				t.Errorf("FinishLogin = %x, %d, %v; want %x, %d, false", id, count, clone, auth.credID, auth.counter)
			}
		}
	})
	t.Run("Passwordless", func(t *testing.T) {
		options, session, err := w.BeginDiscoverableLogin()
		if err != nil {
			t.Fatalf("BeginDiscoverableLogin: %v", err)
		}
		var gotRawID, gotHandle []byte
		lookup := func(rawID, userHandle []byte) (*User, error) {
			gotRawID, gotHandle = rawID, userHandle
			return user, nil
		}
		account, id, count, clone, err := w.FinishDiscoverableLogin(session, bytes.NewReader(auth.assert(t, options)), lookup, clock.Now())
		if err != nil {
			t.Fatalf("FinishDiscoverableLogin: %v", err)
		}
		if account != testAccount || !bytes.Equal(id, auth.credID) || count != auth.counter || clone {
			t.Errorf("FinishDiscoverableLogin = %q, %x, %d, %v; want %q, %x, %d, false",
				account, id, count, clone, testAccount, auth.credID, auth.counter)
		}
		if !bytes.Equal(gotRawID, auth.credID) || string(gotHandle) != testAccount {
			t.Errorf("lookup called with %x, %q; want the credential id and the account id", gotRawID, gotHandle)
		}
	})
}

// ceremonyCase is one refusal: the authenticator or the caller misbehaves
// in one way, everything else being right.
type ceremonyCase struct {
	name   string
	tamper func(a *softAuthenticator)
	// offset moves the clock between Begin and Finish.
	offset time.Duration
	want   error
}

// refusals are the attacks of SECURITY.md family 6 and their neighbours.
var refusals = []ceremonyCase{
	{name: "WrongOrigin", tamper: func(a *softAuthenticator) { a.origin = "https://evil.example.net" }, want: ErrWebAuthn},
	{name: "LookalikeOrigin", tamper: func(a *softAuthenticator) { a.origin = "https://account.example.com.evil.net" }, want: ErrWebAuthn},
	{name: "OriginHTTP", tamper: func(a *softAuthenticator) { a.origin = "http://account.example.com" }, want: ErrWebAuthn},
	{name: "OriginOtherPort", tamper: func(a *softAuthenticator) { a.origin = "https://account.example.com:8443" }, want: ErrWebAuthn},
	{name: "OriginParentDomain", tamper: func(a *softAuthenticator) { a.origin = "https://example.com" }, want: ErrWebAuthn},
	{name: "WrongRPID", tamper: func(a *softAuthenticator) { a.rpID = "evil.example.net" }, want: ErrWebAuthn},
	{name: "ParentRPID", tamper: func(a *softAuthenticator) { a.rpID = "example.com" }, want: ErrWebAuthn},
	{name: "UVMissing", tamper: func(a *softAuthenticator) { a.flags = protocol.FlagUserPresent }, want: ErrWebAuthn},
	{name: "UPMissing", tamper: func(a *softAuthenticator) { a.flags = protocol.FlagUserVerified }, want: ErrWebAuthn},
	{name: "BackupStateWithoutEligible", tamper: func(a *softAuthenticator) { a.flags |= protocol.FlagBackupState }, want: ErrWebAuthn},
	{name: "WrongCeremonyType", tamper: func(a *softAuthenticator) { a.ceremonyType = "payment.get" }, want: ErrWebAuthn},
	{name: "Expired", offset: DefaultWebAuthnTimeout, want: ErrCeremony},
	{name: "ClockBeforeBegin", offset: -DefaultWebAuthnTimeout - time.Second, want: nil},
	{name: "JustInTime", offset: DefaultWebAuthnTimeout - time.Nanosecond, want: nil},
}

func TestWebAuthnRegistrationRefused(t *testing.T) {
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			clock := newClock()
			w := mustWebAuthn(t, clock)
			auth := newSoftAuthenticator(t, testRPID, testOrigin)
			user := NewUser(testAccount, testEmail, nil)
			options, session, err := w.BeginRegistration(user)
			if err != nil {
				t.Fatal(err)
			}
			if tc.tamper != nil {
				tc.tamper(auth)
			}
			body := auth.register(t, options)
			clock.advance(tc.offset)
			cred, err := w.FinishRegistration(user, session, bytes.NewReader(body), "x", clock.Now())
			checkRefusal(t, "FinishRegistration", err, tc.want)
			if err != nil && cred != nil {
				t.Errorf("FinishRegistration returned a credential with the error")
			}
		})
	}
}

func TestWebAuthnLoginRefused(t *testing.T) {
	cases := append(slices.Clone(refusals),
		ceremonyCase{name: "BadSignature", tamper: func(a *softAuthenticator) { a.badSignature = true }, want: ErrWebAuthn},
		ceremonyCase{name: "OtherUserHandle", tamper: func(a *softAuthenticator) { a.userHandle = []byte("someone-else") }, want: ErrWebAuthn},
	)
	for _, discoverable := range []bool{false, true} {
		name := "SecondFactor"
		if discoverable {
			name = "Passwordless"
		}
		t.Run(name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					clock := newClock()
					w := mustWebAuthn(t, clock)
					auth := newSoftAuthenticator(t, testRPID, testOrigin)
					user := NewUser(testAccount, testEmail, []accounts.WebAuthnCredential{*mustRegister(t, w, clock, auth)})
					begin, finish := loginFuncs(w, user, discoverable)
					options, session := begin(t)
					if tc.tamper != nil {
						tc.tamper(auth)
					}
					body := auth.assert(t, options)
					clock.advance(tc.offset)
					_, err := finish(session, body, clock.Now())
					checkRefusal(t, "Finish", err, tc.want)
				})
			}
		})
	}
}

// loginFuncs gives the second-factor or the passwordless login behind one
// shape; finish returns the sign count.
func loginFuncs(w *WebAuthn, user *User, discoverable bool) (
	begin func(tb testing.TB) (options, session []byte),
	finish func(session, body []byte, now time.Time) (uint32, error),
) {
	begin = func(tb testing.TB) ([]byte, []byte) {
		tb.Helper()
		var options, session []byte
		var err error
		if discoverable {
			options, session, err = w.BeginDiscoverableLogin()
		} else {
			options, session, err = w.BeginLogin(user)
		}
		if err != nil {
			tb.Fatalf("Begin: %v", err)
		}
		return options, session
	}
	finish = func(session, body []byte, now time.Time) (uint32, error) {
		if discoverable {
			lookup := func(_, handle []byte) (*User, error) {
				if string(handle) != user.AccountID() {
					return nil, errors.New("unknown user handle")
				}
				return user, nil
			}
			_, _, count, _, err := w.FinishDiscoverableLogin(session, bytes.NewReader(body), lookup, now)
			return count, err
		}
		_, count, _, err := w.FinishLogin(user, session, bytes.NewReader(body), now)
		return count, err
	}
	return begin, finish
}

func checkRefusal(tb testing.TB, what string, err, want error) {
	tb.Helper()
	if err != nil {
		tb.Logf("%s: %v", what, err) // why, when run with -v
	}
	switch {
	case want == nil && err != nil:
		tb.Errorf("%s: %v, want success", what, err)
	case want != nil && !errors.Is(err, want):
		tb.Errorf("%s: %v, want %v", what, err, want)
	}
}

// TestWebAuthnChallengeSingleUse: a response answers one ceremony. Replayed
// against any later ceremony (a new challenge) it is refused. Refusing the
// same session blob twice is the caller's half: it deletes the blob when it
// takes it (gateway's takeCeremony), since this package keeps no state.
func TestWebAuthnChallengeSingleUse(t *testing.T) {
	for _, discoverable := range []bool{false, true} {
		clock := newClock()
		w := mustWebAuthn(t, clock)
		auth := newSoftAuthenticator(t, testRPID, testOrigin)
		user := NewUser(testAccount, testEmail, []accounts.WebAuthnCredential{*mustRegister(t, w, clock, auth)})
		begin, finish := loginFuncs(w, user, discoverable)

		options, session := begin(t)
		captured := auth.assert(t, options)
		if _, err := finish(session, captured, clock.Now()); err != nil {
			t.Fatalf("discoverable=%v: first use: %v", discoverable, err)
		}
		_, next := begin(t)
		if _, err := finish(next, captured, clock.Now()); !errors.Is(err, ErrWebAuthn) {
			t.Errorf("discoverable=%v: response replayed on a new ceremony: %v, want ErrWebAuthn", discoverable, err)
		}
	}

	// The same for registration: an attestation answers one challenge.
	clock := newClock()
	w := mustWebAuthn(t, clock)
	auth := newSoftAuthenticator(t, testRPID, testOrigin)
	user := NewUser(testAccount, testEmail, nil)
	options, _, err := w.BeginRegistration(user)
	if err != nil {
		t.Fatal(err)
	}
	captured := auth.register(t, options)
	_, next, err := w.BeginRegistration(user)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.FinishRegistration(user, next, bytes.NewReader(captured), "x", clock.Now()); !errors.Is(err, ErrWebAuthn) {
		t.Errorf("attestation replayed on a new ceremony: %v, want ErrWebAuthn", err)
	}
}

// TestWebAuthnSessionBlob: a blob serves only its own kind of ceremony and
// must be one this package made.
func TestWebAuthnSessionBlob(t *testing.T) {
	clock := newClock()
	w := mustWebAuthn(t, clock)
	auth := newSoftAuthenticator(t, testRPID, testOrigin)
	cred := mustRegister(t, w, clock, auth)
	user := NewUser(testAccount, testEmail, []accounts.WebAuthnCredential{*cred})
	_, registration, err := w.BeginRegistration(user)
	if err != nil {
		t.Fatal(err)
	}
	loginOptions, login, err := w.BeginLogin(user)
	if err != nil {
		t.Fatal(err)
	}
	_, discoverable, err := w.BeginDiscoverableLogin()
	if err != nil {
		t.Fatal(err)
	}
	body := auth.assert(t, loginOptions)
	lookup := func(_, _ []byte) (*User, error) { return user, nil }
	now := clock.Now()

	var tampered map[string]any
	if err := json.Unmarshal(login, &tampered); err != nil {
		t.Fatal(err)
	}
	tampered["data"].(map[string]any)["challenge"] = ""
	noChallenge, _ := json.Marshal(tampered)

	for name, finish := range map[string]func() error{
		"registration blob to FinishLogin": func() error {
			_, _, _, err := w.FinishLogin(user, registration, bytes.NewReader(body), now)
			return err
		},
		"discoverable blob to FinishLogin": func() error {
			_, _, _, err := w.FinishLogin(user, discoverable, bytes.NewReader(body), now)
			return err
		},
		"login blob to FinishDiscoverableLogin": func() error {
			_, _, _, _, err := w.FinishDiscoverableLogin(login, bytes.NewReader(body), lookup, now)
			return err
		},
		"login blob to FinishRegistration": func() error {
			_, err := w.FinishRegistration(user, login, bytes.NewReader(body), "x", now)
			return err
		},
		"no blob": func() error { _, _, _, err := w.FinishLogin(user, nil, bytes.NewReader(body), now); return err },
		"not JSON": func() error {
			_, _, _, err := w.FinishLogin(user, []byte("garbage"), bytes.NewReader(body), now)
			return err
		},
		"empty object": func() error {
			_, _, _, err := w.FinishLogin(user, []byte("{}"), bytes.NewReader(body), now)
			return err
		},
		"empty challenge": func() error { _, _, _, err := w.FinishLogin(user, noChallenge, bytes.NewReader(body), now); return err },
	} {
		if err := finish(); !errors.Is(err, ErrCeremony) {
			t.Errorf("%s: %v, want ErrCeremony", name, err)
		}
	}
	// And the right blob still works.
	if _, _, _, err := w.FinishLogin(user, login, bytes.NewReader(body), now); err != nil {
		t.Errorf("the login blob itself: %v", err)
	}
}

// TestWebAuthnOwnership: a credential logs in only the account that holds it.
func TestWebAuthnOwnership(t *testing.T) {
	clock := newClock()
	w := mustWebAuthn(t, clock)
	alice := newSoftAuthenticator(t, testRPID, testOrigin)
	aliceCred := mustRegister(t, w, clock, alice)
	mallory := newSoftAuthenticator(t, testRPID, testOrigin)
	malloryCred := *mustRegister(t, w, clock, mallory)
	malloryCred.AccountID = "mallory"
	aliceUser := NewUser(testAccount, testEmail, []accounts.WebAuthnCredential{*aliceCred})
	malloryUser := NewUser("mallory", "mallory@example.com", []accounts.WebAuthnCredential{malloryCred})
	mallory.userHandle = []byte("mallory")

	// Second factor for alice, answered with mallory's credential: refused.
	options, session, err := w.BeginLogin(aliceUser)
	if err != nil {
		t.Fatal(err)
	}
	options = strip(t, options) // the browser would not offer mallory's credential: forge the answer
	_, _, _, err = w.FinishLogin(aliceUser, session, bytes.NewReader(mallory.assert(t, options)), clock.Now())
	checkRefusal(t, "alice's second factor with mallory's passkey", err, ErrWebAuthn)
	// A second-factor session of alice's finished for mallory.
	options, session, err = w.BeginLogin(aliceUser)
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, err = w.FinishLogin(malloryUser, session, bytes.NewReader(mallory.assert(t, strip(t, options))), clock.Now())
	checkRefusal(t, "alice's ceremony finished as mallory", err, ErrWebAuthn)

	// Passwordless: the lookup must resolve the handle to the credential's
	// owner; a lookup that answers another account is refused.
	for name, lookup := range map[string]func(_, _ []byte) (*User, error){
		"lookup answers another account": func(_, _ []byte) (*User, error) { return malloryUser, nil },
		"lookup fails":                   func(_, _ []byte) (*User, error) { return nil, accounts.ErrNotFound },
		"lookup finds nobody":            func(_, _ []byte) (*User, error) { return nil, nil },
		"account holds no passkey":       func(_, _ []byte) (*User, error) { return NewUser(testAccount, testEmail, nil), nil },
	} {
		options, session, err := w.BeginDiscoverableLogin()
		if err != nil {
			t.Fatal(err)
		}
		_, _, _, _, err = w.FinishDiscoverableLogin(session, bytes.NewReader(alice.assert(t, options)), lookup, clock.Now())
		checkRefusal(t, name, err, ErrWebAuthn)
	}
}

// strip removes allowCredentials from request options.
func strip(tb testing.TB, options []byte) []byte {
	tb.Helper()
	var opts map[string]map[string]any
	if err := json.Unmarshal(options, &opts); err != nil {
		tb.Fatal(err)
	}
	delete(opts["publicKey"], "allowCredentials")
	out, _ := json.Marshal(opts)
	return out
}

// TestWebAuthnSignCounter: a counter that does not increase is reported as a
// clone warning (WebAuthn §7.2 step 21) and the login is not refused; an
// authenticator that keeps 0 (most synced passkeys) raises none.
func TestWebAuthnSignCounter(t *testing.T) {
	for _, tc := range []struct {
		name      string
		stored    uint32
		next      uint32
		wantCount uint32
		wantClone bool
	}{
		{"Increasing", 5, 6, 6, false},
		{"Jump", 5, 1000, 1000, false},
		{"Backwards", 5, 4, 5, true},
		{"Equal", 5, 5, 5, true},
		{"ZeroAfterCounting", 5, 0, 5, true},
		{"AlwaysZero", 0, 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newClock()
			w := mustWebAuthn(t, clock)
			auth := newSoftAuthenticator(t, testRPID, testOrigin)
			cred := mustRegister(t, w, clock, auth)
			cred.SignCount = tc.stored
			cred.CloneWarning = true // an earlier warning is not this login's
			user := NewUser(testAccount, testEmail, []accounts.WebAuthnCredential{*cred})
			auth.counter, auth.frozen = tc.next, true
			for _, discoverable := range []bool{false, true} {
				begin, _ := loginFuncs(w, user, discoverable)
				options, session := begin(t)
				body := auth.assert(t, options)
				var count uint32
				var clone bool
				var err error
				if discoverable {
					lookup := func(_, _ []byte) (*User, error) { return user, nil }
					_, _, count, clone, err = w.FinishDiscoverableLogin(session, bytes.NewReader(body), lookup, clock.Now())
				} else {
					_, count, clone, err = w.FinishLogin(user, session, bytes.NewReader(body), clock.Now())
				}
				if err != nil || count != tc.wantCount || clone != tc.wantClone {
					t.Errorf("discoverable=%v: count %d, clone %v, err %v; want %d, %v, nil",
						discoverable, count, clone, err, tc.wantCount, tc.wantClone)
				}
			}
		})
	}
}

// TestWebAuthnBackupFlags: BE must stay what it was at registration
// (WebAuthn §7.2), except for imported credentials whose flags were never
// recorded (UserPresent false), which take the assertion's.
func TestWebAuthnBackupFlags(t *testing.T) {
	clock := newClock()
	w := mustWebAuthn(t, clock)
	auth := newSoftAuthenticator(t, testRPID, testOrigin)
	recorded := mustRegister(t, w, clock, auth) // BE=0 at registration
	imported := accounts.WebAuthnCredential{ID: recorded.ID, AccountID: testAccount, PublicKey: recorded.PublicKey, SignCount: 3}
	auth.flags |= protocol.FlagBackupEligible | protocol.FlagBackupState
	for _, tc := range []struct {
		name string
		cred accounts.WebAuthnCredential
		want error
	}{
		{"RecordedBEChanged", *recorded, ErrWebAuthn},
		{"ImportedTakesBE", imported, nil},
	} {
		user := NewUser(testAccount, testEmail, []accounts.WebAuthnCredential{tc.cred})
		for _, discoverable := range []bool{false, true} {
			begin, finish := loginFuncs(w, user, discoverable)
			options, session := begin(t)
			_, err := finish(session, auth.assert(t, options), clock.Now())
			checkRefusal(t, tc.name, err, tc.want)
		}
	}
}

func TestWebAuthnBeginLoginWithoutPasskeys(t *testing.T) {
	w := mustWebAuthn(t, newClock())
	if _, _, err := w.BeginLogin(NewUser(testAccount, testEmail, nil)); !errors.Is(err, ErrNoPasskeys) {
		t.Errorf("BeginLogin for an account without passkeys: %v, want ErrNoPasskeys", err)
	}
}

// TestWebAuthnCreationOptionsJSON: the options are what
// navigator.credentials.create expects under "publicKey" once the base64url
// members are ArrayBuffers (PublicKeyCredentialCreationOptionsJSON, WebAuthn
// L3 §5.1.8), with this package's policy in them.
func TestWebAuthnCreationOptionsJSON(t *testing.T) {
	clock := newClock()
	w := mustWebAuthn(t, clock)
	existing := accounts.WebAuthnCredential{ID: []byte("existing-credential"), AccountID: testAccount, PublicKey: []byte{1}, Transports: []string{"usb", "nfc"}, UserPresent: true}
	options, _, err := w.BeginRegistration(NewUser(testAccount, testEmail, []accounts.WebAuthnCredential{existing}))
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	mustUnmarshal(t, options, &top)
	if keys := sortedKeys(top); !slices.Equal(keys, []string{"publicKey"}) {
		t.Fatalf("top-level members %v, want only publicKey", keys)
	}
	var pk map[string]any
	mustUnmarshal(t, top["publicKey"], &pk)
	allowed := []string{"rp", "user", "challenge", "pubKeyCredParams", "timeout", "excludeCredentials",
		"authenticatorSelection", "hints", "attestation", "attestationFormats", "extensions"}
	for _, k := range sortedKeys(pk) {
		if !slices.Contains(allowed, k) {
			t.Errorf("publicKey has member %q, not in PublicKeyCredentialCreationOptionsJSON", k)
		}
	}
	var got struct {
		RP struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"rp"`
		User struct {
			ID          string `json:"id"`
			Name        string `json:"name"`
			DisplayName string `json:"displayName"`
		} `json:"user"`
		Challenge        string `json:"challenge"`
		PubKeyCredParams []struct {
			Type string `json:"type"`
			Alg  int    `json:"alg"`
		} `json:"pubKeyCredParams"`
		Timeout            int `json:"timeout"`
		ExcludeCredentials []struct {
			Type       string   `json:"type"`
			ID         string   `json:"id"`
			Transports []string `json:"transports"`
		} `json:"excludeCredentials"`
		AuthenticatorSelection map[string]any `json:"authenticatorSelection"`
		Attestation            string         `json:"attestation"`
	}
	mustUnmarshal(t, top["publicKey"], &got)
	if got.RP.ID != testRPID || got.RP.Name != "Example" {
		t.Errorf("rp = %+v, want id %q, name Example", got.RP, testRPID)
	}
	if string(mustB64(t, got.User.ID)) != testAccount || got.User.Name != testEmail || got.User.DisplayName != testEmail {
		t.Errorf("user = %+v, want id base64url(account id), name and displayName the email", got.User)
	}
	if c := mustB64(t, got.Challenge); len(c) < 16 {
		t.Errorf("challenge of %d bytes, want at least 16 (WebAuthn §13.4.3)", len(c))
	}
	var algs []int
	for _, p := range got.PubKeyCredParams {
		if p.Type != "public-key" {
			t.Errorf("pubKeyCredParams type %q", p.Type)
		}
		algs = append(algs, p.Alg)
	}
	if !slices.Equal(algs, []int{-7, -257, -8}) {
		t.Errorf("algorithms %v, want ES256, RS256, EdDSA (-7, -257, -8)", algs)
	}
	if got.Timeout != int(DefaultWebAuthnTimeout/time.Millisecond) {
		t.Errorf("timeout %d ms, want %d", got.Timeout, DefaultWebAuthnTimeout/time.Millisecond)
	}
	if len(got.ExcludeCredentials) != 1 || got.ExcludeCredentials[0].Type != "public-key" ||
		string(mustB64(t, got.ExcludeCredentials[0].ID)) != "existing-credential" ||
		!slices.Equal(got.ExcludeCredentials[0].Transports, []string{"usb", "nfc"}) {
		t.Errorf("excludeCredentials = %+v, want the existing credential with its transports", got.ExcludeCredentials)
	}
	wantSel := map[string]any{"residentKey": "required", "requireResidentKey": true, "userVerification": "required"}
	if len(got.AuthenticatorSelection) != len(wantSel) {
		t.Errorf("authenticatorSelection = %v, want %v", got.AuthenticatorSelection, wantSel)
	}
	for k, v := range wantSel {
		if got.AuthenticatorSelection[k] != v {
			t.Errorf("authenticatorSelection.%s = %v, want %v", k, got.AuthenticatorSelection[k], v)
		}
	}
	if got.Attestation != "none" {
		t.Errorf("attestation = %q, want none", got.Attestation)
	}
}

// TestWebAuthnRequestOptionsJSON: the same for navigator.credentials.get
// (PublicKeyCredentialRequestOptionsJSON).
func TestWebAuthnRequestOptionsJSON(t *testing.T) {
	clock := newClock()
	w := mustWebAuthn(t, clock)
	cred := accounts.WebAuthnCredential{ID: []byte("cred-1"), AccountID: testAccount, PublicKey: []byte{1}, Transports: []string{"internal"}, UserPresent: true}
	second, _, err := w.BeginLogin(NewUser(testAccount, testEmail, []accounts.WebAuthnCredential{cred}))
	if err != nil {
		t.Fatal(err)
	}
	passwordless, _, err := w.BeginDiscoverableLogin()
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		options []byte
		allow   []string
	}{
		"second factor": {second, []string{"cred-1"}},
		"passwordless":  {passwordless, nil},
	} {
		var top map[string]json.RawMessage
		mustUnmarshal(t, tc.options, &top)
		if keys := sortedKeys(top); !slices.Equal(keys, []string{"publicKey"}) {
			t.Fatalf("%s: top-level members %v, want only publicKey", name, keys)
		}
		var pk map[string]any
		mustUnmarshal(t, top["publicKey"], &pk)
		allowed := []string{"challenge", "timeout", "rpId", "allowCredentials", "userVerification", "hints", "extensions"}
		for _, k := range sortedKeys(pk) {
			if !slices.Contains(allowed, k) {
				t.Errorf("%s: publicKey has member %q, not in PublicKeyCredentialRequestOptionsJSON", name, k)
			}
		}
		var got struct {
			Challenge        string `json:"challenge"`
			RPID             string `json:"rpId"`
			UserVerification string `json:"userVerification"`
			Timeout          int    `json:"timeout"`
			AllowCredentials []struct {
				Type       string   `json:"type"`
				ID         string   `json:"id"`
				Transports []string `json:"transports"`
			} `json:"allowCredentials"`
		}
		mustUnmarshal(t, top["publicKey"], &got)
		if len(mustB64(t, got.Challenge)) < 16 || got.RPID != testRPID || got.UserVerification != "required" ||
			got.Timeout != int(DefaultWebAuthnTimeout/time.Millisecond) {
			t.Errorf("%s: %+v, want a challenge, rpId %q, userVerification required, timeout %v", name, got, testRPID, DefaultWebAuthnTimeout)
		}
		var ids []string
		for _, c := range got.AllowCredentials {
			if c.Type != "public-key" {
				t.Errorf("%s: allowCredentials type %q", name, c.Type)
			}
			ids = append(ids, string(mustB64(t, c.ID)))
		}
		if !slices.Equal(ids, tc.allow) {
			t.Errorf("%s: allowCredentials %v, want %v", name, ids, tc.allow)
		}
		if _, ok := pk["allowCredentials"]; ok && tc.allow == nil {
			t.Errorf("%s: allowCredentials present (it would reveal the account's credentials)", name)
		}
	}
}

// TestWebAuthnChallengesDiffer: every ceremony has its own challenge.
func TestWebAuthnChallengesDiffer(t *testing.T) {
	w := mustWebAuthn(t, newClock())
	seen := map[string]bool{}
	for range 50 {
		options, _, err := w.BeginDiscoverableLogin()
		if err != nil {
			t.Fatal(err)
		}
		var o requestOptions
		mustUnmarshal(t, options, &o)
		if seen[o.PublicKey.Challenge] {
			t.Fatalf("challenge %q given twice", o.PublicKey.Challenge)
		}
		seen[o.PublicKey.Challenge] = true
	}
}

func TestNewWebAuthnValidates(t *testing.T) {
	good := Config{RPID: testRPID, RPDisplayName: "Example", Origins: []string{testOrigin}}
	for _, tc := range []struct {
		name   string
		mutate func(c *Config)
		ok     bool
	}{
		{"Good", func(c *Config) {}, true},
		{"Subdomain origin", func(c *Config) { c.Origins = []string{"https://www.account.example.com"} }, true},
		{"Origin with port", func(c *Config) { c.Origins = []string{"https://account.example.com:8443"} }, true},
		{"Localhost over http", func(c *Config) {
			c.RPID, c.Origins = "account.localhost", []string{"http://account.localhost:8080"}
		}, true},
		{"Plain localhost", func(c *Config) { c.RPID, c.Origins = "localhost", []string{"http://localhost:8080"} }, true},
		{"No RPID", func(c *Config) { c.RPID = "" }, false},
		{"RPID with scheme", func(c *Config) { c.RPID = "https://account.example.com" }, false},
		{"RPID with port", func(c *Config) { c.RPID = "account.example.com:443" }, false},
		{"RPID upper case", func(c *Config) { c.RPID = "Account.example.com" }, false},
		{"RPID an IP", func(c *Config) { c.RPID, c.Origins = "127.0.0.1", []string{"https://127.0.0.1"} }, false},
		{"No name", func(c *Config) { c.RPDisplayName = " " }, false},
		{"No origins", func(c *Config) { c.Origins = nil }, false},
		{"Origin over http", func(c *Config) { c.Origins = []string{"http://account.example.com"} }, true},
		{"Origin of another scheme", func(c *Config) { c.Origins = []string{"ftp://account.example.com"} }, false},
		{"Origin with a slash", func(c *Config) { c.Origins = []string{testOrigin + "/"} }, false},
		{"Origin on another domain", func(c *Config) { c.Origins = []string{"https://console.online.net"} }, false},
		{"Origin look-alike", func(c *Config) { c.Origins = []string{"https://evilaccount.example.com"} }, false},
		{"Origin parent domain", func(c *Config) { c.Origins = []string{"https://example.com"} }, false},
		{"Origin with path", func(c *Config) { c.Origins = []string{testOrigin + "/login"} }, false},
		{"Origin with user", func(c *Config) { c.Origins = []string{"https://u@account.example.com"} }, false},
		{"Origin without scheme", func(c *Config) { c.Origins = []string{"account.example.com"} }, false},
		{"Negative timeout", func(c *Config) { c.Timeout = -time.Second }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			c.Origins = slices.Clone(good.Origins)
			tc.mutate(&c)
			_, err := NewWebAuthn(c)
			if (err == nil) != tc.ok {
				t.Errorf("NewWebAuthn(%+v) error = %v, want ok=%v", c, err, tc.ok)
			}
		})
	}
}

// TestWebAuthnTimeout: Config.Timeout reaches the browser and the blob.
func TestWebAuthnTimeout(t *testing.T) {
	clock := newClock()
	w, err := NewWebAuthn(Config{RPID: testRPID, RPDisplayName: "x", Origins: []string{testOrigin}, Timeout: time.Minute, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	auth := newSoftAuthenticator(t, testRPID, testOrigin)
	options, session, err := w.BeginRegistration(NewUser(testAccount, testEmail, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(options), `"timeout":60000`) {
		t.Errorf("options %s, want timeout 60000", options)
	}
	body := auth.register(t, options)
	clock.advance(time.Minute)
	if _, err := w.FinishRegistration(NewUser(testAccount, testEmail, nil), session, bytes.NewReader(body), "x", clock.Now()); !errors.Is(err, ErrCeremony) {
		t.Errorf("a minute later: %v, want ErrCeremony", err)
	}
}

// TestWebAuthnMalformedResponses: junk bodies are refused, never a panic.
func TestWebAuthnMalformedResponses(t *testing.T) {
	clock := newClock()
	w := mustWebAuthn(t, clock)
	auth := newSoftAuthenticator(t, testRPID, testOrigin)
	user := NewUser(testAccount, testEmail, []accounts.WebAuthnCredential{*mustRegister(t, w, clock, auth)})
	huge := `{"id":"` + strings.Repeat("A", maxResponseBytes) + `"}`
	for _, body := range []string{"", "null", "{}", "[]", `{"id":"x","rawId":"x","type":"public-key"}`, huge,
		`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"","signature":""}}`} {
		_, session, err := w.BeginLogin(user)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := w.FinishLogin(user, session, strings.NewReader(body), clock.Now()); !errors.Is(err, ErrWebAuthn) {
			t.Errorf("FinishLogin(%.40q): %v, want ErrWebAuthn", body, err)
		}
		_, session, err = w.BeginRegistration(user)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.FinishRegistration(user, session, strings.NewReader(body), "x", clock.Now()); !errors.Is(err, ErrWebAuthn) {
			t.Errorf("FinishRegistration(%.40q): %v, want ErrWebAuthn", body, err)
		}
	}
}

func mustUnmarshal(tb testing.TB, data []byte, v any) {
	tb.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		tb.Fatalf("%v\n%s", err, data)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
