package login

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"unigate/accounts"
	"unigate/mail"
	"unigate/mfa"
	"unigate/session"
)

// The tests drive the machine directly: a real memory session store, a
// real SQLite account store, an injected clock, and small fakes of the
// narrow interfaces where the real thing is slow (argon2id) or outside
// (mail, WebAuthn).

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// memSessions stores logins in the memory store with a one-hour idle TTL,
// with the errors the edge gives them.
type memSessions struct{ st *session.MemoryStore }

func (m memSessions) Create(ctx context.Context, s *session.Session) (string, error) {
	return m.st.Create(ctx, s, time.Hour)
}

func (m memSessions) Save(ctx context.Context, s *session.Session) error {
	if err := m.st.Save(ctx, s, time.Hour); errors.Is(err, session.ErrNotFound) {
		return ErrUnauthenticated
	} else if err != nil {
		return &Unavailable{Err: err}
	}
	return nil
}

func (m memSessions) Delete(ctx context.Context, handle string) error {
	return m.st.Delete(ctx, handle)
}

func (m memSessions) RevokeAccount(ctx context.Context, accountID, keep string) (int, error) {
	return m.st.DeleteAccount(ctx, accountID, keep)
}

// fakeHasher stands for accounts.Hasher: cheap, with a count of the
// hashing work done. work counts the calls; argon2 the argon2id
// computations (a hash or a verification: each one unit); bcryptRounds the
// bcrypt rounds (2^cost per verification).
type fakeHasher struct {
	mu           sync.Mutex
	work         int
	argon2       int
	bcryptRounds int
	fail         error
	needsRehash  bool
}

func (h *fakeHasher) Hash(ctx context.Context, pw string) (string, error) {
	h.count(fakeHash(pw))
	return fakeHash(pw), h.fail
}

// fakeHash is a stored hash in the PHC form the account store accepts,
// whose key is SHA-256(password): cheap, and verifiable by fakeHasher.
func fakeHash(pw string) string {
	sum := sha256.Sum256([]byte(pw))
	return "$argon2id$v=19$m=19456,t=2,p=1$" + base64.RawStdEncoding.EncodeToString([]byte("saltsaltsaltsalt")) +
		"$" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// fakeBcrypt is a well-formed bcrypt hash of cost that fakeHasher matches with pw.
func fakeBcrypt(pw string, cost int) string {
	const alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	sum := sha256.Sum256([]byte(pw))
	var b strings.Builder
	for i := range 53 {
		b.WriteByte(alphabet[int(sum[i%len(sum)]+byte(i))%len(alphabet)])
	}
	return fmt.Sprintf("$2a$%02d$%s", cost, b.String())
}

func (h *fakeHasher) Verify(ctx context.Context, encoded, pw string) (bool, bool, error) {
	h.count(encoded)
	if h.fail != nil {
		return false, false, h.fail
	}
	if c, ok := bcryptCost(encoded); ok {
		return encoded == fakeBcrypt(pw, c), encoded == fakeBcrypt(pw, c), nil
	}
	return encoded == fakeHash(pw), h.needsRehash, nil
}

func (h *fakeHasher) VerifyDummy(ctx context.Context, pw string) error {
	h.count(fakeHash(""))
	return h.fail
}

// count records the work of one hash or verification of encoded's scheme.
func (h *fakeHasher) count(encoded string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.work++
	if c, ok := bcryptCost(encoded); ok {
		h.bcryptRounds += 1 << c
	} else {
		h.argon2++
	}
}

// reset forgets the work counted so far.
func (h *fakeHasher) reset() {
	h.mu.Lock()
	h.work, h.argon2, h.bcryptRounds = 0, 0, 0
	h.mu.Unlock()
}

// mailbox records the messages queued.
type mailbox struct {
	mu   sync.Mutex
	sent []queued
}

type queued struct {
	kind, to string
	data     any
}

func (m *mailbox) Queue(ctx context.Context, key, accountID, kind, locale, to string, data any) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, queued{kind: kind, to: to, data: data})
	return nil
}

// lastCode is the code of the last message, "" when none was sent.
func (m *mailbox) lastCode() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.sent) == 0 {
		return ""
	}
	if d, ok := m.sent[len(m.sent)-1].data.(mail.CodeData); ok {
		return d.Code
	}
	return ""
}

func (m *mailbox) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sent)
}

// recorder records the events.
type recorder struct {
	mu       sync.Mutex
	audits   []string // kind
	attempts []string // method/outcome
}

func (r *recorder) Audit(ctx context.Context, ip netip.Addr, kind, accountID string, details map[string]string) {
	r.mu.Lock()
	r.audits = append(r.audits, kind)
	r.mu.Unlock()
}

func (r *recorder) Attempt(method, outcome string) {
	r.mu.Lock()
	r.attempts = append(r.attempts, method+"/"+outcome)
	r.mu.Unlock()
}

func (r *recorder) StoreFailed(op string) {}

func (r *recorder) Warn(ctx context.Context, msg, accountID string, err error) {
	r.mu.Lock()
	r.audits = append(r.audits, "warn: "+msg)
	r.mu.Unlock()
}

func (r *recorder) audited(kind string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range r.audits {
		if k == kind {
			return true
		}
	}
	return false
}

type fixture struct {
	t        *testing.T
	ctx      context.Context
	clock    *clock
	sessions *session.MemoryStore
	accounts accounts.Store
	hasher   *fakeHasher
	sealer   *mfa.Sealer
	mail     *mailbox
	events   *recorder
	passkeys *fakePasskeys
	m        *Machine
	client   netip.Addr
	secret   string // a TOTP secret a test case set up
}

