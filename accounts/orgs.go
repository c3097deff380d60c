package accounts

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Errors of the organization store (OrgStore), beside ErrNotFound and
// ErrInvalidEmail.
var (
	// ErrLastOwner: the change would leave the organization without an owner.
	ErrLastOwner = errors.New("accounts: the organization's last owner cannot go")
	// ErrInvitationExpired: the invitation is past its expiry.
	ErrInvitationExpired = errors.New("accounts: invitation expired")
	// ErrInvalidRole: the role is not RoleOwner, RoleAdmin or RoleMember.
	ErrInvalidRole = errors.New("accounts: invalid role")
	// ErrInvalidOrganizationName: empty, blank, too long, not UTF-8 or with
	// control characters (see MaxOrganizationNameBytes).
	ErrInvalidOrganizationName = errors.New("accounts: invalid organization name")
)

// Roles in an organization, highest first: owners change any role, admins
// invite and manage members (CONTRACT.md §5). Every organization keeps at
// least one owner.
const (
	RoleOwner  = "owner"
	RoleAdmin  = "admin"
	RoleMember = "member"
)

// MaxOrganizationNameBytes bounds the name CreateOrganization accepts: room
// for 128 characters of any script.
const MaxOrganizationNameBytes = 512

// Bounds of an invitation's token hash (a SHA-256 is 32 bytes).
const (
	minInvitationTokenHashBytes = 16
	maxInvitationTokenHashBytes = 64
)

// roleRank orders the roles; 0 for anything else.
func roleRank(role string) int {
	switch role {
	case RoleOwner:
		return 3
	case RoleAdmin:
		return 2
	case RoleMember:
		return 1
	}
	return 0
}

// roleRankSQL is roleRank over a column, for SQL on both drivers.
func roleRankSQL(col string) string {
	return `(CASE ` + col + ` WHEN 'owner' THEN 3 WHEN 'admin' THEN 2 WHEN 'member' THEN 1 ELSE 0 END)`
}

// ValidRole reports whether role is one of RoleOwner, RoleAdmin, RoleMember.
func ValidRole(role string) bool { return roleRank(role) > 0 }

// Organization is a group of accounts. The unification brings Scaleway's
// under their own ids; CreateOrganization makes new ones with uuid ids.
type Organization struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// Membership is an organization as one of its members sees it.
type Membership struct {
	OrganizationID string
	Name           string // the organization's
	Role           string
	// JoinedAt is when the account became a member.
	JoinedAt time.Time
	// The organization's MFA rule (CONTRACT §11): RequireMFA, its grace in
	// days, and when it was turned on (zero while off).
	RequireMFA    bool
	MFAGraceDays  int
	MFARequiredAt time.Time
}

// MFADeadline is when the grace of the organization's MFA rule ends for
// this member: MFAGraceDays after the rule was turned on or the member
// joined, the later. Zero when the organization has no such rule.
func (m Membership) MFADeadline() time.Time {
	if !m.RequireMFA {
		return time.Time{}
	}
	from := m.MFARequiredAt
	if m.JoinedAt.After(from) {
		from = m.JoinedAt
	}
	return from.AddDate(0, 0, m.MFAGraceDays)
}

// MaxMFAGraceDays bounds an organization's MFA grace (CONTRACT §11).
const MaxMFAGraceDays = 30

// Member is one member of an organization.
type Member struct {
	AccountID string // the unified account id
	Email     string
	Role      string
	Since     time.Time
}

// Invitation is an invitation to join an organization, accepted through a
// mailed token of which the store keeps only a hash.
type Invitation struct {
	ID             string
	OrganizationID string
	Email          string // normalised (NormalizeEmail)
	Role           string
	InvitedBy      string // account id; "" when unknown or since deleted
	ExpiresAt      time.Time
	CreatedAt      time.Time
	AcceptedAt     time.Time // zero while pending
}

