package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"unigate/accounts"
	"unigate/mail"
	"unigate/session"
	"unigate/unify/unifygen"
)

// The operator commands against the real stores: SQLite accounts and a
// Redis session store shared with what would be the running replicas.
func TestOperatorCommands(t *testing.T) {
	redisURL := redisURLForTest(t)
	dir := t.TempDir()
	path := mustConfig(t, dir, "")
	prefix := "optest:" + uuid.NewString()[:8] + ":"
	env := map[string]string{
		"UNIGATE_SESSION_STORE":            "redis",
		"UNIGATE_SESSION_REDIS_URL":        redisURL,
		"UNIGATE_SESSION_REDIS_KEY_PREFIX": prefix,
	}
	if r := runUnigate(t, env, "correct horse battery\n", "accounts", "create", "--email", "ops@example.com", "--password-stdin", "--config", path); r.code != 0 {
		t.Fatalf("accounts create: %v", r)
	}
	ctx := context.Background()
	store, err := accounts.Open(ctx, "sqlite", filepath.Join(dir, "accounts.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	a, err := store.AccountByEmail(ctx, "ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	org, err := store.CreateOrganization(ctx, "Acme", a.ID, time.Time{})
	if err != nil {
		t.Fatal(err)
	}

	// Two signed-in sessions, as two replicas would have made them.
	opt, _ := redis.ParseURL(redisURL)
	client := redis.NewClient(opt)
	defer client.Close()
	sessions := session.NewRedisStore(client, session.RedisOptions{KeyPrefix: prefix})
	now := time.Now()
	for _, ua := range []string{"Firefox", "curl/8"} {
		s := &session.Session{AccountID: a.ID, Email: a.Email, Next: session.StepDone, MFA: "none", IP: "192.0.2.1", UserAgent: ua,
			CreatedAt: now, LastSeenAt: now, AuthTime: now, ExpiresAt: now.Add(time.Hour)}
		if _, err := sessions.Create(ctx, s, time.Hour); err != nil {
			t.Fatal(err)
		}
	}

	r := runUnigate(t, env, "", "accounts", "show", "--email", "OPS@example.com", "--json", "--config", path)
	if r.code != 0 {
		t.Fatalf("accounts show --json: %v", r)
	}
	var v accountView
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("show --json is not JSON: %v\n%s", err, r.stdout)
	}
	if v.ID != a.ID || v.Email != a.Email || v.Disabled || !v.HasPassword || len(v.Consoles) != 2 || len(v.Sessions) != 2 ||
		len(v.Organizations) != 1 || v.Organizations[0].ID != org.ID || v.Organizations[0].Role != "owner" || v.Unification != nil {
		t.Fatalf("show --json: %+v", v)
	}
	r = runUnigate(t, env, "", "accounts", "show", "--email", "ops@example.com", "--config", path)
	for _, want := range []string{"id:", a.ID, "state:", "enabled", "console dedibox:", "organization:", "Acme", "sessions:", "Firefox", "unification:", "not imported"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Fatalf("accounts show lacks %q:\n%v", want, r)
		}
	}

	// Disable: flag set, every session gone from the shared store.
	r = runUnigate(t, env, "", "accounts", "disable", "--email", "ops@example.com", "--config", path)
	if r.code != 0 || !strings.Contains(r.stdout, "2 sessions ended") {
		t.Fatalf("accounts disable: %v", r)
	}
	if list, err := sessions.ListAccount(ctx, a.ID); err != nil || len(list) != 0 {
		t.Fatalf("sessions after disable: %d %v", len(list), err)
	}
	if got, _ := store.AccountByID(ctx, a.ID); got.DisabledAt.IsZero() {
		t.Fatal("not disabled in the store")
	}
	r = runUnigate(t, env, "", "accounts", "show", "--email", "ops@example.com", "--config", path)
	if !strings.Contains(r.stdout, "disabled since") {
		t.Fatalf("show after disable:\n%v", r)
	}
	r = runUnigate(t, env, "", "accounts", "enable", "--email", "ops@example.com", "--json", "--config", path)
	if r.code != 0 || !strings.Contains(r.stdout, `"disabled": false`) {
		t.Fatalf("accounts enable: %v", r)
	}
	if got, _ := store.AccountByID(ctx, a.ID); !got.DisabledAt.IsZero() {
		t.Fatal("still disabled after enable")
	}

	// sessions revoke.
	s := &session.Session{AccountID: a.ID, Email: a.Email, Next: session.StepDone, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
	if _, err := sessions.Create(ctx, s, time.Hour); err != nil {
		t.Fatal(err)
	}
	r = runUnigate(t, env, "", "sessions", "revoke", "--email", "ops@example.com", "--config", path)
	if r.code != 0 || !strings.Contains(r.stdout, "1 sessions of ops@example.com ended") {
		t.Fatalf("sessions revoke: %v", r)
	}

	// Refusals: exit 2 for usage, 1 for an unknown account, one clear line.
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"accounts", "show", "--config", path}, 2, "--email is required"},
		{[]string{"accounts", "show", "--email", "not an email", "--config", path}, 2, "--email"},
		{[]string{"accounts", "disable", "--email", "nobody@example.com", "--config", path}, 1, "no account with the email nobody@example.com"},
		{[]string{"sessions", "purge", "--email", "ops@example.com"}, 2, "unknown subcommand"},
		{[]string{"accounts", "frobnicate"}, 2, "unknown subcommand"},
	} {
		r := runUnigate(t, env, "", tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 1 {
			t.Errorf("%v: %v; want exit %d and %q", tc.args, r, tc.code, tc.want)
		}
	}
	// A memory session store cannot be reached from a command.
	r = runUnigate(t, nil, "", "sessions", "revoke", "--email", "ops@example.com", "--config", path)
	if r.code != 1 || !strings.Contains(r.stderr, "session.store is memory") {
		t.Errorf("sessions revoke on memory: %v", r)
	}
}

