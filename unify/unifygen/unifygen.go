// Package unifygen writes realistic Dedibox and Scaleway exports for the
// account unification (CONTRACT §8), with every situation in known
// proportions and, on request, refused lines of every kind: the input of
// package unify's tests and benchmark, and of `go run ./unify/cmd/gen`.
//
// The output depends only on the options (the seed included), and
// Generate returns what a unification of it must report, computed here
// from how each account was made, not by applying the rules again: the
// tests compare package unify's report with it.
package unifygen

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Options configures Generate.
type Options struct {
	// Dedibox and Scaleway are the numbers of valid records to write.
	Dedibox, Scaleway int
	// Seed makes the output; the same seed, the same files.
	Seed uint64
	// Malformed is the number of refused lines to add, of every kind in
	// turn, spread over both files (they are not counted in Dedibox and
	// Scaleway).
	Malformed int
	// Cutoff is login.legacy_login_cutoff at 00:00 UTC; DefaultCutoff when
	// zero. Half of the explicit links are made before it.
	Cutoff time.Time
	// Mix weighs the kinds of accounts; DefaultMix when zero.
	Mix Mix
}

// DefaultCutoff is config.yaml's legacy_login_cutoff.
var DefaultCutoff = time.Date(2025, 10, 28, 0, 0, 0, 0, time.UTC)

// Mix weighs the kinds of unified accounts generated. The defaults make
// about 1.65 Dedibox records per Scaleway record, the proportions of the
// real exports (a million and 600,000).
type Mix struct {
	ScalewayOnly int // a Scaleway account alone
	Linked       int // a Dedibox account explicitly linked to a Scaleway account (emails may differ)
	SameEmail    int // a Dedibox account and a Scaleway account with one address in another case
	DediboxOnly  int // a Dedibox account alone (some with SMS only, some with an address that only looks like a Scaleway one)
	Multiple     int // 2 or 3 Dedibox accounts with one address, some with a Scaleway account too
}

// DefaultMix is used when Options.Mix is zero.
var DefaultMix = Mix{ScalewayOnly: 15, Linked: 20, SameEmail: 10, DediboxOnly: 35, Multiple: 5}

// Expected is what unifying the files must report.
type Expected struct {
	DediboxRecords  int        `json:"dedibox_records"`
	ScalewayRecords int        `json:"scaleway_records"`
	UnifiedAccounts int        `json:"unified_accounts"`
	Situations      Situations `json:"situations"`
	Prelinked       int        `json:"prelinked"`
	// NotificationsQueued is one per unified account, on a first run.
	NotificationsQueued int `json:"notifications_queued"`
	// Rejected lists the refused lines, Dedibox file first, then by line.
	Rejected []Rejected `json:"rejected"`
}

// Situations as in the report.
type Situations struct {
	ScalewayAccount         int `json:"scaleway_account"`
	NoScalewayAccount       int `json:"no_scaleway_account"`
	SMSMFADisabled          int `json:"sms_mfa_disabled"`
	MultipleDediboxAccounts int `json:"multiple_dedibox_accounts"`
}

// Rejected is a refused line: File is "dedibox" or "scaleway".
type Rejected struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Kind string `json:"kind"` // what is wrong with it
}

// Generate writes the Dedibox export to dedibox and the Scaleway export to
// scaleway, and returns what their unification must report.
func Generate(dedibox, scaleway io.Writer, opts Options) (*Expected, error) {
	if opts.Dedibox < 0 || opts.Scaleway < 0 || opts.Malformed < 0 {
		return nil, fmt.Errorf("unifygen: negative count")
	}
	if opts.Cutoff.IsZero() {
		opts.Cutoff = DefaultCutoff
	}
	if opts.Mix == (Mix{}) {
		opts.Mix = DefaultMix
	}
	g := &generator{
		opts: opts,
		rng:  rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		ded:  &output{w: bufio.NewWriterSize(dedibox, 1<<16), name: "dedibox"},
		scw:  &output{w: bufio.NewWriterSize(scaleway, 1<<16), name: "scaleway"},
		exp:  &Expected{},
	}
	g.run()
	if err := g.ded.w.Flush(); err != nil {
		return nil, err
	}
	if err := g.scw.w.Flush(); err != nil {
		return nil, err
	}
	g.exp.NotificationsQueued = g.exp.UnifiedAccounts
	return g.exp, g.err
}

type output struct {
	w     *bufio.Writer
	name  string
	lines int
}