// OrgStore keeps organizations, their members and the invitations to join
// them. Lists are ordered by strings compared as bytes, the same on both
// drivers whatever the database collation.
type OrgStore interface {
	// CreateOrganization makes an organization (uuid id) with the account as
	// its owner, in one transaction, at the given time (now when zero).
	// ErrInvalidOrganizationName; ErrNotFound if the account does not exist.
	CreateOrganization(ctx context.Context, name, ownerAccountID string, at time.Time) (*Organization, error)
	// Memberships lists the account's organizations by name, then id (none
	// for an unknown account).
	Memberships(ctx context.Context, accountID string) ([]Membership, error)
	// MemberRole is the account's role in the organization; ErrNotFound if
	// it is not a member (or the organization does not exist).
	MemberRole(ctx context.Context, orgID, accountID string) (string, error)
	// Members lists the organization's members with their account emails,
	// by email (none for an unknown organization).
	Members(ctx context.Context, orgID string) ([]Member, error)
	// SetMemberRole changes a member's role. ErrInvalidRole; ErrNotFound if
	// the account is not a member; ErrLastOwner if it is the last owner and
	// the role is not owner. Setting the role it has is a no-op.
	SetMemberRole(ctx context.Context, orgID, accountID, role string) error
	// RemoveMember removes the account from the organization. ErrNotFound if
	// it is not a member; ErrLastOwner if it is the last owner.
	RemoveMember(ctx context.Context, orgID, accountID string) error
	// CreateInvitation stores inv with the hash of its token, replacing the
	// pending invitation of the same (organization, email) if any (its token
	// dies). inv.ID is generated when empty and inv.CreatedAt set to now when
	// zero; inv.ExpiresAt must be after it; inv.Email must be normalised.
	// On success inv holds what was stored. ErrInvalidRole, ErrInvalidEmail;
	// ErrNotFound if the organization (or the inviting account) does not
	// exist.
	CreateInvitation(ctx context.Context, inv *Invitation, tokenHash []byte) error
	// InvitationByToken finds the pending invitation of that token hash,
	// expired or not (the caller compares ExpiresAt); ErrNotFound if unknown,
	// replaced or accepted.
	InvitationByToken(ctx context.Context, tokenHash []byte) (*Invitation, error)
	// PendingInvitations lists the organization's invitations neither
	// accepted nor expired at now, by email.
	PendingInvitations(ctx context.Context, orgID string, now time.Time) ([]Invitation, error)
	// AcceptInvitation marks the invitation accepted at the given time (now
	// when zero) and makes the account a member with the invitation's role,
	// in one transaction; a member already keeps the higher of its role and
	// the invitation's. ErrNotFound if the invitation is unknown, replaced or
	// accepted, or the account does not exist; ErrInvitationExpired if it has
	// expired at that time (it stays pending). The caller checks that the
	// account's email is the invited one.
	AcceptInvitation(ctx context.Context, invitationID, accountID string, at time.Time) error
	// AddMembership makes the account a member with role, at the given time
	// (now when zero); a member already is left as it is (idempotent).
	// ErrInvalidRole; ErrNotFound if the organization or account does not
	// exist.
	AddMembership(ctx context.Context, orgID, accountID, role string, at time.Time) error
	// RenameOrganization sets the organization's name.
	// ErrInvalidOrganizationName; ErrNotFound if there is no such organization.
	RenameOrganization(ctx context.Context, orgID, name string) error
	// SetOrganizationMFA sets the organization's MFA rule: on with a grace
	// of graceDays (0 to MaxMFAGraceDays), counted from at when the rule was
	// off (a change of the grace of a rule already on keeps its start), or
	// off. ErrNotFound if there is no such organization.
	SetOrganizationMFA(ctx context.Context, orgID string, require bool, graceDays int, at time.Time) error
}

var _ OrgStore = (*sqlStore)(nil)

// orgError passes the store's own sentinels through and maps the rest.
func (s *sqlStore) orgError(op string, err error) error {
	for _, sentinel := range []error{ErrNotFound, ErrLastOwner, ErrInvitationExpired} {
		if errors.Is(err, sentinel) {
			return err
		}
	}
	return s.mapError(op, err)
}

