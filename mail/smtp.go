package mail

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/netip"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// TLS modes of SMTPConfig.
const (
	TLSStartTLS = "starttls" // plain connection upgraded by STARTTLS, which is mandatory
	TLSImplicit = "tls"      // TLS from the first byte (submissions, port 465)
	TLSNone     = "none"     // no encryption: for a relay on the same host only
)

// SMTPConfig configures NewSMTP.
type SMTPConfig struct {
	// Host of the relay; required.
	Host string
	// Port of the relay; 0 means 587 for starttls, 465 for tls, 25 for none.
	Port int
	// Username and Password: SMTP AUTH (PLAIN, else LOGIN) when Username is
	// set, never offered over an unencrypted connection to another host.
	Username, Password string
	// TLS is "starttls" (the default when ""), "tls" or "none". With
	// "starttls" a relay that does not offer STARTTLS is an error, never a
	// silent downgrade.
	TLS string
	// From is the envelope sender (MAIL FROM): an address, optionally with a
	// display name, which is dropped; required.
	From string
	// Timeout bounds each delivery, connection to QUIT; 0 means 10s.
	Timeout time.Duration
	// HeloName is the name sent in EHLO; "" means the host name.
	HeloName string
	// TLSConfig verifies the relay; nil means the system roots, ServerName
	// Host, TLS 1.2 or later. Tests set RootCAs to their own authority.
	TLSConfig *tls.Config
}

// SMTPTransport delivers through an SMTP relay, one connection per message
// (mails are few: codes and notices, not newsletters). The connection,
// STARTTLS and authentication are go-mail's; the message is sent as it was
// rendered, byte for byte, with go-mail's low-level client (MAIL, RCPT,
// DATA), because go-mail's own Send would build a new message from a Msg.
type SMTPTransport struct {
	host, envelopeFrom string
	port               int
	mode               string
	username, password string
	timeout            time.Duration
	helo               string
	tlsConfig          *tls.Config
}

// NewSMTP validates cfg and fills its defaults.
func NewSMTP(cfg SMTPConfig) (*SMTPTransport, error) {
	var problems []error
	if !validHost(cfg.Host) {
		problems = append(problems, fmt.Errorf("host %q: want a host name or an IP address", cfg.Host))
	}
	mode := cfg.TLS
	if mode == "" {
		mode = TLSStartTLS
	}
	port := cfg.Port
	switch mode {
	case TLSStartTLS:
		port = cmp.Or(port, 587)
	case TLSImplicit:
		port = cmp.Or(port, 465)
	case TLSNone:
		port = cmp.Or(port, 25)
	default:
		problems = append(problems, fmt.Errorf("tls %q: want %q, %q or %q", cfg.TLS, TLSStartTLS, TLSImplicit, TLSNone))
	}
	if port < 1 || port > 65535 {
		problems = append(problems, fmt.Errorf("port %d out of range", port))
	}
	from, err := netmail.ParseAddress(cfg.From)
	if err != nil || strings.ContainsAny(cfg.From, "\r\n") {
		problems = append(problems, fmt.Errorf("from %q: not an address", cfg.From))
	}
	if cfg.Password != "" && cfg.Username == "" {
		problems = append(problems, errors.New("a password without a username"))
	}
	// The password would cross the network in the clear (ASVS V12.3.1).
	if cfg.Username != "" && mode == TLSNone && !isLoopback(cfg.Host) {
		problems = append(problems, fmt.Errorf("authentication over tls %q to %s: only to a relay on this host", TLSNone, cfg.Host))
	}
	if cfg.Timeout < 0 {
		problems = append(problems, fmt.Errorf("timeout %v is negative", cfg.Timeout))
	}
	if strings.ContainsAny(cfg.HeloName, " \r\n") {
		problems = append(problems, fmt.Errorf("helo name %q", cfg.HeloName))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("mail: smtp: %w", errors.Join(problems...))
	}
	tc := &tls.Config{}
	if cfg.TLSConfig != nil {
		tc = cfg.TLSConfig.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = cfg.Host
	}
	tc.MinVersion = max(tc.MinVersion, tls.VersionTLS12)
	return &SMTPTransport{
		host:         cfg.Host,
		port:         port,
		mode:         mode,
		envelopeFrom: from.Address,
		username:     cfg.Username,
		password:     cfg.Password,
		timeout:      cmp.Or(cfg.Timeout, 10*time.Second),
		helo:         cfg.HeloName,
		tlsConfig:    tc,
	}, nil
}

