package unify

import (
	"bytes"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"unigate/accounts"
)

// DediboxRecord is a valid line of the Dedibox export (CONTRACT §8):
// {"id","email","password_hash","totp_secret"?,"sms_mfa_phone"?,
// "linked_scaleway_account_id"?,"linked_at"?,"created_at", …}. Optional
// members that are null or "" count as absent.
type DediboxRecord struct {
	ID               string
	Email            string // normalised (accounts.NormalizeEmail)
	PasswordHash     string // bcrypt or argon2id (accounts.ValidHashFormat)
	TOTPSecret       string // base32, upper case, no padding; "" when none
	SMSPhone         string // "" when the account has no SMS second factor
	LinkedScalewayID string // "" when not linked
	LinkedAt         time.Time
	CreatedAt        time.Time
	// Locale is the language subtag of an optional "locale" (or "language")
	// member, lower case; "" when absent or not a language tag. The exports
	// need not carry one: notices are then in English.
	Locale string
}

// ScalewayRecord is a valid line of the Scaleway export (CONTRACT §8):
// {"id","email","password_hash"?,"totp_secret"?,"webauthn_credentials"?,
// "organizations"?,"created_at", …}.
type ScalewayRecord struct {
	ID            string
	Email         string // normalised
	PasswordHash  string // "" when none
	TOTPSecret    string // base32, upper case, no padding; "" when none
	WebAuthn      []Credential
	Organizations []Organization
	CreatedAt     time.Time
	Locale        string // as DediboxRecord.Locale
}

// Credential is an imported WebAuthn credential.
type Credential struct {
	ID         []byte // 1 to accounts.MaxCredentialIDBytes bytes
	PublicKey  []byte // COSE key
	SignCount  uint32
	AAGUID     []byte // 16 bytes, or nil when absent
	Transports []string
}

// Organization is a Scaleway organization the account belongs to.
type Organization struct {
	ID   string
	Name string
	Role string // owner | admin | member
}

// RecordError says why a line was refused. Its text is the reason given in
// the report: short, and never quoting a value (a line holds secrets).
type RecordError struct{ Reason string }

func (e *RecordError) Error() string { return e.Reason }

func refuse(format string, args ...any) *RecordError {
	if len(args) == 0 {
		return &RecordError{Reason: format}
	}
	return &RecordError{Reason: fmt.Sprintf(format, args...)}
}

// Bounds of what a line may hold.
const (
	// MaxLineBytes is the longest line read; a longer one is refused (and
	// skipped) without being held in memory.
	MaxLineBytes = 1 << 20
	// maxIDBytes bounds an id: ids travel in the X-Auth-Console-Account-Id
	// header and in the stores' keys.
	maxIDBytes = 255
	// maxNameBytes bounds an organization's name.
	maxNameBytes = 255
	// maxListItems bounds the credentials and organizations of one record.
	maxListItems = 1000
	// maxPublicKeyBytes bounds a COSE public key (the largest, RSA-4096, is
	// about 550 bytes).
	maxPublicKeyBytes = 4096
	// TOTP secrets: at least 80 bits (what legacy apps issued), at most 512.
	minTOTPBytes, maxTOTPBytes = 10, 64
)

// ParseDediboxLine parses and checks one line of the Dedibox export.
func ParseDediboxLine(line []byte) (*DediboxRecord, error) { return parseDedibox(line, false) }

// parseDedibox is ParseDediboxLine; wellFormed says line is known to be
// UTF-8 and well-formed JSON (see parseObject).
func parseDedibox(line []byte, wellFormed bool) (*DediboxRecord, error) {
	obj, err := parseObject(line, wellFormed)
	if err != nil {
		return nil, err
	}
	p := fieldParser{obj: obj}
	r := &DediboxRecord{
		ID:               p.id("id", true),
		Email:            p.email("email"),
		PasswordHash:     p.passwordHash("password_hash", true),
		TOTPSecret:       p.totpSecret("totp_secret"),
		SMSPhone:         p.optString("sms_mfa_phone"),
		LinkedScalewayID: p.id("linked_scaleway_account_id", false),
		LinkedAt:         p.time("linked_at", false),
		CreatedAt:        p.time("created_at", true),
		Locale:           p.locale(),
	}
	if p.err != nil {
		return nil, p.err
	}
	return r, nil
}

