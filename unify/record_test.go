package unify

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"unigate/accounts"
)

const bcryptOK = "$2y$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234"

// dediboxLines: lines of the Dedibox export and the reason each is refused
// ("" for a valid line).
var dediboxLines = []struct{ line, reason string }{
	{`{"id":"1","email":"a@example.com","password_hash":"` + bcryptOK + `","created_at":"2020-01-02T03:04:05Z"}`, ""},
	{`{"id":"1","email":"A@Example.com","password_hash":"` + bcryptOK + `","created_at":"2020-01-02T03:04:05.123+02:00","totp_secret":null,"sms_mfa_phone":"","linked_scaleway_account_id":"","linked_at":null,"unknown":{"kept":[1,2]}}`, ""},
	{`  {"id":"x y","email":"a@example.com","password_hash":"` + bcryptOK + `","created_at":"2020-01-02T03:04:05Z"}` + "\r", ""},
	{`{"id":"1","email":"a@example.com","password_hash":"` + bcryptOK + `","created_at":"2020-01-02T03:04:05Z"`, "malformed JSON"},
	{`not json`, "malformed JSON"},
	{`["1"]`, "not a JSON object"},
	{`"1"`, "not a JSON object"},
	{`{"email":"a@example.com","password_hash":"` + bcryptOK + `","created_at":"2020-01-02T03:04:05Z"}`, "missing id"},
	{`{"id":null,"email":"a@example.com","password_hash":"` + bcryptOK + `","created_at":"2020-01-02T03:04:05Z"}`, "missing id"},
	{`{"id":"","email":"a@example.com","password_hash":"` + bcryptOK + `","created_at":"2020-01-02T03:04:05Z"}`, "empty id"},
	{`{"id":1,"email":"a@example.com","password_hash":"` + bcryptOK + `","created_at":"2020-01-02T03:04:05Z"}`, "id is not a JSON string"},
	{`{"id":["1"],"email":"a@example.com","password_hash":"` + bcryptOK + `","created_at":"2020-01-02T03:04:05Z"}`, "id is not a JSON string"},
	{`{"ID":"1","email":"a@example.com","password_hash":"` + bcryptOK + `","created_at":"2020-01-02T03:04:05Z"}`, "missing id"},
	{`{"id":"1","id":"2","email":"a@example.com","password_hash":"` + bcryptOK + `","created_at":"2020-01-02T03:04:05Z"}`, `member "id" appears twice`},
	{`{"id":"a\u0000b","email":"a@example.com","password_hash":"` + bcryptOK + `","created_at":"2020-01-02T03:04:05Z"}`, "id: control character"},
	{`{"id":" 1","email":"a@example.com","password_hash":"` + bcryptOK + `","created_at":"2020-01-02T03:04:05Z"}`, "id: surrounding white space"},
	{`{"id":"` + strings.Repeat("9", 256) + `","email":"a@example.com","password_hash":"` + bcryptOK + `","created_at":"2020-01-02T03:04:05Z"}`, "id: longer than 255 bytes"},
	{`{"id":"1","password_hash":"` + bcryptOK + `","created_at":"2020-01-02T03:04:05Z"}`, "missing email"},
	{`{"id":"1","email":"a@@example.com","password_hash":"` + bcryptOK + `","created_at":"2020-01-02T03:04:05Z"}`, "invalid email: more than one @"},
	{`{"id":"1","email":"a\u200b@example.com","password_hash":"` + bcryptOK + `","created_at":"2020-01-02T03:04:05Z"}`, "invalid email: invisible format character"},
	{`{"id":"1","email":"a@example.com.","password_hash":"` + bcryptOK + `","created_at":"2020-01-02T03:04:05Z"}`, "invalid email: domain ends with a dot"},
	{`{"id":"1","email":"a@example.com","created_at":"2020-01-02T03:04:05Z"}`, "missing password_hash"},
	{`{"id":"1","email":"a@example.com","password_hash":"","created_at":"2020-01-02T03:04:05Z"}`, "empty password_hash"},
	{`{"id":"1","email":"a@example.com","password_hash":"$1$md5$abc","created_at":"2020-01-02T03:04:05Z"}`, "invalid password_hash: unknown scheme"},
	{`{"id":"1","email":"a@example.com","password_hash":"$2y$99$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234","created_at":"2020-01-02T03:04:05Z"}`, "invalid password_hash: bcrypt: cost out of bounds"},
	{`{"id":"1","email":"a@example.com","password_hash":"` + bcryptOK + `"}`, "missing created_at"},
	{`{"id":"1","email":"a@example.com","password_hash":"` + bcryptOK + `","created_at":"2020-01-02 03:04:05"}`, "created_at is not an RFC 3339 time"},
	{`{"id":"1","email":"a@example.com","password_hash":"` + bcryptOK + `","created_at":"2021-02-30T00:00:00Z"}`, "created_at is not an RFC 3339 time"},
	{`{"id":"1","email":"a@example.com","password_hash":"` + bcryptOK + `","created_at":1600000000}`, "created_at is not a JSON string"},
	{`{"id":"1","email":"a@example.com","password_hash":"` + bcryptOK + `","created_at":"2020-01-02T03:04:05Z","linked_at":"yesterday"}`, "linked_at is not an RFC 3339 time"},
	{`{"id":"1","email":"a@example.com","password_hash":"` + bcryptOK + `","created_at":"2020-01-02T03:04:05Z","linked_scaleway_account_id":7}`, "linked_scaleway_account_id is not a JSON string"},
	{`{"id":"1","email":"a@example.com","password_hash":"` + bcryptOK + `","created_at":"2020-01-02T03:04:05Z","totp_secret":"abc!"}`, "invalid totp_secret: not base32"},
	{`{"id":"1","email":"a@example.com","password_hash":"` + bcryptOK + `","created_at":"2020-01-02T03:04:05Z","totp_secret":"JBSWY3DP"}`, "invalid totp_secret: 5 bytes"},
	{`{"id":"1","email":"a@example.com","password_hash":"` + bcryptOK + `","created_at":"2020-01-02T03:04:05Z","sms_mfa_phone":true}`, "sms_mfa_phone is not a JSON string"},
	{"{\"id\":\"1\",\"email\":\"a@example.com\xff\",\"password_hash\":\"" + bcryptOK + "\",\"created_at\":\"2020-01-02T03:04:05Z\"}", "not valid UTF-8"},
}

