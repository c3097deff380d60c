package session

import (
	"io"
	"net"
	"sync"
	"syscall"
)

// trackedConn is the tracking connection as TrackingStore dials it. It
// reads the socket itself, so that a hit can check, without a race, that no
// invalidation Redis has sent is left unapplied (quiet).
type trackedConn struct {
	net.Conn
	raw syscall.RawConn // nil when the connection is not a plain socket: never quiet
	fd  uintptr         // raw's descriptor, valid until Close (which takes mu)

	mu sync.RWMutex
	// applied: every byte taken from the socket has been handed to go-redis,
	// which has come back for more. go-redis asks for more only once its
	// buffer is empty, and TrackingStore.listen asks go-redis for the next
	// message only after applying the previous one, so this means every
	// message read is applied (a message split across two reads excepted:
	// Redis writes each invalidation, a few hundred bytes, in one write).
	applied bool
	closed  bool
}

func newTrackedConn(c net.Conn) *trackedConn {
	tc := &trackedConn{Conn: c}
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil && raw.Control(func(fd uintptr) { tc.fd = fd }) == nil {
			tc.raw = raw
		}
	}
	return tc
}

// Read is net.Conn's Read done with the raw socket, under mu, so that no
// byte is ever both gone from the socket and not yet counted as unapplied.
func (c *trackedConn) Read(p []byte) (int, error) {
	if c.raw == nil {
		return c.Conn.Read(p)
	}
	c.mu.Lock()
	c.applied = true
	c.mu.Unlock()
	var (
		n    int
		rerr error
	)
	err := c.raw.Read(func(fd uintptr) bool {
		c.mu.Lock()
		n, rerr = readSocket(fd, p)
		if n > 0 {
			c.applied = false
		}
		c.mu.Unlock()
		return rerr != syscall.EAGAIN
	})
	switch {
	case err != nil: // deadline, closed connection: as net.Conn reports them
		return 0, err
	case rerr != nil:
		return 0, &net.OpError{Op: "read", Net: "tcp", Err: rerr}
	case n == 0 && len(p) > 0:
		return 0, io.EOF
	}
	return n, nil
}

// Close closes the connection; quiet no longer looks at its descriptor,
// which the system may give to another file.
func (c *trackedConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return c.Conn.Close()
}

// quiet reports that every message Redis has sent on this connection so
// far has been read and applied: go-redis is waiting for bytes and the
// socket holds none (an end of stream counts as data).
func (c *trackedConn) quiet() bool {
	if c.raw == nil {
		return false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	// The descriptor itself, not raw.Control: no closure to allocate on
	// every hit, and mu keeps Close (so the descriptor's reuse) out.
	return c.applied && !c.closed && socketEmpty(c.fd)
}
