package unify

import (
	"cmp"
	"iter"
	"slices"
	"time"

	"github.com/google/uuid"

	"unigate/accounts"
)

// The rules of the unification FAQ (CONTRACT §8), applied to one group of
// records that become one unified account. planAccount is a pure function
// of the records and the cutoff: the same files always give the same
// accounts, ids included, which is what makes a run restartable.

// Namespaces of the ids the unification derives (UUID v5, RFC 9562 §5.5):
// the same records always give the same ids, so a re-run, or a run resumed
// after a crash, finds the rows an earlier one wrote instead of writing
// others.
var (
	accountNamespace  = uuid.MustParse("71ff9d1a-cc41-401f-a9a0-93b5f09d9f42")
	scalewayNamespace = uuid.MustParse("86d329dc-5056-4fa2-ac30-8d73c175a382")
)

// dediboxLine and scalewayLine are records read back in the second pass.
type dediboxLine struct {
	rec  *DediboxRecord
	line int
	raw  []byte
}

type scalewayLine struct {
	rec  *ScalewayRecord
	line int
	raw  []byte
}

// accountGroup is the records of one unified account.
type accountGroup struct {
	dedibox  []dediboxLine
	scaleway []scalewayLine // sorted by id
}

// groupRecord is one record of a group, as the store names it.
type groupRecord struct {
	file int // fileDedibox or fileScaleway
	ref  accounts.LegacyRef
	line int
	raw  []byte
}

// records yields g's records, the Dedibox ones first.
func (g *accountGroup) records() iter.Seq[groupRecord] {
	return func(yield func(groupRecord) bool) {
		for _, d := range g.dedibox {
			ref := accounts.LegacyRef{Source: accounts.SourceDedibox, RecordID: d.rec.ID}
			if !yield(groupRecord{file: fileDedibox, ref: ref, line: d.line, raw: d.raw}) {
				return
			}
		}
		for _, s := range g.scaleway {
			ref := accounts.LegacyRef{Source: accounts.SourceScaleway, RecordID: s.rec.ID}
			if !yield(groupRecord{file: fileScaleway, ref: ref, line: s.line, raw: s.raw}) {
				return
			}
		}
	}
}

// plan is a unified account as the rules make it, before sealing and
// rendering.
type plan struct {
	group       *accountGroup
	account     accounts.Account
	consoles    []accounts.ConsoleAccount
	totp        string // base32 secret carried over; "" for none
	webauthn    []accounts.WebAuthnCredential
	memberships []accounts.UnifyMembership
	situation   string // "" for an account without Dedibox records
	prelinked   bool
	notice      NoticeData
}

// planAccount applies the rules to g, which holds at least one record.
func planAccount(g *accountGroup, cutoff time.Time) *plan {
	slices.SortFunc(g.scaleway, func(a, b scalewayLine) int { return cmp.Compare(a.rec.ID, b.rec.ID) })
	p := &plan{group: g}
	a := &p.account

	// Rule 1: the account is the Scaleway account's (the smallest id when
	// several share one address), or else a new one with the Dedibox email.
	var scw *ScalewayRecord
	if len(g.scaleway) > 0 {
		scw = g.scaleway[0].rec
		a.ID = scalewayAccountID(scw.ID).String()
		a.Email = scw.Email
	} else {
		a.Email = g.dedibox[0].rec.Email // the group's Dedibox records share it
		a.ID = dediboxAccountID(a.Email).String()
	}
	a.CreatedAt, a.Locale = earliestAndLocale(g)

	// Rule 4: several Dedibox accounts (or several Scaleway accounts of one
	// address) bring several passwords and second factors, none of which
	// can be chosen for the others' owners: all are erased, even those of
	// a same-email Scaleway account, and login is by email code, then a new
	// password, then a new second factor.
	merged := len(g.dedibox) > 1 || len(g.scaleway) > 1
	smsDisabled := false
	if merged {
		a.PasswordSetRequired, a.MFAEnrollRequired = true, true
	} else {
		smsDisabled = p.credentials(scw)
	}

	for _, d := range g.dedibox {
		ca := accounts.ConsoleAccount{Console: accounts.ConsoleDedibox, ExternalID: d.rec.ID}
		if d.rec.LinkedScalewayID != "" && !d.rec.LinkedAt.IsZero() {
			ca.LinkedAt = d.rec.LinkedAt
			// Rule 5: linked before the cutoff, 00:00 UTC.
			ca.Prelinked = !cutoff.IsZero() && d.rec.LinkedAt.Before(cutoff)
		}
		p.prelinked = p.prelinked || ca.Prelinked
		p.consoles = append(p.consoles, ca)
	}
	for _, s := range g.scaleway {
		p.consoles = append(p.consoles, accounts.ConsoleAccount{Console: accounts.ConsoleScaleway, ExternalID: s.rec.ID})
	}
	if scw == nil {
		// Rule 1: a Dedibox account without a Scaleway account gets a new one.
		p.consoles = append(p.consoles, accounts.ConsoleAccount{Console: accounts.ConsoleScaleway,
			ExternalID: generatedScalewayID(a.Email)})
	}
	p.memberships = memberships(g)

	switch {
	case len(g.dedibox) == 0:
	case len(g.dedibox) > 1:
		p.situation = SituationMultipleDedibox
	case smsDisabled:
		p.situation = SituationSMSMFADisabled
	case scw != nil:
		p.situation = SituationScalewayAccount
	default:
		p.situation = SituationNoScalewayAccount
	}
	p.notice = p.noticeData(merged, smsDisabled)
	return p
}

