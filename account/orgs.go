package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"unigate/accounts"
	"unigate/mail"
)

// Organizations (CONTRACT §5 /orgs, /invitations): owners and admins invite
// by email (a link valid 7 days), change roles and remove members; an
// organization never loses its last owner. Only members see an organization.

// InvitationLifetime is how long an invitation link works.
const InvitationLifetime = 7 * 24 * time.Hour

// Invitation mail limits (issue 16 finding 8: without them, anyone could
// send 50 mails with a text of their choosing to one address in a second).
// Each is counted over its window, in this order; the first one reached
// refuses, and the ones after it are not counted.
var inviteLimits = []struct {
	scope  string
	max    int64
	window time.Duration
}{
	{"address", 5, 24 * time.Hour}, // one mailbox, from every organization
	{"inviter", 20, time.Hour},     // one person inviting
	{"org", 50, time.Hour},         // one organization, whoever invites
}

// OrgStore is what organizations need of the account store.
type OrgStore interface {
	CreateOrganization(ctx context.Context, name, ownerAccountID string, at time.Time) (*accounts.Organization, error)
	Memberships(ctx context.Context, accountID string) ([]accounts.Membership, error)
	MemberRole(ctx context.Context, orgID, accountID string) (string, error)
	Members(ctx context.Context, orgID string) ([]accounts.Member, error)
	SetMemberRole(ctx context.Context, orgID, accountID, role string) error
	RemoveMember(ctx context.Context, orgID, accountID string) error
	CreateInvitation(ctx context.Context, inv *accounts.Invitation, tokenHash []byte) error
	InvitationByToken(ctx context.Context, tokenHash []byte) (*accounts.Invitation, error)
	PendingInvitations(ctx context.Context, orgID string, now time.Time) ([]accounts.Invitation, error)
	AcceptInvitation(ctx context.Context, invitationID, accountID string, at time.Time) error
	AccountByEmail(ctx context.Context, email string) (*accounts.Account, error)
	RenameOrganization(ctx context.Context, orgID, name string) error
	SetOrganizationMFA(ctx context.Context, orgID string, require bool, graceDays int, at time.Time) error
}

// Mailer queues one message for the outbox; key makes it idempotent.
type Mailer interface {
	Queue(ctx context.Context, key, accountID, kind, locale, to string, data any) error
}

// Counters counts events per key over a window (the session store's rate-limit counters).
type Counters interface {
	Hit(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error)
}

// AuditEvent is one audit line (CONTRACT §7). Details hold no secret.
type AuditEvent struct {
	Kind      string
	AccountID string
	IP        string
	Details   map[string]string
}

// Auditor records audit events.
type Auditor interface {
	Audit(ctx context.Context, e AuditEvent)
}

// MembershipWatcher is told when an account's memberships changed, so that
// its sessions stop carrying a role it no longer has (issue 16 finding 1).
type MembershipWatcher interface {
	MembershipChanged(ctx context.Context, accountID string) error
}

