package unify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/bcrypt"

	"unigate/accounts"
	"unigate/mfa"
)

// Real password hashes (cheap bcrypt) so that the tests can log in with
// them as the gateway does.
var (
	dediboxPassword, scalewayPassword = "dedibox password 1", "scaleway password 2"
	dediboxHash                       = mustBcrypt(dediboxPassword)
	scalewayHash                      = mustBcrypt(scalewayPassword)
)

func mustBcrypt(pw string) string {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), 4)
	if err != nil {
		panic(err)
	}
	return string(h)
}

const (
	dediboxTOTP  = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	scalewayTOTP = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU"
)

// line is a JSON object with id, email and created_at set, then fields.
func line(id, email string, fields ...any) string {
	m := map[string]any{"id": id, "email": email, "created_at": "2015-03-04T05:06:07Z"}
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i+1] == nil {
			delete(m, fields[i].(string))
			continue
		}
		m[fields[i].(string)] = fields[i+1]
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// ded is a Dedibox line with a password.
func ded(id, email string, fields ...any) string {
	return line(id, email, append([]any{"password_hash", dediboxHash}, fields...)...)
}

// scw is a Scaleway line with a password.
func scw(id, email string, fields ...any) string {
	return line(id, email, append([]any{"password_hash", scalewayHash}, fields...)...)
}

var credID = []byte("credential-one-0123456789")

func passkey() []map[string]any {
	return []map[string]any{{
		"id":         base64.RawURLEncoding.EncodeToString(credID),
		"public_key": base64.RawURLEncoding.EncodeToString([]byte("cose-key-bytes")),
		"sign_count": 42, "aaguid": "adce0002-35bc-c60a-648b-0b25f1f05503", "transports": []string{"usb", "nfc"},
	}}
}

// state is what a test reads back of one unified account.
type state struct {
	acct      *accounts.Account
	consoles  []accounts.ConsoleAccount
	totp      string // opened
	passkeys  []accounts.WebAuthnCredential
	notice    *noticeRow
	situation string
}

type noticeRow struct {
	to, kind, subject, text string
	priority                int
}

