package config

import (
	"os"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the loader: whatever the file holds,
// Load answers with a Config or problems, never a panic or a hang (alias
// bombs included).
func FuzzLoad(f *testing.F) {
	f.Add([]byte(fullYAML))
	f.Add([]byte(""))
	f.Add([]byte("listen: [\n"))
	f.Add([]byte("consoles: [{id: a, hosts: [A.example], path_prefix: /a/, upstream: 'http://x'}, {id: a}]"))
	f.Add([]byte("a: &a [*a, *a]\nb: &b [*a, *a]\nc: &c [*b, *b]\nconsoles: [*c]\n"))
	f.Add([]byte("session: &s {store: memory}\nmetrics: {<<: *s}\n"))
	f.Add([]byte("x: &x {<<: *x}\n"))
	if b, err := os.ReadFile("../config.yaml"); err == nil {
		f.Add(b)
	}
	getenv := func(string) string { return "" }
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parse("fuzz.yaml", data, getenv, nil)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("parse() = %v, %v: want exactly one of a Config and an error", cfg, err)
		}
	})
}