type generator struct {
	opts     Options
	rng      *rand.Rand
	ded, scw *output
	exp      *Expected
	err      error

	person     int      // persons made so far: makes every address unique
	dedSeq     int      // Dedibox records made so far: makes every Dedibox id unique
	dLeft      int      // Dedibox records still to write
	sLeft      int      // Scaleway records still to write
	badLeft    int      // refused lines still to write
	badKind    int      // next kind of refused line
	lastScwIDs []string // recent valid Scaleway ids, for refused duplicates
	lastDedIDs []string // recent valid Dedibox ids, for refused duplicates
	lastSOnly  string   // the address of the last lone Scaleway account
}

func (g *generator) run() {
	g.dLeft, g.sLeft, g.badLeft = g.opts.Dedibox, g.opts.Scaleway, g.opts.Malformed
	m := g.opts.Mix
	total := m.ScalewayOnly + m.Linked + m.SameEmail + m.DediboxOnly + m.Multiple
	for (g.dLeft > 0 || g.sLeft > 0) && g.err == nil {
		// Refused lines come between accounts, spread over the run.
		if g.badLeft > 0 && g.rng.IntN(max(1, (g.dLeft+g.sLeft)/g.badLeft+1)) == 0 {
			g.malformed()
		}
		n := g.rng.IntN(total)
		switch {
		case g.dLeft == 0:
			g.scalewayOnly()
		case g.sLeft == 0:
			g.dediboxOnly()
		case n < m.ScalewayOnly:
			g.scalewayOnly()
		case n < m.ScalewayOnly+m.Linked:
			g.linked()
		case n < m.ScalewayOnly+m.Linked+m.SameEmail:
			g.sameEmail()
		case n < m.ScalewayOnly+m.Linked+m.SameEmail+m.DediboxOnly:
			g.dediboxOnly()
		default:
			g.multiple()
		}
	}
	for g.badLeft > 0 && g.err == nil {
		g.malformed()
	}
}

// --- the kinds of accounts -------------------------------------------------

func (g *generator) scalewayOnly() {
	addr := g.address()
	s := g.scalewayRecord(addr, true)
	g.lastSOnly = addr
	g.writeScaleway(s)
	g.exp.UnifiedAccounts++
}

// linked: an explicit link; the two addresses differ half of the time.
func (g *generator) linked() {
	addr := g.address()
	s := g.scalewayRecord(addr, true)
	dAddr := addr
	if g.rng.IntN(2) == 0 {
		dAddr = g.address()
	}
	d := g.dediboxRecord(dAddr)
	d.LinkedScalewayID = s.ID
	prelinked := g.rng.IntN(2) == 0
	d.LinkedAt = g.linkTime(prelinked)
	g.writeScaleway(s)
	g.writeDedibox(d)
	g.account(true, g.smsOnly(d, s))
	if prelinked {
		g.exp.Prelinked++
	}
}

// sameEmail: no link; the Dedibox address is the Scaleway one in another
// case.
func (g *generator) sameEmail() {
	addr := g.address()
	s := g.scalewayRecord(addr, true)
	d := g.dediboxRecord(recase(g.rng, addr))
	if g.rng.IntN(4) == 0 {
		// linked_at alone is no link.
		d.LinkedAt = g.linkTime(true)
	}
	g.writeScaleway(s)
	g.writeDedibox(d)
	g.account(true, g.smsOnly(d, s))
}

// dediboxOnly: no Scaleway account. Some use the address of a lone
// Scaleway account with a +tag: a distinct mailbox, never matched.
func (g *generator) dediboxOnly() {
	addr := g.address()
	if g.lastSOnly != "" && g.rng.IntN(10) == 0 {
		local, domain, _ := strings.Cut(g.lastSOnly, "@")
		addr = local + "+dedibox@" + domain
		g.lastSOnly = ""
	}
	d := g.dediboxRecord(addr)
	g.writeDedibox(d)
	g.account(false, g.smsOnly(d, nil))
}

