// Package upstreams describes the consoles behind the gateway and forwards
// requests to them: path canonicalisation, public paths, stripping of
// spoofable headers, identity headers with a signed assertion (ES256 JWT,
// published as a JWKS), and the reverse proxies themselves.
//
// For a request on a console host the gateway uses it in this order:
//
//  1. CanonicalPath(RequestPath(r)): ErrBadPath answers 400; a canonical
//     form that differs from the request's is redirected to (GET, HEAD).
//  2. PublicPaths.Match on the canonical path: a public path is forwarded
//     with no identity.
//  3. Otherwise, with a complete session, Signer.Assertion for the Identity,
//     then Proxy.Forward with both.
//
// Forward itself strips every client-sent X-Auth-* header and the gateway's
// cookie, sets X-Forwarded-*, and refuses protocol switches other than
// WebSocket. The package imports no other unigate package.
package upstreams

import "errors"

// Sentinel errors. Callers test them with errors.Is; the wrapped error says
// which rule was broken.
var (
	// ErrBadPath is returned by CanonicalPath for a request path that has
	// no safe canonical form. The gateway answers 400: such a path is never
	// redirected and never proxied (ASVS V1.1.1).
	ErrBadPath = errors.New("upstreams: bad request path")

	// ErrBadIdentity is returned by Identity.Validate and Signer.Assertion
	// for an identity that cannot be sent to an upstream (missing user id or
	// console, unknown MFA, control characters).
	ErrBadIdentity = errors.New("upstreams: bad identity")
)
