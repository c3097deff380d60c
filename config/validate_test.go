package config

import (
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestValidateAcceptsValidConfig(t *testing.T) {
	c := validConfig(t)
	c.Consoles[0].Hosts = []string{"Console.Online.NET"}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() = %v, want nil", err)
	}
	if got, want := c.Public().String(), "https://account.example.com"; got != want {
		t.Errorf("Public() = %q, want %q", got, want)
	}
	if !c.SecureCookies() {
		t.Error("SecureCookies() = false, want true for https")
	}
	wantPrefixes := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("192.0.2.7/32")}
	if got := c.TrustedPrefixes(); !slices.Equal(got, wantPrefixes) {
		t.Errorf("TrustedPrefixes() = %v, want %v", got, wantPrefixes)
	}
	if got, want := c.LegacyCutoff(), time.Date(2025, 10, 28, 0, 0, 0, 0, time.UTC); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("LegacyCutoff() = %v, want %v", got, want)
	}
	if got := len(c.SessionKey()); got != 64 {
		t.Errorf("len(SessionKey()) = %d, want 64", got)
	}
	if k := c.SigningKey(); k == nil || k.Curve != elliptic.P256() {
		t.Errorf("SigningKey() = %v, want a P-256 key", k)
	}
	if got, want := c.Consoles[0].Hosts[0], "console.online.net"; got != want {
		t.Errorf("host = %q, want lower-cased %q", got, want)
	}
	// Defaults filled by SetDefaults.
	if got, want := c.Consoles[1].Name, "scaleway"; got != want {
		t.Errorf("console name = %q, want the id %q", got, want)
	}
	if got, want := c.Consoles[1].Timeout, 30*time.Second; got != want {
		t.Errorf("console timeout = %v, want %v", got, want)
	}
}

func TestValidateAcceptsVariants(t *testing.T) {
	tests := []struct {
		name   string
		modify func(c *Config)
	}{
		{"http public_url with slash", func(c *Config) { c.PublicURL = "http://account.localhost:8080/" }},
		{"memory store ignores redis", func(c *Config) { c.Session.Store = "memory"; c.Session.Redis = Redis{} }},
		{"sentinel", func(c *Config) {
			c.Session.Redis = Redis{Addrs: []string{"10.0.2.1:26379", "sentinel.internal:26379"}, MasterName: "mymaster"}
		}},
		{"cluster", func(c *Config) { c.Session.Redis = Redis{Addrs: []string{"10.0.2.1:6379"}, Cluster: true} }},
		{"unix socket", func(c *Config) { c.Session.Redis.URL = "unix:///run/redis/redis.sock" }},
		{"sqlite", func(c *Config) { c.Accounts = Accounts{Driver: "sqlite", DSN: "/var/lib/unigate/accounts.db"} }},
		{"log transport without from", func(c *Config) { c.Mail = Mail{Transport: "log"} }},
		{"file transport", func(c *Config) { c.Mail.Transport, c.Mail.Dir = "file", "/tmp/mail" }},
		{"metrics off", func(c *Config) { c.Metrics.Listen = "" }},
		{"listen any port", func(c *Config) { c.Listen, c.Metrics.Listen = ":0", ":0" }},
		{"ipv6 listen and proxy", func(c *Config) { c.Listen, c.TrustedProxies = "[::1]:8080", []string{"2001:db8::/32", "::1"} }},
		{"prefix mount only", func(c *Config) { c.Consoles[1].Hosts, c.Consoles[1].PathPrefix = nil, "/scaleway/" }},
		{"hosts and prefix", func(c *Config) { c.Consoles[0].PathPrefix = "/dedibox/" }},
		{"no cutoff without legacy login", func(c *Config) { c.Login.LegacyLoginCutoff = ""; c.Consoles[0].LegacyLogin = false }},
		{"upstream with base path", func(c *Config) { c.Consoles[0].Upstream = "https://dedibox.internal:8443/console" }},
		{"provisioning", func(c *Config) { c.Consoles[0].Provisioning.URL = "http://10.0.0.10:8000/internal/accounts" }},
		{"disabled provider is not checked", func(c *Config) { c.SSO.Microsoft = OIDCProvider{Issuer: "http://ignored"} }},
		{"smtp password on loopback without tls", func(c *Config) {
			c.Mail.SMTP.Username, c.Mail.SMTP.PasswordFile = "u", c.SSO.Google.ClientSecretFile
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig(t)
			tt.modify(c)
			if err := c.Validate(); err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
		})
	}
}

