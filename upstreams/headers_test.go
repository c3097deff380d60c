package upstreams

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// authHeaderSpellings are client attempts at the gateway's namespace: every
// case, the underscore forms, and names that only start like it.
var authHeaderSpellings = []string{
	"X-Auth-User-Id",
	"x-auth-user-id",
	"X-AUTH-USER-ID",
	"X-aUtH-uSeR-iD",
	"X_Auth_User_Id",
	"x_auth_user_id",
	"X_AUTH_USER_ID",
	"X-Auth_User-Id",
	"X_Auth-User-Id",
	"x-auth_email",
	"X-Auth-Email",
	"X-Auth-Console",
	"X-Auth-Console-Account-Id",
	"X-Auth-Organization-Id",
	"X-Auth-Organization-Role",
	"X-Auth-Mfa",
	"X-Auth-MFA",
	"X-Auth-Prelinked",
	"X-Auth-Session-Id",
	"X-Auth-Assertion",
	"X-Auth-",
	"X-Auth-Anything-Else",
	"x-auth-x",
	"X_AUTH_",
}

// notAuthHeaders must survive StripAuthHeaders.
var notAuthHeaders = []string{
	"Authorization",
	"X-Auth",
	"X_Auth",
	"X-Authorization",
	"X-Authx-User",
	"X-Auth.User",
	"XX-Auth-User",
	"Auth-User",
	"X-Forwarded-For",
	"Cookie",
	"X-Au",
	"",
}

func TestStripAuthHeaders(t *testing.T) {
	for _, name := range authHeaderSpellings {
		t.Run(name, func(t *testing.T) {
			h := http.Header{
				name:     {"admin", "root"}, // duplicated values
				"Accept": {"*/*"},
			}
			StripAuthHeaders(h)
			if _, ok := h[name]; ok {
				t.Fatalf("%q survived", name)
			}
			if h.Get("Accept") != "*/*" {
				t.Fatalf("Accept removed")
			}
		})
	}
	h := http.Header{}
	for _, name := range notAuthHeaders {
		h[name] = []string{"v"}
	}
	for _, name := range authHeaderSpellings {
		h[name] = []string{"a, b", "c"} // comma-joined and duplicated
	}
	StripAuthHeaders(h)
	for _, name := range authHeaderSpellings {
		if _, ok := h[name]; ok {
			t.Errorf("%q survived", name)
		}
	}
	for _, name := range notAuthHeaders {
		if _, ok := h[name]; !ok {
			t.Errorf("%q removed, want kept", name)
		}
	}
	StripAuthHeaders(nil) // a nil header (no trailers) is fine
}

func FuzzStripAuthHeaders(f *testing.F) {
	for _, n := range authHeaderSpellings {
		f.Add(n, "v")
	}
	for _, n := range notAuthHeaders {
		f.Add(n, "v")
	}
	f.Fuzz(func(t *testing.T, name, value string) {
		h := http.Header{name: {value}, "Keep": {"1"}}
		StripAuthHeaders(h)
		_, kept := h[name]
		folded := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
		if strings.HasPrefix(folded, "x-auth-") == kept {
			t.Fatalf("name %q: kept=%v", name, kept)
		}
		if name != "Keep" && h.Get("Keep") != "1" {
			t.Fatal("unrelated header removed")
		}
	})
}

