package mail

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"
)

var emlName = regexp.MustCompile(`^\d{8}T\d{6}\.\d{9}Z-[0-9a-f]{16}\.eml$`)

func TestFileTransport(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "mail-out", "nested")
	ft, err := NewFileTransport(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode = %v, %v; want 0700 (the files hold codes)", fi.Mode().Perm(), err)
	}
	// Later messages sort after earlier ones, even in the same second and
	// across years with one digit more or less in no field.
	clock := time.Date(2025, 12, 31, 23, 59, 59, 999999999, time.UTC)
	ft.now = func() time.Time { clock = clock.Add(time.Nanosecond); return clock }
	r := mustRenderer(t)
	var raws [][]byte
	for i := range 3 {
		raw, err := r.Render(KindEmailCode, "fr", "alice@example.com", CodeData{Code: "1234567" + string(rune('0'+i)), ExpiresMinutes: 10})
		if err != nil {
			t.Fatal(err)
		}
		if err := ft.Send(ctx, "alice@example.com", raw); err != nil {
			t.Fatal(err)
		}
		raws = append(raws, raw)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(raws) {
		t.Fatalf("%d files, want %d (no temporary file left)", len(entries), len(raws))
	}
	var names []string
	for i, e := range entries { // ReadDir sorts by name
		names = append(names, e.Name())
		if !emlName.MatchString(e.Name()) {
			t.Errorf("file name %q, want %v", e.Name(), emlName)
		}
		fi, err := e.Info()
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", e.Name(), fi.Mode().Perm(), err)
		}
		got, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, raws[i]) {
			t.Errorf("%s does not hold message %d as rendered (name order is not send order?)", e.Name(), i)
		}
		checkCodeLine(t, parseMessage(t, got).text, "1234567"+string(rune('0'+i)))
	}
	if !slices.IsSorted(names) || names[0][:4] != "2026" {
		t.Errorf("names %q", names)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := ft.Send(cancelled, "a@example.com", raws[0]); err == nil {
		t.Error("Send with a cancelled context succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != len(raws) {
		t.Errorf("%d files after a cancelled send, want %d", len(entries), len(raws))
	}
}

func TestFileTransportRefusesBadDir(t *testing.T) {
	if _, err := NewFileTransport(""); err == nil {
		t.Error(`NewFileTransport("") succeeded`)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewFileTransport(filepath.Join(file, "sub")); err == nil {
		t.Error("NewFileTransport under a file succeeded")
	}
}
