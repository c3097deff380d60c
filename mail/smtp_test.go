package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"unigate/accounts"
	"unigate/accounts/accountstest"
	"unigate/mail/mailtest"
)

func TestNewSMTPValidates(t *testing.T) {
	good := SMTPConfig{Host: "smtp.example.com", From: "Accounts <no-reply@example.com>"}
	for name, mutate := range map[string]func(c *SMTPConfig){
		"no host":                  func(c *SMTPConfig) { c.Host = "" },
		"host with port":           func(c *SMTPConfig) { c.Host = "smtp.example.com:25" },
		"host with space":          func(c *SMTPConfig) { c.Host = "smtp example.com" },
		"host with user":           func(c *SMTPConfig) { c.Host = "user@smtp.example.com" },
		"bracketed ipv6":           func(c *SMTPConfig) { c.Host = "[::1]" },
		"bad tls":                  func(c *SMTPConfig) { c.TLS = "ssl" },
		"port out of range":        func(c *SMTPConfig) { c.Port = 70000 },
		"negative port":            func(c *SMTPConfig) { c.Port = -1 },
		"no from":                  func(c *SMTPConfig) { c.From = "" },
		"from with newline":        func(c *SMTPConfig) { c.From = "a@example.com\r\nRCPT TO:<x@example.org>" },
		"password without user":    func(c *SMTPConfig) { c.Password = "secret" },
		"auth in clear to a relay": func(c *SMTPConfig) { c.TLS, c.Username = TLSNone, "user" },
		"negative timeout":         func(c *SMTPConfig) { c.Timeout = -time.Second },
		"helo with space":          func(c *SMTPConfig) { c.HeloName = "a b" },
	} {
		c := good
		mutate(&c)
		if _, err := NewSMTP(c); err == nil {
			t.Errorf("%s: NewSMTP succeeded", name)
		}
	}
	for _, tc := range []struct {
		cfg  SMTPConfig
		port int
	}{
		{SMTPConfig{Host: "smtp.example.com", From: "a@example.com"}, 587},
		{SMTPConfig{Host: "smtp.example.com", From: "a@example.com", TLS: TLSImplicit}, 465},
		{SMTPConfig{Host: "127.0.0.1", From: "a@example.com", TLS: TLSNone, Username: "u", Password: "p"}, 25},
		{SMTPConfig{Host: "localhost", From: "a@example.com", TLS: TLSNone, Username: "u", Port: 1025}, 1025},
		{SMTPConfig{Host: "::1", From: "a@example.com", TLS: TLSNone, Username: "u"}, 25},
	} {
		st, err := NewSMTP(tc.cfg)
		if err != nil {
			t.Errorf("NewSMTP(%+v): %v", tc.cfg, err)
			continue
		}
		if st.port != tc.port || st.timeout != 10*time.Second || st.mode == "" || st.tlsConfig.ServerName != tc.cfg.Host || st.tlsConfig.MinVersion < tls.VersionTLS12 {
			t.Errorf("NewSMTP(%+v): port %d, timeout %v, mode %q, tls %+v", tc.cfg, st.port, st.timeout, st.mode, st.tlsConfig)
		}
	}
}