// stateOf reads the account of email (normalised) back from the store.
func stateOf(t *testing.T, st *testStore, email string) *state {
	t.Helper()
	ctx := context.Background()
	a, err := st.AccountByEmail(ctx, email)
	if err != nil {
		t.Fatalf("AccountByEmail(%q): %v", email, err)
	}
	s := &state{acct: a}
	if s.consoles, err = st.ConsoleAccounts(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	switch c, err := st.TOTPCredential(ctx, a.ID); {
	case errors.Is(err, accounts.ErrNotFound):
	case err != nil:
		t.Fatal(err)
	default:
		if !c.Confirmed {
			t.Errorf("imported TOTP secret not confirmed")
		}
		// The gateway opens it with the session key, the account id as AAD.
		secret, err := sealerForTest(t).Open(c.SecretSealed, []byte(a.ID))
		if err != nil {
			t.Fatalf("the TOTP secret does not open as the gateway opens it: %v", err)
		}
		s.totp = string(secret)
	}
	if s.passkeys, err = st.WebAuthnCredentials(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	s.notice = noticeOf(t, st, a.ID)
	return s
}

// noticeOf reads the account's notification from the outbox (stored as
// data, no body) and renders it as the mail sender will.
func noticeOf(t *testing.T, st *testStore, accountID string) *noticeRow {
	t.Helper()
	q := openSQL(t, st.driver, st.dsn)
	var n *noticeRow
	err := q(context.Background(), `SELECT dedup_key, recipient, kind, priority, raw, data, locale FROM outbox WHERE account_id = '`+accountID+`'`,
		func(scan func(...any) error) error {
			var key, locale string
			var raw, data []byte
			var prio int64
			r := &noticeRow{}
			if err := scan(&key, &r.to, &r.kind, &prio, &raw, &data, &locale); err != nil {
				return err
			}
			if len(raw) != 0 {
				t.Errorf("notice stored rendered (%d bytes), want its data only", len(raw))
			}
			raw, err := testRenderer.RenderStored(r.kind, locale, r.to, data)
			if err != nil {
				t.Fatalf("rendering the stored notice: %v", err)
			}
			if n != nil {
				t.Errorf("account %s has two notices", accountID)
			}
			if key != NoticeKey(accountID) {
				t.Errorf("notice key %q, want %q", key, NoticeKey(accountID))
			}
			r.priority = int(prio)
			r.subject, r.text = parseNotice(t, raw)
			n = r
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if n == nil {
		t.Fatalf("account %s has no notice", accountID)
	}
	return n
}

// parseNotice returns a message's decoded subject and its text/plain part.
func parseNotice(t *testing.T, raw []byte) (subject, text string) {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	subject, err = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // decodes quoted-printable
		if err != nil {
			t.Fatalf("no text/plain part: %v", err)
		}
		if strings.HasPrefix(part.Header.Get("Content-Type"), "text/plain") {
			b, err := io.ReadAll(part)
			if err != nil {
				t.Fatal(err)
			}
			return subject, strings.ReplaceAll(string(b), "\r\n", "\n")
		}
	}
}

func (s *state) console(console string) []accounts.ConsoleAccount {
	var out []accounts.ConsoleAccount
	for _, c := range s.consoles {
		if c.Console == console {
			out = append(out, c)
		}
	}
	return out
}

func (s *state) consoleIDs(console string) []string {
	var ids []string
	for _, c := range s.console(console) {
		ids = append(ids, c.ExternalID)
	}
	return ids
}

// login checks that password signs in to the account as the gateway checks
// it: the imported hash verified as is, and flagged for rehashing.
func (s *state) login(t *testing.T, password string) {
	t.Helper()
	ok, rehash, err := accounts.NewHasher(1).Verify(context.Background(), s.acct.PasswordHash, password)
	if err != nil || !ok || !rehash {
		t.Errorf("login with %q: ok %v, rehash %v, err %v; want ok and rehash", password, ok, rehash, err)
	}
}

// totpWorks checks that a code from secret passes the gateway's check.
func (s *state) totpWorks(t *testing.T, secret string) {
	t.Helper()
	if s.totp != secret {
		t.Fatalf("TOTP secret %q, want %q", s.totp, secret)
	}
	now := time.Now()
	code, err := totp.GenerateCode(secret, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := mfa.VerifyTOTP(s.totp, code, now); !ok {
		t.Errorf("a code of the imported secret is refused")
	}
}

type ruleCase struct {
	name               string
	dedibox, scaleway  []string
	report             func(r *Report) // adjusts a zero report to what is expected
	check              func(t *testing.T, st *testStore)
	wantRejectedLines  []int // Dedibox lines, then Scaleway lines + 1000
	wantRejectedReason string
}

// ruleCases: one case per rule of the unification FAQ (CONTRACT §8) and per
// situation of the report.
var ruleCases = []ruleCase{
	{
		name:     "rule 1: an explicit link wins over an email match",
		dedibox:  []string{ded("d1", "shared@example.com", "linked_scaleway_account_id", "s1", "linked_at", "2025-01-01T00:00:00Z")},
		scaleway: []string{scw("s1", "owner@example.com"), scw("s2", "shared@example.com")},
		report: func(r *Report) {
			r.DediboxRecords, r.ScalewayRecords, r.UnifiedAccounts, r.NotificationsQueued = 1, 2, 2, 2
			r.Situations.ScalewayAccount, r.Prelinked = 1, 1
		},
		check: func(t *testing.T, st *testStore) {
			s := stateOf(t, st, "owner@example.com")
			if got := s.consoleIDs("dedibox"); !slices.Equal(got, []string{"d1"}) {
				t.Errorf("linked account holds dedibox %v, want [d1]", got)
			}
			if got := s.consoleIDs("scaleway"); !slices.Equal(got, []string{"s1"}) {
				t.Errorf("linked account holds scaleway %v, want [s1]", got)
			}
			s.login(t, scalewayPassword)
			other := stateOf(t, st, "shared@example.com")
			if len(other.console("dedibox")) != 0 || !other.notice.has("Nothing changes") {
				t.Errorf("same-email Scaleway account took the linked Dedibox account, or was told something changed: %+v", other.notice)
			}
			if !s.notice.has("d1") || !s.notice.has("s1") {
				t.Errorf("notice does not name the joined accounts:\n%s", s.notice.text)
			}
		},
	},
	{
		name:     "rule 1: the same email in another case joins",
		dedibox:  []string{ded("d1", "  Alice.Smith@Example.COM ")},
		scaleway: []string{scw("s1", "alice.smith@example.com")},
		report:   oneJoined,
		check: func(t *testing.T, st *testStore) {
			s := stateOf(t, st, "alice.smith@example.com")
			if !slices.Equal(s.consoleIDs("dedibox"), []string{"d1"}) || !slices.Equal(s.consoleIDs("scaleway"), []string{"s1"}) {
				t.Errorf("consoles %+v, want d1 and s1", s.consoles)
			}
			if s.notice.subject != "Your Dedibox and Scaleway accounts are now one account" {
				t.Errorf("subject %q", s.notice.subject)
			}
		},
	},
	{
		name:     "rule 1: dots and +tags are kept: no match",
		dedibox:  []string{ded("d1", "alice+dedibox@example.com"), ded("d2", "a.lice@example.com")},
		scaleway: []string{scw("s1", "alice@example.com")},
		report: func(r *Report) {
			r.DediboxRecords, r.ScalewayRecords, r.UnifiedAccounts, r.NotificationsQueued = 2, 1, 3, 3
			r.Situations.NoScalewayAccount = 2
		},
		check: func(t *testing.T, st *testStore) {
			for _, e := range []string{"alice+dedibox@example.com", "a.lice@example.com"} {
				if s := stateOf(t, st, e); len(s.console("scaleway")) != 1 || s.console("scaleway")[0].ExternalID == "s1" {
					t.Errorf("%s: scaleway accounts %v, want a new one", e, s.consoleIDs("scaleway"))
				}
			}
		},
	},
	{
		name:    "rule 1: no Scaleway account: a new unified account and a new Scaleway account",
		dedibox: []string{ded("d1", "bob@example.com", "locale", "fr-FR")},
		report: func(r *Report) {
			r.DediboxRecords, r.UnifiedAccounts, r.NotificationsQueued = 1, 1, 1
			r.Situations.NoScalewayAccount = 1
		},
		check: func(t *testing.T, st *testStore) {
			s := stateOf(t, st, "bob@example.com")
			if got := s.consoleIDs("scaleway"); len(got) != 1 || got[0] != generatedScalewayID("bob@example.com") {
				t.Errorf("scaleway accounts %v, want the generated %s", got, generatedScalewayID("bob@example.com"))
			}
			s.login(t, dediboxPassword)
			if s.acct.PasswordSetRequired || s.acct.MFAEnrollRequired {
				t.Errorf("flags %+v, want none", s.acct)
			}
			if s.acct.Locale != "fr" || s.notice.subject != "Votre compte Dedibox ouvre désormais aussi Scaleway" {
				t.Errorf("locale %q, subject %q; want French", s.acct.Locale, s.notice.subject)
			}
			if !s.notice.has(generatedScalewayID("bob@example.com")) {
				t.Errorf("notice does not name the new Scaleway account:\n%s", s.notice.text)
			}
		},
	},
	{
		name:     "rule 2: the Scaleway password where there is a Scaleway account",
		dedibox:  []string{ded("d1", "carol@example.com")},
		scaleway: []string{scw("s1", "carol@example.com")},
		report:   oneJoined,
		check: func(t *testing.T, st *testStore) {
			stateOf(t, st, "carol@example.com").login(t, scalewayPassword)
		},
	},
	{
		name:     "rule 2: a Scaleway account without a password keeps the Dedibox one",
		dedibox:  []string{ded("d1", "dan@example.com")},
		scaleway: []string{scw("s1", "dan@example.com", "password_hash", nil)},
		report:   oneJoined,
		check: func(t *testing.T, st *testStore) {
			stateOf(t, st, "dan@example.com").login(t, dediboxPassword)
		},
	},
	{
		name:     "rule 2: no password at all: email code, then set a password",
		scaleway: []string{scw("s1", "erin@example.com", "password_hash", "")},
		report:   func(r *Report) { r.ScalewayRecords, r.UnifiedAccounts, r.NotificationsQueued = 1, 1, 1 },
		check: func(t *testing.T, st *testStore) {
			s := stateOf(t, st, "erin@example.com")
			if s.acct.PasswordHash != "" || !s.acct.PasswordSetRequired || s.acct.MFAEnrollRequired {
				t.Errorf("account %+v, want no password, password to set, no forced enrollment", s.acct)
			}
			if !s.notice.has("no password yet") {
				t.Errorf("notice does not say how to sign in:\n%s", s.notice.text)
			}
		},
	},
	{
		name:     "rule 3: the Scaleway second factors take precedence",
		dedibox:  []string{ded("d1", "fay@example.com", "totp_secret", dediboxTOTP)},
		scaleway: []string{scw("s1", "fay@example.com", "totp_secret", strings.ToLower(scalewayTOTP), "webauthn_credentials", passkey())},
		report:   oneJoined,
		check: func(t *testing.T, st *testStore) {
			s := stateOf(t, st, "fay@example.com")
			s.totpWorks(t, scalewayTOTP)
			if len(s.passkeys) != 1 {
				t.Fatalf("passkeys %+v, want 1", s.passkeys)
			}
			p := s.passkeys[0]
			if string(p.ID) != string(credID) || string(p.PublicKey) != "cose-key-bytes" || p.SignCount != 42 ||
				len(p.AAGUID) != 16 || !slices.Equal(p.Transports, []string{"usb", "nfc"}) || p.UserPresent {
				t.Errorf("passkey %+v: want the imported one, flags unrecorded (UserPresent false)", p)
			}
			if s.acct.MFAEnrollRequired || !s.notice.has("Scaleway second factor now protects") {
				t.Errorf("enroll %v; notice:\n%s", s.acct.MFAEnrollRequired, s.notice.text)
			}
		},
	},
	{
		name:     "rule 3: else the Dedibox TOTP is carried over, SMS beside it drops silently",
		dedibox:  []string{ded("d1", "gus@example.com", "totp_secret", "jbsw y3dp ehpk 3pxp jbsw y3dp ehpk 3pxp", "sms_mfa_phone", "+33600000000")},
		scaleway: []string{scw("s1", "gus@example.com")},
		report:   oneJoined,
		check: func(t *testing.T, st *testStore) {
			s := stateOf(t, st, "gus@example.com")
			s.totpWorks(t, dediboxTOTP)
			if s.acct.MFAEnrollRequired || s.notice.has("SMS") {
				t.Errorf("enroll %v, notice mentions SMS:\n%s", s.acct.MFAEnrollRequired, s.notice.text)
			}
		},
	},
	{
		name:     "rule 3: SMS as the only second factor: enroll another (sms_mfa_disabled)",
		dedibox:  []string{ded("d1", "hal@example.com", "sms_mfa_phone", "+33600000001"), ded("d2", "ivy@example.com", "sms_mfa_phone", "+33600000002")},
		scaleway: []string{scw("s1", "hal@example.com")},
		report: func(r *Report) {
			r.DediboxRecords, r.ScalewayRecords, r.UnifiedAccounts, r.NotificationsQueued = 2, 1, 2, 2
			r.Situations.SMSMFADisabled = 2
		},
		check: func(t *testing.T, st *testStore) {
			for _, e := range []string{"hal@example.com", "ivy@example.com"} {
				s := stateOf(t, st, e)
				if !s.acct.MFAEnrollRequired || s.acct.PasswordSetRequired || s.totp != "" {
					t.Errorf("%s: %+v, want enrollment forced only", e, s.acct)
				}
				if s.notice.subject != "Action needed: set up a new second factor" || !s.notice.has("SMS") {
					t.Errorf("%s: notice %q:\n%s", e, s.notice.subject, s.notice.text)
				}
			}
		},
	},
	{
		name:     "rule 3: SMS beside a Scaleway passkey drops silently",
		dedibox:  []string{ded("d1", "jan@example.com", "sms_mfa_phone", "+33600000003")},
		scaleway: []string{scw("s1", "jan@example.com", "webauthn_credentials", passkey())},
		report:   oneJoined,
		check: func(t *testing.T, st *testStore) {
			if s := stateOf(t, st, "jan@example.com"); s.acct.MFAEnrollRequired || len(s.passkeys) != 1 {
				t.Errorf("%+v, %d passkeys; want the passkey, no enrollment", s.acct, len(s.passkeys))
			}
		},
	},
	{
		name: "rule 4: several Dedibox accounts with one email: all erased, even the Scaleway account's",
		dedibox: []string{
			ded("d1", "Kim@example.com", "totp_secret", dediboxTOTP, "linked_scaleway_account_id", "s1", "linked_at", "2024-06-01T10:00:00+02:00"),
			ded("d2", "kim@EXAMPLE.com", "sms_mfa_phone", "+33600000004"),
			ded("d3", "kim@example.com"),
		},
		scaleway: []string{scw("s1", "kim@example.com", "totp_secret", scalewayTOTP, "webauthn_credentials", passkey())},
		report: func(r *Report) {
			r.DediboxRecords, r.ScalewayRecords, r.UnifiedAccounts, r.NotificationsQueued = 3, 1, 1, 1
			r.Situations.MultipleDediboxAccounts, r.Prelinked = 1, 1
		},
		check: func(t *testing.T, st *testStore) {
			s := stateOf(t, st, "kim@example.com")
			if s.acct.PasswordHash != "" || !s.acct.PasswordSetRequired || !s.acct.MFAEnrollRequired || s.totp != "" || len(s.passkeys) != 0 {
				t.Errorf("account %+v, totp %q, %d passkeys: want password and every second factor erased, both flags set",
					s.acct, s.totp, len(s.passkeys))
			}
			if got := s.consoleIDs("dedibox"); !slices.Equal(got, []string{"d1", "d2", "d3"}) {
				t.Errorf("dedibox accounts %v, want d1 d2 d3 (the console asks which)", got)
			}
			if !s.console("dedibox")[0].Prelinked || s.console("dedibox")[1].Prelinked {
				t.Errorf("prelinked: %+v, want d1 only", s.console("dedibox"))
			}
			for _, want := range []string{"d1", "d2", "d3", "code by email"} {
				if !s.notice.has(want) {
					t.Errorf("notice lacks %q:\n%s", want, s.notice.text)
				}
			}
			if s.notice.has(dediboxTOTP) || s.notice.has(scalewayTOTP) || s.notice.has("$2a$") {
				t.Errorf("notice holds a secret")
			}
		},
	},
	{
		name: "rule 5: linked before the cutoff at 00:00 UTC",
		dedibox: []string{
			ded("d1", "l1@example.com", "linked_scaleway_account_id", "s1", "linked_at", "2025-10-27T23:59:59Z"),
			ded("d2", "l2@example.com", "linked_scaleway_account_id", "s2", "linked_at", "2025-10-28T00:00:00Z"),
			ded("d3", "l3@example.com", "linked_scaleway_account_id", "s3", "linked_at", "2025-10-28T01:00:00+02:00"),
			ded("d4", "l4@example.com", "linked_scaleway_account_id", "s4"),
			ded("d5", "s5@example.com", "linked_at", "2020-01-01T00:00:00Z"),
		},
		scaleway: []string{scw("s1", "s1@example.com"), scw("s2", "s2@example.com"), scw("s3", "s3@example.com"),
			scw("s4", "s4@example.com"), scw("s5", "s5@example.com")},
		report: func(r *Report) {
			r.DediboxRecords, r.ScalewayRecords, r.UnifiedAccounts, r.NotificationsQueued = 5, 5, 5, 5
			r.Situations.ScalewayAccount, r.Prelinked = 5, 2
		},
		check: func(t *testing.T, st *testStore) {
			for email, want := range map[string]bool{"s1@example.com": true, "s2@example.com": false,
				"s3@example.com": true, "s4@example.com": false, "s5@example.com": false} {
				d := stateOf(t, st, email).console("dedibox")
				if len(d) != 1 || d[0].Prelinked != want {
					t.Errorf("%s: dedibox %+v, want prelinked %v", email, d, want)
				}
			}
		},
	},
	{
		name:     "a Scaleway account alone is a unified account: nothing changes",
		scaleway: []string{scw("s1", "max@example.com", "locale", "fr", "organizations", []map[string]any{{"id": "org-1", "name": "Acme", "role": "owner"}})},
		report:   func(r *Report) { r.ScalewayRecords, r.UnifiedAccounts, r.NotificationsQueued = 1, 1, 1 },
		check: func(t *testing.T, st *testStore) {
			s := stateOf(t, st, "max@example.com")
			if s.notice.subject != "Un seul compte pour Scaleway et Dedibox : rien ne change pour vous" {
				t.Errorf("subject %q", s.notice.subject)
			}
			if s.notice.to != "max@example.com" || s.notice.kind != KindNotice || s.notice.priority != -1 {
				t.Errorf("notice %+v", s.notice)
			}
			s.login(t, scalewayPassword)
			if got := members(t, st); !slices.Equal(got, []string{"org-1 Acme " + s.acct.ID + " owner"}) {
				t.Errorf("memberships %q", got)
			}
		},
	},
	{
		name: "organizations: one row per organization, the smallest name, every member",
		scaleway: []string{
			scw("s1", "o1@example.com", "organizations", []map[string]any{{"id": "org-9", "name": "Zeta", "role": "admin"}}),
			scw("s2", "o2@example.com", "organizations", []map[string]any{{"id": "org-9", "name": "Alpha", "role": "member"}}),
		},
		report: func(r *Report) { r.ScalewayRecords, r.UnifiedAccounts, r.NotificationsQueued = 2, 2, 2 },
		check: func(t *testing.T, st *testStore) {
			a1, a2 := stateOf(t, st, "o1@example.com").acct.ID, stateOf(t, st, "o2@example.com").acct.ID
			want := []string{"org-9 Alpha " + a1 + " admin", "org-9 Alpha " + a2 + " member"}
			slices.Sort(want)
			if got := members(t, st); !slices.Equal(got, want) {
				t.Errorf("memberships %q, want %q", got, want)
			}
		},
	},
	{
		name:     "two Scaleway accounts of one address are one account, erased as in rule 4",
		scaleway: []string{scw("s1", "Uma@example.com", "totp_secret", scalewayTOTP), scw("s2", "uma@example.com")},
		report:   func(r *Report) { r.ScalewayRecords, r.UnifiedAccounts, r.NotificationsQueued = 2, 1, 1 },
		check: func(t *testing.T, st *testStore) {
			s := stateOf(t, st, "uma@example.com")
			if s.acct.PasswordHash != "" || !s.acct.PasswordSetRequired || !s.acct.MFAEnrollRequired || s.totp != "" ||
				!slices.Equal(s.consoleIDs("scaleway"), []string{"s1", "s2"}) || !s.notice.has("Scaleway accounts s1, s2") {
				t.Errorf("account %+v, totp %q, consoles %v; notice:\n%s", s.acct, s.totp, s.consoles, s.notice.text)
			}
		},
	},
	{
		name:              "a dangling link is refused, not taken as unlinked",
		dedibox:           []string{ded("d1", "nat@example.com", "linked_scaleway_account_id", "s-missing")},
		scaleway:          []string{scw("s1", "nat@example.com")},
		report:            func(r *Report) { r.ScalewayRecords, r.UnifiedAccounts, r.NotificationsQueued = 1, 1, 1 },
		wantRejectedLines: []int{1},
		check: func(t *testing.T, st *testStore) {
			if s := stateOf(t, st, "nat@example.com"); len(s.console("dedibox")) != 0 {
				t.Errorf("the dangling Dedibox record joined by email: %+v", s.consoles)
			}
		},
	},
}

// oneJoined is the report of one Dedibox record joining one Scaleway record.
func oneJoined(r *Report) {
	r.DediboxRecords, r.ScalewayRecords, r.UnifiedAccounts, r.NotificationsQueued = 1, 1, 1, 1
	r.Situations.ScalewayAccount = 1
}

func (n *noticeRow) has(s string) bool { return strings.Contains(n.text, s) }

// members lists "org name account role", sorted.
func members(t *testing.T, st *testStore) []string {
	t.Helper()
	var out []string
	err := openSQL(t, st.driver, st.dsn)(context.Background(), `SELECT o.id, o.name, m.account_id, m.role
		FROM memberships m JOIN organizations o ON o.id = m.organization_id`,
		func(scan func(...any) error) error {
			var a, b, c, d string
			if err := scan(&a, &b, &c, &d); err != nil {
				return err
			}
			out = append(out, strings.Join([]string{a, b, c, d}, " "))
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestRules runs every rule case on both drivers: the report, the accounts
// as the gateway will read them, and the stored lines.
func TestRules(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		for _, tc := range ruleCases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				st := newTestStore(t, driver)
				d, s := writeExports(t, tc.dedibox, tc.scaleway)
				rep := mustRun(t, st.unify(), testOptions(d, s))
				var want Report
				tc.report(&want)
				for _, l := range tc.wantRejectedLines {
					file := d
					if l > 1000 {
						file, l = s, l-1000
					}
					want.Rejected = append(want.Rejected, Rejection{File: file, Line: l})
				}
				if diff := sameReport(*rep, want, false); diff != "" {
					t.Errorf("report:\n%s", diff)
				}
				tc.check(t, st)
				// Every line is stored verbatim, unknown members included.
				res, err := Verify(context.Background(), st.Store.(RecordSource), VerifyOptions{DediboxPath: d, ScalewayPath: s, SessionKey: testKey})
				if err != nil {
					t.Fatal(err)
				}
				if res.DifferenceCount != 0 {
					t.Errorf("verify: %q", res.Differences)
				}
			})
		}
	})
}
