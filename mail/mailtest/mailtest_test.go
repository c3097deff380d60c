package mailtest

import (
	"net"
	"net/smtp"
	"strconv"
	"strings"
	"testing"
)

func TestCodeFromText(t *testing.T) {
	for _, tc := range []struct {
		text, code string
		ok         bool
	}{
		{"Hello,\n\n12345678\n\nBye", "12345678", true},
		{"Hello,\r\n\r\n01234567\r\n", "01234567", true},
		{"12345678", "12345678", true},
		{"Code: 12345678\n", "", false},
		{" 12345678\n", "", false},
		{"1234567\n123456789\n", "", false},
		{"12345678\n87654321\n", "", false},
		{"12345678\n12345678\n", "12345678", true},
		{"", "", false},
	} {
		code, ok := CodeFromText(tc.text)
		if code != tc.code || ok != tc.ok {
			t.Errorf("CodeFromText(%q) = %q, %v; want %q, %v", tc.text, code, ok, tc.code, tc.ok)
		}
	}
}

// TestMailpit: the helper's own round trip, with the standard library's
// client, so that a failure here is the helper's and not package mail's.
func TestMailpit(t *testing.T) {
	mp := StartMailpit(t)
	addr := net.JoinHostPort(mp.SMTPHost, strconv.Itoa(mp.SMTPPort))
	body := "From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nYour code:\r\n\r\n24681357\r\n"
	if err := smtp.SendMail(addr, nil, "a@example.com", []string{"b@example.com"}, []byte(body)); err != nil {
		t.Fatal(err)
	}
	if got := mp.LatestCode(t, "B@example.com"); got != "24681357" {
		t.Errorf("LatestCode = %q", got)
	}
	msgs := mp.Messages(t)
	if len(msgs) != 1 || msgs[0].Subject != "hi" || !strings.HasSuffix(string(mp.Raw(t, msgs[0].ID)), body) {
		t.Errorf("Messages = %+v", msgs)
	}
	mp.DeleteAll(t)
	if n := len(mp.Messages(t)); n != 0 {
		t.Errorf("%d messages after DeleteAll", n)
	}
	if _, _, err := mailpitArgs(t.TempDir(), Options{Users: map[string]string{"u": "two words"}}); err == nil {
		t.Error("a password with a space was accepted")
	}
	if _, _, err := mailpitArgs(t.TempDir(), Options{TLS: "ssl"}); err == nil {
		t.Error("TLS ssl was accepted")
	}
}
