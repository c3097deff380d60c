package mail

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base32"
	"encoding/json"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	netmail "net/mail"
	"reflect"
	"slices"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"

	gomail "github.com/wneessen/go-mail"

	"unigate/accounts"
)

// Message kinds: the name of a message's templates, and what the outbox and
// the metrics call it.
const (
	// KindEmailCode: a one-time sign-in code. Data: CodeData.
	KindEmailCode = "email_code"
	// KindSignupCode: the code that verifies the address at sign-up. Data: CodeData.
	KindSignupCode = "signup_code"
	// KindAccountExists: someone tried to sign up with an address that
	// already has an account (the sign-up page answers as for a new address,
	// so as not to reveal it: ASVS V6.3.8). Data: AccountExistsData.
	KindAccountExists = "account_exists"
)

// KindInvitation: an invitation to join an organization. Data: InvitationData.
const KindInvitation = "invitation"

// InvitationData fills the invitation templates.
type InvitationData struct {
	Name         string // the invitee's, when they have an account and gave one; "" for none
	Organization string // its name
	Role         string // owner, admin or member
	InvitedBy    string // the inviter's email
	AcceptURL    string // {public_url}/invitations/{token}
	ExpiresDays  int
}

// CodeData fills the templates of the kinds that carry a one-time code.
type CodeData struct {
	Code           string // exactly 8 ASCII digits (CONTRACT.md §9)
	ExpiresMinutes int    // at least 1
	// Name greets the account's owner ("Hello Anna"): accounts.Account.Name,
	// "" for none (and for a sign-up, which has no account yet).
	Name string
}

// KindUnifyNotice: the notice each account of the account unification is
// sent (package unify). Data: UnifyNoticeData. Queued by the million at
// once, it is stored as data (NewStoredMessage) and rendered when sent.
const KindUnifyNotice = "unify_notice"

// UnifyNoticeData fills the unify_notice templates: what the unification
// changed for one account. It names accounts, never a secret.
//
// It is stored as JSON in the outbox, a million at once after a
// unification: what is false or empty is left out of it.
type UnifyNoticeData struct {
	Name      string `json:",omitempty"` // the greeting's; "" for none
	Email     string // the unified account's, which signs in
	SignInURL string `json:",omitempty"` // where to sign in; "" leaves the link out

	// Exactly one of these four says what happened.
	NothingChanges bool `json:",omitempty"` // a Scaleway account without Dedibox records
	JoinedScaleway bool `json:",omitempty"` // the Dedibox account joined its Scaleway account (linked or same email)
	NewScaleway    bool `json:",omitempty"` // no Scaleway account: one was created
	Merged         bool `json:",omitempty"` // several accounts of a console: password and second factors erased

	SMSRemoved          bool `json:",omitempty"` // SMS was the only second factor: another must be set up
	NoPassword          bool `json:",omitempty"` // no password was imported: sign in by email code and choose one
	DediboxTOTPKept     bool `json:",omitempty"` // the Dedibox authenticator app keeps working
	DediboxTOTPReplaced bool `json:",omitempty"` // the Scaleway second factors replace the Dedibox TOTP
	Prelinked           bool `json:",omitempty"` // linked before the cutoff: both consoles' sign-ins keep working

	DediboxAccounts  []string `json:",omitempty"` // ids of the Dedibox accounts it holds
	ScalewayAccounts []string `json:",omitempty"` // ids of the Scaleway accounts it holds (the new one for NewScaleway)
}

// KindUnifyAnnounce: the "upcoming change" email `unify announce` sends
// each future unified account before the unification (CONTRACT §8 rule 6).
// Data: UnifyAnnounceData. Queued by the million, it is stored as data and
// rendered when sent, as KindUnifyNotice is.
const KindUnifyAnnounce = "unify_announce"

// UnifyAnnounceData fills the unify_announce templates: what the
// unification will change for one person and what to do before it. What is
// false or empty is left out of the JSON stored in the outbox.
type UnifyAnnounceData struct {
	Name  string `json:",omitempty"` // the greeting's; "" for none
	Email string // the address that will sign in
	Date  string `json:",omitempty"` // YYYY-MM-DD of the change; "" when not announced

	// Exactly one of these four says what will happen.
	NothingChanges bool `json:",omitempty"` // a Scaleway account without Dedibox records
	JoinScaleway   bool `json:",omitempty"` // the Dedibox account will join its Scaleway account
	NewScaleway    bool `json:",omitempty"` // no Scaleway account: one will be created
	Merged         bool `json:",omitempty"` // several accounts of one address: password and second factors will be erased

	SMSRemoved bool `json:",omitempty"` // SMS is the only second factor: another will be needed
	NoPassword bool `json:",omitempty"` // no password to keep: sign in by email code and choose one
	Prelinked  bool `json:",omitempty"` // linked before the cutoff: both consoles' sign-ins keep working

	DediboxAccounts  []string `json:",omitempty"` // ids of the Dedibox accounts it holds
	ScalewayAccounts []string `json:",omitempty"` // ids of the Scaleway accounts it holds
}