func validOrganizationName(name string) error {
	if strings.TrimSpace(name) == "" || len(name) > MaxOrganizationNameBytes || !utf8.ValidString(name) {
		return fmt.Errorf("%w: want 1 to %d bytes of UTF-8, not blank", ErrInvalidOrganizationName, MaxOrganizationNameBytes)
	}
	if strings.ContainsFunc(name, unicode.IsControl) {
		return fmt.Errorf("%w: control character", ErrInvalidOrganizationName)
	}
	return nil
}

func (s *sqlStore) CreateOrganization(ctx context.Context, name, ownerAccountID string, at time.Time) (*Organization, error) {
	if err := validOrganizationName(name); err != nil {
		return nil, err
	}
	if ownerAccountID == "" {
		return nil, errors.New("accounts: CreateOrganization: no owner account id")
	}
	org := &Organization{ID: uuid.NewString(), Name: name, CreatedAt: s.timeOrNow(at)}
	created, err := encodeTime(org.CreatedAt)
	if err != nil {
		return nil, err
	}
	err = s.db.inTx(ctx, func(q querier) error {
		if _, err := q.exec(ctx, `INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)`,
			org.ID, org.Name, created); err != nil {
			return err
		}
		_, err := q.exec(ctx, `INSERT INTO memberships (account_id, organization_id, role, created_at)
			VALUES ($1, $2, $3, $4)`, ownerAccountID, org.ID, RoleOwner, created)
		return err
	})
	if err != nil {
		return nil, s.orgError("CreateOrganization", err)
	}
	return org, nil
}

