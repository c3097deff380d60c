// Package upstreams describes the consoles behind the gateway and forwards
// requests to them: path canonicalisation, public paths, stripping of
// spoofable headers, identity headers with a signed assertion (ES256 JWT,
// published as a JWKS), and the reverse proxies themselves.
package upstreams
