package accounts

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// connPool is a small bounded pool of pgx connections.
//
// It stands in for pgxpool, which needs github.com/jackc/puddle/v2 and
// golang.org/x/sync in go.sum; once they are there, pgxpool.Pool.AcquireFunc
// replaces connPool.with one for one and this file goes. It keeps pgxpool's
// defaults where they matter: at most max(4, NumCPU) connections, an idle
// connection is pinged before reuse after a second of rest (so a restarted
// server costs no failed request), and connections are recycled after an hour.
type connPool struct {
	cfg   *pgx.ConnConfig
	slots chan struct{} // a token per connection handed out
	// pingAfterIdle is poolPingAfterIdle; tests set 0 to ping every time.
	pingAfterIdle time.Duration

	mu     sync.Mutex
	idle   []pooledConn // most recently released last
	closed bool
}

type pooledConn struct {
	conn     *pgx.Conn
	created  time.Time
	released time.Time
}

const (
	poolPingAfterIdle = time.Second
	poolMaxLifetime   = time.Hour
	poolCloseTimeout  = 5 * time.Second
)

var errPoolClosed = errors.New("accounts: store closed")

func newConnPool(cfg *pgx.ConnConfig, maxConns int) *connPool {
	return &connPool{cfg: cfg, slots: make(chan struct{}, maxConns), pingAfterIdle: poolPingAfterIdle}
}

// with runs fn on a connection of its own, waiting for one while ctx lasts.
// fn must not keep the connection, rows or transactions after it returns.
func (p *connPool) with(ctx context.Context, fn func(c *pgx.Conn) error) error {
	pc, err := p.acquire(ctx)
	if err != nil {
		return err
	}
	defer p.release(pc)
	return fn(pc.conn)
}

func (p *connPool) acquire(ctx context.Context) (pooledConn, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return pooledConn{}, ctx.Err()
	}
	for {
		pc, ok, err := p.popIdle()
		if err != nil {
			<-p.slots
			return pooledConn{}, err
		}
		if !ok {
			break
		}
		if p.usable(ctx, pc) {
			return pc, nil
		}
		closeConn(pc.conn)
	}
	conn, err := pgx.ConnectConfig(ctx, p.cfg)
	if err != nil {
		<-p.slots
		return pooledConn{}, err
	}
	return pooledConn{conn: conn, created: time.Now()}, nil
}

func (p *connPool) popIdle() (pooledConn, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return pooledConn{}, false, errPoolClosed
	}
	n := len(p.idle)
	if n == 0 {
		return pooledConn{}, false, nil
	}
	pc := p.idle[n-1]
	p.idle[n-1] = pooledConn{}
	p.idle = p.idle[:n-1]
	return pc, true, nil
}

// usable reports whether an idle connection may be handed out again.
func (p *connPool) usable(ctx context.Context, pc pooledConn) bool {
	if pc.conn.IsClosed() || time.Since(pc.created) > poolMaxLifetime {
		return false
	}
	if time.Since(pc.released) < p.pingAfterIdle {
		return true
	}
	return pc.conn.Ping(ctx) == nil
}

// release returns a connection, or closes it when it is broken, still inside a
// transaction or busy (fn gave up half way), or when the pool is closed.
func (p *connPool) release(pc pooledConn) {
	defer func() { <-p.slots }()
	healthy := !pc.conn.IsClosed() && !pc.conn.PgConn().IsBusy() &&
		pc.conn.PgConn().TxStatus() == 'I' && time.Since(pc.created) < poolMaxLifetime
	if healthy {
		p.mu.Lock()
		if !p.closed {
			pc.released = time.Now()
			p.idle = append(p.idle, pc)
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
	closeConn(pc.conn)
}

// close closes the idle connections now and the others as they are released.
func (p *connPool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, pc := range idle {
		closeConn(pc.conn)
	}
}

func closeConn(c *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), poolCloseTimeout)
	defer cancel()
	_ = c.Close(ctx)
}