// TestStripForeignIdentityHeaders (issue 16, finding 16): other proxies'
// identity headers from the client never reach the upstream, in any case
// and with "_" for "-"; Authorization and the console's own headers do.
func TestStripForeignIdentityHeaders(t *testing.T) {
	for _, tc := range []struct {
		name string
		keep bool
	}{
		{"Remote-User", false},
		{"remote-user", false},
		{"REMOTE_USER", false},
		{"Remote-Email", false},
		{"Remote-Groups", false},
		{"Remote_Groups", false},
		{"Remote-Name", false},
		{"X-Forwarded-User", false},
		{"x_forwarded_user", false},
		{"X-Forwarded-Email", false},
		{"X-Forwarded-Groups", false},
		{"X-Forwarded-Preferred-Username", false},
		{"X_FORWARDED_PREFERRED_USERNAME", false},
		{"X-Forwarded-Access-Token", false},
		{"X-Remote-User", false},
		{"X_Remote_User", false},
		{"X-Webauth-User", false},
		{"X-WEBAUTH-USER", false},
		{"X-Webauth-Email", false},
		{"X-Webauth-Name", false},
		{"Authorization", true}, // the consoles' APIs take their tokens in it
		{"X-Forwarded-Userx", true},
		{"Remote-Users", true},
		{"X-Remote", true},
		{"Accept", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{tc.name: {"admin"}, "Accept-Language": {"fr"}}
			stripSpoofableHeaders(h)
			if _, got := h[tc.name]; got != tc.keep {
				t.Errorf("%s kept: %v, want %v", tc.name, got, tc.keep)
			}
			if h.Get("Accept-Language") != "fr" {
				t.Errorf("Accept-Language removed")
			}
		})
	}
	t.Run("X-Auth-Request-*", func(t *testing.T) {
		h := http.Header{"X-Auth-Request-User": {"admin"}, "X_Auth_Request_Email": {"a@example.com"}}
		StripAuthHeaders(h)
		if len(h) != 0 {
			t.Errorf("after StripAuthHeaders: %v", h)
		}
	})
}

func TestStripSpoofableHeaders(t *testing.T) {
	h := http.Header{
		"Forwarded":       {"for=1.2.3.4;proto=https"},
		"X-Original-Url":  {"/admin"},
		"X_Original_URL":  {"/admin"},
		"x-rewrite-url":   {"/admin"},
		"X-Real-Ip":       {"1.2.3.4"},
		"X_REAL_IP":       {"1.2.3.4"},
		"True-Client-Ip":  {"1.2.3.4"},
		"X-Forwarded-Ssl": {"on"},
		"Accept":          {"*/*"},
		"X-Original":      {"keep"},
	}
	stripSpoofableHeaders(h)
	if len(h) != 2 || h.Get("Accept") == "" || h.Get("X-Original") == "" {
		t.Errorf("after strip: %v", h)
	}
}

func TestRemoveCookie(t *testing.T) {
	const name = "unigate_session"
	tests := []struct {
		name string
		in   []string
		want []string // nil: no Cookie header left
	}{
		{"only ours", []string{"unigate_session=abc"}, nil},
		{"first", []string{"unigate_session=abc; a=1; b=2"}, []string{"a=1; b=2"}},
		{"middle", []string{"a=1; unigate_session=abc; b=2"}, []string{"a=1; b=2"}},
		{"last", []string{"a=1; unigate_session=abc"}, []string{"a=1"}},
		{"twice", []string{"unigate_session=a; x=1; unigate_session=b"}, []string{"x=1"}},
		{"several lines", []string{"a=1", "unigate_session=abc", "b=2; unigate_session=d"}, []string{"a=1", "b=2"}},
		{"not present", []string{"a=1; b=2"}, []string{"a=1; b=2"}},
		{"prefix of another name", []string{"unigate_session2=x; xunigate_session=y"}, []string{"unigate_session2=x; xunigate_session=y"}},
		{"value contains name", []string{"a=unigate_session=x"}, []string{"a=unigate_session=x"}},
		{"spaces around name", []string{"a=1;  unigate_session =x ;b=2"}, []string{"a=1; b=2"}},
		{"no value", []string{"unigate_session; a=1"}, []string{"a=1"}},
		{"empty value", []string{"unigate_session=; a=1"}, []string{"a=1"}},
		{"case differs (another cookie)", []string{"Unigate_Session=x"}, []string{"Unigate_Session=x"}},
		{"tabs", []string{"\tunigate_session=x\t;\ta=1"}, []string{"a=1"}},
		{"empty pairs", []string{";;unigate_session=x;;a=1;"}, []string{"a=1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Cookie": slices.Clone(tc.in), "Accept": {"x"}}
			RemoveCookie(h, name)
			got, ok := h["Cookie"]
			if tc.want == nil {
				if ok {
					t.Fatalf("Cookie = %q, want none", got)
				}
				return
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Cookie = %q, want %q", got, tc.want)
			}
			if h.Get("Accept") != "x" {
				t.Fatal("other header touched")
			}
		})
	}
	h := http.Header{}
	RemoveCookie(h, name)
	if len(h) != 0 {
		t.Errorf("RemoveCookie on empty header added %v", h)
	}
}