// The security notices (CONTRACT §10): each says what happened to the
// account, when and from where. Data: NoticeData. None carries a code, a
// secret or a session id.
const (
	// KindPasswordResetCode: the code of a "forgot password". Data: CodeData.
	KindPasswordResetCode = "password_reset_code"
	// KindAccountLocked: the consecutive failures locked the account until
	// its owner resets the password (issue 16 finding 6).
	KindAccountLocked = "account_locked"
	// KindPasswordReset: the password was reset.
	KindPasswordReset = "password_reset"
	// KindRecoveryCodeUsed: a recovery code signed in; Remaining says how many are left.
	KindRecoveryCodeUsed = "recovery_code_used"
	// KindRecoveryCodesCreated: a new set of recovery codes (the old one died).
	KindRecoveryCodesCreated = "recovery_codes_created"
)

// NoticeData fills the security notices.
type NoticeData struct {
	At        string // when, in UTC ("2026-12-08 10:00 UTC")
	IP        string // the client's address
	Device    string // the client's browser, as its User-Agent says
	Remaining int    // recovery_code_used: the unused codes left
	SignInURL string // where to sign in or to start a reset; "" leaves the link out
}

// AccountExistsData fills the account_exists templates.
type AccountExistsData struct {
	SignInURL string // where to sign in; "" leaves the link out
	Name      string // the account's owner's, "" for none
}

// kindSpec is what the renderer knows of a kind beyond its templates. To add
// a kind: a line here, then templates/<locale>/<kind>.txt (defining
// "subject" and "text") and .html (defining "body") for every locale.
type kindSpec struct {
	// code: the data is a CodeData whose code must appear alone on a line of
	// the text part and never in the subject.
	code bool
	// priority orders the outbox (accounts.OutboxMessage.Priority): someone
	// waits at a screen for a code.
	priority int
	// stored, for the kinds that may be queued as data and rendered when
	// sent, is a new value of the data's type, which the JSON is decoded
	// into. Never for the code kinds: a code must not sit in the outbox in
	// a form a later template change could reveal differently.
	stored func() any
}

var kinds = map[string]kindSpec{
	KindEmailCode:     {code: true, priority: 10},
	KindSignupCode:    {code: true, priority: 10},
	KindAccountExists: {priority: 5},
	KindInvitation:    {priority: 5},
	// Someone waits for a reset code as for a sign-in code.
	KindPasswordResetCode: {code: true, priority: 10},
	// Security notices: before bulk mail, after the codes.
	KindAccountLocked:        {priority: 5},
	KindPasswordReset:        {priority: 5},
	KindRecoveryCodeUsed:     {priority: 5},
	KindRecoveryCodesCreated: {priority: 5},
	// Bulk notices: after any mail someone waits for.
	KindUnifyNotice: {priority: -1, stored: func() any { return new(UnifyNoticeData) }},

	// The announcement before the unification: bulk too.
	KindUnifyAnnounce: {priority: -1, stored: func() any { return new(UnifyAnnounceData) }},
}

// locales lists the languages with templates; the first is the fallback.
var locales = []string{"en", "fr"}

//go:embed templates
var templateFiles embed.FS

// Renderer turns a kind, a locale and data into a complete message. It is
// safe for concurrent use.
type Renderer struct {
	from       *netmail.Address
	domain     string // of from, for Message-IDs
	sets       map[string]templateSet
	now        func() time.Time
	randomRead func([]byte) (int, error)
}

// templateSet holds one kind's templates in one locale.
type templateSet struct {
	text *texttemplate.Template // "subject" and "layout" (which runs "text")
	html *htmltemplate.Template // "layout" (which runs "body")
}

