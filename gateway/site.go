package gateway

import (
	"context"
	"net/http"
)

// requestSite is what the router made of a request's Host, once
// (STYLE.md "Derive once"): the host, and the console it belongs to.
// Handlers read it through siteOf, never from r.Host again.
type requestSite struct {
	host    string       // lower-case, without the port
	console *consoleSite // the console of a console host; nil on the account host and an unknown host
	account bool         // the account host
}

// classify reads a Host header (already checked by validHostPort).
// Host matching ignores the port (CONTRACT "Terms").
func (s *Server) classify(hostport string) requestSite {
	host := hostOnly(hostport)
	if host == s.accountHost {
		return requestSite{host: host, account: true}
	}
	return requestSite{host: host, console: s.consoleHosts[host]}
}

type siteKey struct{}

// withSite hands the router's classification down to the handlers of the
// account and /.auth sites. Proxied requests get it as an argument instead:
// a context value costs two allocations per request.
func withSite(r *http.Request, site requestSite) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), siteKey{}, site))
}

// siteOf is the router's classification of r. A request that did not come
// through the router (a handler called directly) is classified here, the
// one other place that reads r.Host.
func (s *Server) siteOf(r *http.Request) requestSite {
	if site, ok := r.Context().Value(siteKey{}).(requestSite); ok {
		return site
	}
	return s.classify(r.Host)
}
