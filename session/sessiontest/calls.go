package sessiontest

import (
	"context"
	"time"

	"unigate/session"
)

// Call is one call of one Store method, for tests that check what every
// method does in some situation (a canceled context, Redis down).
type Call struct {
	Name string
	Call func(context.Context, session.Store) error
}

// Calls is one call of every Store method, on s where one is needed (s
// need not exist in the store).
func Calls(s *session.Session) []Call {
	code := session.NewToken()
	return []Call{
		{"Create", func(ctx context.Context, st session.Store) error {
			_, err := st.Create(ctx, newSession(time.Now(), "acct-1"), time.Minute)
			return err
		}},
		{"Get", func(ctx context.Context, st session.Store) error {
			_, err := st.Get(ctx, s.Handle, time.Minute)
			return err
		}},
		{"Save", func(ctx context.Context, st session.Store) error { return st.Save(ctx, s, time.Minute) }},
		{"Rotate", func(ctx context.Context, st session.Store) error {
			c := *s
			_, err := st.Rotate(ctx, &c, time.Minute)
			return err
		}},
		{"Delete", func(ctx context.Context, st session.Store) error { return st.Delete(ctx, s.Handle) }},
		{"ListAccount", func(ctx context.Context, st session.Store) error { _, err := st.ListAccount(ctx, "acct-1"); return err }},
		{"DeleteAccount", func(ctx context.Context, st session.Store) error {
			_, err := st.DeleteAccount(ctx, "acct-1", "")
			return err
		}},
		{"CreateHandoff", func(ctx context.Context, st session.Store) error {
			_, err := st.CreateHandoff(ctx, session.Handoff{Token: session.NewToken(), Host: "h", Path: "/"}, time.Minute)
			return err
		}},
		{"TakeHandoff", func(ctx context.Context, st session.Store) error { _, err := st.TakeHandoff(ctx, code); return err }},
		{"Hit", func(ctx context.Context, st session.Store) error {
			_, _, err := st.Hit(ctx, "k", time.Minute)
			return err
		}},
		{"Unhit", func(ctx context.Context, st session.Store) error { return st.Unhit(ctx, "k") }},
		{"Peek", func(ctx context.Context, st session.Store) error { _, _, err := st.Peek(ctx, "k"); return err }},
		{"Reset", func(ctx context.Context, st session.Store) error { return st.Reset(ctx, "k") }},
		{"Ping", func(ctx context.Context, st session.Store) error { return st.Ping(ctx) }},
	}
}