// multiple: 2 or 3 Dedibox accounts with one address (in various cases);
// 40% with a Scaleway account of that address, to which one of them may be
// linked.
func (g *generator) multiple() {
	n := 2 + g.rng.IntN(2)
	if n > g.dLeft {
		g.dediboxOnly()
		return
	}
	addr := g.address()
	var s *scalewayJSON
	if g.sLeft > 0 && g.rng.IntN(5) < 2 {
		s = g.scalewayRecord(addr, true)
		g.writeScaleway(s)
	}
	prelinked := false
	for i := range n {
		d := g.dediboxRecord(recase(g.rng, addr))
		if i == 0 && s != nil && g.rng.IntN(2) == 0 {
			d.LinkedScalewayID = s.ID
			prelinked = g.rng.IntN(2) == 0
			d.LinkedAt = g.linkTime(prelinked)
		}
		g.writeDedibox(d)
	}
	g.exp.UnifiedAccounts++
	g.exp.Situations.MultipleDediboxAccounts++
	if prelinked {
		g.exp.Prelinked++
	}
}

// account counts a unified account holding one Dedibox record.
func (g *generator) account(withScaleway, smsOnly bool) {
	g.exp.UnifiedAccounts++
	switch {
	case smsOnly:
		g.exp.Situations.SMSMFADisabled++
	case withScaleway:
		g.exp.Situations.ScalewayAccount++
	default:
		g.exp.Situations.NoScalewayAccount++
	}
}

// smsOnly: SMS would have been the account's only second factor.
func (g *generator) smsOnly(d *dediboxJSON, s *scalewayJSON) bool {
	if d.SMSPhone == "" || d.TOTPSecret != "" {
		return false
	}
	return s == nil || (s.TOTPSecret == "" && len(s.WebAuthn) == 0)
}

// --- records ------------------------------------------------------------------

type dediboxJSON struct {
	ID               string         `json:"id"`
	Email            string         `json:"email"`
	PasswordHash     string         `json:"password_hash"`
	TOTPSecret       string         `json:"totp_secret,omitempty"`
	SMSPhone         string         `json:"sms_mfa_phone,omitempty"`
	LinkedScalewayID string         `json:"linked_scaleway_account_id,omitempty"`
	LinkedAt         string         `json:"linked_at,omitempty"`
	CreatedAt        string         `json:"created_at"`
	Country          string         `json:"country"`
	Servers          []string       `json:"servers"`
	Billing          map[string]any `json:"billing,omitempty"`
}

type scalewayJSON struct {
	ID            string           `json:"id"`
	Email         string           `json:"email"`
	PasswordHash  string           `json:"password_hash,omitempty"`
	TOTPSecret    string           `json:"totp_secret,omitempty"`
	WebAuthn      []credentialJSON `json:"webauthn_credentials,omitempty"`
	Organizations []orgJSON        `json:"organizations,omitempty"`
	CreatedAt     string           `json:"created_at"`
	Locale        string           `json:"locale,omitempty"`
	Marketing     bool             `json:"marketing_opt_in"`
}

type credentialJSON struct {
	ID         string   `json:"id"`
	PublicKey  string   `json:"public_key"`
	SignCount  uint32   `json:"sign_count"`
	AAGUID     string   `json:"aaguid"`
	Transports []string `json:"transports"`
}

type orgJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
}

var domains = []string{"example.com", "example.net", "example.org", "mail.example.fr", "société.example"}

// address is a new, unique address (local parts with dots and tags: kept
// as they are, never folded).
func (g *generator) address() string {
	g.person++
	local := fmt.Sprintf("user%d", g.person)
	switch g.rng.IntN(6) {
	case 0:
		local = fmt.Sprintf("first.last%d", g.person)
	case 1:
		local = fmt.Sprintf("user%d+cloud", g.person)
	}
	return local + "@" + domains[g.rng.IntN(len(domains))]
}

// recase spells addr with some letters in upper case (matching is
// case-insensitive).
func recase(rng *rand.Rand, addr string) string {
	b := []rune(addr)
	for i, r := range b {
		if r >= 'a' && r <= 'z' && rng.IntN(3) == 0 {
			b[i] = r - 'a' + 'A'
		}
	}
	return string(b)
}

func (g *generator) dediboxRecord(addr string) *dediboxJSON {
	d := &dediboxJSON{
		ID:           fmt.Sprintf("%d", 1000000+g.dedSeq*3+g.rng.IntN(3)),
		Email:        addr,
		PasswordHash: g.bcrypt(),
		CreatedAt:    g.createdAt(),
		Country:      []string{"FR", "DE", "NL", "GB", "ES"}[g.rng.IntN(5)],
		Servers:      []string{fmt.Sprintf("sd-%d", g.rng.IntN(1000000))},
	}
	g.dedSeq++
	switch r := g.rng.IntN(100); {
	case r < 25:
		d.TOTPSecret = g.totp()
	case r < 40:
		d.SMSPhone = fmt.Sprintf("+336%08d", g.rng.IntN(100000000))
	case r < 45:
		d.TOTPSecret, d.SMSPhone = g.totp(), fmt.Sprintf("+336%08d", g.rng.IntN(100000000))
	}
	if g.rng.IntN(5) == 0 {
		d.Billing = map[string]any{"vat": "FR123", "address": map[string]any{"city": "Paris", "zip": "75008"}}
	}
	return d
}