// ParseScalewayLine parses and checks one line of the Scaleway export.
func ParseScalewayLine(line []byte) (*ScalewayRecord, error) { return parseScaleway(line, false) }

// parseScaleway is parseDedibox for the Scaleway export.
func parseScaleway(line []byte, wellFormed bool) (*ScalewayRecord, error) {
	obj, err := parseObject(line, wellFormed)
	if err != nil {
		return nil, err
	}
	p := fieldParser{obj: obj}
	r := &ScalewayRecord{
		ID:            p.id("id", true),
		Email:         p.email("email"),
		PasswordHash:  p.passwordHash("password_hash", false),
		TOTPSecret:    p.totpSecret("totp_secret"),
		WebAuthn:      p.credentials("webauthn_credentials"),
		Organizations: p.organizations("organizations"),
		CreatedAt:     p.time("created_at", true),
		Locale:        p.locale(),
	}
	if p.err != nil {
		return nil, p.err
	}
	return r, nil
}

// parseObject checks that line is one JSON object in UTF-8 and splits it.
// wellFormed skips the checks of the encoding and of the JSON grammar (about
// a third of the parsing), for the second reading of a line the first one
// checked (the run compares its checksum first): splitObject relies on them.
func parseObject(line []byte, wellFormed bool) (object, error) {
	if !wellFormed && !utf8.Valid(line) {
		// RFC 8259 §8.1: JSON text exchanged between systems is UTF-8.
		return nil, refuse("not valid UTF-8")
	}
	if !wellFormed && !json.Valid(line) {
		return nil, refuse("malformed JSON")
	}
	obj, err := splitObject(line)
	if err != nil {
		var dup *dupMemberError
		if errors.As(err, &dup) {
			return nil, refuse("member %q appears twice", dup.name)
		}
		if errors.Is(err, errNotObject) {
			return nil, refuse("not a JSON object")
		}
		return nil, refuse("malformed JSON")
	}
	return obj, nil
}

// fieldParser reads members of one object and keeps the first problem.
type fieldParser struct {
	obj object
	err *RecordError
}

func (p *fieldParser) fail(format string, args ...any) {
	if p.err == nil {
		p.err = refuse(format, args...)
	}
}

// str reads member name as a string: ok false when absent, null or "".
func (p *fieldParser) str(name string, required bool) (string, bool) {
	if p.err != nil {
		return "", false
	}
	v := p.obj.get(name)
	if isNull(v) {
		if required {
			p.fail("missing %s", name)
		}
		return "", false
	}
	if v[0] != '"' {
		p.fail("%s is not a JSON string", name)
		return "", false
	}
	s, err := unquote(v)
	if err != nil {
		p.fail("%s: malformed string", name)
		return "", false
	}
	if s == "" {
		if required {
			p.fail("empty %s", name)
		}
		return "", false
	}
	return s, true
}

func (p *fieldParser) optString(name string) string {
	s, _ := p.str(name, false)
	return s
}

// id reads an id: a JSON string that can travel in an HTTP header as it is
// (no control character, no surrounding white space) and is at most
// maxIDBytes long.
func (p *fieldParser) id(name string, required bool) string {
	s, ok := p.str(name, required)
	if !ok {
		return ""
	}
	if reason := badID(s); reason != "" {
		p.fail("%s: %s", name, reason)
		return ""
	}
	return s
}

func badID(s string) string {
	switch {
	case len(s) > maxIDBytes:
		return "longer than 255 bytes"
	case strings.ContainsFunc(s, unicode.IsControl):
		return "control character"
	case strings.TrimFunc(s, unicode.IsSpace) != s:
		return "surrounding white space"
	}
	return ""
}

