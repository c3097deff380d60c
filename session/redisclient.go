package session

import (
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisClientOptions say how to reach Redis. Exactly one way must be chosen:
// URL (one node), Addrs with MasterName (Sentinel), or Addrs with Cluster.
type RedisClientOptions struct {
	// URL is a redis:// or rediss:// URL (rediss:// turns TLS on). Query
	// parameters such as read_timeout are honoured; the ones left out get the
	// fail-fast defaults below.
	URL string
	// Addrs are Sentinel addresses (with MasterName) or cluster seed nodes
	// (with Cluster). A single address with neither is one plain node.
	Addrs []string
	// MasterName selects Redis Sentinel: the master is found through Addrs.
	MasterName string
	// Cluster selects Redis Cluster: Addrs are seed nodes.
	Cluster bool
	// Username and Password, when set, override those of the URL.
	Username, Password string
	// DB is the database number for Addrs (one node or Sentinel); with URL
	// the URL's path names it. Cluster only has database 0.
	DB int
	// TLS, when not nil, is used for every connection (Addrs or URL). nil
	// keeps plain TCP for Addrs and whatever the URL's scheme says.
	TLS *tls.Config
}

// Client defaults chosen so that an outage fails fast: the gateway refuses
// requests with 503 within about a second instead of queueing them behind a
// dead Redis (ASVS V16.5.2, CONTRACT §7 "session store down").
const (
	redisDialTimeout  = 2 * time.Second
	redisReadTimeout  = time.Second
	redisWriteTimeout = time.Second
	// redisPoolTimeout bounds the wait for a free connection under saturation.
	redisPoolTimeout = time.Second
	// One command retry covers a pooled connection that died with a Redis
	// restart; more would only multiply the wait during an outage.
	redisMaxRetries      = 1
	redisMaxRetryBackoff = 100 * time.Millisecond
	// One dial attempt per command: the command retry above is the retry.
	redisDialerRetries = 1
	redisConnIdleTime  = 5 * time.Minute
	// A Cluster client learns a failover from a MOVED answer, or from its
	// periodic reload of the slot map (go-redis default: 60 s). A killed
	// master answers nothing, so only the reload helps: at this interval the
	// gateway serves the moved slots again within a second or so of the
	// cluster's own failover. It costs one CLUSTER SLOTS per interval while
	// commands are sent.
	redisClusterStateReload = time.Second
)

// NewRedisClient builds a go-redis UniversalClient (single node, Sentinel
// failover or Cluster) with fail-fast timeouts. It does not connect: the
// first command does, so a gateway starts while Redis is still coming up.
func NewRedisClient(o RedisClientOptions) (redis.UniversalClient, error) {
	switch {
	case o.URL != "" && len(o.Addrs) > 0:
		return nil, errors.New("session: redis: set either url or addrs, not both")
	case o.URL != "" && (o.MasterName != "" || o.Cluster):
		return nil, errors.New("session: redis: master_name and cluster need addrs, not url")
	case o.URL != "":
		return newURLClient(o)
	case len(o.Addrs) == 0:
		return nil, errors.New("session: redis: set url or addrs")
	case o.MasterName != "" && o.Cluster:
		return nil, errors.New("session: redis: master_name (Sentinel) and cluster exclude each other")
	case o.Cluster && o.DB != 0:
		return nil, errors.New("session: redis: cluster has only database 0")
	case o.MasterName == "" && !o.Cluster && len(o.Addrs) > 1:
		// go-redis would silently make a cluster client of this; say what is meant instead.
		return nil, errors.New("session: redis: several addrs need master_name (Sentinel) or cluster: true")
	}
	u := &redis.UniversalOptions{
		Addrs:         o.Addrs,
		MasterName:    o.MasterName,
		IsClusterMode: o.Cluster,
		Username:      o.Username,
		Password:      o.Password,
		DB:            o.DB,
		TLSConfig:     o.TLS,

		DialTimeout:           redisDialTimeout,
		DialerRetries:         redisDialerRetries,
		ReadTimeout:           redisReadTimeout,
		WriteTimeout:          redisWriteTimeout,
		ContextTimeoutEnabled: true,
		PoolTimeout:           redisPoolTimeout,
		MaxRetries:            redisMaxRetries,
		MaxRetryBackoff:       redisMaxRetryBackoff,
		ConnMaxIdleTime:       redisConnIdleTime,
	}
	if o.Cluster {
		co := u.Cluster()
		co.ClusterStateReloadInterval = redisClusterStateReload
		return redis.NewClusterClient(co), nil
	}
	return redis.NewUniversalClient(u), nil
}

// newURLClient parses a redis:// URL and fills in the fail-fast defaults
// the URL's query left unset.
func newURLClient(o RedisClientOptions) (redis.UniversalClient, error) {
	opt, err := redis.ParseURL(o.URL)
	if err != nil {
		// The URL may hold a password: name the problem, not the value.
		return nil, errors.New("session: redis: url is not a valid redis:// or rediss:// URL")
	}
	if o.DB != 0 && opt.DB != o.DB {
		return nil, fmt.Errorf("session: redis: db %d conflicts with the url's database %d", o.DB, opt.DB)
	}
	if o.Username != "" {
		opt.Username = o.Username
	}
	if o.Password != "" {
		opt.Password = o.Password
	}
	if o.TLS != nil {
		opt.TLSConfig = o.TLS
	}
	if opt.DialTimeout == 0 {
		opt.DialTimeout = redisDialTimeout
	}
	if opt.DialerRetries == 0 {
		opt.DialerRetries = redisDialerRetries
	}
	if opt.ReadTimeout == 0 {
		opt.ReadTimeout = redisReadTimeout
	}
	if opt.WriteTimeout == 0 {
		opt.WriteTimeout = redisWriteTimeout
	}
	if opt.PoolTimeout == 0 {
		opt.PoolTimeout = redisPoolTimeout
	}
	if opt.MaxRetries == 0 {
		opt.MaxRetries = redisMaxRetries
	}
	if opt.MaxRetryBackoff == 0 {
		opt.MaxRetryBackoff = redisMaxRetryBackoff
	}
	if opt.ConnMaxIdleTime == 0 {
		opt.ConnMaxIdleTime = redisConnIdleTime
	}
	opt.ContextTimeoutEnabled = true
	return redis.NewClient(opt), nil
}