// Send delivers raw to to. Replies 5xx to RCPT or to the end of DATA wrap
// ErrPermanent; everything else (connection, TLS, authentication, 4xx) is
// worth a retry. Errors carry the relay's reply, never the message.
func (t *SMTPTransport) Send(ctx context.Context, to string, raw []byte) error {
	if err := CheckRecipient(to); err != nil {
		return fmt.Errorf("mail: smtp: recipient: not an address: %w", ErrPermanent)
	}
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()

	client, err := gomail.NewClient(t.host, t.options(ctx)...)
	if err != nil {
		return fmt.Errorf("mail: smtp: %w", err)
	}
	sc, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return fmt.Errorf("mail: smtp: %s: %w", net.JoinHostPort(t.host, strconv.Itoa(t.port)), err)
	}
	if err := sc.Mail(addrSpec(t.envelopeFrom)); err != nil {
		return fmt.Errorf("mail: smtp: MAIL FROM: %w", err)
	}
	if err := sc.Rcpt(addrSpec(to)); err != nil {
		return fmt.Errorf("mail: smtp: RCPT TO: %w", classify(err))
	}
	w, err := sc.Data()
	if err != nil {
		return fmt.Errorf("mail: smtp: DATA: %w", err)
	}
	if _, err := w.Write(raw); err != nil {
		return fmt.Errorf("mail: smtp: writing the message: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("mail: smtp: end of DATA: %w", classify(err))
	}
	// The relay has the message: a failed QUIT does not make it unsent.
	_ = sc.Quit()
	return nil
}

// options configures go-mail's client for one delivery. The dialer is ours,
// so that ctx ending interrupts the session (go-mail watches ctx only while
// dialling) and so that implicit TLS uses our tls.Config.
func (t *SMTPTransport) options(ctx context.Context) []gomail.Option {
	opts := []gomail.Option{
		gomail.WithPort(t.port),
		gomail.WithTimeout(t.timeout),
		gomail.WithTLSConfig(t.tlsConfig),
		gomail.WithDialContextFunc(t.dialer(ctx)),
	}
	if t.helo != "" {
		opts = append(opts, gomail.WithHELO(t.helo))
	}
	switch t.mode {
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL()) // our dialer does the handshake
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if t.username != "" {
		mechs := []gomail.SMTPAuthType{gomail.SMTPAuthPlain, gomail.SMTPAuthLogin}
		if t.mode == TLSNone { // loopback only, checked by NewSMTP
			mechs = []gomail.SMTPAuthType{gomail.SMTPAuthPlainNoEnc, gomail.SMTPAuthLoginNoEnc}
		}
		opts = append(opts, gomail.WithOpportunisticSMTPAuth(mechs...),
			gomail.WithUsername(t.username), gomail.WithPassword(t.password))
	}
	return opts
}

func (t *SMTPTransport) dialer(ctx context.Context) gomail.DialContextFunc {
	return func(dialCtx context.Context, network, addr string) (net.Conn, error) {
		d := &net.Dialer{}
		var conn net.Conn
		var err error
		if t.mode == TLSImplicit {
			conn, err = (&tls.Dialer{NetDialer: d, Config: t.tlsConfig}).DialContext(dialCtx, network, addr)
		} else {
			conn, err = d.DialContext(dialCtx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		// Closed when the delivery's context ends: when Send returns (its
		// deferred cancel) or earlier if the caller gives up. That unblocks a
		// stalled read or write, and also closes the connection that go-mail
		// leaves open when EHLO, STARTTLS or AUTH fail.
		context.AfterFunc(ctx, func() { _ = conn.Close() })
		return conn, nil
	}
}

// classify marks a 5xx reply permanent.
func classify(err error) error {
	var reply *textproto.Error
	if errors.As(err, &reply) && reply.Code >= 500 && reply.Code < 600 {
		return fmt.Errorf("%w: %w", ErrPermanent, err)
	}
	return err
}

// addrSpec is the bracketed form RFC 5321 wants after MAIL FROM: and RCPT TO:.
func addrSpec(addr string) string {
	return (&netmail.Address{Address: addr}).String()
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// validHost accepts a host name or an IP address, nothing with a port,
// a path, credentials or spaces in it.
func validHost(host string) bool {
	if host == "" || strings.ContainsFunc(host, func(r rune) bool { return r <= ' ' || strings.ContainsRune("/@[]", r) }) {
		return false
	}
	if strings.Contains(host, ":") {
		_, err := netip.ParseAddr(host) // IPv6
		return err == nil
	}
	return true
}
