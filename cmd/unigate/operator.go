package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"unigate/accounts"
	"unigate/config"
	"unigate/login"
	"unigate/mail"
	"unigate/session"
	"unigate/unify"
)

// The operator commands (CONTRACT §12): look an account up, disable or
// enable it, end its sessions. They act through the stores while replicas
// run: a disabled account's sessions are deleted from Redis, so that every
// replica refuses them from their next request.

// operatorTarget is what every operator command is given: an email, the
// configuration, and whether to print JSON.
type operatorTarget struct {
	email string
	cfg   *config.Config
	json  bool
}

// parseOperator reads --email, --config and --json.
func (c *cli) parseOperator(name, doc string, args []string) (*operatorTarget, error) {
	fs := c.flagSet(name, "--email E [--json] [--config FILE]", doc)
	email := fs.String("email", "", "the account's `email` address")
	asJSON := fs.Bool("json", false, "print JSON")
	path := fs.String("config", defaultConfig, "configuration `FILE`")
	if err := c.parse(fs, args); err != nil {
		return nil, err
	}
	if *email == "" {
		return nil, usageErrorf("%s: --email is required", name)
	}
	addr, err := accounts.NormalizeEmail(*email)
	if err != nil {
		return nil, usageErrorf("%s: --email: %v", name, err)
	}
	cfg, err := c.loadConfig(*path)
	if err != nil {
		return nil, err
	}
	return &operatorTarget{email: addr, cfg: cfg, json: *asJSON}, nil
}