func (p *fieldParser) email(name string) string {
	s, ok := p.str(name, true)
	if !ok {
		return ""
	}
	n, err := accounts.NormalizeEmail(s)
	if err != nil {
		p.fail("invalid %s: %s", name, reasonOf(err, accounts.ErrInvalidEmail))
		return ""
	}
	return n
}

func (p *fieldParser) passwordHash(name string, required bool) string {
	s, ok := p.str(name, required)
	if !ok {
		return ""
	}
	if err := accounts.ValidHashFormat(s); err != nil {
		p.fail("invalid %s: %s", name, reasonOf(err, accounts.ErrInvalidHash))
		return ""
	}
	return s
}

// reasonOf is err's text after its sentinel's ("accounts: invalid email: no
// @" gives "no @").
func reasonOf(err, sentinel error) string {
	s := err.Error()
	if i := strings.Index(s, sentinel.Error()+": "); i >= 0 {
		return s[i+len(sentinel.Error())+2:]
	}
	return strings.TrimPrefix(s, "accounts: ")
}

// base32NoPadding decodes TOTP secrets; WithPadding copies the encoding on
// every call, so it is made once, not per record.
var base32NoPadding = base32.StdEncoding.WithPadding(base32.NoPadding)

// totpSecret reads a base32 TOTP secret as authenticator apps write it
// (any case, spaces, optional padding) and returns its canonical form.
func (p *fieldParser) totpSecret(name string) string {
	s, ok := p.str(name, false)
	if !ok {
		return ""
	}
	canon := strings.TrimRight(strings.ToUpper(strings.ReplaceAll(s, " ", "")), "=")
	raw, err := base32NoPadding.DecodeString(canon)
	switch {
	case err != nil:
		p.fail("invalid %s: not base32", name)
		return ""
	case len(raw) < minTOTPBytes || len(raw) > maxTOTPBytes:
		p.fail("invalid %s: %d bytes, want %d to %d", name, len(raw), minTOTPBytes, maxTOTPBytes)
		return ""
	}
	return canon
}