func (s *sqlStore) RenameOrganization(ctx context.Context, orgID, name string) error {
	if err := validOrganizationName(name); err != nil {
		return err
	}
	n, err := s.db.exec(ctx, `UPDATE organizations SET name = $2 WHERE id = $1`, orgID, name)
	if err != nil {
		return s.orgError("RenameOrganization", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

func (s *sqlStore) SetOrganizationMFA(ctx context.Context, orgID string, require bool, graceDays int, at time.Time) error {
	if graceDays < 0 || graceDays > MaxMFAGraceDays {
		return fmt.Errorf("accounts: MFA grace of %d days: want 0 to %d", graceDays, MaxMFAGraceDays)
	}
	if at.IsZero() {
		at = time.Now()
	}
	since, err := encodeTime(at)
	if err != nil {
		return err
	}
	var startedAt any // NULL: the rule is off
	if require {
		startedAt = since
	}
	n, err := s.db.exec(ctx, `UPDATE organizations SET
		mfa_required_at = CASE WHEN require_mfa AND $2 THEN mfa_required_at ELSE $4 END,
		require_mfa = $2, mfa_grace_days = $3
		WHERE id = $1`, orgID, require, graceDays, startedAt)
	if err != nil {
		return s.orgError("SetOrganizationMFA", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

func (s *sqlStore) Memberships(ctx context.Context, accountID string) ([]Membership, error) {
	var out []Membership
	err := s.db.query(ctx, `SELECT m.organization_id, o.name, m.role, m.created_at,
		o.require_mfa, o.mfa_grace_days, o.mfa_required_at
		FROM memberships m JOIN organizations o ON o.id = m.organization_id
		WHERE m.account_id = $1`, []any{accountID},
		func(scan func(...any) error) error {
			var m Membership
			var joined string
			var requiredAt sql.NullString
			if err := scan(&m.OrganizationID, &m.Name, &m.Role, &joined, &m.RequireMFA, &m.MFAGraceDays, &requiredAt); err != nil {
				return err
			}
			var err error
			if m.JoinedAt, err = decodeTime(joined); err != nil {
				return err
			}
			if requiredAt.Valid {
				if m.MFARequiredAt, err = decodeTime(requiredAt.String); err != nil {
					return err
				}
			}
			out = append(out, m)
			return nil
		})
	if err != nil {
		return nil, s.orgError("Memberships", err)
	}
	slices.SortFunc(out, func(a, b Membership) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.OrganizationID, b.OrganizationID))
	})
	return out, nil
}

func (s *sqlStore) MemberRole(ctx context.Context, orgID, accountID string) (string, error) {
	var role string
	err := s.db.queryRow(ctx, `SELECT role FROM memberships WHERE organization_id = $1 AND account_id = $2`,
		[]any{orgID, accountID}, &role)
	if err != nil {
		return "", s.orgError("MemberRole", err)
	}
	return role, nil
}

func (s *sqlStore) Members(ctx context.Context, orgID string) ([]Member, error) {
	var out []Member
	err := s.db.query(ctx, `SELECT m.account_id, a.email, m.role, m.created_at
		FROM memberships m JOIN accounts a ON a.id = m.account_id
		WHERE m.organization_id = $1`, []any{orgID},
		func(scan func(...any) error) error {
			var m Member
			var since string
			if err := scan(&m.AccountID, &m.Email, &m.Role, &since); err != nil {
				return err
			}
			t, err := decodeTime(since)
			if err != nil {
				return err
			}
			m.Since = t
			out = append(out, m)
			return nil
		})
	if err != nil {
		return nil, s.orgError("Members", err)
	}
	slices.SortFunc(out, func(a, b Member) int {
		return cmp.Or(strings.Compare(a.Email, b.Email), strings.Compare(a.AccountID, b.AccountID))
	})
	return out, nil
}

func (s *sqlStore) SetMemberRole(ctx context.Context, orgID, accountID, role string) error {
	if !ValidRole(role) {
		return fmt.Errorf("%w: %q", ErrInvalidRole, role)
	}
	return s.changeMember(ctx, "SetMemberRole", orgID, accountID, role)
}

func (s *sqlStore) RemoveMember(ctx context.Context, orgID, accountID string) error {
	return s.changeMember(ctx, "RemoveMember", orgID, accountID, "")
}

// changeMember sets the member's role, or removes it when role is "", under
// the last-owner rule, in one transaction.
//
// One SELECT reads the member and the organization's owners. On PostgreSQL it
// locks them FOR UPDATE, in account id order (one statement, one order: two
// changes never deadlock on these rows); a transaction that waits re-reads
// each row once it is free and drops those no longer owners. The owners
// locked stay owners until commit, so when one besides the member is
// counted the organization keeps an owner: two owners demoting each other at
// once end with exactly one demoted, the other hearing ErrLastOwner. An owner
// promoted since the statement's snapshot is not counted, which can only
// refuse, never wrongly allow. On SQLite the IMMEDIATE transaction holds the
// write lock from its first statement, so the read and the write are one
// step for every writer.
func (s *sqlStore) changeMember(ctx context.Context, op, orgID, accountID, role string) error {
	err := s.db.inTx(ctx, func(q querier) error {
		current, otherOwners := "", 0
		err := q.query(ctx, `SELECT account_id, role FROM memberships
			WHERE organization_id = $1 AND (role = 'owner' OR account_id = $2)
			ORDER BY account_id`+s.rowLock("FOR UPDATE"), []any{orgID, accountID},
			func(scan func(...any) error) error {
				var id, r string
				if err := scan(&id, &r); err != nil {
					return err
				}
				if id == accountID {
					current = r
				} else if r == RoleOwner {
					otherOwners++
				}
				return nil
			})
		switch {
		case err != nil:
			return err
		case current == "":
			return ErrNotFound
		case current == role:
			return nil
		case current == RoleOwner && otherOwners == 0:
			return ErrLastOwner
		}
		var n int64
		if role == "" {
			n, err = q.exec(ctx, `DELETE FROM memberships WHERE organization_id = $1 AND account_id = $2`,
				orgID, accountID)
		} else {
			n, err = q.exec(ctx, `UPDATE memberships SET role = $3 WHERE organization_id = $1 AND account_id = $2`,
				orgID, accountID, role)
		}
		if err == nil && n != 1 {
			err = fmt.Errorf("changed %d rows, want 1", n) // cannot happen under the lock
		}
		return err
	})
	if err != nil {
		return s.orgError(op, err)
	}
	return nil
}

func (s *sqlStore) AddMembership(ctx context.Context, orgID, accountID, role string, at time.Time) error {
	if !ValidRole(role) {
		return fmt.Errorf("%w: %q", ErrInvalidRole, role)
	}
	if orgID == "" || accountID == "" {
		return errors.New("accounts: AddMembership: needs an organization id and an account id")
	}
	created, err := encodeTime(s.timeOrNow(at))
	if err != nil {
		return err
	}
	_, err = s.db.exec(ctx, `INSERT INTO memberships (account_id, organization_id, role, created_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, organization_id) DO NOTHING`,
		accountID, orgID, role, created)
	if err != nil {
		return s.orgError("AddMembership", err)
	}
	return nil
}

const invitationColumns = `id, organization_id, email, role, invited_by, created_at, expires_at, accepted_at`

func validTokenHash(tokenHash []byte) error {
	if n := len(tokenHash); n < minInvitationTokenHashBytes || n > maxInvitationTokenHashBytes {
		return fmt.Errorf("accounts: invitation token hash of %d bytes, want %d to %d",
			n, minInvitationTokenHashBytes, maxInvitationTokenHashBytes)
	}
	return nil
}

// CreateInvitation is one upsert on the partial unique index of pending
// invitations, (organization_id, email) WHERE accepted_at IS NULL: atomic on
// both drivers, so concurrent invitations of one address all succeed and
// leave exactly one pending, the last written. The replaced row takes the
// new id, token hash and times: the old token finds nothing any more.
func (s *sqlStore) CreateInvitation(ctx context.Context, inv *Invitation, tokenHash []byte) error {
	if inv == nil {
		return errors.New("accounts: CreateInvitation: nil invitation")
	}
	in := *inv
	if !ValidRole(in.Role) {
		return fmt.Errorf("%w: %q", ErrInvalidRole, in.Role)
	}
	if err := checkNormalized(in.Email); err != nil {
		return err
	}
	if in.OrganizationID == "" {
		return errors.New("accounts: CreateInvitation: no organization id")
	}
	if err := validTokenHash(tokenHash); err != nil {
		return err
	}
	if !in.AcceptedAt.IsZero() {
		return errors.New("accounts: CreateInvitation: invitation already accepted")
	}
	if in.ID == "" {
		in.ID = uuid.NewString()
	}
	in.CreatedAt = s.timeOrNow(in.CreatedAt)
	if in.ExpiresAt.IsZero() || !in.ExpiresAt.After(in.CreatedAt) {
		return fmt.Errorf("accounts: CreateInvitation: expiry %v not after creation %v", in.ExpiresAt, in.CreatedAt)
	}
	in.ExpiresAt = in.ExpiresAt.UTC().Round(0)
	created, err := encodeTime(in.CreatedAt)
	if err != nil {
		return err
	}
	expires, err := encodeTime(in.ExpiresAt)
	if err != nil {
		return err
	}
	_, err = s.db.exec(ctx, `INSERT INTO invitations
			(id, organization_id, email, role, token_hash, invited_by, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (organization_id, email) WHERE accepted_at IS NULL DO UPDATE SET
			id = excluded.id, role = excluded.role, token_hash = excluded.token_hash,
			invited_by = excluded.invited_by, created_at = excluded.created_at,
			expires_at = excluded.expires_at`,
		in.ID, in.OrganizationID, in.Email, in.Role, tokenHash, nullString(in.InvitedBy), created, expires)
	if err != nil {
		return s.orgError("CreateInvitation", err)
	}
	*inv = in
	return nil
}

func (s *sqlStore) InvitationByToken(ctx context.Context, tokenHash []byte) (*Invitation, error) {
	if len(tokenHash) == 0 {
		return nil, ErrNotFound
	}
	var inv *Invitation
	err := s.db.query(ctx, `SELECT `+invitationColumns+` FROM invitations
		WHERE token_hash = $1 AND accepted_at IS NULL`, []any{tokenHash},
		func(scan func(...any) error) error {
			var err error
			inv, err = scanInvitation(scan)
			return err
		})
	if err != nil {
		return nil, s.orgError("InvitationByToken", err)
	}
	if inv == nil {
		return nil, ErrNotFound
	}
	return inv, nil
}

func (s *sqlStore) PendingInvitations(ctx context.Context, orgID string, now time.Time) ([]Invitation, error) {
	at, err := encodeTime(now)
	if err != nil {
		return nil, err
	}
	var out []Invitation
	err = s.db.query(ctx, `SELECT `+invitationColumns+` FROM invitations
		WHERE organization_id = $1 AND accepted_at IS NULL AND expires_at > $2`, []any{orgID, at},
		func(scan func(...any) error) error {
			inv, err := scanInvitation(scan)
			if err != nil {
				return err
			}
			out = append(out, *inv)
			return nil
		})
	if err != nil {
		return nil, s.orgError("PendingInvitations", err)
	}
	slices.SortFunc(out, func(a, b Invitation) int {
		return cmp.Or(strings.Compare(a.Email, b.Email), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

func scanInvitation(scan func(...any) error) (*Invitation, error) {
	var inv Invitation
	var invitedBy, accepted sql.NullString
	var created, expires string
	if err := scan(&inv.ID, &inv.OrganizationID, &inv.Email, &inv.Role, &invitedBy,
		&created, &expires, &accepted); err != nil {
		return nil, err
	}
	inv.InvitedBy = invitedBy.String
	var err error
	if inv.CreatedAt, err = decodeTime(created); err != nil {
		return nil, err
	}
	if inv.ExpiresAt, err = decodeTime(expires); err != nil {
		return nil, err
	}
	if accepted.Valid {
		if inv.AcceptedAt, err = decodeTime(accepted.String); err != nil {
			return nil, err
		}
	}
	return &inv, nil
}

// AcceptInvitation locks the pending invitation (FOR UPDATE on PostgreSQL; a
// second accept waits, then finds it accepted), marks it, and upserts the
// membership, raising an existing member's role but never lowering it, so
// the owner count never drops here.
func (s *sqlStore) AcceptInvitation(ctx context.Context, invitationID, accountID string, at time.Time) error {
	if invitationID == "" || accountID == "" {
		return ErrNotFound
	}
	at = s.timeOrNow(at)
	accepted, err := encodeTime(at)
	if err != nil {
		return err
	}
	err = s.db.inTx(ctx, func(q querier) error {
		var orgID, role, expires string
		err := q.queryRow(ctx, `SELECT organization_id, role, expires_at FROM invitations
			WHERE id = $1 AND accepted_at IS NULL`+s.rowLock("FOR UPDATE"), []any{invitationID}, &orgID, &role, &expires)
		if err != nil {
			return err
		}
		exp, err := decodeTime(expires)
		if err != nil {
			return err
		}
		if !at.Before(exp) {
			return ErrInvitationExpired
		}
		n, err := q.exec(ctx, `UPDATE invitations SET accepted_at = $2 WHERE id = $1 AND accepted_at IS NULL`,
			invitationID, accepted)
		if err != nil {
			return err
		}
		if n != 1 {
			return ErrNotFound
		}
		_, err = q.exec(ctx, `INSERT INTO memberships (account_id, organization_id, role, created_at)
			VALUES ($1, $2, $3, $4)
			ON CONFLICT (account_id, organization_id) DO UPDATE SET role = excluded.role
			WHERE `+roleRankSQL("excluded.role")+` > `+roleRankSQL("memberships.role"),
			accountID, orgID, role, accepted)
		return err
	})
	if err != nil {
		return s.orgError("AcceptInvitation", err)
	}
	return nil
}
