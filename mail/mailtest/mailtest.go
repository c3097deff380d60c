// Package mailtest runs a real SMTP server for tests: Mailpit (the Go tool
// github.com/axllent/mailpit declared in go.mod), one process per call, with
// its HTTP API to read back what it received. Tests of any package that
// sends mail, the gateway's and the browser tests included, can use it.
//
// When Mailpit cannot start, the test is skipped, or fails when
// UNIGATE_REQUIRE_SERVICES=1 (as in CI). UNIGATE_MAILPIT names a Mailpit
// binary to use instead of building the tool.
package mailtest

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"unigate/accounts/accountstest"
	"unigate/internal/testcert"
)

// EnvMailpit names a Mailpit binary to run instead of `go tool mailpit`.
const EnvMailpit = "UNIGATE_MAILPIT"

// Wait is how long the helpers wait for Mailpit to start and for a message
// to arrive.
const Wait = 15 * time.Second

// Options shape the server StartMailpitWith starts.
type Options struct {
	// TLS is "" or "none" (plain SMTP), "starttls" (STARTTLS offered and
	// required) or "tls" (TLS from the first byte), with a certificate for
	// 127.0.0.1 and localhost signed by Mailpit.RootCAs.
	TLS string
	// Users, when not empty, makes SMTP AUTH required with one of these
	// username → password pairs (no whitespace in either). When empty any
	// credentials, or none, are accepted.
	Users map[string]string
	// Args are more Mailpit flags, such as --smtp-allowed-recipients REGEXP
	// to have other recipients refused with a 5xx reply.
	Args []string
}

// Mailpit is a running server, stopped when the test ends.
type Mailpit struct {
	SMTPHost string // "127.0.0.1"
	SMTPPort int
	APIURL   string // "http://127.0.0.1:PORT", the web UI and /api/v1
	// RootCAs trusts the SMTP server's certificate; nil without TLS.
	RootCAs *x509.CertPool

	client *http.Client
}

// Address is a mailbox as Mailpit reports it.
type Address struct {
	Name    string
	Address string
}

// Message is a received message as Mailpit lists it, newest first.
type Message struct {
	ID        string // Mailpit's id, for Text and Raw
	MessageID string // the Message-ID header, without brackets
	From      Address
	To        []Address
	Subject   string // decoded
	Created   time.Time
	Username  string // the SMTP AUTH user that sent it, "" without AUTH
	Size      int64
}

// StartMailpit starts a plain SMTP server that accepts any credentials, or none.
func StartMailpit(tb testing.TB) *Mailpit {
	tb.Helper()
	return StartMailpitWith(tb, Options{})
}

// StartMailpitWith starts a server shaped by opts.
func StartMailpitWith(tb testing.TB, opts Options) *Mailpit {
	tb.Helper()
	bin, err := mailpitBinary()
	if err != nil {
		accountstest.ServiceUnavailable(tb, "mailpit", err)
	}
	dir := tb.TempDir()
	args, roots, err := mailpitArgs(dir, opts)
	if err != nil {
		tb.Fatalf("mailtest: %v", err)
	}
	// A free port can be taken between our probe and Mailpit's bind: retry.
	for try := 1; ; try++ {
		m, err := start(tb, bin, dir, args)
		if err == nil {
			m.RootCAs = roots
			return m
		}
		if try == 3 {
			accountstest.ServiceUnavailable(tb, "mailpit", err)
		}
	}
}

var mailpitOnce = sync.OnceValues(func() (string, error) {
	if bin := os.Getenv(EnvMailpit); bin != "" {
		return bin, nil
	}
	// Prints the path of the tool's binary, building it into the Go build
	// cache first when needed.
	out, err := exec.Command("go", "tool", "-n", "mailpit").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, bytes.TrimSpace(ee.Stderr))
		}
		return "", fmt.Errorf("go tool -n mailpit: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
})

func mailpitBinary() (string, error) { return mailpitOnce() }

// mailpitArgs returns the flags for opts except the ports, writing the
// certificate and the password file into dir.
func mailpitArgs(dir string, opts Options) ([]string, *x509.CertPool, error) {
	args := []string{
		"--database", filepath.Join(dir, "mailpit.db"),
		"--disable-version-check",
		"--smtp-disable-rdns",
	}
	var roots *x509.CertPool
	switch opts.TLS {
	case "", "none":
	case "starttls", "tls":
		certFile, keyFile, pool, err := writeCertificate(dir)
		if err != nil {
			return nil, nil, err
		}
		roots = pool
		args = append(args, "--smtp-tls-cert", certFile, "--smtp-tls-key", keyFile)
		if opts.TLS == "tls" {
			args = append(args, "--smtp-require-tls")
		} else {
			args = append(args, "--smtp-require-starttls")
		}
	default:
		return nil, nil, fmt.Errorf("TLS %q: want none, starttls or tls", opts.TLS)
	}
	if len(opts.Users) == 0 {
		args = append(args, "--smtp-auth-accept-any")
	} else {
		var lines []string
		for user, pass := range opts.Users {
			// Mailpit reads the file as words: no whitespace, and no colon in a name.
			if user == "" || pass == "" || strings.ContainsAny(user, ": \t\r\n") || strings.ContainsAny(pass, " \t\r\n") {
				return nil, nil, fmt.Errorf("user %q: names and passwords must be non-empty, without whitespace", user)
			}
			lines = append(lines, user+":"+pass) // htpasswd's plain form
		}
		file := filepath.Join(dir, "smtp-users")
		if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			return nil, nil, err
		}
		args = append(args, "--smtp-auth-file", file)
	}
	if opts.TLS == "" || opts.TLS == "none" {
		args = append(args, "--smtp-auth-allow-insecure")
	}
	return append(args, opts.Args...), roots, nil
}