// accounts show names each imported account's situation as the run's report
// counted it.
func TestAccountsShowUnification(t *testing.T) {
	dir := t.TempDir()
	cfg := mustConfig(t, dir, "login:\n  legacy_login_cutoff: \"2025-10-28\"\n")
	d, s, _ := writeGenerated(t, dir, unifygen.Options{Dedibox: 60, Scaleway: 40, Seed: 9})
	report := filepath.Join(dir, "report.json")
	if r := runUnigate(t, nil, "", "unify", "--dedibox", d, "--scaleway", s, "--config", cfg, "--report", report); r.code != 0 {
		t.Fatalf("unify: %v", r)
	}
	rep, _ := readReport(t, report)

	// The notices go out, and their data with them: the situation shown
	// must come from the stored lines, not from the outbox.
	ctx := context.Background()
	store, err := accounts.Open(ctx, "sqlite", filepath.Join(dir, "accounts.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for {
		claimed, err := store.ClaimMail(ctx, time.Now(), time.Minute, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(claimed) == 0 {
			break
		}
		for _, m := range claimed {
			if err := store.MarkMailSent(ctx, m.ID, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}

	emails := map[string]bool{}
	for _, file := range []string{d, s} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
			var rec struct{ Email string }
			if json.Unmarshal([]byte(line), &rec) == nil {
				if e, err := accounts.NormalizeEmail(rec.Email); err == nil {
					emails[e] = true
				}
			}
		}
	}
	seen := map[string]bool{}
	got := map[string]int{}
	for e := range emails {
		r := runUnigate(t, nil, "", "accounts", "show", "--email", e, "--json", "--config", cfg)
		if r.code != 0 {
			continue // an email merged into an account of another address
		}
		var v accountView
		if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v.Unification == nil {
			t.Fatalf("show %s: %v %s", e, err, r.stdout)
		}
		if seen[v.ID] {
			continue
		}
		seen[v.ID] = true
		got[v.Unification.Situation]++
	}
	want := map[string]int{
		"multiple_dedibox_accounts": rep.Situations.MultipleDediboxAccounts,
		"sms_mfa_disabled":          rep.Situations.SMSMFADisabled,
		"scaleway_account":          rep.Situations.ScalewayAccount,
		"no_scaleway_account":       rep.Situations.NoScalewayAccount,
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("situation %s: %d accounts shown, the report counted %d (all: %v)", k, got[k], n, got)
		}
	}
	t.Logf("situations shown: %v", got)

	// unify resend-notice: the notice again, as the run made it, ahead of bulk mail.
	var someone string
	for e := range emails {
		if r := runUnigate(t, nil, "", "accounts", "show", "--email", e, "--json", "--config", cfg); r.code == 0 &&
			strings.Contains(r.stdout, `"situation": "sms_mfa_disabled"`) {
			someone = e
			break
		}
	}
	if someone == "" {
		t.Fatal("no sms_mfa_disabled account in the generated exports")
	}
	r := runUnigate(t, nil, "", "unify", "resend-notice", "--email", someone, "--config", cfg)
	if r.code != 0 || !strings.Contains(r.stdout, "notice queued again for "+someone) {
		t.Fatalf("resend-notice: %v", r)
	}
	a, err := store.AccountByEmail(ctx, someone)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := store.MailOf(ctx, a.ID, "unify_notice")
	if err != nil || len(msgs) != 2 {
		t.Fatalf("notices of %s: %d, %v; want the sent one and the resent one", someone, len(msgs), err)
	}
	resent := msgs[1]
	var data mail.UnifyNoticeData
	if err := json.Unmarshal(resent.Data, &data); err != nil || !data.SMSRemoved || data.Email != someone ||
		resent.Priority <= 0 || !strings.HasPrefix(resent.Key, "unify_notice:"+a.ID+":resend:") || resent.To != someone {
		t.Fatalf("resent notice %+v (data %+v, %v)", resent, data, err)
	}
	// An account the unification did not import has no notice to resend.
	if r := runUnigate(t, nil, "correct horse battery\n", "accounts", "create", "--email", "new@example.com", "--password-stdin", "--config", cfg); r.code != 0 {
		t.Fatal(r)
	}
	if r := runUnigate(t, nil, "", "unify", "resend-notice", "--email", "new@example.com", "--config", cfg); r.code != 1 || !strings.Contains(r.stderr, "was not imported") {
		t.Fatalf("resend-notice of a new account: %v", r)
	}
}