// NewRenderer parses every kind's templates in every locale (a missing one
// is an error here, at start, not at the first mail) for messages from from,
// an address with an optional display name ("Accounts <no-reply@example.com>").
func NewRenderer(from string) (*Renderer, error) {
	addr, err := netmail.ParseAddress(from)
	if err != nil || strings.ContainsAny(from, "\r\n") {
		return nil, fmt.Errorf("mail: from address %q: invalid", from)
	}
	r := &Renderer{
		from:       addr,
		domain:     addr.Address[strings.LastIndexByte(addr.Address, '@')+1:],
		sets:       map[string]templateSet{},
		now:        time.Now,
		randomRead: rand.Read,
	}
	tfs, err := fs.Sub(templateFiles, "templates")
	if err != nil {
		return nil, err
	}
	textBase, err := texttemplate.New("").Option("missingkey=error").ParseFS(tfs, "layout.txt")
	if err != nil {
		return nil, fmt.Errorf("mail: templates: %w", err)
	}
	htmlBase, err := htmltemplate.New("").Option("missingkey=error").ParseFS(tfs, "layout.html")
	if err != nil {
		return nil, fmt.Errorf("mail: templates: %w", err)
	}
	for _, loc := range locales {
		for kind := range kinds {
			set, err := parseSet(tfs, textBase, htmlBase, loc, kind)
			if err != nil {
				return nil, fmt.Errorf("mail: templates %s/%s: %w", loc, kind, err)
			}
			r.sets[loc+"/"+kind] = set
		}
	}
	return r, nil
}

// parseSet clones the layouts and adds the locale's common templates and the
// kind's own.
func parseSet(tfs fs.FS, textBase *texttemplate.Template, htmlBase *htmltemplate.Template, loc, kind string) (templateSet, error) {
	text, err := texttemplate.Must(textBase.Clone()).ParseFS(tfs, loc+"/common.txt", loc+"/"+kind+".txt")
	if err != nil {
		return templateSet{}, err
	}
	html, err := htmltemplate.Must(htmlBase.Clone()).ParseFS(tfs, loc+"/common.html", loc+"/"+kind+".html")
	if err != nil {
		return templateSet{}, err
	}
	for _, name := range []string{"subject", "text", "footer", "layout"} {
		if text.Lookup(name) == nil {
			return templateSet{}, fmt.Errorf("no text template %q", name)
		}
	}
	for _, name := range []string{"body", "footer", "layout"} {
		if html.Lookup(name) == nil {
			return templateSet{}, fmt.Errorf("no html template %q", name)
		}
	}
	return templateSet{text: text, html: html}, nil
}

// Render builds the message of kind for to, in locale ("fr", "fr-CA" …;
// anything without templates falls back to English): a multipart/alternative
// RFC 5322 message, text/plain then text/html, UTF-8, quoted-printable, with
// Date, Message-ID, From, To and a Subject encoded per RFC 2047 when it is
// not ASCII. For the kinds that carry a code, Render checks what CONTRACT.md
// §9 promises: the code is 8 digits, alone on its own line in the text part,
// and not in the subject (subjects show in notifications and lock screens).
func (r *Renderer) Render(kind, locale, to string, data any) ([]byte, error) {
	spec, ok := kinds[kind]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKind, kind)
	}
	code := ""
	if spec.code {
		var err error
		if code, err = checkCodeData(data); err != nil {
			return nil, err
		}
	}
	loc := pickLocale(locale)
	set := r.sets[loc+"/"+kind]

	subject, err := execText(set.text, "subject", data)
	if err != nil {
		return nil, err
	}
	subject = strings.TrimSpace(subject)
	if subject == "" || strings.ContainsFunc(subject, unicode.IsControl) {
		return nil, fmt.Errorf("mail: %s/%s: the subject must be one non-empty line", loc, kind)
	}
	text, err := execText(set.text, "layout", data)
	if err != nil {
		return nil, err
	}
	text = strings.Trim(strings.ReplaceAll(text, "\r\n", "\n"), "\n") + "\n"
	var html bytes.Buffer
	page := struct {
		Lang, Subject string
		Data          any
	}{loc, subject, data}
	if err := set.html.ExecuteTemplate(&html, "layout", page); err != nil {
		return nil, fmt.Errorf("%w: %s/%s: %v", ErrBadData, loc, kind, err)
	}
	if code != "" {
		if strings.Contains(subject, code) {
			return nil, fmt.Errorf("mail: %s/%s: the subject contains the code", loc, kind)
		}
		if !slices.Contains(strings.Split(text, "\n"), code) {
			return nil, fmt.Errorf("mail: %s/%s: the code is not alone on a line of the text part", loc, kind)
		}
	}
	return r.build(loc, to, subject, text, html.String())
}

