package session

import (
	"strings"
	"testing"
)

var deviceCases = []struct{ ua, want string }{
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox on Windows"},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome on Windows"},
	{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36", "Chrome on Android"},
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1", "Safari on iOS"},
	{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15", "Safari on macOS"},
	{"curl/8.5.0", "curl"},
	{"Go-http-client/1.1", "Go-http-client"},
	{"", "Unknown device"},
	{"   ", "Unknown device"},
	{"<script>alert(1)</script>", "Unknown device"},
	{"\x00\x01\x02", "Unknown device"},
	{strings.Repeat("A", 4096), "Unknown device"},
}

func TestDeviceOf(t *testing.T) {
	for _, tc := range deviceCases {
		if got := DeviceOf(tc.ua); got != tc.want {
			t.Errorf("DeviceOf(%.60q) = %q, want %q", tc.ua, got, tc.want)
		}
	}
}

// FuzzDeviceOf: whatever the header, the label is short printable ASCII
// and never empty.
func FuzzDeviceOf(f *testing.F) {
	for _, tc := range deviceCases {
		f.Add(tc.ua)
	}
	f.Fuzz(func(t *testing.T, ua string) {
		got := DeviceOf(ua)
		if got == "" || len(got) > 2*32+len(" on ") {
			t.Fatalf("DeviceOf(%q) = %q", ua, got)
		}
		for _, c := range []byte(got) {
			if c < 0x20 || c > 0x7e || c == '<' || c == '>' || c == '"' || c == '&' {
				t.Fatalf("DeviceOf(%q) = %q: byte %#x", ua, got, c)
			}
		}
	})
}