// renderCode renders an email_code message with code for to.
func renderCode(tb testing.TB, to, code string) []byte {
	tb.Helper()
	raw, err := mustRenderer(tb).Render(KindEmailCode, "fr", to, CodeData{Code: code, ExpiresMinutes: 10})
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

func TestSMTPToMailpit(t *testing.T) {
	t.Run("none", func(t *testing.T) {
		t.Parallel()
		mp := mailtest.StartMailpit(t)
		st, err := NewSMTP(SMTPConfig{Host: mp.SMTPHost, Port: mp.SMTPPort, TLS: TLSNone, From: testFrom, HeloName: "unigate.test"})
		if err != nil {
			t.Fatal(err)
		}
		raw := renderCode(t, "alice@example.com", "31415926")
		if err := st.Send(context.Background(), "alice@example.com", raw); err != nil {
			t.Fatal(err)
		}
		if got := mp.LatestCode(t, "alice@example.com"); got != "31415926" {
			t.Errorf("code read back = %q, want 31415926", got)
		}
		msgs := mp.MessagesTo(t, "alice@example.com")
		if len(msgs) != 1 || msgs[0].Subject != "Votre code de connexion" || msgs[0].From.Address != "no-reply@example.com" {
			t.Errorf("received %+v", msgs)
		}
		// Sent as rendered: the relay adds trace headers before it, nothing else.
		if got := mp.Raw(t, msgs[0].ID); !bytes.HasSuffix(got, raw) {
			t.Errorf("the relay received other bytes than were rendered")
		}
	})
	t.Run("starttls with auth", func(t *testing.T) {
		t.Parallel()
		mp := mailtest.StartMailpitWith(t, mailtest.Options{TLS: "starttls", Users: map[string]string{"unigate": "correct-horse-battery"}})
		cfg := SMTPConfig{Host: mp.SMTPHost, Port: mp.SMTPPort, TLS: TLSStartTLS, From: testFrom,
			Username: "unigate", Password: "correct-horse-battery", TLSConfig: &tls.Config{RootCAs: mp.RootCAs}}
		st, err := NewSMTP(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Send(context.Background(), "bob@example.com", renderCode(t, "bob@example.com", "27182818")); err != nil {
			t.Fatal(err)
		}
		if got := mp.LatestCode(t, "bob@example.com"); got != "27182818" {
			t.Errorf("code read back = %q", got)
		}
		if msgs := mp.MessagesTo(t, "bob@example.com"); msgs[0].Username != "unigate" {
			t.Errorf("sent as SMTP user %q, want unigate", msgs[0].Username)
		}

		const code = "11112222"
		raw := renderCode(t, "bob@example.com", code)
		bad := cfg
		bad.Password = "wrong"
		st, _ = NewSMTP(bad)
		err = st.Send(context.Background(), "bob@example.com", raw)
		if err == nil || errors.Is(err, ErrPermanent) || strings.Contains(err.Error(), code) || strings.Contains(err.Error(), "wrong") {
			t.Errorf("wrong password: %v; want a retryable error without the code or the password", err)
		}
		untrusted := cfg
		untrusted.TLSConfig = nil // system roots do not know the test certificate
		st, _ = NewSMTP(untrusted)
		if err := st.Send(context.Background(), "bob@example.com", raw); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("unknown certificate: %v; want a verification error", err)
		}
		if n := len(mp.MessagesTo(t, "bob@example.com")); n != 1 {
			t.Errorf("%d messages to bob, want only the first", n)
		}
	})
	t.Run("none with auth on loopback", func(t *testing.T) {
		t.Parallel()
		mp := mailtest.StartMailpitWith(t, mailtest.Options{Users: map[string]string{"local": "pw-on-loopback"}})
		st, err := NewSMTP(SMTPConfig{Host: mp.SMTPHost, Port: mp.SMTPPort, TLS: TLSNone, From: testFrom,
			Username: "local", Password: "pw-on-loopback"})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Send(context.Background(), "fay@example.com", renderCode(t, "fay@example.com", "42424242")); err != nil {
			t.Fatal(err)
		}
		if msgs := mp.WaitMessages(t, "fay@example.com", 1); msgs[0].Username != "local" {
			t.Errorf("sent as SMTP user %q, want local", msgs[0].Username)
		}
	})
	t.Run("implicit tls", func(t *testing.T) {
		t.Parallel()
		mp := mailtest.StartMailpitWith(t, mailtest.Options{TLS: "tls"})
		st, err := NewSMTP(SMTPConfig{Host: mp.SMTPHost, Port: mp.SMTPPort, TLS: TLSImplicit, From: testFrom,
			Username: "any", Password: "any", TLSConfig: &tls.Config{RootCAs: mp.RootCAs}})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Send(context.Background(), "carol@example.com", renderCode(t, "carol@example.com", "16180339")); err != nil {
			t.Fatal(err)
		}
		if got := mp.LatestCode(t, "carol@example.com"); got != "16180339" {
			t.Errorf("code read back = %q", got)
		}
	})
	t.Run("starttls never downgrades", func(t *testing.T) {
		t.Parallel()
		mp := mailtest.StartMailpit(t) // offers no STARTTLS
		st, err := NewSMTP(SMTPConfig{Host: mp.SMTPHost, Port: mp.SMTPPort, TLS: TLSStartTLS, From: testFrom})
		if err != nil {
			t.Fatal(err)
		}
		err = st.Send(context.Background(), "dave@example.com", renderCode(t, "dave@example.com", "12345678"))
		if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
			t.Errorf("Send to a relay without STARTTLS = %v, want a STARTTLS error", err)
		}
		if n := len(mp.Messages(t)); n != 0 {
			t.Errorf("%d messages went out in the clear", n)
		}
	})
	t.Run("recipient refused is permanent", func(t *testing.T) {
		t.Parallel()
		mp := mailtest.StartMailpitWith(t, mailtest.Options{Args: []string{"--smtp-allowed-recipients", `@example\.com$`}})
		st, err := NewSMTP(SMTPConfig{Host: mp.SMTPHost, Port: mp.SMTPPort, TLS: TLSNone, From: testFrom})
		if err != nil {
			t.Fatal(err)
		}
		const code = "99887766"
		err = st.Send(context.Background(), "eve@example.org", renderCode(t, "eve@example.org", code))
		if !errors.Is(err, ErrPermanent) || strings.Contains(err.Error(), code) {
			t.Errorf("refused recipient: %v; want ErrPermanent, without the code", err)
		}
		if err := st.Send(context.Background(), "not an address", []byte("x")); !errors.Is(err, ErrPermanent) {
			t.Errorf("invalid recipient: %v; want ErrPermanent", err)
		}
	})
}

