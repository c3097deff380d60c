package upstreams

import (
	"fmt"
	"strings"
)

// PublicPaths is a console's list of path prefixes forwarded without a
// session (the consoles' own APIs). The zero value matches nothing.
type PublicPaths struct {
	prefixes []string
}

// NewPublicPaths validates the configured prefixes. Each must start with "/"
// and already be canonical (CanonicalPath returns it unchanged): a prefix in
// another spelling could never match a canonical request path, or worse,
// would hide a mistake in the configuration.
func NewPublicPaths(prefixes []string) (PublicPaths, error) {
	out := make([]string, 0, len(prefixes))
	for _, p := range prefixes {
		c, err := CanonicalPath(p)
		if err != nil {
			return PublicPaths{}, fmt.Errorf("public path %q: %w", p, err)
		}
		if c != p {
			return PublicPaths{}, fmt.Errorf("public path %q is not canonical (canonical form %q)", p, c)
		}
		out = append(out, p)
	}
	return PublicPaths{prefixes: out}, nil
}

// Match reports whether canonicalPath, which must come from CanonicalPath,
// is public. A prefix ending in "/" matches every path below it; a prefix
// without one matches exactly that path or that path followed by "/…", never
// a longer name ("/api" does not match "/apix" nor "/api;x").
//
// Matching is byte-wise and case-sensitive. An upstream that folds case or
// drops ";params" therefore sees at most fewer public paths than it would
// itself consider public (say "/API/x" needs a session here), never more:
// the safe direction. It is the canonical form, not the raw request, that is
// matched and then forwarded, so a query string ("/private?/api/") or any
// other spelling of a path never reaches the upstream without this check
// (SECURITY family 3). A path an upstream may read as another
// (readableAsAnother: "%25", a segment of dots and spaces) is not public.
func (pp PublicPaths) Match(canonicalPath string) bool {
	for _, prefix := range pp.prefixes {
		if !strings.HasPrefix(canonicalPath, prefix) {
			continue
		}
		if prefix[len(prefix)-1] == '/' || len(canonicalPath) == len(prefix) || canonicalPath[len(prefix)] == '/' {
			return !readableAsAnother(canonicalPath)
		}
	}
	return false
}

// Prefixes returns a copy of the configured prefixes.
func (pp PublicPaths) Prefixes() []string {
	return append([]string(nil), pp.prefixes...)
}
