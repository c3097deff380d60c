package accounts

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"unigate/internal/testdb"
)

// unifiedFixture is one account as the unification writes it.
func unifiedFixture(id, email, dedibox string) UnifiedAccount {
	return UnifiedAccount{
		Account:     Account{ID: id, Email: email, CreatedAt: time.Date(2015, 1, 2, 3, 4, 5, 0, time.UTC), Locale: "fr"},
		Consoles:    []ConsoleAccount{{Console: ConsoleDedibox, ExternalID: dedibox, Prelinked: true, LinkedAt: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}},
		TOTPSealed:  []byte("sealed"),
		WebAuthn:    []WebAuthnCredential{{ID: []byte("cred-" + id), PublicKey: []byte("key"), SignCount: 7, Transports: []string{"usb"}}},
		Memberships: []UnifyMembership{{OrganizationID: "org-1", OrganizationName: "Zed " + id, Role: "admin"}},
		Records:     []LegacyRecord{{Source: SourceDedibox, RecordID: dedibox, Line: 3, RawSealed: []byte("raw")}},
		Notice:      &OutboxMessage{Key: "unify_notice:" + id, To: email, Kind: "unify_notice", Priority: -1, Raw: []byte("mail")},
	}
}

// TestUnifyStore: the unification's bulk writes and lookups, on both
// drivers.
func TestUnifyStore(t *testing.T) {
	for _, d := range driversUnderTest {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := newStore(t, d)
			a, b := unifiedFixture("acc-a", "a@example.com", "d-a"), unifiedFixture("acc-b", "b@example.com", "d-b")
			b.Memberships[0].OrganizationName = "Alpha"
			queued, err := s.UnifyWrite(ctx, []UnifiedAccount{a, b})
			if err != nil || queued != 2 {
				t.Fatalf("UnifyWrite = %d, %v; want 2 notices", queued, err)
			}
			got, err := s.AccountByID(ctx, "acc-a")
			if err != nil || got.Email != "a@example.com" || got.Locale != "fr" || !got.CreatedAt.Equal(a.Account.CreatedAt) {
				t.Errorf("account %+v, %v", got, err)
			}
			cas, _ := s.ConsoleAccounts(ctx, "acc-a")
			if len(cas) != 1 || !cas[0].Prelinked || cas[0].LinkedAt.IsZero() {
				t.Errorf("console accounts %+v", cas)
			}
			if totp, passkeys, _ := s.MFAMethods(ctx, "acc-a"); !totp || passkeys != 1 {
				t.Errorf("MFA: totp %v, %d passkeys", totp, passkeys)
			}
			var name string
			if err := s.db.queryRow(ctx, `SELECT name FROM organizations WHERE id = 'org-1'`, nil, &name); err != nil || name != "Alpha" {
				t.Errorf("organization name %q, %v; want the smallest, Alpha", name, err)
			}

			// Lookups find every kind of row.
			f, err := s.UnifyLookup(ctx, UnifyQuery{
				AccountIDs: []string{"acc-a", "acc-z"}, Emails: []string{"b@example.com"},
				Consoles:    []ConsoleRef{{ConsoleDedibox, "d-a"}, {ConsoleScaleway, "d-a"}},
				Records:     []LegacyRef{{SourceDedibox, "d-b"}},
				Credentials: [][]byte{[]byte("cred-acc-b")}, NoticeKeys: []string{"unify_notice:acc-a", "unify_notice:x"},
			})
			if err != nil {
				t.Fatal(err)
			}
			if recs, ok := f.Accounts["acc-a"]; !ok || len(recs) != 1 || string(recs[0].RawSealed) != "raw" || len(f.Accounts) != 1 {
				t.Errorf("Accounts %+v", f.Accounts)
			}
			if f.EmailOwners["b@example.com"] != "acc-b" || f.ConsoleOwners[ConsoleRef{ConsoleDedibox, "d-a"}] != "acc-a" ||
				len(f.ConsoleOwners) != 1 || f.RecordOwners[LegacyRef{SourceDedibox, "d-b"}] != "acc-b" ||
				f.CredentialOwners["cred-acc-b"] != "acc-b" || !f.Notices["unify_notice:acc-a"] || f.Notices["unify_notice:x"] {
				t.Errorf("lookup %+v", f)
			}

			// A row that exists fails the whole batch, which writes nothing.
			c := unifiedFixture("acc-c", "c@example.com", "d-a")
			if _, err := s.UnifyWrite(ctx, []UnifiedAccount{c}); !errors.Is(err, ErrUnifyConflict) {
				t.Errorf("UnifyWrite over an existing console account: %v, want ErrUnifyConflict", err)
			}
			if _, err := s.AccountByID(ctx, "acc-c"); !errors.Is(err, ErrNotFound) {
				t.Errorf("a failed batch left its account: %v", err)
			}
			// A notice already queued under the key is kept, not queued again.
			c = unifiedFixture("acc-c", "c@example.com", "d-c")
			c.Notice.Key = "unify_notice:acc-a"
			if queued, err := s.UnifyWrite(ctx, []UnifiedAccount{c}); err != nil || queued != 0 {
				t.Errorf("UnifyWrite with a queued notice's key = %d, %v; want 0 queued", queued, err)
			}

			var n int
			err = s.LegacyRecords(ctx, SourceDedibox, func(r LegacyRecord) error {
				n++
				if r.ConsoleHolder != r.AccountID || r.Line != 3 {
					t.Errorf("legacy record %+v", r)
				}
				return nil
			})
			if err != nil || n != 3 {
				t.Errorf("LegacyRecords: %d, %v; want 3", n, err)
			}
		})
	}
}