// TestSMTPHonoursContext: a relay that accepts the connection and then says
// nothing does not hold a delivery past its context.
func TestSMTPHonoursContext(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // silent until the test ends
		}
	}()
	st, err := NewSMTP(SMTPConfig{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, TLS: TLSNone, From: testFrom, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := st.Send(ctx, "a@example.com", []byte("x")); err == nil {
		t.Fatal("Send to a silent relay succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Send returned after %v, want about the context's 200ms", d)
	}

	st.timeout = 300 * time.Millisecond // and Timeout bounds it without a deadline on ctx
	start = time.Now()
	if err := st.Send(context.Background(), "a@example.com", []byte("x")); err == nil {
		t.Fatal("Send to a silent relay succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Send returned after %v, want about Timeout's 300ms", d)
	}
}

// TestSenderThroughMailpit is the production path end to end: a code queued
// in the real account store goes out through SMTP, and the recipient reads
// it back from the relay.
func TestSenderThroughMailpit(t *testing.T) {
	mp := mailtest.StartMailpit(t)
	st, err := NewSMTP(SMTPConfig{Host: mp.SMTPHost, Port: mp.SMTPPort, TLS: TLSNone, From: testFrom})
	if err != nil {
		t.Fatal(err)
	}
	store := openOutbox(t, accounts.DriverSQLite, accountstest.SQLitePath(t))
	res := &results{}
	s := mustSender(t, store, st, SenderOptions{PollEvery: time.Hour, OnResult: res.add})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)

	r := mustRenderer(t)
	for i, code := range []string{"10203040", "50607080"} {
		if _, err := Queue(ctx, store, r, "login:"+code, "", KindEmailCode, "fr", "zoe@example.com", codeData(code)); err != nil {
			t.Fatal(err)
		}
		s.Poke()
		mp.WaitMessages(t, "zoe@example.com", i+1)
		if got := mp.LatestCode(t, "zoe@example.com"); got != code {
			t.Errorf("code %d read back = %q, want %q", i, got, code)
		}
	}
	// The same key again sends nothing.
	if queued, err := Queue(ctx, store, r, "login:10203040", "", KindEmailCode, "fr", "zoe@example.com", codeData("10203040")); err != nil || queued {
		t.Errorf("re-queue = %v, %v; want false", queued, err)
	}
	s.Poke()
	waitFor(t, func() bool { n, err := store.PendingMail(ctx); return err == nil && n == 0 })
	time.Sleep(100 * time.Millisecond)
	if n := len(mp.MessagesTo(t, "zoe@example.com")); n != 2 {
		t.Errorf("%d messages, want 2", n)
	}
	if got := res.String(); got != "email_code:sent email_code:sent" {
		t.Errorf("OnResult calls %q", got)
	}
}
