package mail

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"database/sql"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"unigate/accounts"
	"unigate/mfa"
)

func mustSealer(tb testing.TB) Sealer { return sealerWithKey(tb, 7) }

// sealerWithKey is an outbox Sealer as cmd/unigate makes it, from a session
// key of 64 bytes b.
func sealerWithKey(tb testing.TB, b byte) Sealer {
	tb.Helper()
	sub, err := hkdf.Key(sha256.New, bytes.Repeat([]byte{b}, 64), nil, OutboxKeyInfo, 32)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := mfa.NewSealer(sub)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// outboxRaw reads the raw column and whether the message is still due,
// straight from the outbox table: what a copy of the database holds.
func outboxRaw(t *testing.T, driver, dsn, key string) (raw []byte, due bool) {
	t.Helper()
	ctx := context.Background()
	const query = `SELECT raw, next_attempt_at IS NOT NULL FROM outbox WHERE dedup_key = $1`
	if driver == accounts.DriverPostgres {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if err := conn.QueryRow(ctx, query, key).Scan(&raw, &due); err != nil {
			t.Fatalf("outbox row %s: %v", key, err)
		}
		return raw, due
	}
	db, err := sql.Open("sqlite", "file:"+dsn+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRowContext(ctx, query, key).Scan(&raw, &due); err != nil {
		t.Fatalf("outbox row %s: %v", key, err)
	}
	return raw, due
}

// TestOutboxSealsCodesAtRest (issue 16, finding 18): the row of a queued
// one-time code holds no code in clear, nor does the row of one given up;
// the sender opens it and delivers the code, and a sent message keeps no
// body at all. An invitation's link is sealed the same way.
func TestOutboxSealsCodesAtRest(t *testing.T) {
	for _, d := range storeDrivers {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dsn := d.newDB(t)
			store := openOutbox(t, d.name, dsn)
			sealer := mustSealer(t)
			ft := &fakeTransport{fail: func(to string) error {
				if to == "refused@example.com" {
					return ErrPermanent
				}
				return nil
			}}
			sender := mustSender(t, store, ft, SenderOptions{Sealer: sealer})
			ob := &Outbox{Store: store, Renderer: mustRenderer(t), Sender: sender, Sealer: sealer}
			const code, refusedCode, token = "48213957", "70615284", "inv-token-Zq8xY3"
			if err := ob.Queue(ctx, "login:1", "", KindEmailCode, "en", "ok@example.com", codeData(code)); err != nil {
				t.Fatal(err)
			}
			if err := ob.Queue(ctx, "login:2", "", KindSignupCode, "fr", "refused@example.com", codeData(refusedCode)); err != nil {
				t.Fatal(err)
			}
			if err := ob.Queue(ctx, "invite:1", "", KindInvitation, "en", "guest@example.com", InvitationData{
				Organization: "Acme", Role: "member", InvitedBy: "boss@example.com",
				AcceptURL: "https://account.example.com/invitations/" + token, ExpiresDays: 7}); err != nil {
				t.Fatal(err)
			}
			for key, secret := range map[string]string{"login:1": code, "login:2": refusedCode, "invite:1": token} {
				raw, _ := outboxRaw(t, d.name, dsn, key)
				if len(raw) == 0 || bytes.Contains(raw, []byte(secret)) || !bytes.HasPrefix(raw, []byte(sealedPrefix)) {
					t.Errorf("%s: the queued row holds %q in clear (or is not sealed): %.60q", key, secret, raw)
				}
			}

			sender.sendDue(ctx)
			if got := ft.sentTo(); len(got) != 2 {
				t.Fatalf("delivered to %q, want ok@ and guest@", got)
			}
			for i, to := range ft.sentTo() {
				if to == "ok@example.com" {
					checkCodeLine(t, parseMessage(t, ft.raws[i]).text, code)
				}
			}
			if raw, _ := outboxRaw(t, d.name, dsn, "login:1"); raw != nil {
				t.Errorf("a sent message keeps %d bytes of body", len(raw))
			}
			raw, due := outboxRaw(t, d.name, dsn, "login:2")
			if due {
				t.Fatal("the refused message is not given up")
			}
			if bytes.Contains(raw, []byte(refusedCode)) {
				t.Errorf("the given-up row holds its code in clear")
			}
		})
	}
}

// TestSealedBodyOpensOnlyForItsMessage: a sealed body opens with the same
// key for the same message only; moved to another message or recipient, or
// read by a sender without the key, it is a permanent failure and nothing
// is sent. A body in clear (queued before sealing) is still sent.
func TestSealedBodyOpensOnlyForItsMessage(t *testing.T) {
	sealer := mustSealer(t)
	sealed := sealBody(sealer, "login:1", "a@example.com", []byte("body"))
	if got, err := openBody(sealer, "login:1", "a@example.com", sealed); err != nil || string(got) != "body" {
		t.Fatalf("openBody = %q, %v", got, err)
	}
	other := sealerWithKey(t, 8)
	for name, open := range map[string]func() ([]byte, error){
		"other key":       func() ([]byte, error) { return openBody(other, "login:1", "a@example.com", sealed) },
		"other message":   func() ([]byte, error) { return openBody(sealer, "login:2", "a@example.com", sealed) },
		"other recipient": func() ([]byte, error) { return openBody(sealer, "login:1", "b@example.com", sealed) },
		"no key":          func() ([]byte, error) { return openBody(nil, "login:1", "a@example.com", sealed) },
	} {
		if got, err := open(); err == nil {
			t.Errorf("%s: opened as %q", name, got)
		}
	}
	if got, err := openBody(nil, "k", "a@example.com", []byte("Date: x\r\n")); err != nil || string(got) != "Date: x\r\n" {
		t.Errorf("a body in clear: %q, %v", got, err)
	}

	store := &memOutbox{}
	ob := &Outbox{Store: store, Renderer: mustRenderer(t), Sealer: sealer, Sender: mustSender(t, store, &fakeTransport{}, SenderOptions{})}
	if err := ob.Queue(context.Background(), "login:1", "", KindEmailCode, "en", "a@example.com", codeData("12345678")); err != nil {
		t.Fatal(err)
	}
	ft, res := &fakeTransport{}, &results{}
	mustSender(t, store, ft, SenderOptions{OnResult: res.add}).sendDue(context.Background())
	if len(ft.sentTo()) != 0 || res.String() != KindEmailCode+":"+ResultGaveUp {
		t.Errorf("a sender without the key: sent %q, results %q; want nothing sent, given up", ft.sentTo(), res)
	}
	if m := store.get(t, "login:1"); !strings.Contains(m.LastError, "sealed") {
		t.Errorf("last error %q, want it to say the body is sealed", m.LastError)
	}
}