func TestRemoveCookieKeepsRealParser(t *testing.T) {
	// The other cookies still parse the same with net/http after removal.
	r, _ := http.NewRequest("GET", "/", nil)
	r.Header["Cookie"] = []string{`a=1; unigate_session=x; b="q"; c=3`}
	RemoveCookie(r.Header, "unigate_session")
	var names []string
	for _, c := range r.Cookies() {
		names = append(names, c.Name+"="+c.Value)
	}
	if want := []string{"a=1", "b=q", "c=3"}; !slices.Equal(names, want) {
		t.Errorf("cookies %q, want %q", names, want)
	}
}

var clientIPTrusted = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("192.168.1.0/24"),
	netip.MustParsePrefix("fd00::/8"),
}

type clientIPCase struct {
	name   string
	remote string
	xff    []string
	want   string // "" : invalid Addr
}

var clientIPCases = []clientIPCase{
	{"untrusted peer, no xff", "203.0.113.5:1234", nil, "203.0.113.5"},
	{"untrusted peer ignores xff", "203.0.113.5:1234", []string{"1.1.1.1"}, "203.0.113.5"},
	{"untrusted peer ignores trusted-looking xff", "203.0.113.5:1234", []string{"10.0.0.1"}, "203.0.113.5"},
	{"trusted peer, no xff", "10.0.0.1:1234", nil, "10.0.0.1"},
	{"trusted peer, client in xff", "10.0.0.1:1234", []string{"198.51.100.7"}, "198.51.100.7"},
	{"trusted chain skipped", "10.0.0.1:1234", []string{"198.51.100.7, 192.168.1.4, 10.2.3.4"}, "198.51.100.7"},
	{"forged left part ignored", "10.0.0.1:1234", []string{"6.6.6.6, 198.51.100.7"}, "198.51.100.7"},
	{"forged trusted on the left", "10.0.0.1:1234", []string{"10.9.9.9, 198.51.100.7"}, "198.51.100.7"},
	{"several lines, rightmost line last", "10.0.0.1:1234", []string{"6.6.6.6", "198.51.100.7, 10.0.0.2"}, "198.51.100.7"},
	{"several lines, trusted last line", "10.0.0.1:1234", []string{"198.51.100.7", "10.0.0.2"}, "198.51.100.7"},
	{"garbage left of client", "10.0.0.1:1234", []string{"garbage, 198.51.100.7"}, "198.51.100.7"},
	{"garbage where the client should be", "10.0.0.1:1234", []string{"198.51.100.7, garbage"}, "10.0.0.1"},
	{"garbage after trusted hop", "10.0.0.1:1234", []string{"198.51.100.7, garbage, 10.0.0.9"}, "10.0.0.9"},
	{"ip:port entry is malformed", "10.0.0.1:1234", []string{"198.51.100.7:80"}, "10.0.0.1"},
	{"empty entry is malformed", "10.0.0.1:1234", []string{"198.51.100.7, , 10.0.0.3"}, "10.0.0.3"},
	{"trailing comma", "10.0.0.1:1234", []string{"198.51.100.7,"}, "10.0.0.1"},
	{"empty line ignored", "10.0.0.1:1234", []string{"198.51.100.7", ""}, "198.51.100.7"},
	{"spaces and tabs", "10.0.0.1:1234", []string{" \t198.51.100.7 \t"}, "198.51.100.7"},
	{"all trusted: leftmost", "10.0.0.1:1234", []string{"10.0.0.5, 10.0.0.6"}, "10.0.0.5"},
	{"ipv6 peer untrusted", "[2001:db8::1]:443", []string{"1.1.1.1"}, "2001:db8::1"},
	{"ipv6 trusted peer, v6 client", "[fd00::1]:443", []string{"2001:db8::7"}, "2001:db8::7"},
	{"bracketed v6 entry", "[fd00::1]:443", []string{"[2001:db8::7]"}, "2001:db8::7"},
	{"v4-mapped peer unmapped", "[::ffff:10.0.0.1]:1", []string{"198.51.100.7"}, "198.51.100.7"},
	{"v4-mapped entry unmapped", "10.0.0.1:1", []string{"::ffff:198.51.100.7"}, "198.51.100.7"},
	{"mapped trusted entry skipped", "10.0.0.1:1", []string{"198.51.100.7, ::ffff:10.0.0.3"}, "198.51.100.7"},
	{"zone in entry is malformed", "[fd00::1]:1", []string{"fe80::1%eth0"}, "fd00::1"},
	{"zone on peer dropped", "[fe80::1%eth0]:1", nil, "fe80::1"},
	{"hostname entry is malformed", "10.0.0.1:1", []string{"evil.test"}, "10.0.0.1"},
	{"unknown entry is malformed", "10.0.0.1:1", []string{"unknown"}, "10.0.0.1"},
	{"bare remote addr", "203.0.113.5", nil, "203.0.113.5"},
	{"bad remote addr", "@", []string{"1.1.1.1"}, ""},
	{"empty remote addr", "", nil, ""},
}

