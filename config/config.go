// Package config reads the gateway's configuration file (CONTRACT.md §2):
// YAML with unknown keys refused, UNIGATE_* environment overrides, secrets
// read from files, and one validation pass that reports every problem at once.
package config

import (
	"crypto/ecdsa"
	"net/netip"
	"net/url"
	"time"
)

// Config is the whole configuration file. Field comments give the zero-value
// behaviour; Load fills the documented defaults before validating.
type Config struct {
	Listen         string        `yaml:"listen"`          // default "127.0.0.1:8080"
	PublicURL      string        `yaml:"public_url"`      // required; https => Secure cookies + HSTS
	TrustedProxies []string      `yaml:"trusted_proxies"` // CIDRs (or single IPs) whose X-Forwarded-For is believed
	ShutdownGrace  time.Duration `yaml:"shutdown_grace"`  // default 15s: in-flight requests finish within it on SIGTERM
	Metrics        Metrics       `yaml:"metrics"`
	TLS            TLS           `yaml:"tls"`
	ForwardAuth    ForwardAuth   `yaml:"forward_auth"`
	Secrets        Secrets       `yaml:"secrets"`
	Session        Session       `yaml:"session"`
	Accounts       Accounts      `yaml:"accounts"`
	Mail           Mail          `yaml:"mail"`
	Login          Login         `yaml:"login"`
	Consoles       []Console     `yaml:"consoles"`
	SSO            SSO           `yaml:"sso"`
	Log            Log           `yaml:"log"`

	// typed holds the forms Validate parses the raw strings into; the
	// accessors (Public, TrustedPrefixes, …) read them. Unexported, so neither
	// YAML nor the environment can reach it.
	typed typed
}

// typed is what Validate computes once so that no caller parses a URL, a
// CIDR or a key file again (Caddy's provision step).
type typed struct {
	public     *url.URL
	prefixes   []netip.Prefix
	cutoff     time.Time
	sessionKey []byte
	signingKey *ecdsa.PrivateKey
	// previous keys of a rotation (CONTRACT §12), in the files' order.
	previousSessionKeys [][]byte
	previousSigningKeys []*ecdsa.PrivateKey
}

// Metrics is the operations listener (CONTRACT §7).
type Metrics struct {
	Listen string `yaml:"listen"` // "" disables; serves /metrics, /healthz, /readyz
}

// TLS makes listen serve HTTPS with HTTP/2 (CONTRACT §12). Both files or
// neither: unset, listen serves plain HTTP behind a load balancer. The files
// are read again when they change (certificate renewal without a restart).
type TLS struct {
	CertFile string `yaml:"cert_file"` // PEM certificate chain, leaf first
	KeyFile  string `yaml:"key_file"`  // PEM private key of the leaf
}

// Secrets names the key files written by "unigate keys generate". Keys are
// never inline so that config.yaml can be committed and shown.
type Secrets struct {
	SessionKeyFile string `yaml:"session_key_file"` // required: ≥ 32 bytes (keys generate writes 64)
	SigningKeyFile string `yaml:"signing_key_file"` // required: PEM EC P-256 private key
	// Key rotation (CONTRACT §12): the keys signing_key_file and
	// session_key_file held before. Previous signing keys stay in the JWKS
	// (only signing_key_file signs); what a previous session key signed or
	// sealed is still opened, and re-issued under the current key on use.
	PreviousSigningKeyFiles []string `yaml:"previous_signing_key_files"`
	PreviousSessionKeyFiles []string `yaml:"previous_session_key_files"`
}

// ForwardAuth is the listener an operator's own edge proxy asks (nginx
// auth_request, Traefik ForwardAuth, Caddy forward_auth, Envoy ext_authz;
// CONTRACT §12).
type ForwardAuth struct {
	Listen string `yaml:"listen"` // "" disables, e.g. "127.0.0.1:9091"
}

// Session configures the session store and the session cookie (ASVS V7).
type Session struct {
	Store           string        `yaml:"store"` // "redis" (default) | "memory"
	Redis           Redis         `yaml:"redis"`
	CookieName      string        `yaml:"cookie_name"`      // default "unigate_session"; "__Host-" prefixed on https
	IdleTimeout     time.Duration `yaml:"idle_timeout"`     // default 30m
	AbsoluteTimeout time.Duration `yaml:"absolute_timeout"` // default 12h
	HandoffTTL      time.Duration `yaml:"handoff_ttl"`      // default 60s; more than 60s is an error
	// LocalCache is how long a replica may answer from memory a session it
	// fetched from Redis, without asking again (revocations reach every
	// replica at once through Redis pub/sub). 0 (the default) asks Redis on
	// every request. At most 5s. Only with store: redis.
	LocalCache time.Duration `yaml:"local_cache"`
	// TrackingCache, with local_cache 0, caches sessions per replica and
	// lets Redis invalidate them (CLIENT TRACKING): no Redis round trip for
	// a warm session. Off by default: a revocation reaches the other
	// replicas with Redis's invalidation message, and a message delayed on
	// the network (a lost TCP segment) lets a replica serve the revoked
	// session until it arrives (bounded by the tracking connection's ping,
	// about 2 s). Not used on a Cluster nor over TLS. Only with store: redis.
	TrackingCache bool `yaml:"tracking_cache"`
}