func testConfig() Config {
	return Config{
		MaxFailures: 5, IPMaxFailures: 50, Lockout: 15 * time.Minute, EmailCodeTTL: 10 * time.Minute,
		PasswordMinLength: 12, SessionLifetime: 12 * time.Hour, PortalLoginURL: "https://account.test/login",
		Consoles:     []Console{{ID: "dedibox"}, {ID: "scaleway", ViaEndpoint: true}},
		SSOProviders: map[string]bool{"github": true},
	}
}

func newFixture(t *testing.T, configure ...func(*Config)) *fixture {
	t.Helper()
	cfg := testConfig()
	for _, c := range configure {
		c(&cfg)
	}
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)}
	acc, err := accounts.OpenSQLite(ctx, filepath.Join(t.TempDir(), "accounts.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { acc.Close() })
	sealer, err := mfa.NewSealer([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, ctx: ctx, clock: c, sessions: session.NewMemoryStore(c.now), accounts: acc,
		hasher: &fakeHasher{}, sealer: sealer, mail: &mailbox{}, events: &recorder{}, passkeys: &fakePasskeys{},
		client: netip.MustParseAddr("192.0.2.10")}
	f.m = New(Deps{Config: cfg, Accounts: acc, Factors: acc, Signups: acc, Hasher: f.hasher, Sealer: sealer,
		Passkeys: f.passkeys, Sessions: memSessions{f.sessions}, Counters: f.sessions, Mailer: f.mail,
		Events: f.events, Clock: c.now, CodeKey: []byte(strings.Repeat("c", 32)),
		Recovery: acc, RecoveryKey: []byte(strings.Repeat("r", 32))})
	return f
}

// account creates an account with password ("" for none).
func (f *fixture) account(email, password string, set ...func(*accounts.Account)) *accounts.Account {
	f.t.Helper()
	a := &accounts.Account{Email: email, EmailVerified: true}
	if password != "" {
		a.PasswordHash = fakeHash(password)
	}
	for _, s := range set {
		s(a)
	}
	err := f.accounts.CreateAccount(f.ctx, a, []accounts.ConsoleAccount{
		{Console: "dedibox", ExternalID: "ded-" + email, Prelinked: strings.HasPrefix(email, "pre")},
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return a
}

// withTOTP gives the account a confirmed authenticator app and returns its secret.
func (f *fixture) withTOTP(a *accounts.Account) string {
	f.t.Helper()
	secret := f.pendingTOTP(a)
	if err := f.accounts.ConfirmTOTP(f.ctx, a.ID, f.clock.now().Unix()/30-10, f.clock.now()); err != nil {
		f.t.Fatal(err)
	}
	return secret
}

// withPasskey gives the account the passkey "cred-1" the fake WebAuthn answers with.
func (f *fixture) withPasskey(a *accounts.Account) {
	f.t.Helper()
	err := f.accounts.AddWebAuthnCredential(f.ctx, &accounts.WebAuthnCredential{ID: []byte("cred-1"), AccountID: a.ID,
		Name: "key", PublicKey: []byte{1, 2, 3}, AttestationType: "none", AttestationFormat: "none", CreatedAt: f.clock.now()})
	if err != nil {
		f.t.Fatal(err)
	}
}

// pendingTOTP starts an authenticator app set-up and returns its secret.
func (f *fixture) pendingTOTP(a *accounts.Account) string {
	f.t.Helper()
	secret, _, _, err := mfa.GenerateTOTP("test", a.Email)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.accounts.PutPendingTOTP(f.ctx, a.ID, f.sealer.Seal([]byte(secret), []byte(a.ID))); err != nil {
		f.t.Fatal(err)
	}
	return secret
}

func (f *fixture) code(secret string) string {
	f.t.Helper()
	c, err := totp.GenerateCode(secret, f.clock.now())
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// identify opens a login for email from the fixture's client.
func (f *fixture) identify(email string) *Login {
	f.t.Helper()
	l := &Login{Client: f.client}
	if _, err := f.m.Identify(f.ctx, l, email, Opening{Host: "account.test"}); err != nil {
		f.t.Fatalf("identify %s: %v", email, err)
	}
	return l
}

// at is a login for email already past its first factor, waiting at step.
func (f *fixture) at(email, step string) *Login {
	f.t.Helper()
	l := f.identify(email)
	acct, err := f.accounts.AccountByEmail(f.ctx, email)
	if err != nil {
		f.t.Fatal(err)
	}
	l.Session.AccountID, l.Session.Next = acct.ID, step
	l.Session.Factors = []string{"password"}
	if err := f.sessions.Save(f.ctx, l.Session, time.Hour); err != nil {
		f.t.Fatal(err)
	}
	return l
}

// stored is the session as the store holds it now.
func (f *fixture) stored(l *Login) *session.Session {
	f.t.Helper()
	s, err := f.sessions.Get(f.ctx, l.Session.Handle, time.Hour)
	if err != nil {
		f.t.Fatalf("stored session: %v", err)
	}
	return s
}

// complete signs email in with password and stores the session as the edge does.
func (f *fixture) complete(email, password string) *Login {
	f.t.Helper()
	l := f.identify(email)
	res, err := f.m.Password(f.ctx, l, password)
	if err != nil || !res.Complete {
		f.t.Fatalf("login of %s: %+v, %v", email, res, err)
	}
	if _, err := f.sessions.Rotate(f.ctx, l.Session, time.Hour); err != nil {
		f.t.Fatal(err)
	}
	f.m.Finished(f.ctx, l)
	return l
}

// wantErr fails unless err is want (errors.Is), or nil when want is nil.
func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("got error %v, want none", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want %v", err, want)
	}
}