// start runs Mailpit on free ports and waits until both ports answer.
func start(tb testing.TB, bin, dir string, args []string) (*Mailpit, error) {
	tb.Helper()
	smtpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	httpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	args = append(args,
		"--smtp", net.JoinHostPort("127.0.0.1", strconv.Itoa(smtpPort)),
		"--listen", net.JoinHostPort("127.0.0.1", strconv.Itoa(httpPort)))
	var out syncBuffer
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}

	m := &Mailpit{
		SMTPHost: "127.0.0.1",
		SMTPPort: smtpPort,
		APIURL:   "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(httpPort)),
		client:   &http.Client{Timeout: 5 * time.Second},
	}
	deadline := time.Now().Add(Wait)
	for {
		select {
		case err := <-exited:
			exited <- err
			return nil, fmt.Errorf("mailpit exited: %v\n%s", err, out.String())
		default:
		}
		if m.ready() {
			break
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("mailpit not ready after %v\n%s", Wait, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Cleanup(func() {
		stop()
		if tb.Failed() {
			tb.Logf("mailpit output:\n%s", out.String())
		}
	})
	return m, nil
}

func (m *Mailpit) ready() bool {
	resp, err := m.client.Get(m.APIURL + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false
	}
	c, err := net.DialTimeout("tcp", net.JoinHostPort(m.SMTPHost, strconv.Itoa(m.SMTPPort)), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Messages lists what the server received, newest first.
func (m *Mailpit) Messages(tb testing.TB) []Message {
	tb.Helper()
	var list struct{ Messages []Message }
	m.getJSON(tb, "/api/v1/messages?limit=1000", &list)
	return list.Messages
}

// MessagesTo lists the messages with to among their recipients, newest first.
func (m *Mailpit) MessagesTo(tb testing.TB, to string) []Message {
	tb.Helper()
	var out []Message
	for _, msg := range m.Messages(tb) {
		for _, a := range msg.To {
			if strings.EqualFold(a.Address, to) {
				out = append(out, msg)
				break
			}
		}
	}
	return out
}

// WaitMessages waits until at least n messages to to have arrived and
// returns them, newest first.
func (m *Mailpit) WaitMessages(tb testing.TB, to string, n int) []Message {
	tb.Helper()
	deadline := time.Now().Add(Wait)
	for {
		got := m.MessagesTo(tb, to)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			tb.Fatalf("mailtest: %d message(s) to %s after %v, want %d", len(got), to, Wait, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Text returns the text/plain part of a message, decoded.
func (m *Mailpit) Text(tb testing.TB, id string) string {
	tb.Helper()
	var msg struct{ Text string }
	m.getJSON(tb, "/api/v1/message/"+url.PathEscape(id), &msg)
	return msg.Text
}

// Raw returns a message as the server received it.
func (m *Mailpit) Raw(tb testing.TB, id string) []byte {
	tb.Helper()
	return m.get(tb, "/api/v1/message/"+url.PathEscape(id)+"/raw")
}

// LatestCode waits for a message to to and returns the one-time code of the
// newest: the line of its text part that is exactly 8 digits (CONTRACT.md
// §9). The test fails when there is no such line. To read the code of a
// second message, wait for it first with WaitMessages, or DeleteAll before.
func (m *Mailpit) LatestCode(tb testing.TB, to string) string {
	tb.Helper()
	newest := m.WaitMessages(tb, to, 1)[0]
	code, ok := CodeFromText(m.Text(tb, newest.ID))
	if !ok {
		tb.Fatalf("mailtest: message %q to %s has no line of 8 digits", newest.Subject, to)
	}
	return code
}

// DeleteAll empties the mailbox.
func (m *Mailpit) DeleteAll(tb testing.TB) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodDelete, m.APIURL+"/api/v1/messages", nil)
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := m.client.Do(req)
	if err != nil {
		tb.Fatalf("mailtest: delete all: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("mailtest: delete all: %s", resp.Status)
	}
}

// CodeFromText finds the line that is exactly 8 ASCII digits, with nothing
// else on it; ok is false when there is none or more than one distinct code.
func CodeFromText(text string) (code string, ok bool) {
	for line := range strings.Lines(text) {
		line = strings.TrimRight(line, "\r\n")
		if len(line) != 8 || strings.Trim(line, "0123456789") != "" {
			continue
		}
		if code != "" && code != line {
			return "", false
		}
		code = line
	}
	return code, code != ""
}

func (m *Mailpit) getJSON(tb testing.TB, path string, v any) {
	tb.Helper()
	if err := json.Unmarshal(m.get(tb, path), v); err != nil {
		tb.Fatalf("mailtest: GET %s: %v", path, err)
	}
}

func (m *Mailpit) get(tb testing.TB, path string) []byte {
	tb.Helper()
	resp, err := m.client.Get(m.APIURL + path)
	if err != nil {
		tb.Fatalf("mailtest: GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		tb.Fatalf("mailtest: GET %s: %s %v: %.200s", path, resp.Status, err, body)
	}
	return body
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// writeCertificate makes a self-signed certificate for 127.0.0.1, ::1 and
// localhost, valid for a day, and returns its files and a pool trusting it.
func writeCertificate(dir string) (certFile, keyFile string, pool *x509.CertPool, err error) {
	cert, key, err := testcert.SelfSigned("mailtest")
	if err != nil {
		return "", "", nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", nil, err
	}
	certFile, keyFile = filepath.Join(dir, "smtp.crt"), filepath.Join(dir, "smtp.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		return "", "", nil, err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return "", "", nil, err
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool, nil
}

// syncBuffer collects a process's output, written from its own goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
