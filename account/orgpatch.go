package account

import (
	"context"
	"strings"
)

// OrgChange is a PATCH of an organization (CONTRACT §9b, §11): nil leaves a
// field as it is.
type OrgChange struct {
	Name       *string
	RequireMFA *bool
	GraceDays  *int // only with RequireMFA
}

// Patch applies c. Every part that can be checked without the store is
// checked before anything is written, and the MFA rule (owners only) goes
// before the name (owners and admins), so that a refused request changes
// nothing: an admin who sends both is refused before the rename.
func (o *Orgs) Patch(ctx context.Context, actor Actor, orgID string, c OrgChange) error {
	if c.RequireMFA == nil && c.GraceDays != nil {
		return ErrInvalidGraceDays
	}
	if c.Name != nil && c.RequireMFA != nil && !ValidName(strings.TrimSpace(*c.Name)) {
		return ErrInvalidName
	}
	if c.RequireMFA != nil {
		days := 0
		if c.GraceDays != nil {
			days = *c.GraceDays
		}
		if err := o.SetMFARule(ctx, actor, orgID, *c.RequireMFA, days); err != nil {
			return err
		}
	}
	if c.Name != nil {
		return o.Rename(ctx, actor, orgID, *c.Name)
	}
	return nil
}
