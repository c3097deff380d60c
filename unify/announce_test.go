package unify

import (
	"context"
	"strings"
	"testing"
)

// announced is one announcement read back from the outbox, rendered as the
// sender will render it.
type announced struct {
	key, to       string
	priority      int
	subject, text string
}

// announcementsOf reads the store's announcements by recipient.
func announcementsOf(t *testing.T, st *testStore) map[string][]announced {
	t.Helper()
	q := openSQL(t, st.driver, st.dsn)
	out := map[string][]announced{}
	err := q(context.Background(), `SELECT dedup_key, recipient, kind, priority, raw, data, locale FROM outbox`,
		func(scan func(...any) error) error {
			var a announced
			var kind, locale string
			var raw, data []byte
			var prio int64
			if err := scan(&a.key, &a.to, &kind, &prio, &raw, &data, &locale); err != nil {
				return err
			}
			if kind != KindAnnounce {
				t.Errorf("outbox holds a %q message, want announcements only", kind)
				return nil
			}
			if len(raw) != 0 {
				t.Errorf("announcement stored rendered, want its data only")
			}
			raw, err := testRenderer.RenderStored(kind, locale, a.to, data)
			if err != nil {
				t.Fatalf("rendering the stored announcement: %v", err)
			}
			a.priority = int(prio)
			a.subject, a.text = parseNotice(t, raw)
			out[a.to] = append(out[a.to], a)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func announceOptions(dedibox, scaleway string) AnnounceOptions {
	return AnnounceOptions{DediboxPath: dedibox, ScalewayPath: scaleway, Cutoff: testCutoff, Date: "2026-03-01", BatchSize: 2}
}

func mustAnnounce(t *testing.T, st *testStore, opts AnnounceOptions) *Report {
	t.Helper()
	rep, err := Announce(context.Background(), st.Store.(AnnounceStore), opts)
	if err != nil {
		t.Fatalf("Announce: %v", err)
	}
	return rep
}

// TestAnnounce: one announcement per future unified account, worded for its
// situation in its language, with the date; a re-run queues nothing, nor
// does an input that re-groups a person already announced; a dry run
// reports the same and writes nothing; no account is written.
func TestAnnounce(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		for _, locale := range []string{"en", "fr"} {
			t.Run(locale, func(t *testing.T) { testAnnounce(t, driver, locale) })
		}
	})
}

func testAnnounce(t *testing.T, driver, locale string) {
	dedibox := []string{
		line("d-join", "join@example.com", "password_hash", dediboxHash, "locale", locale),
		line("d-new", "new@example.com", "password_hash", dediboxHash, "locale", locale),
		line("d-sms", "sms@example.com", "password_hash", dediboxHash, "sms_mfa_phone", "+33600000000", "locale", locale),
		line("d-m1", "merged@example.com", "password_hash", dediboxHash, "locale", locale),
		line("d-m2", "Merged@example.com", "password_hash", dediboxHash, "locale", locale),
		line("d-pre", "pre@example.com", "password_hash", dediboxHash, "linked_scaleway_account_id", "s-pre",
			"linked_at", "2020-01-01T00:00:00Z", "locale", locale),
	}
	scaleway := []string{
		line("s-join", "join@example.com", "password_hash", scalewayHash, "locale", locale),
		line("s-pre", "pre-scw@example.com", "password_hash", scalewayHash, "locale", locale),
		line("s-only", "only@example.com", "password_hash", scalewayHash, "locale", locale),
	}
	d, s := writeExports(t, dedibox, scaleway)
	st := newTestStore(t, driver)

	want := Report{DediboxRecords: 6, ScalewayRecords: 3, UnifiedAccounts: 6, Prelinked: 1,
		Situations:          Situations{ScalewayAccount: 2, NoScalewayAccount: 1, SMSMFADisabled: 1, MultipleDediboxAccounts: 1},
		AnnouncementsQueued: 6, Announce: true}

	// A dry run first: the same report, nothing written.
	dry := announceOptions(d, s)
	dry.DryRun = true
	if diff := sameReport(*mustAnnounce(t, st, dry), want, true); diff != "" {
		t.Fatalf("dry run report: %s", diff)
	}
	if n := countRows(t, st, "outbox") + countRows(t, st, "unify_announcements"); n != 0 {
		t.Fatalf("the dry run wrote %d rows", n)
	}

	rep := mustAnnounce(t, st, announceOptions(d, s))
	if diff := sameReport(*rep, want, true); diff != "" {
		t.Fatalf("report: %s", diff)
	}
	var js strings.Builder
	rep.WriteJSON(&js)
	if !strings.Contains(js.String(), `"announcements_queued": 6`) || strings.Contains(js.String(), "notifications_queued") {
		t.Errorf("report JSON:\n%s", js.String())
	}
	if n := countRows(t, st, "accounts"); n != 0 {
		t.Errorf("announce wrote %d accounts", n)
	}

	type wording struct{ en, fr []string }
	date := []string{"2026-03-01"}
	wants := map[string]wording{
		"join@example.com": {
			en: []string{"Dedibox and Scaleway accounts become one", "Dedibox account d-join and your Scaleway account s-join will become one account", "Scaleway password"},
			fr: []string{"n'en feront plus qu'un", "Votre compte Dedibox d-join et votre compte Scaleway s-join", "mot de passe Scaleway"}},
		"new@example.com": {
			en: []string{"will open Scaleway too", "a Scaleway account will be created for you", "Dedibox password"},
			fr: []string{"ouvrira aussi Scaleway", "un compte Scaleway sera créé pour vous", "mot de passe Dedibox"}},
		"sms@example.com": {
			en: []string{"codes by SMS end", "Codes by SMS will no longer be offered", "new second factor"},
			fr: []string{"fin des codes par SMS", "Les codes par SMS ne seront plus proposés", "nouveau second facteur"}},
		"merged@example.com": {
			en: []string{"sign in with a code sent by email", "Dedibox accounts d-m1, d-m2", "these will be erased", "choose which Dedibox account"},
			fr: []string{"code reçu par e-mail", "comptes Dedibox d-m1, d-m2", "ceux-ci seront supprimés"}},
		"pre-scw@example.com": {
			en: []string{"you keep both consoles", "Dedibox account d-pre and your Scaleway account s-pre"},
			fr: []string{"vous conservez les deux consoles", "Votre compte Dedibox d-pre"}},
		"only@example.com": {
			en: []string{"nothing changes for you", "Nothing changes for you", "open the Dedibox console too"},
			fr: []string{"rien ne change pour vous", "ouvrira aussi la console Dedibox"}},
	}
	got := announcementsOf(t, st)
	if len(got) != len(wants) {
		t.Errorf("announcements to %d addresses, want %d", len(got), len(wants))
	}
	for to, w := range wants {
		msgs := got[to]
		if len(msgs) != 1 {
			t.Errorf("%s: %d announcements, want 1", to, len(msgs))
			continue
		}
		m := msgs[0]
		if m.priority >= 0 {
			t.Errorf("%s: priority %d, want bulk (below 0)", to, m.priority)
		}
		all := m.subject + "\n" + m.text
		phrases := w.en
		common := []string{"On 2026-03-01", "personal and company information"}
		if locale == "fr" {
			phrases, common = w.fr, []string{"Le 2026-03-01", "informations personnelles"}
		}
		for _, p := range append(append(phrases, common...), date...) {
			if !strings.Contains(all, p) {
				t.Errorf("%s (%s): lacks %q:\n%s", to, locale, p, all)
			}
		}
		for _, bad := range []string{"<no value>", "\n\n\n", "{{"} {
			if strings.Contains(m.text, bad) {
				t.Errorf("%s: holds %q:\n%s", to, bad, m.text)
			}
		}
		if to != "pre-scw@example.com" && (strings.Contains(all, "both consoles") || strings.Contains(all, "deux consoles")) {
			t.Errorf("%s: told it keeps both consoles, but it was not prelinked", to)
		}
	}

	// Re-run: nothing new.
	again := mustAnnounce(t, st, announceOptions(d, s))
	if again.AnnouncementsQueued != 0 || countRows(t, st, "outbox") != 6 {
		t.Errorf("re-run queued %d (outbox %d rows), want 0 (6)", again.AnnouncementsQueued, countRows(t, st, "outbox"))
	}

	// The export changed: new@example.com now has a Scaleway account (its
	// future account, and so its id, is another), join's Dedibox account is
	// gone, and a new person appears. Only the new person is mailed.
	d2, s2 := writeExports(t,
		append(dedibox[1:], line("d-late", "late@example.com", "password_hash", dediboxHash, "locale", locale)),
		append(scaleway, line("s-new", "new@example.com", "password_hash", scalewayHash, "locale", locale)))
	dryChanged := announceOptions(d2, s2)
	dryChanged.DryRun = true
	if n := mustAnnounce(t, st, dryChanged).AnnouncementsQueued; n != 1 {
		t.Errorf("dry run on the changed input would queue %d, want 1", n)
	}
	changed := mustAnnounce(t, st, announceOptions(d2, s2))
	if changed.AnnouncementsQueued != 1 {
		t.Errorf("changed input queued %d, want 1 (the new person only)", changed.AnnouncementsQueued)
	}
	got = announcementsOf(t, st)
	for _, to := range []string{"new@example.com", "join@example.com", "late@example.com"} {
		if len(got[to]) != 1 {
			t.Errorf("%s: %d announcements after the changed input, want 1", to, len(got[to]))
		}
	}
	// The re-grouped person's new record is theirs now: a later run that
	// splits it off again does not mail it either.
	d3, s3 := writeExports(t, dedibox[2:], append(scaleway, line("s-new", "new@example.com", "password_hash", scalewayHash)))
	if n := mustAnnounce(t, st, announceOptions(d3, s3)).AnnouncementsQueued; n != 0 {
		t.Errorf("third input queued %d, want 0", n)
	}
}