// openAccount opens the account store and finds the target's account.
func openAccount(ctx context.Context, name string, t *operatorTarget) (accounts.Store, *accounts.Account, error) {
	store, err := accounts.Open(ctx, t.cfg.Accounts.Driver, t.cfg.Accounts.DSN)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	a, err := store.AccountByEmail(ctx, t.email)
	if errors.Is(err, accounts.ErrNotFound) {
		store.Close()
		return nil, nil, fmt.Errorf("%s: no account with the email %s", name, t.email)
	}
	if err != nil {
		store.Close()
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	return store, a, nil
}

// openSessions opens the session store of the configuration. A memory store
// belongs to one running process: the commands cannot reach it.
func openSessions(name string, cfg *config.Config) (session.Store, func(), error) {
	if cfg.Session.Store == "memory" {
		return nil, nil, fmt.Errorf("%s: session.store is memory: the sessions live inside the running gateway and cannot be reached from here", name)
	}
	store, closeStore, err := openSessionStore(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	return store, closeStore, nil
}

// accountView is what `accounts show` prints.
type accountView struct {
	ID                  string           `json:"id"`
	Email               string           `json:"email"`
	Name                string           `json:"name"`
	Locale              string           `json:"locale"`
	CreatedAt           time.Time        `json:"created_at"`
	Disabled            bool             `json:"disabled"`
	DisabledAt          *time.Time       `json:"disabled_at,omitempty"`
	HasPassword         bool             `json:"has_password"`
	PasswordSetRequired bool             `json:"password_set_required"`
	MFAEnrollRequired   bool             `json:"mfa_enroll_required"`
	Consoles            []consoleView    `json:"consoles"`
	SecondFactors       factorsView      `json:"second_factors"`
	SSO                 []ssoView        `json:"sso"`
	Organizations       []orgView        `json:"organizations"`
	Sessions            []sessionView    `json:"sessions"`
	Unification         *unificationView `json:"unification"`
	// Lockout is the consecutive-failure lock (issue 16 finding 6); nil
	// when the session store cannot be reached from here (memory).
	Lockout *login.LockState `json:"lockout"`
}

type consoleView struct {
	Console   string     `json:"console"`
	ID        string     `json:"id"`
	Prelinked bool       `json:"prelinked"`
	LinkedAt  *time.Time `json:"linked_at,omitempty"`
}

type factorsView struct {
	TOTP     bool     `json:"totp"`
	Passkeys []string `json:"passkeys"`
}

type ssoView struct {
	Provider string    `json:"provider"`
	Email    string    `json:"email"`
	LinkedAt time.Time `json:"linked_at"`
}

type orgView struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
}

type sessionView struct {
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
	Complete   bool      `json:"complete"`
}

type unificationView struct {
	Situation string       `json:"situation"` // the report's name; "scaleway_only" for an account without Dedibox records
	Lines     []sourceLine `json:"lines"`
}

type sourceLine struct {
	Source   string `json:"source"`
	RecordID string `json:"record_id"`
	Line     int64  `json:"line"`
}

// accountsShow is `unigate accounts show`.
func (c *cli) accountsShow(ctx context.Context, args []string) error {
	const name = "accounts show"
	t, err := c.parseOperator(name, "Show one account: consoles, second factors, SSO identities, organizations, flags,\n"+
		"sessions, and what the unification brought into it.", args)
	if err != nil {
		return err
	}
	store, a, err := openAccount(ctx, name, t)
	if err != nil {
		return err
	}
	defer store.Close()
	v, err := describeAccount(ctx, store, t.cfg, a)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if t.cfg.Session.Store != "memory" {
		sessions, closeSessions, err := openSessions(name, t.cfg)
		if err != nil {
			return err
		}
		defer closeSessions()
		list, err := sessions.ListAccount(ctx, a.ID)
		if err != nil {
			return fmt.Errorf("%s: sessions: %w", name, err)
		}
		for _, s := range list {
			v.Sessions = append(v.Sessions, sessionView{CreatedAt: s.CreatedAt.UTC(), LastSeenAt: s.LastSeenAt.UTC(),
				IP: s.IP, UserAgent: s.UserAgent, Complete: s.Complete()})
		}
		st, err := login.LockStateOf(ctx, sessions, a.Email, t.cfg.Login.MaxConsecutiveFailures)
		if err != nil {
			return fmt.Errorf("%s: lockout: %w", name, err)
		}
		v.Lockout = &st
	}
	if t.json {
		return writeJSONTo(c.stdout, v)
	}
	printAccount(c.stdout, v)
	return nil
}

// describeAccount gathers what the account store knows of a.
func describeAccount(ctx context.Context, store accounts.Store, cfg *config.Config, a *accounts.Account) (*accountView, error) {
	v := &accountView{ID: a.ID, Email: a.Email, Name: a.Name, Locale: a.Locale, CreatedAt: a.CreatedAt.UTC(),
		Disabled: !a.DisabledAt.IsZero(), HasPassword: a.PasswordHash != "",
		PasswordSetRequired: a.PasswordSetRequired, MFAEnrollRequired: a.MFAEnrollRequired,
		Consoles: []consoleView{}, SSO: []ssoView{}, Organizations: []orgView{}, Sessions: []sessionView{},
		SecondFactors: factorsView{Passkeys: []string{}}}
	if v.Disabled {
		at := a.DisabledAt.UTC()
		v.DisabledAt = &at
	}
	cas, err := store.ConsoleAccounts(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	for _, ca := range cas {
		cv := consoleView{Console: ca.Console, ID: ca.ExternalID, Prelinked: ca.Prelinked}
		if !ca.LinkedAt.IsZero() {
			at := ca.LinkedAt.UTC()
			cv.LinkedAt = &at
		}
		v.Consoles = append(v.Consoles, cv)
	}
	if cred, err := store.TOTPCredential(ctx, a.ID); err == nil {
		v.SecondFactors.TOTP = cred.Confirmed
	} else if !errors.Is(err, accounts.ErrNotFound) {
		return nil, err
	}
	creds, err := store.WebAuthnCredentials(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	for _, cr := range creds {
		v.SecondFactors.Passkeys = append(v.SecondFactors.Passkeys, cr.Name)
	}
	ids, err := store.SSOIdentities(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		v.SSO = append(v.SSO, ssoView{Provider: id.Provider, Email: id.Email, LinkedAt: id.LinkedAt.UTC()})
	}
	ms, err := store.Memberships(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		v.Organizations = append(v.Organizations, orgView{ID: m.OrganizationID, Name: m.Name, Role: m.Role})
	}
	lines, err := store.LegacyRecordsOf(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	if len(lines) > 0 {
		u := &unificationView{Lines: []sourceLine{}}
		for _, l := range lines {
			u.Lines = append(u.Lines, sourceLine{Source: l.Source, RecordID: l.RecordID, Line: l.Line})
		}
		u.Situation, err = unifySituation(ctx, store, cfg, a.ID)
		if err != nil {
			return nil, err
		}
		v.Unification = u
	}
	return v, nil
}

// unifySituation is the account's situation in the unification report:
// the rules applied again to the source lines stored with the account
// (unify.Replan), so the verdict of the run, not a guess from the account's
// state today (its notice's data is gone once the notice was sent).
func unifySituation(ctx context.Context, store accounts.Store, cfg *config.Config, accountID string) (string, error) {
	p, err := replan(ctx, store, cfg, accountID)
	if err != nil {
		return "", err
	}
	if p.Situation == "" {
		return "scaleway_only", nil
	}
	return p.Situation, nil
}

// replan is unify.Replan on the account store, with the keys and cutoff of cfg.
func replan(ctx context.Context, store accounts.Store, cfg *config.Config, accountID string) (*unify.Replanned, error) {
	rs, ok := store.(unify.ReplanStore)
	if !ok {
		return nil, errors.New("this account store cannot read the unification's records")
	}
	return unify.Replan(ctx, rs, accountID, unify.ReplanOptions{SessionKey: cfg.SessionKey(),
		PreviousSessionKeys: cfg.PreviousSessionKeys(), Cutoff: cfg.LegacyCutoff(), SignInURL: cfg.Public().String() + "/login"})
}

func printAccount(w io.Writer, v *accountView) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	row := func(k string, vals ...any) { fmt.Fprintf(tw, "%s:\t%s\n", k, fmt.Sprint(vals...)) }
	row("id", v.ID)
	row("email", v.Email)
	if v.Name != "" {
		row("name", v.Name)
	}
	row("locale", v.Locale)
	row("created", v.CreatedAt.Format(time.RFC3339))
	state := "enabled"
	if v.Disabled {
		state = "disabled since " + v.DisabledAt.Format(time.RFC3339)
	}
	row("state", state)
	var flags []string
	if !v.HasPassword {
		flags = append(flags, "no password")
	}
	if v.PasswordSetRequired {
		flags = append(flags, "must set a password")
	}
	if v.MFAEnrollRequired {
		flags = append(flags, "must enroll a second factor")
	}
	if len(flags) == 0 {
		flags = []string{"none"}
	}
	row("flags", strings.Join(flags, ", "))
	if l := v.Lockout; l != nil {
		state := fmt.Sprintf("not locked (%d of %d failures in a row)", l.ConsecutiveFailures, l.Limit)
		if l.Locked {
			state = fmt.Sprintf("locked after %d failures in a row: a password reset or `unigate accounts unlock` lifts it", l.ConsecutiveFailures)
		}
		row("lockout", state)
	}
	for _, c := range v.Consoles {
		pre := ""
		if c.Prelinked {
			pre = " (prelinked)"
		}
		row("console "+c.Console, c.ID, pre)
	}
	factors := []string{}
	if v.SecondFactors.TOTP {
		factors = append(factors, "authenticator app")
	}
	for _, p := range v.SecondFactors.Passkeys {
		factors = append(factors, "passkey "+quoteName(p))
	}
	if len(factors) == 0 {
		factors = []string{"none"}
	}
	row("second factors", strings.Join(factors, ", "))
	for _, s := range v.SSO {
		row("sso "+s.Provider, s.Email, " (linked ", s.LinkedAt.Format(time.RFC3339), ")")
	}
	for _, o := range v.Organizations {
		row("organization", o.Name, " (", o.ID, "), ", o.Role)
	}
	row("sessions", len(v.Sessions))
	for _, s := range v.Sessions {
		kind := "signed in"
		if !s.Complete {
			kind = "login in progress"
		}
		row("  session", kind, ", since ", s.CreatedAt.Format(time.RFC3339), ", last seen ", s.LastSeenAt.Format(time.RFC3339), ", ", s.IP, ", ", session.DeviceOf(s.UserAgent))
	}
	if u := v.Unification; u != nil {
		row("unification", u.Situation)
		for _, l := range u.Lines {
			row("  source line", l.Source, " line ", l.Line, " (id ", l.RecordID, ")")
		}
	} else {
		row("unification", "not imported")
	}
}

func quoteName(s string) string {
	if s == "" {
		return "(unnamed)"
	}
	return fmt.Sprintf("%q", s)
}

func writeJSONTo(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// accountsSetDisabled is `unigate accounts disable` (at != zero) and `enable`.
func (c *cli) accountsSetDisabled(ctx context.Context, args []string, disable bool) error {
	name, doc := "accounts enable", "Enable a disabled account again."
	if disable {
		name, doc = "accounts disable", "Disable an account: its sessions end on every replica at their next request,\n"+
			"and a login that proves the first factor is refused with account_disabled."
	}
	t, err := c.parseOperator(name, doc, args)
	if err != nil {
		return err
	}
	store, a, err := openAccount(ctx, name, t)
	if err != nil {
		return err
	}
	defer store.Close()
	at := time.Time{}
	if disable {
		at = time.Now().UTC()
	}
	// Disable first, then end the sessions: a login finishing in between
	// is refused by the flag, and no session outlives the command.
	if err := store.SetDisabled(ctx, a.ID, at); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	revoked := 0
	if disable && t.cfg.Session.Store != "memory" {
		if revoked, err = revokeSessions(ctx, name, t.cfg, a.ID); err != nil {
			return err
		}
	}
	c.audit(ctx, store, accounts.AuditEvent{At: time.Now(), Kind: strings.ReplaceAll(name, " ", "."), AccountID: a.ID,
		Details: map[string]string{"by": "operator", "sessions_revoked": fmt.Sprint(revoked)}})
	result := map[string]any{"id": a.ID, "email": a.Email, "disabled": disable, "sessions_revoked": revoked}
	if t.json {
		return writeJSONTo(c.stdout, result)
	}
	if disable {
		fmt.Fprintf(c.stdout, "disabled %s (%s); %d sessions ended\n", a.Email, a.ID, revoked)
	} else {
		fmt.Fprintf(c.stdout, "enabled %s (%s)\n", a.Email, a.ID)
	}
	return nil
}

// accountsUnlock is `unigate accounts unlock`: it lifts the lock that
// max_consecutive_failures failures in a row put on an account (issue 16
// finding 6), on every replica at once (the counters live in the session store).
func (c *cli) accountsUnlock(ctx context.Context, args []string) error {
	const name = "accounts unlock"
	t, err := c.parseOperator(name, "Lift the lock that too many failed passwords or codes in a row put on an account:\n"+
		"its passwords and codes are checked again, on every replica at once.", args)
	if err != nil {
		return err
	}
	store, a, err := openAccount(ctx, name, t)
	if err != nil {
		return err
	}
	defer store.Close()
	sessions, closeSessions, err := openSessions(name, t.cfg)
	if err != nil {
		return err
	}
	defer closeSessions()
	before, err := login.LockStateOf(ctx, sessions, a.Email, t.cfg.Login.MaxConsecutiveFailures)
	if err != nil {
		return fmt.Errorf("%s: lockout: %w", name, err)
	}
	if err := login.Unlock(ctx, sessions, a.Email); err != nil {
		return fmt.Errorf("%s: lockout: %w", name, err)
	}
	c.audit(ctx, store, accounts.AuditEvent{At: time.Now(), Kind: "accounts.unlock", AccountID: a.ID,
		Details: map[string]string{"by": "operator", "was_locked": fmt.Sprint(before.Locked)}})
	if t.json {
		return writeJSONTo(c.stdout, map[string]any{"id": a.ID, "email": a.Email, "was_locked": before.Locked, "locked": false})
	}
	if before.Locked {
		fmt.Fprintf(c.stdout, "unlocked %s (%s)\n", a.Email, a.ID)
	} else {
		fmt.Fprintf(c.stdout, "%s (%s) was not locked; its count of failures in a row is reset\n", a.Email, a.ID)
	}
	return nil
}

// revokeSessions deletes every session of the account from the session store.
func revokeSessions(ctx context.Context, name string, cfg *config.Config, accountID string) (int, error) {
	sessions, closeSessions, err := openSessions(name, cfg)
	if err != nil {
		return 0, err
	}
	defer closeSessions()
	n, err := sessions.DeleteAccount(ctx, accountID, "")
	if err != nil {
		return 0, fmt.Errorf("%s: sessions: %w", name, err)
	}
	return n, nil
}

// sessions runs `unigate sessions revoke`.
func (c *cli) sessions(ctx context.Context, args []string) error {
	const synopsis = "revoke --email E [--json] [--config FILE]"
	if len(args) == 0 || isHelp(args[0]) {
		if len(args) > 0 {
			fmt.Fprintf(c.stdout, "usage: unigate sessions %s\n", synopsis)
			return nil
		}
		return usageErrorf("sessions: want a subcommand: unigate sessions %s", synopsis)
	}
	if args[0] != "revoke" {
		return usageErrorf("sessions: unknown subcommand %q: want unigate sessions %s", args[0], synopsis)
	}
	const name = "sessions revoke"
	t, err := c.parseOperator(name, "End every session of an account, on every replica at their next request.", args[1:])
	if err != nil {
		return err
	}
	store, a, err := openAccount(ctx, name, t)
	if err != nil {
		return err
	}
	defer store.Close()
	n, err := revokeSessions(ctx, name, t.cfg, a.ID)
	if err != nil {
		return err
	}
	c.audit(ctx, store, accounts.AuditEvent{At: time.Now(), Kind: "session.revoke_all", AccountID: a.ID,
		Details: map[string]string{"by": "operator", "sessions": fmt.Sprint(n)}})
	if t.json {
		return writeJSONTo(c.stdout, map[string]any{"id": a.ID, "email": a.Email, "sessions_revoked": n})
	}
	fmt.Fprintf(c.stdout, "%d sessions of %s ended\n", n, a.Email)
	return nil
}

// audit records what an operator command did; the command's work is done,
// so a failure is a warning on stderr, not an error.
func (c *cli) audit(ctx context.Context, store accounts.Store, e accounts.AuditEvent) {
	if err := store.RecordAudit(ctx, e); err != nil {
		fmt.Fprintf(c.stderr, "warning: audit event %s not stored: %v\n", e.Kind, err)
	}
}

// unifyResendNotice is `unigate unify resend-notice`: the account's
// notification of the unification, queued again (the person lost it, or
// the address was fixed since). Its content is rebuilt from the stored
// source lines, as the run made it, under a new outbox key; it goes out
// before bulk mail, since someone is waiting for it.
func (c *cli) unifyResendNotice(ctx context.Context, args []string) error {
	const name = "unify resend-notice"
	t, err := c.parseOperator(name, "Queue the unification notice of one account again.", args)
	if err != nil {
		return err
	}
	store, a, err := openAccount(ctx, name, t)
	if err != nil {
		return err
	}
	defer store.Close()
	p, err := replan(ctx, store, t.cfg, a.ID)
	if errors.Is(err, unify.ErrNotUnified) {
		return fmt.Errorf("%s: %s was not imported by the unification: it has no notice", name, a.Email)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	data := p.Notice
	data.Email, data.Name = a.Email, a.Name
	key := unify.NoticeKey(a.ID) + ":resend:" + time.Now().UTC().Format(time.RFC3339Nano)
	m, err := mail.NewStoredMessage(key, a.ID, unify.KindNotice, a.Locale, a.Email, data)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	m.Priority = resendPriority
	if _, err := store.EnqueueMail(ctx, m); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	c.audit(ctx, store, accounts.AuditEvent{At: time.Now(), Kind: "unify.resend_notice", AccountID: a.ID,
		Details: map[string]string{"by": "operator"}})
	if t.json {
		return writeJSONTo(c.stdout, map[string]any{"id": a.ID, "email": a.Email, "queued": key})
	}
	fmt.Fprintf(c.stdout, "notice queued again for %s (%s)\n", a.Email, a.ID)
	return nil
}

// resendPriority puts a resent notice with the mail people wait for
// (invitations, security notices), ahead of the bulk.
const resendPriority = 5