func (g *generator) scalewayRecord(addr string, extras bool) *scalewayJSON {
	s := &scalewayJSON{
		ID:        g.uuid(),
		Email:     addr,
		CreatedAt: g.createdAt(),
		Marketing: g.rng.IntN(2) == 0,
	}
	if g.rng.IntN(30) != 0 {
		s.PasswordHash = g.argon2()
	}
	if g.rng.IntN(3) == 0 {
		s.Locale = "fr-FR"
	}
	switch r := g.rng.IntN(100); {
	case r < 15:
		s.TOTPSecret = g.totp()
	case r < 22:
		s.WebAuthn = []credentialJSON{g.credential()}
	case r < 25:
		s.TOTPSecret, s.WebAuthn = g.totp(), []credentialJSON{g.credential(), g.credential()}
	}
	if extras && g.rng.IntN(3) == 0 {
		n := 1 + g.rng.IntN(2)
		for i := range n {
			// A small pool of shared organizations, and some of one's own.
			id := fmt.Sprintf("00000000-0000-4000-8000-%012d", g.rng.IntN(500))
			if i > 0 || g.rng.IntN(2) == 0 {
				id = g.uuid()
			}
			if i > 0 && id == s.Organizations[0].ID {
				continue
			}
			s.Organizations = append(s.Organizations, orgJSON{ID: id, Name: "Org " + id[len(id)-4:],
				Role: []string{"owner", "admin", "member"}[g.rng.IntN(3)]})
		}
	}
	return s
}

func (g *generator) credential() credentialJSON {
	id := make([]byte, 16+g.rng.IntN(48))
	g.fill(id)
	key := make([]byte, 77)
	g.fill(key)
	c := credentialJSON{
		ID:         base64.RawURLEncoding.EncodeToString(id),
		PublicKey:  base64.RawURLEncoding.EncodeToString(key),
		SignCount:  uint32(g.rng.IntN(1000)),
		AAGUID:     g.uuid(),
		Transports: []string{"usb", "internal", "hybrid"}[:1+g.rng.IntN(3)],
	}
	return c
}

func (g *generator) fill(b []byte) {
	for i := range b {
		b[i] = byte(g.rng.Uint32())
	}
}

func (g *generator) uuid() string {
	var b [16]byte
	g.fill(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return uuid.UUID(b).String()
}

const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// bcrypt is a well-formed bcrypt hash of nothing in particular: hashing
// for real would take hours for a million records, and the unification
// only checks the format.
func (g *generator) bcrypt() string {
	var b strings.Builder
	b.WriteString([]string{"$2y$10$", "$2a$10$", "$2b$12$"}[g.rng.IntN(3)])
	for range 53 {
		b.WriteByte(bcryptAlphabet[g.rng.IntN(len(bcryptAlphabet))])
	}
	return b.String()
}

func (g *generator) argon2() string {
	salt, key := make([]byte, 16), make([]byte, 32)
	g.fill(salt)
	g.fill(key)
	return "$argon2id$v=19$m=65536,t=3,p=4$" + base64.RawStdEncoding.EncodeToString(salt) + "$" +
		base64.RawStdEncoding.EncodeToString(key)
}

const base32Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

func (g *generator) totp() string {
	b := make([]byte, 32) // 160 bits
	for i := range b {
		b[i] = base32Alphabet[g.rng.IntN(32)]
	}
	return string(b)
}

func (g *generator) createdAt() string {
	t := time.Date(2008, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(g.rng.Int64N(int64(17 * 365 * 24 * time.Hour))))
	return t.Truncate(time.Second).Format(time.RFC3339)
}

// linkTime is within a year before the cutoff, or within a month after.
func (g *generator) linkTime(before bool) string {
	c := g.opts.Cutoff
	if before {
		return c.Add(-time.Duration(1 + g.rng.Int64N(int64(365*24*time.Hour)))).Format(time.RFC3339)
	}
	return c.Add(time.Duration(g.rng.Int64N(int64(30 * 24 * time.Hour)))).Format(time.RFC3339)
}

// --- writing ------------------------------------------------------------------

func (g *generator) writeDedibox(d *dediboxJSON) {
	g.dLeft--
	g.exp.DediboxRecords++
	g.lastDedIDs = keepLast(g.lastDedIDs, d.ID)
	g.writeJSON(g.ded, d)
}

func (g *generator) writeScaleway(s *scalewayJSON) {
	g.sLeft--
	g.exp.ScalewayRecords++
	g.lastScwIDs = keepLast(g.lastScwIDs, s.ID)
	g.writeJSON(g.scw, s)
}

func keepLast(ids []string, id string) []string {
	if len(ids) == 8 {
		ids = ids[1:]
	}
	return append(ids, id)
}

func (g *generator) writeJSON(o *output, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		g.err = err
		return
	}
	g.writeLine(o, string(b))
}