// OrgsConfig is what Orgs is built from.
type OrgsConfig struct {
	Store    OrgStore
	Mailer   Mailer
	Counters Counters
	Audit    Auditor
	// Watcher, when set, hears of every membership change; nil: nobody.
	Watcher MembershipWatcher
	// PublicURL is the account host's origin, for the links in invitations.
	PublicURL string
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Orgs is the self-service of organizations.
type Orgs struct {
	cfg OrgsConfig
}

// NewOrgs checks the configuration.
func NewOrgs(cfg OrgsConfig) (*Orgs, error) {
	if cfg.Store == nil || cfg.Mailer == nil || cfg.Counters == nil || cfg.Audit == nil || cfg.PublicURL == "" {
		return nil, errors.New("account: organizations need a store, a mailer, counters, an auditor and the public URL")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Orgs{cfg: cfg}, nil
}

// Actor is the signed-in person acting, and from where (for the audit).
type Actor struct {
	AccountID string
	Email     string
	IP        string
}

// Org is an organization as one of its members sees it.
type Org struct {
	ID, Name, Role string
	// The organization's MFA rule (CONTRACT §11): whether it requires a
	// second factor of its members, its grace in days, and when the grace
	// ends for this member (zero without a rule).
	RequireMFA   bool
	MFAGraceDays int
	MFADeadline  time.Time
}

// orgOf is a membership as the member sees the organization.
func orgOf(m accounts.Membership) Org {
	return Org{ID: m.OrganizationID, Name: m.Name, Role: m.Role,
		RequireMFA: m.RequireMFA, MFAGraceDays: m.MFAGraceDays, MFADeadline: m.MFADeadline()}
}

// Member is one member of an organization.
type Member struct {
	AccountID, Email, Role string
}

// PendingInvitation is an invitation not yet accepted nor expired.
type PendingInvitation struct {
	ID, Email, Role string
	ExpiresAt       time.Time
}

// OrgDetail is one organization with its members and pending invitations,
// as the actor (a member) sees it.
type OrgDetail struct {
	Org
	Members     []Member
	Invitations []PendingInvitation
}

// CanManage: owners and admins invite and change members.
func (d *OrgDetail) CanManage() bool {
	return d.Role == accounts.RoleOwner || d.Role == accounts.RoleAdmin
}

// List is the organizations the actor belongs to.
func (o *Orgs) List(ctx context.Context, actor Actor) ([]Org, error) {
	ms, err := o.cfg.Store.Memberships(ctx, actor.AccountID)
	if err != nil {
		return nil, fmt.Errorf("account: memberships: %w", err)
	}
	out := make([]Org, 0, len(ms))
	for _, m := range ms {
		out = append(out, orgOf(m))
	}
	return out, nil
}

// ValidName: 1 to 100 characters once trimmed, no control character.
func ValidName(name string) bool {
	return name != "" && utf8.ValidString(name) && utf8.RuneCountInString(name) <= 100 &&
		!strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// Create makes an organization with the actor as its owner.
func (o *Orgs) Create(ctx context.Context, actor Actor, name string) (Org, error) {
	name = strings.TrimSpace(name)
	if !ValidName(name) {
		return Org{}, ErrInvalidName
	}
	org, err := o.cfg.Store.CreateOrganization(ctx, name, actor.AccountID, o.cfg.Now())
	if errors.Is(err, accounts.ErrInvalidOrganizationName) {
		return Org{}, ErrInvalidName
	}
	if err != nil {
		return Org{}, fmt.Errorf("account: create organization: %w", err)
	}
	o.cfg.Audit.Audit(ctx, AuditEvent{Kind: "org.create", AccountID: actor.AccountID, IP: actor.IP, Details: map[string]string{"organization_id": org.ID}})
	return Org{ID: org.ID, Name: org.Name, Role: accounts.RoleOwner}, o.changed(ctx, actor.AccountID)
}

// Rename gives the organization a new name (CONTRACT §9b): owners and admins.
func (o *Orgs) Rename(ctx context.Context, actor Actor, orgID, name string) error {
	role, err := o.role(ctx, actor, orgID)
	if err != nil {
		return err
	}
	if role != accounts.RoleOwner && role != accounts.RoleAdmin {
		return ErrForbidden
	}
	name = strings.TrimSpace(name)
	if !ValidName(name) {
		return ErrInvalidName
	}
	err = o.cfg.Store.RenameOrganization(ctx, orgID, name)
	switch {
	case errors.Is(err, accounts.ErrInvalidOrganizationName):
		return ErrInvalidName
	case errors.Is(err, accounts.ErrNotFound):
		return ErrNotFound
	case err != nil:
		return fmt.Errorf("account: rename organization: %w", err)
	}
	o.cfg.Audit.Audit(ctx, AuditEvent{Kind: "org.rename", AccountID: actor.AccountID, IP: actor.IP,
		Details: map[string]string{"organization_id": orgID}})
	return nil
}

// ErrInvalidGraceDays: an MFA rule's grace_days is not 0 to 30, or comes
// without require_mfa.
var ErrInvalidGraceDays = &Error{code: "invalid_grace_days"}

// SetMFARule turns the organization's MFA rule on, with a grace of
// graceDays (0 to 30), or off (CONTRACT §11): owners only. While it is on, a
// member without a second factor may enter a console with the organization
// until the grace ends (counted from when the rule was turned on or the
// member joined, the later), then not until they enroll one. A new grace for
// a rule already on keeps its start: turning the rule off and on again is the
// way to give the members a new grace, and it is audited.
func (o *Orgs) SetMFARule(ctx context.Context, actor Actor, orgID string, require bool, graceDays int) error {
	role, err := o.role(ctx, actor, orgID)
	if err != nil {
		return err
	}
	if role != accounts.RoleOwner {
		return ErrForbidden
	}
	if graceDays < 0 || graceDays > accounts.MaxMFAGraceDays {
		return ErrInvalidGraceDays
	}
	err = o.cfg.Store.SetOrganizationMFA(ctx, orgID, require, graceDays, o.cfg.Now())
	switch {
	case errors.Is(err, accounts.ErrNotFound):
		return ErrNotFound
	case err != nil:
		return fmt.Errorf("account: organization MFA rule: %w", err)
	}
	o.cfg.Audit.Audit(ctx, AuditEvent{Kind: "org.mfa_rule", AccountID: actor.AccountID, IP: actor.IP,
		Details: map[string]string{"organization_id": orgID, "require_mfa": fmt.Sprint(require), "grace_days": fmt.Sprint(graceDays)}})
	// Every member's sessions carry the rule's deadline from now on, as
	// they carry a new role (issue 16 finding 1).
	members, err := o.cfg.Store.Members(ctx, orgID)
	if err != nil {
		return fmt.Errorf("account: members: %w", err)
	}
	for _, m := range members {
		if err := o.changed(ctx, m.AccountID); err != nil {
			return err
		}
	}
	return nil
}

// role is the actor's role in the organization; ErrNotFound for
// non-members, so that an organization's existence is not told to outsiders.
func (o *Orgs) role(ctx context.Context, actor Actor, orgID string) (string, error) {
	role, err := o.cfg.Store.MemberRole(ctx, orgID, actor.AccountID)
	if errors.Is(err, accounts.ErrNotFound) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("account: member role: %w", err)
	}
	return role, nil
}

// Detail is the organization with its members and pending invitations; ErrNotFound to non-members.
func (o *Orgs) Detail(ctx context.Context, actor Actor, orgID string) (*OrgDetail, error) {
	role, err := o.role(ctx, actor, orgID)
	if err != nil {
		return nil, err
	}
	d := &OrgDetail{Org: Org{ID: orgID, Role: role}}
	ms, err := o.cfg.Store.Memberships(ctx, actor.AccountID)
	if err != nil {
		return nil, fmt.Errorf("account: memberships: %w", err)
	}
	for _, m := range ms {
		if m.OrganizationID == orgID {
			d.Org = orgOf(m)
		}
	}
	members, err := o.cfg.Store.Members(ctx, orgID)
	if err != nil {
		return nil, fmt.Errorf("account: members: %w", err)
	}
	d.Members = make([]Member, 0, len(members))
	for _, m := range members {
		d.Members = append(d.Members, Member{AccountID: m.AccountID, Email: m.Email, Role: m.Role})
	}
	invs, err := o.cfg.Store.PendingInvitations(ctx, orgID, o.cfg.Now())
	if err != nil {
		return nil, fmt.Errorf("account: invitations: %w", err)
	}
	d.Invitations = make([]PendingInvitation, 0, len(invs))
	for _, i := range invs {
		d.Invitations = append(d.Invitations, PendingInvitation{ID: i.ID, Email: i.Email, Role: i.Role, ExpiresAt: i.ExpiresAt.UTC()})
	}
	return d, nil
}

// mayGrant: owners give any role; admins only member.
func mayGrant(actor, role string) bool {
	switch actor {
	case accounts.RoleOwner:
		return accounts.ValidRole(role)
	case accounts.RoleAdmin:
		return role == accounts.RoleMember
	}
	return false
}

// Invite mails a link to join the organization to email, with role (member
// when empty). Owners invite with any role, admins as members only. It
// answers the invitation's id.
func (o *Orgs) Invite(ctx context.Context, actor Actor, orgID, rawEmail, role string) (string, error) {
	actorRole, err := o.role(ctx, actor, orgID)
	if err != nil {
		return "", err
	}
	email, err := accounts.NormalizeEmail(rawEmail)
	if err != nil {
		return "", ErrInvalidEmail
	}
	if role == "" {
		role = accounts.RoleMember
	}
	if !accounts.ValidRole(role) {
		return "", ErrInvalidRole
	}
	if !mayGrant(actorRole, role) {
		return "", ErrForbidden
	}
	if err := o.countInvitation(ctx, actor.AccountID, orgID, email); err != nil {
		return "", err
	}
	orgName := ""
	if ms, err := o.cfg.Store.Memberships(ctx, actor.AccountID); err != nil {
		return "", fmt.Errorf("account: memberships: %w", err)
	} else {
		for _, m := range ms {
			if m.OrganizationID == orgID {
				orgName = m.Name
			}
		}
	}
	token, hash := newInvitationToken()
	now := o.cfg.Now()
	inv := &accounts.Invitation{OrganizationID: orgID, Email: email, Role: role,
		InvitedBy: actor.AccountID, CreatedAt: now, ExpiresAt: now.Add(InvitationLifetime)}
	if err := o.cfg.Store.CreateInvitation(ctx, inv, hash); err != nil {
		return "", fmt.Errorf("account: create invitation: %w", err)
	}
	locale, name := "en", ""
	if invitee, err := o.cfg.Store.AccountByEmail(ctx, email); err == nil {
		locale, name = invitee.Locale, invitee.Name
	} else if !errors.Is(err, accounts.ErrNotFound) {
		return "", fmt.Errorf("account: invitee: %w", err)
	}
	err = o.cfg.Mailer.Queue(ctx, "invitation:"+inv.ID, "", mail.KindInvitation, locale, email, mail.InvitationData{
		Name: name, Organization: orgName, Role: role, InvitedBy: actor.Email,
		AcceptURL: o.cfg.PublicURL + "/invitations/" + token, ExpiresDays: int(InvitationLifetime.Hours() / 24)})
	if err != nil {
		return "", fmt.Errorf("account: queue invitation: %w", err)
	}
	o.cfg.Audit.Audit(ctx, AuditEvent{Kind: "org.invite", AccountID: actor.AccountID, IP: actor.IP, Details: map[string]string{"organization_id": orgID, "role": role}})
	return inv.ID, nil
}

// countInvitation applies inviteLimits. Keys hold hashes, not addresses:
// the counters' store is no place for personal data.
func (o *Orgs) countInvitation(ctx context.Context, inviter, orgID, email string) error {
	ids := map[string]string{"inviter": inviter, "org": orgID, "address": email}
	for _, l := range inviteLimits {
		sum := sha256.Sum256([]byte(ids[l.scope]))
		key := "invite:" + l.scope + ":" + base64.RawURLEncoding.EncodeToString(sum[:12])
		n, ttl, err := o.cfg.Counters.Hit(ctx, key, l.window)
		if err != nil {
			return fmt.Errorf("account: invitation counter: %w", err)
		}
		if n > l.max {
			return &RateLimited{RetryAfter: max(ttl, time.Second)}
		}
	}
	return nil
}

// newInvitationToken is 256 random bits for the link and the hash the store keeps.
func newInvitationToken() (token string, hash []byte) {
	b := make([]byte, 32)
	rand.Read(b)
	token = base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(token))
	return token, sum[:]
}

// invitationTokenLen is the length of every token newInvitationToken makes.
const invitationTokenLen = 43

// Accept makes the actor a member of the organization an invitation to
// their email asked them into, and answers its id. ErrNotFound for an
// unknown, used or expired token; ErrForbidden for another email.
func (o *Orgs) Accept(ctx context.Context, actor Actor, token string) (string, error) {
	if len(token) != invitationTokenLen {
		return "", ErrNotFound
	}
	sum := sha256.Sum256([]byte(token))
	now := o.cfg.Now()
	inv, err := o.cfg.Store.InvitationByToken(ctx, sum[:])
	if errors.Is(err, accounts.ErrNotFound) || (err == nil && !now.Before(inv.ExpiresAt)) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("account: invitation: %w", err)
	}
	if inv.Email != actor.Email {
		return "", ErrForbidden
	}
	err = o.cfg.Store.AcceptInvitation(ctx, inv.ID, actor.AccountID, now)
	if errors.Is(err, accounts.ErrNotFound) || errors.Is(err, accounts.ErrInvitationExpired) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("account: accept invitation: %w", err)
	}
	o.cfg.Audit.Audit(ctx, AuditEvent{Kind: "org.join", AccountID: actor.AccountID, IP: actor.IP, Details: map[string]string{"organization_id": inv.OrganizationID}})
	return inv.OrganizationID, o.changed(ctx, actor.AccountID)
}

