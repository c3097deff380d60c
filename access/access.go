// Package access takes the decision for one console request: given the
// console the request came to, its path and the session it carries, may it
// reach the console's upstream, and with which identity (CONTRACT §3, §4, §6)?
//
// The reverse proxy asks it for every console request, and the forward-auth
// endpoints (CONTRACT §12) will ask it for the requests an operator's own
// proxy holds: both take the same decision. The package writes no response:
// the edge renders each Kind (forward, redirect, 401 JSON, an error page).
// It reads an *http.Request (for the session cookie) and nothing else of
// net/http.
//
// The checks run in one order, each able to end the decision:
//
//  1. the path: one canonical form (upstreams.CanonicalPath) before any
//     other decision (ASVS V1.1.1); another spelling is Redirect or BadPath;
//  2. public paths: Public, no session read, no identity sent;
//  3. the session: none, unfinished or expired is Login; a store that does
//     not answer is Unavailable, never a pass (ASVS V16.5.2);
//  4. the console account: a session that has not entered this console yet
//     gets its only account (Entries), or ChooseAccount;
//  5. the organization's MFA rule (CONTRACT §11): past the grace recorded in
//     the selection, a member without a second factor is Forbidden
//     (mfa_required_by_organization);
//  6. step-up per console path (CONTRACT §11): a path under a rule, on a
//     session whose last proof is too old or of another method, is StepUp;
//  7. Allow, with the identity the upstream is told.
//
// Steps 5 and 6 read only the session and the selection Decide already
// holds: no store read per request (see HoldsSecondFactor).
package access

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"hash/maphash"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"unigate/session"
	"unigate/upstreams"
)

// Kind is what the edge does with a console request.
type Kind uint8

// The decisions. The zero Kind is never returned by Decide.
const (
	// Public: a public path; forward it untouched, with no identity.
	Public Kind = iota + 1
	// Allow: forward with Decision.Identity.
	Allow
	// Redirect: the path is not canonical and the method is GET or HEAD:
	// send the client to Decision.Path (the query kept as it came).
	Redirect
	// BadPath: the path is not canonical and cannot be redirected to (another
	// method), or has no canonical form: Decision.Err (invalid_path, 400).
	BadPath
	// Login: no complete session: a browser navigation goes to the login
	// page, anything else gets 401 (CONTRACT §4).
	Login
	// ChooseAccount: the session holds several accounts (or none yet) in this
	// console and none is chosen: a browser goes to the chooser, anything
	// else gets Decision.Err (409 account_required with the choice).
	ChooseAccount
	// Forbidden: a complete session that may not reach this console now;
	// Decision.Err names why (its code gives the status), for example
	// provisioning_pending or unknown_account.
	Forbidden
	// Unavailable: the session store did not answer: Decision.Err (503);
	// nothing is let through (CONTRACT §7).
	Unavailable
	// Failed: anything else went wrong: Decision.Err (500).
	Failed
	// StepUp: the path needs a fresher or stronger proof (CONTRACT §11): a
	// browser navigation goes to the step-up page, anything else gets
	// Decision.Err (401 step_up_required). Nothing reaches the upstream.
	StepUp
)