func TestUnifyWriteRefusesBadInput(t *testing.T) {
	s := newStore(t, driverUnderTest{DriverSQLite, testdb.SQLitePath})
	for name, change := range map[string]func(u *UnifiedAccount){
		"email not normalised": func(u *UnifiedAccount) { u.Account.Email = "A@example.com" },
		"bad hash":             func(u *UnifiedAccount) { u.Account.PasswordHash = "plain" },
		"no id":                func(u *UnifiedAccount) { u.Account.ID = "" },
		"role":                 func(u *UnifiedAccount) { u.Memberships[0].Role = "god" },
		"credential":           func(u *UnifiedAccount) { u.WebAuthn[0].PublicKey = nil },
		"record":               func(u *UnifiedAccount) { u.Records[0].RawSealed = nil },
		"other account":        func(u *UnifiedAccount) { u.Consoles[0].AccountID = "someone" },
	} {
		u := unifiedFixture("acc-x", "x@example.com", "d-x")
		change(&u)
		if _, err := s.UnifyWrite(context.Background(), []UnifiedAccount{u}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestOpenReadOnly: no migration, no file created, every write refused,
// lookups on a store without the unification's tables find nothing.
func TestOpenReadOnly(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "none.db")
	ro, err := OpenReadOnly(ctx, DriverSQLite, path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ro.(*readOnlyStore).UnifyLookup(ctx, UnifyQuery{AccountIDs: []string{"a"}, Emails: []string{"a@example.com"}})
	if err != nil || len(f.Accounts)+len(f.EmailOwners) != 0 {
		t.Errorf("lookup on nothing: %+v, %v", f, err)
	}
	ro.Close()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenReadOnly created the file: %v", err)
	}

	for _, d := range driversUnderTest {
		dsn := d.newDB(t)
		s := openStore(t, d, dsn)
		if _, err := s.UnifyWrite(ctx, []UnifiedAccount{unifiedFixture("acc-a", "a@example.com", "d-a")}); err != nil {
			t.Fatal(err)
		}
		ro, err := OpenReadOnly(ctx, d.name, dsn)
		if err != nil {
			t.Fatal(err)
		}
		f, err := ro.(*readOnlyStore).UnifyLookup(ctx, UnifyQuery{AccountIDs: []string{"acc-a"}})
		if err != nil || len(f.Accounts["acc-a"]) != 1 {
			t.Errorf("%s: read-only lookup %+v, %v", d.name, f, err)
		}
		if err := ro.CreateAccount(ctx, &Account{Email: "z@example.com"}, nil); err == nil {
			t.Errorf("%s: a read-only store wrote an account", d.name)
		}
		ro.Close()
	}
}