func TestClientIP(t *testing.T) {
	for _, tc := range clientIPCases {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tc.remote, Header: http.Header{}}
			if tc.xff != nil {
				r.Header["X-Forwarded-For"] = tc.xff
			}
			got := ClientIP(r, clientIPTrusted)
			if tc.want == "" {
				if got.IsValid() {
					t.Fatalf("ClientIP = %v, want invalid", got)
				}
				return
			}
			if got.String() != tc.want {
				t.Fatalf("ClientIP = %v, want %v", got, tc.want)
			}
		})
	}
	r := &http.Request{RemoteAddr: "10.0.0.1:1", Header: http.Header{"X-Forwarded-For": {"1.2.3.4"}}}
	if got := ClientIP(r, nil); got.String() != "10.0.0.1" {
		t.Errorf("no trusted proxies: ClientIP = %v, want the peer", got)
	}
}

func FuzzClientIP(f *testing.F) {
	for _, tc := range clientIPCases {
		f.Add(tc.remote, strings.Join(tc.xff, "\n"))
	}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		if xff != "" {
			r.Header["X-Forwarded-For"] = strings.Split(xff, "\n")
		}
		got := ClientIP(r, clientIPTrusted)
		peer := parsePeer(remote)
		if !peer.IsValid() {
			if got.IsValid() {
				t.Fatalf("invalid peer %q gave %v", remote, got)
			}
			return
		}
		if !got.IsValid() {
			t.Fatalf("valid peer %q gave an invalid address", remote)
		}
		if !isTrusted(peer, clientIPTrusted) && got != peer {
			t.Fatalf("untrusted peer %v: got %v", peer, got)
		}
		if got != peer {
			// Anything but the peer must be one of the X-Forwarded-For entries.
			found := false
			for _, line := range r.Header["X-Forwarded-For"] {
				for _, e := range strings.Split(line, ",") {
					if a, ok := parseForwardedAddr(strings.Trim(e, " \t")); ok && a == got {
						found = true
					}
				}
			}
			if !found {
				t.Fatalf("ClientIP = %v: neither the peer nor an X-Forwarded-For entry", got)
			}
		}
		if got.Zone() != "" || got.Is4In6() {
			t.Fatalf("got %v: zone or mapped form", got)
		}
	})
}