// SetRole changes a member's role: owners change any role, admins only
// members' (and only to member); ErrLastOwner when the last owner would go.
func (o *Orgs) SetRole(ctx context.Context, actor Actor, orgID, target, role string) error {
	return o.changeMember(ctx, actor, orgID, target, role, false)
}

// Remove takes a member out of the organization. Anyone may leave; owners
// remove anyone, admins only members; the last owner stays.
func (o *Orgs) Remove(ctx context.Context, actor Actor, orgID, target string) error {
	return o.changeMember(ctx, actor, orgID, target, "", true)
}

func (o *Orgs) changeMember(ctx context.Context, actor Actor, orgID, target, role string, remove bool) error {
	actorRole, err := o.role(ctx, actor, orgID)
	if err != nil {
		return err
	}
	current, err := o.cfg.Store.MemberRole(ctx, orgID, target)
	if errors.Is(err, accounts.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("account: member role: %w", err)
	}
	switch {
	case remove && target == actor.AccountID:
		// Anyone may leave (the last owner excepted, by the store).
	case actorRole == accounts.RoleOwner:
	case actorRole == accounts.RoleAdmin && current == accounts.RoleMember && (remove || role == accounts.RoleMember):
	default:
		return ErrForbidden
	}
	if remove {
		err = o.cfg.Store.RemoveMember(ctx, orgID, target)
	} else {
		if !accounts.ValidRole(role) {
			return ErrInvalidRole
		}
		err = o.cfg.Store.SetMemberRole(ctx, orgID, target, role)
	}
	switch {
	case errors.Is(err, accounts.ErrLastOwner):
		return ErrLastOwner
	case errors.Is(err, accounts.ErrNotFound):
		return ErrNotFound
	case err != nil:
		return fmt.Errorf("account: change member: %w", err)
	}
	kind := "org.role"
	if remove {
		kind = "org.remove"
	}
	o.cfg.Audit.Audit(ctx, AuditEvent{Kind: kind, AccountID: actor.AccountID, IP: actor.IP, Details: map[string]string{"organization_id": orgID, "member": target, "role": role}})
	return o.changed(ctx, target)
}

// changed tells the watcher. The change is stored by then; a watcher that
// failed is an error all the same, so that the person is not told "done"
// while sessions may still carry the old role.
func (o *Orgs) changed(ctx context.Context, accountID string) error {
	if o.cfg.Watcher == nil {
		return nil
	}
	if err := o.cfg.Watcher.MembershipChanged(ctx, accountID); err != nil {
		return fmt.Errorf("account: membership change not propagated: %w", err)
	}
	return nil
}