func TestValidateProblems(t *testing.T) {
	dir := t.TempDir()
	short := mustWriteFile(t, dir, "short.key", strings.Repeat("k", 31))
	empty := mustWriteFile(t, dir, "empty", "\n")
	missing := filepath.Join(dir, "missing")
	garbage := mustWriteFile(t, dir, "garbage.pem", "not a key")
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaDER, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	rsaPEM := mustWriteFile(t, dir, "rsa.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: rsaDER})))
	p384 := mustWriteFile(t, dir, "p384.pem", string(mustPEM(t, "EC PRIVATE KEY", elliptic.P384(), x509.MarshalECPrivateKey)))
	cert := mustWriteFile(t, dir, "cert.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")

	tests := []struct {
		name   string
		modify func(c *Config)
		want   string
	}{
		// Edge.
		{"listen without port", func(c *Config) { c.Listen = "8080" },
			`config: listen: want host:port such as 127.0.0.1:8080, got "8080"`},
		{"listen port out of range", func(c *Config) { c.Listen = "127.0.0.1:99999" },
			`config: listen: port "99999" is not a number from 1 to 65535`},
		{"listen bad host", func(c *Config) { c.Listen = "bad_host:80" },
			`config: listen: "bad_host" is not an IP address or host name`},
		{"public_url missing", func(c *Config) { c.PublicURL = "" },
			`config: public_url: required: the account portal's URL, such as https://account.example.com`},
		{"public_url scheme", func(c *Config) { c.PublicURL = "ftp://account.example.com" },
			`config: public_url: want an absolute https or http URL, got "ftp://account.example.com"`},
		{"public_url relative", func(c *Config) { c.PublicURL = "account.example.com" },
			`config: public_url: want an absolute https or http URL, got "account.example.com"`},
		{"public_url no host", func(c *Config) { c.PublicURL = "https:///login" },
			`config: public_url: "https:///login" has no host`},
		{"public_url path", func(c *Config) { c.PublicURL = "https://account.example.com/portal" },
			`config: public_url: "https://account.example.com/portal" must not have a path`},
		{"public_url query", func(c *Config) { c.PublicURL = "https://account.example.com/?a=b" },
			`config: public_url: "https://account.example.com/?a=b" must not have a query`},
		{"public_url empty query", func(c *Config) { c.PublicURL = "https://account.example.com?" },
			`config: public_url: "https://account.example.com?" must not have a query`},
		{"public_url fragment", func(c *Config) { c.PublicURL = "https://account.example.com#top" },
			`config: public_url: "https://account.example.com#top" must not have a fragment`},
		{"public_url userinfo", func(c *Config) { c.PublicURL = "https://admin:pw@account.example.com" },
			`config: public_url: must not hold credentials (user:password@)`},
		{"public_url port zero", func(c *Config) { c.PublicURL = "https://account.example.com:0" },
			`config: public_url: port "0" is not a number from 1 to 65535`},
		{"trusted proxy bad cidr", func(c *Config) { c.TrustedProxies = []string{"10.0.0.0/8", "10.0.0.0/33"} },
			`config: trusted_proxies[1]: want a CIDR such as 10.0.0.0/8 or an IP address, got "10.0.0.0/33"`},
		{"trusted proxy name", func(c *Config) { c.TrustedProxies = []string{"lb.internal"} },
			`config: trusted_proxies[0]: want a CIDR such as 10.0.0.0/8 or an IP address, got "lb.internal"`},
		{"shutdown grace negative", func(c *Config) { c.ShutdownGrace = -time.Second },
			`config: shutdown_grace: must not be negative`},
		{"metrics listen bad", func(c *Config) { c.Metrics.Listen = "localhost" },
			`config: metrics.listen: want host:port such as 127.0.0.1:8080, got "localhost"`},
		{"metrics listen same as listen", func(c *Config) { c.Metrics.Listen = c.Listen },
			`config: metrics.listen: must differ from listen (127.0.0.1:8080)`},

		// Secrets.
		{"session key missing", func(c *Config) { c.Secrets.SessionKeyFile = "" },
			`config: secrets.session_key_file: required (unigate keys generate writes one)`},
		{"session key unreadable", func(c *Config) { c.Secrets.SessionKeyFile = missing },
			`config: secrets.session_key_file: cannot read: open ` + missing + `: no such file or directory`},
		{"session key short", func(c *Config) { c.Secrets.SessionKeyFile = short },
			`config: secrets.session_key_file: the key is 31 bytes, want at least 32 (unigate keys generate writes 64)`},
		{"signing key missing", func(c *Config) { c.Secrets.SigningKeyFile = "" },
			`config: secrets.signing_key_file: required (unigate keys generate writes one)`},
		{"signing key not PEM", func(c *Config) { c.Secrets.SigningKeyFile = garbage },
			`config: secrets.signing_key_file: no PEM block: want an EC P-256 private key in PEM`},
		{"signing key RSA", func(c *Config) { c.Secrets.SigningKeyFile = rsaPEM },
			`config: secrets.signing_key_file: want an EC P-256 private key (ES256)`},
		{"signing key P-384", func(c *Config) { c.Secrets.SigningKeyFile = p384 },
			`config: secrets.signing_key_file: want an EC P-256 private key (ES256)`},
		{"signing key certificate", func(c *Config) { c.Secrets.SigningKeyFile = cert },
			`config: secrets.signing_key_file: PEM block "CERTIFICATE": want PRIVATE KEY or EC PRIVATE KEY`},

		// Session.
		{"store unknown", func(c *Config) { c.Session.Store = "etcd" },
			`config: session.store: want redis or memory, got "etcd"`},
		{"redis url and addrs", func(c *Config) { c.Session.Redis.Addrs = []string{"10.0.2.1:6379"} },
			`config: session.redis: set url (one node) or addrs (Sentinel, Cluster), not both`},
		{"redis nothing", func(c *Config) { c.Session.Redis.URL = "" },
			`config: session.redis: set url (one node), or addrs with master_name (Sentinel) or cluster: true`},
		{"redis url scheme", func(c *Config) { c.Session.Redis.URL = "http://:secret@127.0.0.1:6379" },
			`config: session.redis.url: want a redis://, rediss:// or unix:// URL`},
		{"redis url with master", func(c *Config) { c.Session.Redis.MasterName = "mymaster" },
			`config: session.redis: master_name and cluster go with addrs, not url`},
		{"redis addrs alone", func(c *Config) { c.Session.Redis = Redis{Addrs: []string{"10.0.2.1:26379"}} },
			`config: session.redis.addrs: need master_name (Sentinel) or cluster: true`},
		{"redis sentinel and cluster", func(c *Config) {
			c.Session.Redis = Redis{Addrs: []string{"10.0.2.1:26379"}, MasterName: "m", Cluster: true}
		}, `config: session.redis: master_name (Sentinel) and cluster: true exclude each other`},
		{"redis bad addr", func(c *Config) {
			c.Session.Redis = Redis{Addrs: []string{"10.0.2.1:6379", "10.0.2.2"}, Cluster: true}
		}, `config: session.redis.addrs[1]: want host:port such as 127.0.0.1:8080, got "10.0.2.2"`},
		{"redis cluster db", func(c *Config) { c.Session.Redis = Redis{Addrs: []string{"10.0.2.1:6379"}, Cluster: true, DB: 2} },
			`config: session.redis.db: Redis Cluster has database 0 only`},
		{"redis db negative", func(c *Config) { c.Session.Redis.DB = -1 },
			`config: session.redis.db: must not be negative`},
		{"redis password unreadable", func(c *Config) { c.Session.Redis.PasswordFile = missing },
			`config: session.redis.password_file: cannot read: open ` + missing + `: no such file or directory`},
		{"redis password empty", func(c *Config) { c.Session.Redis.PasswordFile = empty },
			`config: session.redis.password_file: ` + empty + ` is empty`},
		{"cookie name space", func(c *Config) { c.Session.CookieName = "my session" },
			`config: session.cookie_name: "my session" is not a valid cookie name (RFC 6265 token)`},
		{"cookie name prefixed", func(c *Config) { c.Session.CookieName = "__Host-sid" },
			`config: session.cookie_name: must not carry a __Host- or __Secure- prefix: the gateway adds __Host- on https`},
		{"idle timeout negative", func(c *Config) { c.Session.IdleTimeout = -time.Minute },
			`config: session.idle_timeout: must be more than 0`},
		{"absolute below idle", func(c *Config) { c.Session.AbsoluteTimeout = 10 * time.Minute },
			`config: session.absolute_timeout: must be at least session.idle_timeout (30m0s), got 10m0s`},
		{"handoff over 60s", func(c *Config) { c.Session.HandoffTTL = 61 * time.Second },
			`config: session.handoff_ttl: must be more than 0 and at most 60s, got 1m1s`},
		{"handoff negative", func(c *Config) { c.Session.HandoffTTL = -time.Second },
			`config: session.handoff_ttl: must be more than 0 and at most 60s, got -1s`},
		{"two caches", func(c *Config) { c.Session.TrackingCache, c.Session.LocalCache = true, time.Second },
			`config: session.tracking_cache: is the cache used with local_cache 0s: set one of them, not both`},

		// Accounts.
		{"driver missing", func(c *Config) { c.Accounts.Driver = "" },
			`config: accounts.driver: required: postgres or sqlite`},
		{"driver unknown", func(c *Config) { c.Accounts.Driver = "mysql" },
			`config: accounts.driver: want postgres or sqlite, got "mysql"`},
		{"dsn missing", func(c *Config) { c.Accounts.DSN = "" },
			`config: accounts.dsn: required: a postgres URL, or a file path for sqlite`},

		// Mail.
		{"transport unknown", func(c *Config) { c.Mail.Transport = "pigeon" },
			`config: mail.transport: want smtp, file or log, got "pigeon"`},
		{"from missing", func(c *Config) { c.Mail.From = "" },
			`config: mail.from: required with transport smtp: an address such as "Accounts <no-reply@example.com>"`},
		{"from invalid", func(c *Config) { c.Mail.From = "no-reply" },
			`config: mail.from: "no-reply" is not a valid address: mail: missing '@' or angle-addr`},
		{"smtp host missing", func(c *Config) { c.Mail.SMTP.Host = "" },
			`config: mail.smtp.host: required with transport smtp`},
		{"smtp host invalid", func(c *Config) { c.Mail.SMTP.Host = "smtp://relay" },
			`config: mail.smtp.host: "smtp://relay" is not an IP address or host name`},
		{"smtp port", func(c *Config) { c.Mail.SMTP.Port = 0 },
			`config: mail.smtp.port: want a port from 1 to 65535, got 0`},
		{"smtp tls", func(c *Config) { c.Mail.SMTP.TLS = "ssl" },
			`config: mail.smtp.tls: want starttls, tls or none, got "ssl"`},
		{"smtp password in clear", func(c *Config) {
			c.Mail.SMTP.Host, c.Mail.SMTP.Username, c.Mail.SMTP.PasswordFile = "relay.example.com", "u", c.SSO.Google.ClientSecretFile
		}, `config: mail.smtp.tls: none with a password_file would send the password in clear to relay.example.com; use starttls or tls`},
		{"smtp username without password", func(c *Config) { c.Mail.SMTP.Username = "u" },
			`config: mail.smtp.password_file: required when username is set`},
		{"file without dir", func(c *Config) { c.Mail.Transport = "file" },
			`config: mail.dir: required with transport file`},

		// Login.
		{"max failures", func(c *Config) { c.Login.MaxFailures = -1 },
			`config: login.max_failures: must be at least 1, got -1`},
		{"lockout", func(c *Config) { c.Login.Lockout = -time.Minute },
			`config: login.lockout: must be more than 0`},
		{"ip max failures below account", func(c *Config) { c.Login.IPMaxFailures = 3 },
			`config: login.ip_max_failures: must be at least login.max_failures (5), got 3`},
		{"email code ttl over 1h", func(c *Config) { c.Login.EmailCodeTTL = 2 * time.Hour },
			`config: login.email_code_ttl: must be more than 0 and at most 10m, got 2h0m0s`},
		{"password min length low", func(c *Config) { c.Login.PasswordMinLength = 7 },
			`config: login.password_min_length: must be from 8 to 256, got 7`},
		{"password min length high", func(c *Config) { c.Login.PasswordMinLength = 257 },
			`config: login.password_min_length: must be from 8 to 256, got 257`},
		{"imported bcrypt cost low", func(c *Config) { c.Login.ImportedBcryptCost = 3 },
			`config: login.imported_bcrypt_cost: must be from 4 to 16, got 3`},
		{"imported bcrypt cost high", func(c *Config) { c.Login.ImportedBcryptCost = 17 },
			`config: login.imported_bcrypt_cost: must be from 4 to 16, got 17`},
		{"cutoff format", func(c *Config) { c.Login.LegacyLoginCutoff = "28/10/2025" },
			`config: login.legacy_login_cutoff: want a date as YYYY-MM-DD, got "28/10/2025"`},
		{"cutoff with time", func(c *Config) { c.Login.LegacyLoginCutoff = "2025-10-28T00:00:00Z" },
			`config: login.legacy_login_cutoff: want a date as YYYY-MM-DD, got "2025-10-28T00:00:00Z"`},
		{"cutoff needed by legacy login", func(c *Config) { c.Login.LegacyLoginCutoff = "" },
			`config: login.legacy_login_cutoff: required because consoles[0] has legacy_login: true`},

		// Consoles.
		{"no consoles", func(c *Config) { c.Consoles = nil; c.Login.LegacyLoginCutoff = "2025-10-28" },
			`config: consoles: at least one console is required`},
		{"id missing", func(c *Config) { c.Consoles[1].ID = "" },
			`config: consoles[1].id: required: lower-case letters, digits and -`},
		{"id upper case", func(c *Config) { c.Consoles[1].ID = "Scaleway" },
			`config: consoles[1].id: "Scaleway": want lower-case letters, digits and - only`},
		{"id with underscore", func(c *Config) { c.Consoles[1].ID = "scale_way" },
			`config: consoles[1].id: "scale_way": want lower-case letters, digits and - only`},
		{"id duplicate", func(c *Config) { c.Consoles[1].ID = "dedibox" },
			`config: consoles[1].id: "dedibox" is already the id of consoles[0]`},
		{"neither hosts nor prefix", func(c *Config) { c.Consoles[1].Hosts = nil },
			`config: consoles[1]: needs hosts, a path_prefix, or both`},
		{"host is a URL", func(c *Config) { c.Consoles[1].Hosts = []string{"https://console.scaleway.com"} },
			`config: consoles[1].hosts[0]: "https://console.scaleway.com": want a host name, not a URL`},
		{"host with port", func(c *Config) { c.Consoles[1].Hosts = []string{"console.scaleway.com:443"} },
			`config: consoles[1].hosts[0]: "console.scaleway.com:443": want a host name without port (hosts match whatever the port)`},
		{"host invalid", func(c *Config) { c.Consoles[1].Hosts = []string{"console.scaleway.com", "bad_host.com"} },
			`config: consoles[1].hosts[1]: "bad_host.com" is not a valid host name`},
		{"host trailing dot", func(c *Config) { c.Consoles[1].Hosts = []string{"console.scaleway.com."} },
			`config: consoles[1].hosts[0]: "console.scaleway.com." is not a valid host name`},
		{"host is account host", func(c *Config) { c.Consoles[1].Hosts = []string{"Account.Example.com"} },
			`config: consoles[1].hosts[0]: "account.example.com" is the account host (public_url)`},
		{"host duplicate across consoles", func(c *Config) { c.Consoles[1].Hosts = []string{"console.online.net"} },
			`config: consoles[1].hosts[0]: "console.online.net" is already a host of consoles[0]`},
		{"prefix relative", func(c *Config) { c.Consoles[1].PathPrefix = "scaleway/" },
			`config: consoles[1].path_prefix: "scaleway/" must start with /`},
		{"prefix without trailing slash", func(c *Config) { c.Consoles[1].PathPrefix = "/scaleway" },
			`config: consoles[1].path_prefix: "/scaleway": want a path such as /dedibox/, starting and ending with / and not / alone`},
		{"prefix root", func(c *Config) { c.Consoles[1].PathPrefix = "/" },
			`config: consoles[1].path_prefix: "/": want a path such as /dedibox/, starting and ending with / and not / alone`},
		{"prefix on api", func(c *Config) { c.Consoles[1].PathPrefix = "/api/" },
			`config: consoles[1].path_prefix: "/api/" collides with the gateway's own /api/`},
		{"prefix under login", func(c *Config) { c.Consoles[1].PathPrefix = "/login/x/" },
			`config: consoles[1].path_prefix: "/login/x/" collides with the gateway's own /login`},
		{"prefix on well-known", func(c *Config) { c.Consoles[1].PathPrefix = "/.well-known/" },
			`config: consoles[1].path_prefix: "/.well-known/" collides with the gateway's own /.well-known/`},
		{"prefix on sso", func(c *Config) { c.Consoles[1].PathPrefix = "/sso/" },
			`config: consoles[1].path_prefix: "/sso/" collides with the gateway's own /sso/`},
		{"prefix dot segment", func(c *Config) { c.Consoles[1].PathPrefix = "/a/../b/" },
			`config: consoles[1].path_prefix: "/a/../b/" must not contain . or .. segments`},
		{"prefix encoded", func(c *Config) { c.Consoles[1].PathPrefix = "/a%2Fb/" },
			`config: consoles[1].path_prefix: "/a%2Fb/" must be a plain path, without spaces, ?, #, % or \`},
		{"prefix overlap", func(c *Config) {
			c.Consoles[0].PathPrefix, c.Consoles[1].PathPrefix = "/consoles-x/", "/consoles-x/scaleway/"
		},
			`config: consoles[1].path_prefix: "/consoles-x/scaleway/" overlaps the path_prefix "/consoles-x/" of consoles[0]`},
		{"upstream missing", func(c *Config) { c.Consoles[1].Upstream = "" },
			`config: consoles[1].upstream: required: the console's http(s) URL`},
		{"upstream scheme", func(c *Config) { c.Consoles[1].Upstream = "tcp://10.0.0.20:8000" },
			`config: consoles[1].upstream: want an absolute http or https URL, got "tcp://10.0.0.20:8000"`},
		{"upstream userinfo", func(c *Config) { c.Consoles[1].Upstream = "http://u:p@10.0.0.20:8000" },
			`config: consoles[1].upstream: must not hold credentials (user:password@)`},
		{"timeout", func(c *Config) { c.Consoles[1].Timeout = -time.Second },
			`config: consoles[1].timeout: must be more than 0`},
		{"public path relative", func(c *Config) { c.Consoles[0].PublicPaths = []string{"/api/", "static/"} },
			`config: consoles[0].public_paths[1]: "static/" must start with /`},
		{"public path not canonical", func(c *Config) { c.Consoles[0].PublicPaths = []string{"/api//v1/"} },
			`config: consoles[0].public_paths[0]: "/api//v1/" must not contain //`},
		{"legacy login path", func(c *Config) { c.Consoles[0].LegacyLoginPaths = []string{"login"} },
			`config: consoles[0].legacy_login_paths[0]: "login" must start with /`},
		{"provisioning url", func(c *Config) { c.Consoles[0].Provisioning.URL = "10.0.0.10:8000/accounts" },
			`config: consoles[0].provisioning.url: want an absolute http or https URL, got "10.0.0.10:8000/accounts"`},
		{"provisioning timeout", func(c *Config) { c.Consoles[0].Provisioning.Timeout = -1 },
			`config: consoles[0].provisioning.timeout: must be more than 0`},
		{"step-up prefix missing", func(c *Config) { c.Consoles[0].StepUp = []StepUp{{MaxAge: time.Minute}} },
			`config: consoles[0].step_up[0].path_prefix: required: a path such as /billing/`},
		{"step-up prefix relative", func(c *Config) { c.Consoles[0].StepUp = []StepUp{{PathPrefix: "billing/", MaxAge: time.Minute}} },
			`config: consoles[0].step_up[0].path_prefix: "billing/" must start with /`},
		{"step-up prefix dot segment", func(c *Config) { c.Consoles[1].StepUp = []StepUp{{PathPrefix: "/a/../billing/", MaxAge: time.Minute}} },
			`config: consoles[1].step_up[0].path_prefix: "/a/../billing/" must not contain . or .. segments`},
		{"step-up max age zero", func(c *Config) { c.Consoles[0].StepUp = []StepUp{{PathPrefix: "/billing/"}} },
			`config: consoles[0].step_up[0].max_age: must be more than 0`},
		{"step-up max age beyond the session", func(c *Config) { c.Consoles[0].StepUp = []StepUp{{PathPrefix: "/billing/", MaxAge: 13 * time.Hour}} },
			`config: consoles[0].step_up[0].max_age: 13h0m0s is longer than session.absolute_timeout (12h0m0s): it would never ask for a proof`},
		{"step-up unknown method", func(c *Config) {
			c.Consoles[0].StepUp = []StepUp{{PathPrefix: "/billing/", MaxAge: time.Minute, Methods: []string{"totp", "sms"}}}
		}, `config: consoles[0].step_up[0].methods[1]: "sms": want one of password, totp, passkey`},
		{"step-up method twice", func(c *Config) {
			c.Consoles[0].StepUp = []StepUp{{PathPrefix: "/billing/", MaxAge: time.Minute, Methods: []string{"passkey", "passkey"}}}
		}, `config: consoles[0].step_up[0].methods[1]: "passkey" is listed twice`},

		// SSO.
		{"google without secret", func(c *Config) { c.SSO.Google.ClientSecretFile = "" },
			`config: sso.google.client_secret_file: required`},
		{"google secret unreadable", func(c *Config) { c.SSO.Google.ClientSecretFile = missing },
			`config: sso.google.client_secret_file: cannot read: open ` + missing + `: no such file or directory`},
		{"google issuer http", func(c *Config) { c.SSO.Google.Issuer = "http://accounts.google.com" },
			`config: sso.google.issuer: want an absolute https URL, got "http://accounts.google.com"`},
		{"microsoft secret empty", func(c *Config) { c.SSO.Microsoft.ClientID, c.SSO.Microsoft.ClientSecretFile = "ms", empty },
			`config: sso.microsoft.client_secret_file: ` + empty + ` is empty`},
		{"github base http", func(c *Config) {
			c.SSO.GitHub = GitHubProvider{ClientID: "gh", ClientSecretFile: c.SSO.Google.ClientSecretFile, BaseURL: "http://github.example.com", APIURL: DefaultGitHubAPIURL}
		}, `config: sso.github.base_url: want an absolute https URL, got "http://github.example.com"`},
		{"github api query", func(c *Config) {
			c.SSO.GitHub = GitHubProvider{ClientID: "gh", ClientSecretFile: c.SSO.Google.ClientSecretFile, BaseURL: DefaultGitHubBaseURL, APIURL: "https://api.github.com/?x"}
		}, `config: sso.github.api_url: "https://api.github.com/?x" must not have a query`},

		// Log.
		{"log level", func(c *Config) { c.Log.Level = "verbose" },
			`config: log.level: want debug, info, warn or error, got "verbose"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig(t)
			tt.modify(c)
			got := strings.Join(problemLines(t, c.Validate()), "\n")
			if got != tt.want {
				t.Errorf("Validate():\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := validConfig(t)
	c.PublicURL = "https://account.example.com/x"
	c.Session.HandoffTTL = 2 * time.Minute
	c.Accounts.Driver = "oracle"
	c.Consoles[1].Upstream = ""
	c.Log.Level = "loud"
	want := []string{
		`config: public_url: "https://account.example.com/x" must not have a path`,
		`config: session.handoff_ttl: must be more than 0 and at most 60s, got 2m0s`,
		`config: accounts.driver: want postgres or sqlite, got "oracle"`,
		`config: consoles[1].upstream: required: the console's http(s) URL`,
		`config: log.level: want debug, info, warn or error, got "loud"`,
	}
	err := c.Validate()
	if got := problemLines(t, err); !slices.Equal(got, want) {
		t.Errorf("Validate():\n got %q\nwant %q", got, want)
	}
	if got, want := err.Error(), strings.Join(want, "\n"); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestValidateZeroConfig(t *testing.T) {
	// Without defaults nearly everything is wrong, and all of it is said.
	var c Config
	lines := problemLines(t, c.Validate())
	for _, want := range []string{
		`config: public_url: required: the account portal's URL, such as https://account.example.com`,
		`config: secrets.session_key_file: required (unigate keys generate writes one)`,
		`config: accounts.driver: required: postgres or sqlite`,
		`config: consoles: at least one console is required`,
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("Validate() lines %q\nlack %q", lines, want)
		}
	}
}

func TestValidateResetsTypedForms(t *testing.T) {
	c := validConfig(t)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.PublicURL = "ftp://x"
	if c.Validate() == nil {
		t.Fatal("Validate() = nil, want problems")
	}
	if c.Public() != nil || c.SecureCookies() {
		t.Errorf("Public() = %v after a failed Validate, want nil", c.Public())
	}
}

func TestPublicReturnsCopy(t *testing.T) {
	c := validConfig(t)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.Public().Host = "evil.test"
	if got := c.Public().Host; got != "account.example.com" {
		t.Errorf("Public().Host = %q after modifying a copy, want account.example.com", got)
	}
}

func TestParseSigningKeySEC1(t *testing.T) {
	b := mustPEM(t, "EC PRIVATE KEY", elliptic.P256(), x509.MarshalECPrivateKey)
	k, err := parseSigningKey(b)
	if err != nil || k.Curve != elliptic.P256() {
		t.Fatalf("parseSigningKey(SEC1 P-256) = %v, %v; want a P-256 key", k, err)
	}
}

func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ content, want string }{
		{"s3cret", "s3cret"},
		{"s3cret\n", "s3cret"},
		{"s3cret\r\n", "s3cret"},
		{"s3cret\n\n", "s3cret\n"},
		{" s3cret \n", " s3cret "},
		{"", ""},
	} {
		got, err := ReadSecret(mustWriteFile(t, dir, "s", tt.content))
		if err != nil || got != tt.want {
			t.Errorf("ReadSecret(%q) = %q, %v; want %q", tt.content, got, err, tt.want)
		}
	}
	if _, err := ReadSecret(filepath.Join(dir, "missing")); err == nil {
		t.Error("ReadSecret(missing) = nil error, want one")
	}
}

func TestProblemString(t *testing.T) {
	for _, tt := range []struct {
		p    Problem
		want string
	}{
		{Problem{"consoles[1].upstream", "required"}, "config: consoles[1].upstream: required"},
		{Problem{"", "x.yaml: yaml: line 1: bad"}, "config: x.yaml: yaml: line 1: bad"},
	} {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
	if got := Problems(nil).err(); got != nil {
		t.Errorf("Problems(nil).err() = %v, want nil", got)
	}
}

func TestValidateRefusesHugeKeyFile(t *testing.T) {
	c := validConfig(t)
	c.Secrets.SessionKeyFile = "/dev/zero"
	want := "config: secrets.session_key_file: cannot read: /dev/zero: larger than 64 KiB, not a key or secret"
	if got := strings.Join(problemLines(t, c.Validate()), "\n"); got != want {
		t.Errorf("Validate() = %q, want %q", got, want)
	}
}