// NewStoredMessage is a message of kind for the outbox that is rendered when
// sent (RenderStored): data, which must be of the kind's data type, is kept
// as JSON, with locale. Rendering millions of messages when they are queued
// costs more than sending them, and a message sits in the outbox as a few
// hundred bytes instead of kilobytes.
func NewStoredMessage(key, accountID, kind, locale, to string, data any) (*accounts.OutboxMessage, error) {
	spec, ok := kinds[kind]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKind, kind)
	}
	if spec.stored == nil {
		return nil, fmt.Errorf("mail: %s: this kind is rendered when queued, not when sent", kind)
	}
	if want := reflect.TypeOf(spec.stored()).Elem(); reflect.TypeOf(data) != want {
		return nil, fmt.Errorf("%w: %s takes a %s, not %T", ErrBadData, kind, want, data)
	}
	if err := CheckRecipient(to); err != nil {
		return nil, err
	}
	js, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadData, err)
	}
	return &accounts.OutboxMessage{Key: key, AccountID: accountID, To: to, Kind: kind,
		Priority: spec.priority, Data: js, Locale: locale}, nil
}

// RenderStored renders a message stored by NewStoredMessage: its data is
// decoded (strictly: a field the type lacks is an error, not ignored) into
// the kind's data type and rendered as Render does.
func (r *Renderer) RenderStored(kind, locale, to string, data []byte) ([]byte, error) {
	spec, ok := kinds[kind]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKind, kind)
	}
	if spec.stored == nil {
		return nil, fmt.Errorf("mail: %s: this kind is not stored as data", kind)
	}
	v := spec.stored()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return nil, fmt.Errorf("%w: %s: stored data: %v", ErrBadData, kind, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: %s: stored data: more than one JSON value", ErrBadData, kind)
	}
	return r.Render(kind, locale, to, reflect.ValueOf(v).Elem().Interface())
}

// build assembles the message with go-mail.
func (r *Renderer) build(loc, to, subject, text, html string) ([]byte, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(r.from)
	if err := CheckRecipient(to); err != nil {
		return nil, err
	}
	if err := msg.To(to); err != nil {
		return nil, fmt.Errorf("mail: recipient %q: invalid", to)
	}
	msg.Subject(subject)
	msg.SetDateWithValue(r.now())
	id, err := r.messageID()
	if err != nil {
		return nil, err
	}
	msg.SetMessageIDWithValue(id)
	// RFC 3834 §5: an automatic message, to which auto-responders must not reply.
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetGenHeader("Content-Language", loc)
	msg.SetBodyString(gomail.TypeTextPlain, text)
	msg.AddAlternativeString(gomail.TypeTextHTML, html)
	var out bytes.Buffer
	if _, err := msg.WriteTo(&out); err != nil {
		return nil, fmt.Errorf("mail: writing message: %w", err)
	}
	return out.Bytes(), nil
}

// messageID is 128 random bits at the sender's domain (RFC 5322 §3.6.4):
// unique without revealing the host that wrote it.
func (r *Renderer) messageID() (string, error) {
	b := make([]byte, 16)
	if _, err := r.randomRead(b); err != nil {
		return "", fmt.Errorf("mail: message id: %w", err)
	}
	return messageIDEncoding.EncodeToString(b) + "@" + r.domain, nil
}

// messageIDEncoding is base32 in lower case without padding, made once
// rather than per message (WithPadding copies the whole encoding).
var messageIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// checkCodeData returns the code of a code kind's data.
func checkCodeData(data any) (string, error) {
	var d CodeData
	switch v := data.(type) {
	case CodeData:
		d = v
	case *CodeData:
		if v == nil {
			return "", fmt.Errorf("%w: nil CodeData", ErrBadData)
		}
		d = *v
	default:
		return "", fmt.Errorf("%w: want CodeData, got %T", ErrBadData, data)
	}
	if !isCode(d.Code) {
		return "", fmt.Errorf("%w: a code is 8 digits", ErrBadData) // never echo it
	}
	if d.ExpiresMinutes < 1 {
		return "", fmt.Errorf("%w: ExpiresMinutes %d", ErrBadData, d.ExpiresMinutes)
	}
	return d.Code, nil
}

func isCode(s string) bool {
	if len(s) != 8 {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func execText(t *texttemplate.Template, name string, data any) (string, error) {
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadData, err)
	}
	return b.String(), nil
}

// pickLocale maps a BCP 47 tag (or a POSIX one, fr_FR) to a locale with
// templates by its language subtag; anything else gets the first locale.
func pickLocale(tag string) string {
	lang, _, _ := strings.Cut(strings.ReplaceAll(tag, "_", "-"), "-")
	lang = strings.ToLower(strings.TrimSpace(lang))
	if slices.Contains(locales, lang) {
		return lang
	}
	return locales[0]
}