func (g *generator) writeLine(o *output, line string) {
	if g.err != nil {
		return
	}
	o.lines++
	if _, err := o.w.WriteString(line + "\n"); err != nil {
		g.err = err
	}
}

// --- refused lines --------------------------------------------------------------

// malformedKinds are the refused lines, written in turn. Each stands
// alone: it joins no valid record's account (its address is new).
var malformedKinds = []string{
	"malformed JSON", "not an object", "missing id", "numeric id", "invalid email",
	"bad password hash", "bad time", "duplicate id", "dangling link", "bad webauthn encoding",
	"bad totp secret", "duplicate member", "missing password hash",
}

func (g *generator) malformed() {
	kind := malformedKinds[g.badKind%len(malformedKinds)]
	g.badKind++
	g.badLeft--
	addr := g.address()
	d := g.dediboxRecord(addr)
	s := g.scalewayRecord(addr, false)
	out, line := g.ded, ""
	mustJSON := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			g.err = err
		}
		return string(b)
	}
	switch kind {
	case "malformed JSON":
		line = strings.TrimSuffix(mustJSON(d), "}")
	case "not an object":
		line = `["` + d.ID + `"]`
	case "missing id":
		d.ID = ""
		line = strings.Replace(mustJSON(d), `"id":"",`, "", 1)
	case "numeric id":
		line = strings.Replace(mustJSON(d), `"id":"`+d.ID+`"`, `"id":`+d.ID, 1)
	case "invalid email":
		d.Email = strings.Replace(addr, "@", "@@", 1)
		line = mustJSON(d)
	case "bad password hash":
		d.PasswordHash = "$2y$10$tooshort"
		line = mustJSON(d)
	case "bad time":
		out = g.scw
		s.CreatedAt = "2021-02-30T10:00:00Z"
		line = mustJSON(s)
	case "duplicate id":
		if len(g.lastScwIDs) > 0 {
			out = g.scw
			s.ID = g.lastScwIDs[g.rng.IntN(len(g.lastScwIDs))]
			line = mustJSON(s)
		} else if len(g.lastDedIDs) > 0 {
			d.ID = g.lastDedIDs[g.rng.IntN(len(g.lastDedIDs))]
			line = mustJSON(d)
		} else {
			line = "{"
		}
	case "dangling link":
		d.LinkedScalewayID = g.uuid()
		d.LinkedAt = g.linkTime(true)
		line = mustJSON(d)
	case "bad webauthn encoding":
		out = g.scw
		c := g.credential()
		c.ID += "=="
		s.WebAuthn = []credentialJSON{c}
		line = mustJSON(s)
	case "bad totp secret":
		d.TOTPSecret = "not-base32!"
		line = mustJSON(d)
	case "duplicate member":
		line = strings.Replace(mustJSON(d), `{"id":`, `{"email":"other@example.com","id":`, 1)
	case "missing password hash":
		d.PasswordHash = ""
		line = strings.Replace(mustJSON(d), `"password_hash":"",`, "", 1)
	}
	g.writeLine(out, line)
	g.exp.Rejected = append(g.exp.Rejected, Rejected{File: out.name, Line: out.lines, Kind: kind})
	// Keep the expectation in report order: Dedibox lines, then Scaleway.
	sortRejected(g.exp.Rejected)
}

func sortRejected(r []Rejected) {
	for i := len(r) - 1; i > 0; i-- {
		a, b := r[i-1], r[i]
		if a.File == "scaleway" && b.File == "dedibox" {
			r[i-1], r[i] = b, a
		}
	}
}