// Redis is reached through go-redis's UniversalClient: exactly one of URL
// (single node) or Addrs with MasterName (Sentinel) or Cluster.
type Redis struct {
	URL          string   `yaml:"url"`         // single node: redis:// or rediss://
	Addrs        []string `yaml:"addrs"`       // Sentinel (with MasterName) or Cluster (with Cluster) seeds
	MasterName   string   `yaml:"master_name"` // Sentinel master
	Cluster      bool     `yaml:"cluster"`
	Username     string   `yaml:"username"`
	PasswordFile string   `yaml:"password_file"`
	DB           int      `yaml:"db"`
	// KeyPrefix is put before every key, so that several deployments (or
	// tests) can share one Redis. "" puts none. Never "{…}": that would pin
	// every key to one Cluster slot.
	KeyPrefix string `yaml:"key_prefix"`
}

// Accounts selects the account store driver.
type Accounts struct {
	Driver string `yaml:"driver"` // "postgres" | "sqlite"
	DSN    string `yaml:"dsn"`    // postgres URL, or sqlite file path
}

// Mail configures how mails (codes, invitations, notifications) leave.
type Mail struct {
	Transport string `yaml:"transport"` // "smtp" | "file" | "log" (default "log")
	From      string `yaml:"from"`
	SMTP      SMTP   `yaml:"smtp"`
	Dir       string `yaml:"dir"` // for transport file
	// RatePerSecond caps the mails the replicas together hand to the
	// transport (CONTRACT §9); nil means DefaultMailRatePerSecond, 0
	// unlimited. Read it through RateLimit.
	RatePerSecond *int `yaml:"rate_per_second"`
}

// SMTP is the relay used when Mail.Transport is "smtp".
type SMTP struct {
	Host         string `yaml:"host"`
	Port         int    `yaml:"port"`
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	TLS          string `yaml:"tls"` // "starttls" (default) | "tls" | "none"
}

// Login holds the brute-force limits and password policy (ASVS V6.3,
// NIST SP 800-63B §3.1.1.2).
type Login struct {
	MaxFailures       int           `yaml:"max_failures"`        // default 5
	Lockout           time.Duration `yaml:"lockout"`             // default 15m
	IPMaxFailures     int           `yaml:"ip_max_failures"`     // default 50
	EmailCodeTTL      time.Duration `yaml:"email_code_ttl"`      // default 10m
	PasswordMinLength int           `yaml:"password_min_length"` // default 12; at least 8
	RequireMFA        bool          `yaml:"require_mfa"`
	LegacyLoginCutoff string        `yaml:"legacy_login_cutoff"` // YYYY-MM-DD, 00:00 UTC

	// ImportedBcryptCost is the highest bcrypt cost of the imported password
	// hashes: every password check does that much bcrypt work, so that the
	// answer time does not tell imported accounts from unknown emails.
	ImportedBcryptCost int `yaml:"imported_bcrypt_cost"` // default 12; 4 to 16

	// MaxConsecutiveFailures: failed guesses in a row (every factor and
	// network) that lock the account until a password reset or an
	// operator's `accounts unlock` (issue 16 finding 6).
	MaxConsecutiveFailures int `yaml:"max_consecutive_failures"` // default 100 (NIST SP 800-63B §5.2.2: at most 100)
}

// Console is one console behind the gateway (CONTRACT §3, §4, §6).
type Console struct {
	ID               string        `yaml:"id"`   // [a-z0-9-]+
	Name             string        `yaml:"name"` // shown in the chooser; default the id
	Hosts            []string      `yaml:"hosts"`
	PathPrefix       string        `yaml:"path_prefix"` // "/x/": mounted on the account host
	Upstream         string        `yaml:"upstream"`    // http(s)://host[:port][/base]
	Timeout          time.Duration `yaml:"timeout"`     // default 30s: no response headers by then => 504
	PublicPaths      []string      `yaml:"public_paths"`
	LegacyLogin      bool          `yaml:"legacy_login"`
	LegacyLoginPaths []string      `yaml:"legacy_login_paths"`
	Provisioning     Provisioning  `yaml:"provisioning"`
	StepUp           []StepUp      `yaml:"step_up"` // paths that need a recent, strong proof (CONTRACT §11)
}

// StepUp is one step-up rule of a console (CONTRACT §11): a request at or
// below PathPrefix needs a last proof younger than MaxAge, made with one of
// Methods (empty: any second factor the account holds, else the password).
type StepUp struct {
	PathPrefix string        `yaml:"path_prefix"` // canonical, starting with /
	MaxAge     time.Duration `yaml:"max_age"`     // more than 0, at most session.absolute_timeout
	Methods    []string      `yaml:"methods"`     // password | totp | passkey
}

// Provisioning is the console's endpoint that creates its account for a
// unified account that has none; "" means no endpoint.
type Provisioning struct {
	URL     string        `yaml:"url"`
	Timeout time.Duration `yaml:"timeout"` // default 5s
}

// SSO lists the optional sign-in providers; a provider without a client_id is off.
type SSO struct {
	Google    OIDCProvider   `yaml:"google"`
	Microsoft OIDCProvider   `yaml:"microsoft"`
	GitHub    GitHubProvider `yaml:"github"`
}

// OIDCProvider is an OpenID Connect provider (Google, Microsoft).
type OIDCProvider struct {
	ClientID         string `yaml:"client_id"` // "" disables the provider
	ClientSecretFile string `yaml:"client_secret_file"`
	Issuer           string `yaml:"issuer"`
}

// GitHubProvider is GitHub's OAuth2 (not OIDC): base_url serves the
// authorization endpoints, api_url the verified-email API.
type GitHubProvider struct {
	ClientID         string `yaml:"client_id"`
	ClientSecretFile string `yaml:"client_secret_file"`
	BaseURL          string `yaml:"base_url"`
	APIURL           string `yaml:"api_url"`
}

// Log sets the slog level of the JSON log on stderr.
type Log struct {
	Level string `yaml:"level"` // debug | info (default) | warn | error
}
