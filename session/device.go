package session

import (
	"strings"
	"sync"

	"github.com/medama-io/go-useragent"
)

// DeviceOf names the browser and the system a User-Agent header says, the
// way people read them in their session list, their sign-in history and
// the security notices (CONTRACT §10): "Firefox on Windows", "Chrome on
// Android", "curl". The header is the client's word, so this is a label,
// never an identity; what comes back is short, printable ASCII.
func DeviceOf(userAgent string) string {
	if len(userAgent) > maxUserAgent {
		userAgent = userAgent[:maxUserAgent]
	}
	ua := uaParser().Parse(userAgent)
	browser, system := label(ua.GetBrowser()), label(ua.GetOS())
	if system == "MacOS" {
		system = "macOS" // as Apple spells it
	}
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	}
	// A program, not a browser: its product token ("curl/8.5.0" → "curl").
	if product := label(productToken(userAgent)); product != "" {
		if system != "" {
			return product + " on " + system
		}
		return product
	}
	return "Unknown device"
}

// maxUserAgent bounds what is parsed: a header longer than this says
// nothing more about the device.
const maxUserAgent = 512

// uaParser is built once: its trie of known agents is read-only after.
var uaParser = sync.OnceValue(useragent.NewParser)

// productToken is the first product of a User-Agent (RFC 9110 §10.1.5),
// without its version.
func productToken(ua string) string {
	ua = strings.TrimSpace(ua)
	if i := strings.IndexAny(ua, " /("); i >= 0 {
		ua = ua[:i]
	}
	return ua
}

// label keeps a name that reads as one: letters, digits and a few
// punctuation marks, at most 32 bytes; anything else makes it "".
func label(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 32 {
		return ""
	}
	for _, c := range []byte(s) {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == ' ' || c == '-' || c == '_' || c == '.'
		if !ok {
			return ""
		}
	}
	return s
}