// credentials applies rules 2 and 3 to an account holding at most one
// record of each console, and reports whether SMS was the only second
// factor it would have had.
func (p *plan) credentials(scw *ScalewayRecord) (smsDisabled bool) {
	a := &p.account
	var ded *DediboxRecord
	if len(p.group.dedibox) == 1 {
		ded = p.group.dedibox[0].rec
	}
	// Rule 2: the Scaleway password where there is a Scaleway account. One
	// without a password (its owner signed in otherwise) keeps the linked
	// Dedibox account's, so that each owner keeps a way in; an account with
	// no password at all signs in by email code and sets one.
	switch {
	case scw != nil && scw.PasswordHash != "":
		a.PasswordHash = scw.PasswordHash
	case ded != nil:
		a.PasswordHash = ded.PasswordHash
	default:
		a.PasswordSetRequired = true
	}
	// Rule 3: the Scaleway account's second factors take precedence; else
	// the Dedibox TOTP is carried over; SMS never is.
	switch {
	case scw != nil && (scw.TOTPSecret != "" || len(scw.WebAuthn) > 0):
		p.totp = scw.TOTPSecret
		for _, c := range scw.WebAuthn {
			p.webauthn = append(p.webauthn, accounts.WebAuthnCredential{
				ID: c.ID, PublicKey: c.PublicKey, SignCount: c.SignCount, AAGUID: c.AAGUID,
				Transports: c.Transports, Name: "Scaleway passkey",
				// Flags never recorded: UserPresent false tells package mfa
				// to take the backup flags from each assertion.
			})
		}
	case ded != nil && ded.TOTPSecret != "":
		p.totp = ded.TOTPSecret
	case ded != nil && ded.SMSPhone != "":
		// SMS was the only second factor: enroll another before any
		// console access (next: enroll_mfa).
		a.MFAEnrollRequired = true
		return true
	}
	return false
}

// earliestAndLocale gives the account the creation time of its oldest
// record, and the language of the first record that names one (Scaleway
// first).
func earliestAndLocale(g *accountGroup) (time.Time, string) {
	var created time.Time
	locale := ""
	note := func(t time.Time, l string) {
		if created.IsZero() || t.Before(created) {
			created = t
		}
		if locale == "" {
			locale = l
		}
	}
	for _, s := range g.scaleway {
		note(s.rec.CreatedAt, s.rec.Locale)
	}
	for _, d := range g.dedibox {
		note(d.rec.CreatedAt, d.rec.Locale)
	}
	if locale == "" {
		locale = "en"
	}
	return created, locale
}

// scalewayAccountID is the id of the unified account of the Scaleway
// account id (rule 1).
func scalewayAccountID(id string) uuid.UUID {
	return uuid.NewSHA1(accountNamespace, []byte("scaleway:"+id))
}

// dediboxAccountID is the id of the unified account made for the Dedibox
// accounts of an email without a Scaleway account (rule 1).
func dediboxAccountID(email string) uuid.UUID {
	return uuid.NewSHA1(accountNamespace, []byte("dedibox-email:"+email))
}

// generatedScalewayID is the id of the Scaleway account made for a Dedibox
// account that had none: derived from the address the unified account is
// keyed by, so a re-run makes the same.
func generatedScalewayID(email string) string {
	return uuid.NewSHA1(scalewayNamespace, []byte("dedibox-email:"+email)).String()
}

// roleRank orders roles: of two memberships of one organization (two
// Scaleway accounts of one address), the higher role is kept.
var roleRank = map[string]int{"member": 1, "admin": 2, "owner": 3}

// memberships merges the organizations of the group's Scaleway records.
func memberships(g *accountGroup) []accounts.UnifyMembership {
	var out []accounts.UnifyMembership
	at := map[string]int{}
	for _, s := range g.scaleway {
		for _, o := range s.rec.Organizations {
			i, ok := at[o.ID]
			if !ok {
				at[o.ID] = len(out)
				out = append(out, accounts.UnifyMembership{OrganizationID: o.ID, OrganizationName: o.Name, Role: o.Role})
				continue
			}
			m := &out[i]
			if roleRank[o.Role] > roleRank[m.Role] {
				m.Role = o.Role
			}
			m.OrganizationName = min(m.OrganizationName, o.Name)
		}
	}
	return out
}

// noticeData says what changed for the account, for its notification.
func (p *plan) noticeData(merged, smsDisabled bool) NoticeData {
	g := p.group
	d := NoticeData{Email: p.account.Email, SMSRemoved: smsDisabled, NoPassword: p.account.PasswordSetRequired && !merged,
		Prelinked: p.prelinked}
	for _, r := range g.dedibox {
		d.DediboxAccounts = append(d.DediboxAccounts, r.rec.ID)
	}
	for _, r := range g.scaleway {
		d.ScalewayAccounts = append(d.ScalewayAccounts, r.rec.ID)
	}
	switch {
	case merged:
		d.Merged = true
	case len(g.dedibox) == 0:
		d.NothingChanges = true
	case len(g.scaleway) == 0:
		d.NewScaleway = true
		d.ScalewayAccounts = []string{generatedScalewayID(p.account.Email)}
	default:
		d.JoinedScaleway = true
	}
	if len(g.dedibox) == 1 && !merged {
		ded := g.dedibox[0].rec
		d.DediboxTOTPKept = ded.TOTPSecret != "" && p.totp == ded.TOTPSecret
		d.DediboxTOTPReplaced = ded.TOTPSecret != "" && !d.DediboxTOTPKept
	}
	return d
}
