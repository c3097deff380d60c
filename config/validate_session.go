package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// minSessionKey is the shortest session key accepted: 256 bits for the HMAC
// that signs the cookie (ASVS V11.2.3).
const minSessionKey = 32

// maxHandoffTTL caps the life of a cross-host handoff code (CONTRACT §2,
// SECURITY.md family 4): the code travels in a URL.
const maxHandoffTTL = 60 * time.Second

// checkSecrets reads the key files now, so that check-config finds a
// missing or malformed key.
func (c *Config) checkSecrets(ps *Problems) {
	const skKey, sigKey = "secrets.session_key_file", "secrets.signing_key_file"
	if p := c.Secrets.SessionKeyFile; p == "" {
		ps.add(skKey, "required (unigate keys generate writes one)")
	} else if b, err := readSmallFile(p); err != nil {
		ps.add(skKey, "cannot read: %v", err)
	} else if len(b) < minSessionKey {
		ps.add(skKey, "the key is %d bytes, want at least %d (unigate keys generate writes 64)", len(b), minSessionKey)
	} else {
		c.typed.sessionKey = b
	}

	if p := c.Secrets.SigningKeyFile; p == "" {
		ps.add(sigKey, "required (unigate keys generate writes one)")
	} else if b, err := readSmallFile(p); err != nil {
		ps.add(sigKey, "cannot read: %v", err)
	} else if k, err := parseSigningKey(b); err != nil {
		ps.add(sigKey, "%v", err)
	} else {
		c.typed.signingKey = k
	}

	c.typed.previousSessionKeys, c.typed.previousSigningKeys = nil, nil
	for i, p := range c.Secrets.PreviousSessionKeyFiles {
		key := fmt.Sprintf("secrets.previous_session_key_files[%d]", i)
		if b, err := readSmallFile(p); err != nil {
			ps.add(key, "cannot read: %v", err)
		} else if len(b) < minSessionKey {
			ps.add(key, "the key is %d bytes, want at least %d", len(b), minSessionKey)
		} else {
			c.typed.previousSessionKeys = append(c.typed.previousSessionKeys, b)
		}
	}
	for i, p := range c.Secrets.PreviousSigningKeyFiles {
		key := fmt.Sprintf("secrets.previous_signing_key_files[%d]", i)
		if b, err := readSmallFile(p); err != nil {
			ps.add(key, "cannot read: %v", err)
		} else if k, err := parseSigningKey(b); err != nil {
			ps.add(key, "%v", err)
		} else {
			c.typed.previousSigningKeys = append(c.typed.previousSigningKeys, k)
		}
	}
}

// parseSigningKey reads a PEM EC P-256 private key, PKCS#8 ("PRIVATE KEY")
// or SEC 1 ("EC PRIVATE KEY"): the key behind the ES256 assertions.
func parseSigningKey(b []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block: want an EC P-256 private key in PEM")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q: want PRIVATE KEY or EC PRIVATE KEY", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot parse the private key: %w", err)
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, errors.New("want an EC P-256 private key (ES256)")
	}
	return ec, nil
}

// checkSession checks the session store and the session cookie.
func (c *Config) checkSession(ps *Problems) {
	s := &c.Session
	switch s.Store {
	case "redis":
		c.checkRedis(ps)
	case "memory":
	default:
		ps.add("session.store", "want redis or memory, got %q", s.Store)
	}

	switch {
	case !validCookieName(s.CookieName):
		ps.add("session.cookie_name", "%q is not a valid cookie name (RFC 6265 token)", s.CookieName)
	case strings.HasPrefix(strings.ToLower(s.CookieName), "__host-"), strings.HasPrefix(strings.ToLower(s.CookieName), "__secure-"):
		ps.add("session.cookie_name", "must not carry a __Host- or __Secure- prefix: the gateway adds __Host- on https")
	}

	// Server-side timeouts: ASVS V7.3.1, V7.3.2.
	if s.IdleTimeout <= 0 {
		ps.add("session.idle_timeout", "must be more than 0")
	}
	if s.AbsoluteTimeout < s.IdleTimeout {
		ps.add("session.absolute_timeout", "must be at least session.idle_timeout (%s), got %s", s.IdleTimeout, s.AbsoluteTimeout)
	}
	if s.LocalCache < 0 || s.LocalCache > 5*time.Second {
		ps.add("session.local_cache", "must be between 0s (off) and 5s, got %s", s.LocalCache)
	}
	if s.TrackingCache && s.LocalCache > 0 {
		ps.add("session.tracking_cache", "is the cache used with local_cache 0s: set one of them, not both")
	}
	if s.HandoffTTL <= 0 || s.HandoffTTL > maxHandoffTTL {
		ps.add("session.handoff_ttl", "must be more than 0 and at most 60s, got %s", s.HandoffTTL)
	}
}

// checkRedis checks that exactly one way to reach Redis is configured.
// URLs are never echoed: they may hold a password.
func (c *Config) checkRedis(ps *Problems) {
	r := &c.Session.Redis
	switch {
	case r.URL != "" && len(r.Addrs) > 0:
		ps.add("session.redis", "set url (one node) or addrs (Sentinel, Cluster), not both")
	case r.URL == "" && len(r.Addrs) == 0:
		ps.add("session.redis", "set url (one node), or addrs with master_name (Sentinel) or cluster: true")
	case r.URL != "":
		if u, err := url.Parse(r.URL); err != nil || !slices.Contains([]string{"redis", "rediss", "unix"}, u.Scheme) || (u.Scheme != "unix" && u.Host == "") {
			ps.add("session.redis.url", "want a redis://, rediss:// or unix:// URL")
		}
		if r.MasterName != "" || r.Cluster {
			ps.add("session.redis", "master_name and cluster go with addrs, not url")
		}
	default:
		for i, a := range r.Addrs {
			if msg := checkHostPort(a, false); msg != "" {
				ps.add(fmt.Sprintf("session.redis.addrs[%d]", i), "%s", msg)
			}
		}
		switch {
		case r.MasterName != "" && r.Cluster:
			ps.add("session.redis", "master_name (Sentinel) and cluster: true exclude each other")
		case r.MasterName == "" && !r.Cluster:
			ps.add("session.redis.addrs", "need master_name (Sentinel) or cluster: true")
		}
	}
	switch {
	case strings.ContainsAny(r.KeyPrefix, "{} \t\r\n"):
		ps.add("session.redis.key_prefix", "must not contain braces or white space (a brace would make it a Cluster hash tag)")
	case r.DB < 0:
		ps.add("session.redis.db", "must not be negative")
	case r.DB != 0 && r.Cluster:
		ps.add("session.redis.db", "Redis Cluster has database 0 only")
	}
	checkSecretFile(ps, "session.redis.password_file", r.PasswordFile, false)
}

// checkSecretFile checks that a secret file, when named (or required), can
// be read and is not empty.
func checkSecretFile(ps *Problems, key, path string, required bool) {
	if path == "" {
		if required {
			ps.add(key, "required")
		}
		return
	}
	s, err := ReadSecret(path)
	switch {
	case err != nil:
		ps.add(key, "cannot read: %v", err)
	case s == "":
		ps.add(key, "%s is empty", path)
	}
}
