package mailtest

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Sink is a minimal SMTP server that keeps, for each message it accepts,
// the time its DATA ended and its recipients: for tests that count what a
// sender hands to its relay per second (Mailpit keeps no more than its
// --max messages and stamps them itself). No TLS, no AUTH.
type Sink struct {
	Host string
	Port int

	ln net.Listener
	wg sync.WaitGroup

	mu   sync.Mutex
	msgs []SinkMessage
}

// SinkMessage is one message the sink accepted.
type SinkMessage struct {
	At   time.Time
	To   []string
	Data string // the message as sent, dot-unstuffed
}

// StartSink listens on a free loopback port until the test ends.
func StartSink(tb testing.TB) *Sink {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	s := &Sink{Host: addr.IP.String(), Port: addr.Port, ln: ln}
	s.wg.Go(s.serve)
	tb.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *Sink) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Go(func() { s.session(c) })
	}
}

// session speaks just enough SMTP (RFC 5321) for a client that sends.
func (s *Sink) session(c net.Conn) {
	defer c.Close()
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	reply := func(lines ...string) bool {
		for _, l := range lines {
			w.WriteString(l + "\r\n")
		}
		return w.Flush() == nil
	}
	if !reply("220 sink ESMTP") {
		return
	}
	var to []string
	for {
		c.SetDeadline(time.Now().Add(time.Minute))
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			reply("250-sink", "250-8BITMIME", "250 SMTPUTF8")
		case strings.HasPrefix(cmd, "HELO"), strings.HasPrefix(cmd, "NOOP"):
			reply("250 ok")
		case strings.HasPrefix(cmd, "MAIL FROM:"), strings.HasPrefix(cmd, "RSET"):
			to = nil
			reply("250 ok")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			addr := strings.TrimSpace(line)[len("RCPT TO:"):]
			addr, _, _ = strings.Cut(strings.Trim(addr, " <"), ">")
			to = append(to, addr)
			reply("250 ok")
		case cmd == "DATA":
			if !reply("354 go on") {
				return
			}
			var data strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" || l == ".\n" {
					break
				}
				data.WriteString(strings.TrimPrefix(l, "."))
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, SinkMessage{At: time.Now(), To: to, Data: data.String()})
			s.mu.Unlock()
			to = nil
			reply("250 queued")
		case strings.HasPrefix(cmd, "QUIT"):
			reply("221 bye")
			return
		default:
			reply("502 not implemented")
		}
	}
}

// Messages returns what the sink accepted so far, in order.
func (s *Sink) Messages() []SinkMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SinkMessage(nil), s.msgs...)
}

// Count is how many messages the sink accepted so far.
func (s *Sink) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs)
}