var kindNames = [...]string{"", "public", "allow", "redirect", "bad_path", "login", "choose_account", "forbidden", "unavailable", "failed", "step_up"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Decision is the answer for one request.
type Decision struct {
	Kind Kind
	// Path is the canonical path (every kind but BadPath): what is matched,
	// forwarded, or redirected to. For a request under a path_prefix mount it
	// still holds the prefix; the mount's proxy strips it.
	Path string
	// Identity is what the upstream is told (Allow only).
	Identity *upstreams.Identity
	// Err is why the request does not go through (BadPath, ChooseAccount,
	// Forbidden, Unavailable, Failed). It implements ErrorCode.
	Err error
}

// Console is one console as the decision sees it.
type Console struct {
	// ID is the console id, the identity's Console and the assertion's audience.
	ID string
	// Public are the console's public paths, matched on the console's own
	// path (without the mount prefix).
	Public upstreams.PublicPaths
	// Prefix is the console's path_prefix on the account host ("/x/"), or "".
	Prefix string
	// StepUp are the console's step-up rules, in the configuration's order.
	StepUp []StepUpRule
}

// Request is one console request to decide.
type Request struct {
	// HTTP is the request that carries the session cookie; only read.
	HTTP *http.Request
	// Host is the host the request was made to, as the caller classified it
	// (lower-case, no port): the session cookie is looked up for it. For
	// forward-auth, the forwarded host, not the auth request's own.
	Host string
	// Method is the request's method (for forward-auth, the original one).
	Method string
	// Path is the path as it came on the wire (upstreams.RequestPath), not
	// decoded and not yet canonical.
	Path string
	// Console is the console the host (or the mount) belongs to.
	Console *Console
	// Mounted: the request came under Console.Prefix on the account host.
	Mounted bool
}

// Sessions finds the session a request carries.
type Sessions interface {
	// RequestSession returns the session named by r's cookie for host: nil
	// and no error when there is none (no cookie, a forged one or one of
	// another host, an expired or revoked session). An error means the
	// store did not answer.
	RequestSession(r *http.Request, host string) (*session.Session, error)
}

// Entries picks the console account of a complete session that has not
// entered the console yet (a path_prefix mount shares the account host's
// cookie, so its first request may come before any entry). It never
// creates an account: that is for the chooser's POST.
type Entries interface {
	// FirstEntry selects the session's only account in console and keeps the
	// choice in the session. It returns an error wrapping ErrChooseAccount
	// when the user must choose, ErrSessionEnded when the session was
	// revoked meanwhile, session.ErrUnavailable when the store did not
	// answer; any other error is shown as it is (its ErrorCode).
	FirstEntry(r *http.Request, sess *session.Session, console string) (session.ConsoleSelection, error)
}

// Errors an Entries implementation wraps to steer the decision.
var (
	// ErrChooseAccount: the account must be chosen on the chooser page.
	ErrChooseAccount = errors.New("access: the console account must be chosen")
	// ErrSessionEnded: the session ended while the request was decided.
	ErrSessionEnded = errors.New("access: the session ended")
)

// Config is what a Decider is built from.
type Config struct {
	// Sessions finds the request's session. Required.
	Sessions Sessions
	// Entries picks the account of a first visit. Required.
	Entries Entries
	// SessionIDKey keys the opaque session id sent upstream
	// (X-Auth-Session-Id and the assertion's sid); at least 32 bytes,
	// derived from the session key. Required.
	SessionIDKey []byte
	// Clock is the time; nil means time.Now.
	Clock func() time.Time
}

// Decider decides console requests. It is safe for concurrent use.
type Decider struct {
	sessions Sessions
	entries  Entries
	clock    func() time.Time
	sid      *sessionIDs
}

// New validates cfg and builds a Decider.
func New(cfg Config) (*Decider, error) {
	if cfg.Sessions == nil || cfg.Entries == nil {
		return nil, errors.New("access: Sessions and Entries are required")
	}
	if len(cfg.SessionIDKey) < 32 {
		return nil, errors.New("access: the session id key must be at least 32 bytes")
	}
	clock := cfg.Clock
	if clock == nil {
		clock = time.Now
	}
	return &Decider{sessions: cfg.Sessions, entries: cfg.Entries, clock: clock, sid: newSessionIDs(cfg.SessionIDKey)}, nil
}

// CanonicalPath is step 1 alone, for the router that must pick a mount or a
// legacy login path before the console is known: ok and the canonical path,
// or a Redirect or BadPath decision to render.
func CanonicalPath(method, raw string) (Decision, bool) {
	canonical, err := upstreams.CanonicalPath(raw)
	switch {
	case err != nil:
		return Decision{Kind: BadPath, Err: ErrInvalidPath}, false
	case canonical == raw:
		return Decision{Path: canonical}, true
	case method == http.MethodGet || method == http.MethodHead:
		return Decision{Kind: Redirect, Path: canonical}, false
	}
	return Decision{Kind: BadPath, Err: ErrInvalidPath}, false
}

// Decide takes the decision for one request.
func (d *Decider) Decide(req Request) Decision {
	dec, ok := CanonicalPath(req.Method, req.Path)
	if !ok {
		return dec
	}
	path := dec.Path
	local, underMount := localPath(req, path)
	if underMount && req.Console.Public.Match(local) {
		return Decision{Kind: Public, Path: path}
	}
	sess, err := d.sessions.RequestSession(req.HTTP, req.Host)
	if err != nil {
		return Decision{Kind: Unavailable, Path: path, Err: unavailable(err)}
	}
	// The store enforces the absolute expiry; it is checked here too, on
	// the decision's own clock (ASVS V7.3.2).
	now := d.clock()
	if sess == nil || !sess.Complete() || !now.Before(sess.ExpiresAt) {
		return Decision{Kind: Login, Path: path}
	}
	sel, ok := sess.Consoles[req.Console.ID]
	if !ok {
		sel, err = d.entries.FirstEntry(req.HTTP, sess, req.Console.ID)
		if err != nil {
			return entryRefused(path, err)
		}
	}
	if OrgMFARefused(sel, sess, now) {
		return Decision{Kind: Forbidden, Path: path, Err: ErrMFARequiredByOrganization}
	}
	if rule := req.Console.StepUpFor(local); rule != nil && needsStepUp(rule, sess, now) {
		return Decision{Kind: StepUp, Path: path, Err: ErrStepUpRequired}
	}
	return Decision{Kind: Allow, Path: path, Identity: d.identity(sess, req.Console.ID, sel)}
}

// localPath is the console's own path: under a mount, the prefix removed.
// underMount is false for a mounted request outside its mount, which is
// never public there (its local path is then the whole path, so that the
// step-up rules still see it).
func localPath(req Request, canonical string) (local string, underMount bool) {
	if !req.Mounted || req.Console.Prefix == "" {
		return canonical, true
	}
	mount := strings.TrimSuffix(req.Console.Prefix, "/")
	rest, under := strings.CutPrefix(canonical, mount)
	if !under || (rest != "" && rest[0] != '/') {
		return canonical, false
	}
	if rest == "" {
		rest = "/"
	}
	return rest, true
}

func entryRefused(path string, err error) Decision {
	switch {
	case errors.Is(err, ErrChooseAccount):
		return Decision{Kind: ChooseAccount, Path: path, Err: err}
	case errors.Is(err, ErrSessionEnded):
		return Decision{Kind: Login, Path: path}
	case errors.Is(err, session.ErrUnavailable):
		return Decision{Kind: Unavailable, Path: path, Err: unavailable(err)}
	}
	var coded interface{ ErrorCode() string }
	if errors.As(err, &coded) {
		switch coded.ErrorCode() {
		case "unavailable":
			return Decision{Kind: Unavailable, Path: path, Err: err}
		case "internal_error":
		default:
			return Decision{Kind: Forbidden, Path: path, Err: err}
		}
	}
	return Decision{Kind: Failed, Path: path, Err: err}
}

// identity is what the console is told about the session (CONTRACT §6).
func (d *Decider) identity(sess *session.Session, console string, sel session.ConsoleSelection) *upstreams.Identity {
	id := &upstreams.Identity{
		UserID:           sess.AccountID,
		Email:            sess.Email,
		Console:          console,
		ConsoleAccountID: sel.AccountID,
		MFA:              sess.MFA,
		Prelinked:        sel.Prelinked,
		SessionID:        d.sid.of(sess.Handle),
		AMR:              ProofAMR(sess),
	}
	if !sess.AuthTime.IsZero() {
		id.AuthTime = sess.AuthTime.Unix()
	}
	if sel.OrganizationID != "" {
		id.OrganizationID, id.OrganizationRole = sel.OrganizationID, sel.OrganizationRole
	}
	return id
}

// sessionIDs computes the opaque session id sent upstream: a keyed hash of
// the session's store key, so that a console (or its logs) never holds the
// key under which the session lives in Redis (issue 16, finding 14), while
// every request of one session still carries the same id. HMAC-SHA256 under
// a key of its own (derived from the session key), truncated to 128 bits.
//
// The ids of recent sessions are kept in a small direct-mapped table, so a
// session's requests after its first cost a hash lookup and no allocation
// rather than an HMAC each; a collision only means computing it again.
type sessionIDs struct {
	pool   sync.Pool
	seed   maphash.Seed
	recent [sessionIDSlots]atomic.Pointer[sessionIDEntry]
}

// sessionIDSlots bounds the table: 4096 entries of about 200 bytes.
const sessionIDSlots = 1 << 12

type sessionIDEntry struct{ handle, id string }

// sidHasher is one pooled keyed hash with the buffers it writes from and
// into: buffers that live in the pooled object cost no allocation, where
// a conversion or a stack array passed to hash.Hash would escape.
type sidHasher struct {
	mac hash.Hash
	in  [128]byte
	sum [sha256.Size]byte
}

func newSessionIDs(key []byte) *sessionIDs {
	k := append([]byte(nil), key...)
	return &sessionIDs{
		pool: sync.Pool{New: func() any { return &sidHasher{mac: hmac.New(sha256.New, k)} }},
		seed: maphash.MakeSeed(),
	}
}

func (s *sessionIDs) of(handle string) string {
	if handle == "" {
		return ""
	}
	slot := &s.recent[maphash.String(s.seed, handle)&(sessionIDSlots-1)]
	if e := slot.Load(); e != nil && e.handle == handle {
		return e.id
	}
	id := s.compute(handle)
	slot.Store(&sessionIDEntry{handle: handle, id: id})
	return id
}

func (s *sessionIDs) compute(handle string) string {
	h := s.pool.Get().(*sidHasher)
	h.mac.Reset() // back to its keyed state
	if len(handle) <= len(h.in) {
		h.mac.Write(h.in[:copy(h.in[:], handle)])
	} else {
		h.mac.Write([]byte(handle))
	}
	sum := h.mac.Sum(h.sum[:0])
	var out [32]byte
	hex.Encode(out[:], sum[:16])
	s.pool.Put(h)
	return string(out[:])
}

// SessionID is the id sent upstream for the session with this store
// handle: what X-Auth-Session-Id and the sid claim carry.
func (d *Decider) SessionID(handle string) string { return d.sid.of(handle) }