// time reads an RFC 3339 time with a year from 1 to 9999.
func (p *fieldParser) time(name string, required bool) time.Time {
	s, ok := p.str(name, required)
	if !ok {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() < 1 || t.UTC().Year() < 1 || t.UTC().Year() > 9999 {
		p.fail("%s is not an RFC 3339 time", name)
		return time.Time{}
	}
	return t.UTC()
}

// locale reads the language of an optional "locale" or "language" member;
// anything that is not a language tag is ignored, not refused: the contract
// does not name these members.
func (p *fieldParser) locale() string {
	for _, name := range []string{"locale", "language"} {
		v := p.obj.get(name)
		if isNull(v) || v[0] != '"' {
			continue
		}
		s, err := unquote(v)
		if err != nil {
			continue
		}
		lang, _, _ := strings.Cut(strings.ReplaceAll(strings.TrimSpace(s), "_", "-"), "-")
		lang = strings.ToLower(lang)
		if len(lang) >= 2 && len(lang) <= 3 && strings.Trim(lang, "abcdefghijklmnopqrstuvwxyz") == "" {
			return lang
		}
	}
	return ""
}

// list reads an optional array member.
func (p *fieldParser) list(name string) [][]byte {
	if p.err != nil {
		return nil
	}
	v := p.obj.get(name)
	if isNull(v) {
		return nil
	}
	items, ok := splitArray(v)
	if !ok {
		p.fail("%s is not a JSON array", name)
		return nil
	}
	if len(items) > maxListItems {
		p.fail("%s: more than %d items", name, maxListItems)
		return nil
	}
	return items
}

// credentials reads webauthn_credentials: ids and public keys in base64url
// without padding (CONTRACT §8), the AAGUID as a UUID or in base64url.
func (p *fieldParser) credentials(name string) []Credential {
	var out []Credential
	seen := map[string]bool{}
	p.objects(name, func(q *fieldParser) {
		c := Credential{
			ID:         q.base64url("id", true, accounts.MaxCredentialIDBytes),
			PublicKey:  q.base64url("public_key", true, maxPublicKeyBytes),
			SignCount:  q.uint32("sign_count"),
			AAGUID:     q.aaguid("aaguid"),
			Transports: q.strings("transports"),
		}
		switch {
		case q.err != nil:
		case seen[string(c.ID)]:
			q.fail("credential id appears twice")
		default:
			seen[string(c.ID)] = true
			out = append(out, c)
		}
	})
	return out
}

// objects reads an optional array of objects, handing each to read with a
// parser of its own; the first problem that parser keeps refuses the line,
// as that of name[i].
func (p *fieldParser) objects(name string, read func(q *fieldParser)) {
	for i, item := range p.list(name) {
		obj, err := splitObject(item)
		if err != nil {
			p.fail("%s[%d] is not a JSON object", name, i)
			return
		}
		q := fieldParser{obj: obj}
		read(&q)
		if q.err != nil {
			p.fail("%s[%d]: %s", name, i, q.err.Reason)
			return
		}
	}
}

// base64url decodes a base64url string without padding (RFC 4648 §5; the
// strict decoder also refuses non-zero trailing bits, so that one value has
// one spelling).
func (p *fieldParser) base64url(name string, required bool, maxBytes int) []byte {
	s, ok := p.str(name, required)
	if !ok {
		return nil
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		p.fail("%s is not base64url without padding", name)
		return nil
	}
	if len(b) > maxBytes {
		p.fail("%s longer than %d bytes", name, maxBytes)
		return nil
	}
	return b
}

// uint32 reads an optional non-negative integer below 2^32 (0 when absent).
func (p *fieldParser) uint32(name string) uint32 {
	if p.err != nil {
		return 0
	}
	v := p.obj.get(name)
	if isNull(v) {
		return 0
	}
	n, err := strconv.ParseUint(string(v), 10, 32)
	if err != nil {
		p.fail("%s is not an integer from 0 to 4294967295", name)
		return 0
	}
	return uint32(n)
}

// aaguid reads an AAGUID: a UUID ("00000000-0000-…") or 16 bytes in
// base64url; nil when absent.
func (p *fieldParser) aaguid(name string) []byte {
	s, ok := p.str(name, false)
	if !ok {
		return nil
	}
	if len(s) == 36 {
		if u, err := uuid.Parse(s); err == nil {
			return u[:]
		}
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != 16 {
		p.fail("%s is neither a UUID nor 16 bytes in base64url", name)
		return nil
	}
	return b
}

// strings reads an optional array of short strings (transport hints).
func (p *fieldParser) strings(name string) []string {
	items := p.list(name)
	var out []string
	for _, item := range items {
		s, err := unquote(item)
		if len(item) == 0 || item[0] != '"' || err != nil || s == "" || len(s) > 32 || badID(s) != "" {
			p.fail("%s: want short strings", name)
			return nil
		}
		out = append(out, s)
	}
	return out
}

// organizations reads the Scaleway organizations of an account.
func (p *fieldParser) organizations(name string) []Organization {
	var out []Organization
	seen := map[string]bool{}
	p.objects(name, func(q *fieldParser) {
		o := Organization{ID: q.id("id", true), Role: q.optString("role")}
		o.Name, _ = q.str("name", false)
		switch {
		case q.err != nil:
		case len(o.Name) > maxNameBytes || strings.ContainsFunc(o.Name, unicode.IsControl):
			q.fail("name longer than %d bytes or with a control character", maxNameBytes)
		case o.Role != "owner" && o.Role != "admin" && o.Role != "member":
			q.fail("role is not owner, admin or member")
		case seen[o.ID]:
			q.fail("organization appears twice")
		default:
			seen[o.ID] = true
			out = append(out, o)
		}
	})
	return out
}

// blankLine reports a line holding only white space: not a record, skipped.
func blankLine(line []byte) bool {
	return len(bytes.TrimSpace(line)) == 0
}