func TestParseDediboxLine(t *testing.T) {
	for _, tc := range dediboxLines {
		r, err := ParseDediboxLine([]byte(tc.line))
		if checkOutcome(t, tc.line, tc.reason, err) && (r.Email != "a@example.com" || r.PasswordHash != bcryptOK) {
			t.Errorf("%s\n  parsed %+v", tc.line, r)
		}
	}
	r, err := ParseDediboxLine([]byte(`{"id":"7","email":"a@example.com","password_hash":"` + bcryptOK +
		`","totp_secret":"jbsw y3dp ehpk 3pxp===","sms_mfa_phone":"+33600000000","linked_scaleway_account_id":"s-1",` +
		`"linked_at":"2025-10-28T01:00:00+02:00","created_at":"2020-01-02T03:04:05Z","language":"fr_FR"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := DediboxRecord{ID: "7", Email: "a@example.com", PasswordHash: bcryptOK, TOTPSecret: "JBSWY3DPEHPK3PXP",
		SMSPhone: "+33600000000", LinkedScalewayID: "s-1", LinkedAt: time.Date(2025, 10, 27, 23, 0, 0, 0, time.UTC),
		CreatedAt: time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC), Locale: "fr"}
	if *r != want {
		t.Errorf("parsed\n %+v\nwant\n %+v", *r, want)
	}
}

var scalewayLines = []struct{ line, reason string }{
	{`{"id":"s","email":"a@example.com","created_at":"2020-01-02T03:04:05Z"}`, ""},
	{`{"id":"s","email":"a@example.com","created_at":"2020-01-02T03:04:05Z","password_hash":null,"webauthn_credentials":[],"organizations":null}`, ""},
	{`{"id":"s","email":"a@example.com","created_at":"2020-01-02T03:04:05Z","password_hash":"$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"}`, ""},
	{`{"id":"s","email":"a@example.com","created_at":"2020-01-02T03:04:05Z","password_hash":"$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"}`, "invalid password_hash: argon2id: salt length out of bounds"},
	{`{"id":"s","email":"a@example.com","created_at":"2020-01-02T03:04:05Z","webauthn_credentials":{}}`, "webauthn_credentials is not a JSON array"},
	{`{"id":"s","email":"a@example.com","created_at":"2020-01-02T03:04:05Z","webauthn_credentials":[1]}`, "webauthn_credentials[0] is not a JSON object"},
	{`{"id":"s","email":"a@example.com","created_at":"2020-01-02T03:04:05Z","webauthn_credentials":[{"id":"AQID","public_key":"BAUG"}]}`, ""},
	{`{"id":"s","email":"a@example.com","created_at":"2020-01-02T03:04:05Z","webauthn_credentials":[{"id":"AQID","public_key":"BAUG","sign_count":4294967295,"aaguid":"adce0002-35bc-c60a-648b-0b25f1f05503","transports":["usb"]}]}`, ""},
	{`{"id":"s","email":"a@example.com","created_at":"2020-01-02T03:04:05Z","webauthn_credentials":[{"id":"AQID","public_key":"BAUG","aaguid":"rc4AAjW8xgpkiwsl8fBVAw"}]}`, ""},
	{`{"id":"s","email":"a@example.com","created_at":"2020-01-02T03:04:05Z","webauthn_credentials":[{"id":"AQI=","public_key":"BAUG"}]}`, "webauthn_credentials[0]: id is not base64url without padding"},
	{`{"id":"s","email":"a@example.com","created_at":"2020-01-02T03:04:05Z","webauthn_credentials":[{"id":"AQ+/","public_key":"BAUG"}]}`, "webauthn_credentials[0]: id is not base64url without padding"},
	{`{"id":"s","email":"a@example.com","created_at":"2020-01-02T03:04:05Z","webauthn_credentials":[{"id":"AQJ","public_key":"BAUG"}]}`, "webauthn_credentials[0]: id is not base64url without padding"},
	{`{"id":"s","email":"a@example.com","created_at":"2020-01-02T03:04:05Z","webauthn_credentials":[{"id":"AQID"}]}`, "webauthn_credentials[0]: missing public_key"},
	{`{"id":"s","email":"a@example.com","created_at":"2020-01-02T03:04:05Z","webauthn_credentials":[{"id":"AQID","public_key":"BAUG","sign_count":-1}]}`, "webauthn_credentials[0]: sign_count is not an integer"},
	{`{"id":"s","email":"a@example.com","created_at":"2020-01-02T03:04:05Z","webauthn_credentials":[{"id":"AQID","public_key":"BAUG","sign_count":4294967296}]}`, "webauthn_credentials[0]: sign_count is not an integer"},
	{`{"id":"s","email":"a@example.com","created_at":"2020-01-02T03:04:05Z","webauthn_credentials":[{"id":"AQID","public_key":"BAUG","aaguid":"nope"}]}`, "webauthn_credentials[0]: aaguid is neither"},
	{`{"id":"s","email":"a@example.com","created_at":"2020-01-02T03:04:05Z","webauthn_credentials":[{"id":"AQID","public_key":"BAUG","transports":[1]}]}`, "webauthn_credentials[0]: transports: want short strings"},
	{`{"id":"s","email":"a@example.com","created_at":"2020-01-02T03:04:05Z","webauthn_credentials":[{"id":"AQID","public_key":"BAUG"},{"id":"AQID","public_key":"BAUH"}]}`, "webauthn_credentials[1]: credential id appears twice"},
	{`{"id":"s","email":"a@example.com","created_at":"2020-01-02T03:04:05Z","organizations":[{"id":"o","name":"Acme","role":"owner"}]}`, ""},
	{`{"id":"s","email":"a@example.com","created_at":"2020-01-02T03:04:05Z","organizations":[{"id":"o","name":"Acme","role":"Owner"}]}`, "organizations[0]: role is not owner, admin or member"},
	{`{"id":"s","email":"a@example.com","created_at":"2020-01-02T03:04:05Z","organizations":[{"name":"Acme","role":"owner"}]}`, "organizations[0]: missing id"},
	{`{"id":"s","email":"a@example.com","created_at":"2020-01-02T03:04:05Z","organizations":[{"id":"o","name":"A\u0007","role":"owner"}]}`, "organizations[0]: name longer than"},
	{`{"id":"s","email":"a@example.com","created_at":"2020-01-02T03:04:05Z","organizations":[{"id":"o","role":"owner"},{"id":"o","role":"admin"}]}`, "organizations[1]: organization appears twice"},
	{`{"id":"s","email":"a@example.com","created_at":"2020-01-02T03:04:05Z","totp_secret":5}`, "totp_secret is not a JSON string"},
}

func TestParseScalewayLine(t *testing.T) {
	for _, tc := range scalewayLines {
		_, err := ParseScalewayLine([]byte(tc.line))
		checkOutcome(t, tc.line, tc.reason, err)
	}
	r, err := ParseScalewayLine([]byte(scalewayLines[7].line))
	if err != nil {
		t.Fatal(err)
	}
	c := r.WebAuthn[0]
	if !bytes.Equal(c.ID, []byte{1, 2, 3}) || !bytes.Equal(c.PublicKey, []byte{4, 5, 6}) || c.SignCount != 1<<32-1 ||
		len(c.AAGUID) != 16 || c.AAGUID[0] != 0xad || len(c.Transports) != 1 {
		t.Errorf("credential %+v", c)
	}
	r, _ = ParseScalewayLine([]byte(scalewayLines[8].line))
	if a := r.WebAuthn[0].AAGUID; len(a) != 16 || a[0] != 0xad {
		t.Errorf("base64url aaguid %x", a)
	}
}

// checkOutcome checks that line was refused for reason (a prefix of the
// refusal), or accepted when reason is "", and reports whether it was
// rightly accepted.
func checkOutcome(t *testing.T, line, reason string, err error) (accepted bool) {
	t.Helper()
	switch {
	case reason == "" && err != nil:
		t.Errorf("%s\n  refused: %v", line, err)
	case reason != "" && err == nil:
		t.Errorf("%s\n  accepted, want %q", line, reason)
	case reason != "" && !strings.HasPrefix(err.Error(), reason):
		t.Errorf("%s\n  reason %q, want %q", line, err, reason)
	}
	return reason == "" && err == nil
}

// FuzzParseDediboxLine: any input is refused or gives a record the store
// accepts as it is.
func FuzzParseDediboxLine(f *testing.F) {
	for _, tc := range dediboxLines {
		f.Add([]byte(tc.line))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := ParseDediboxLine(line)
		if err != nil {
			checkReason(t, err)
			return
		}
		checkID(t, r.ID)
		checkEmail(t, r.Email)
		if accounts.ValidHashFormat(r.PasswordHash) != nil || r.CreatedAt.IsZero() {
			t.Fatalf("accepted %+v", r)
		}
		if r.LinkedScalewayID != "" {
			checkID(t, r.LinkedScalewayID)
		}
	})
}

// FuzzParseScalewayLine: as FuzzParseDediboxLine.
func FuzzParseScalewayLine(f *testing.F) {
	for _, tc := range scalewayLines {
		f.Add([]byte(tc.line))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := ParseScalewayLine(line)
		if err != nil {
			checkReason(t, err)
			return
		}
		checkID(t, r.ID)
		checkEmail(t, r.Email)
		if r.PasswordHash != "" && accounts.ValidHashFormat(r.PasswordHash) != nil {
			t.Fatalf("accepted hash %q", r.PasswordHash)
		}
		seen := map[string]bool{}
		for _, c := range r.WebAuthn {
			if len(c.ID) == 0 || len(c.ID) > accounts.MaxCredentialIDBytes || len(c.PublicKey) == 0 ||
				(c.AAGUID != nil && len(c.AAGUID) != 16) || seen[string(c.ID)] {
				t.Fatalf("accepted credential %+v", c)
			}
			seen[string(c.ID)] = true
		}
		for _, o := range r.Organizations {
			checkID(t, o.ID)
			if roleRank[o.Role] == 0 || !utf8.ValidString(o.Name) || strings.ContainsRune(o.Name, 0) {
				t.Fatalf("accepted organization %+v", o)
			}
		}
	})
}

func checkReason(t *testing.T, err error) {
	if _, ok := err.(*RecordError); !ok || err.Error() == "" || !utf8.ValidString(err.Error()) || strings.ContainsRune(err.Error(), '\n') {
		t.Fatalf("refusal %T %q: want a one-line RecordError", err, err)
	}
}

func checkID(t *testing.T, id string) {
	if id == "" || badID(id) != "" || !utf8.ValidString(id) {
		t.Fatalf("accepted id %q", id)
	}
}

func checkEmail(t *testing.T, email string) {
	if n, err := accounts.NormalizeEmail(email); err != nil || n != email {
		t.Fatalf("accepted email %q (normalised %q, %v)", email, n, err)
	}
}
