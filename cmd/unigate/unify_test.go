package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"unigate/unify"
	"unigate/unify/unifygen"
)

// writeGenerated writes generated exports in dir.
func writeGenerated(t *testing.T, dir string, opts unifygen.Options) (string, string, *unifygen.Expected) {
	t.Helper()
	var d, s bytes.Buffer
	exp, err := unifygen.Generate(&d, &s, opts)
	if err != nil {
		t.Fatal(err)
	}
	dp, sp := filepath.Join(dir, "dedibox.jsonl"), filepath.Join(dir, "scaleway.jsonl")
	if err := os.WriteFile(dp, d.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sp, s.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return dp, sp, exp
}

func readReport(t *testing.T, path string) (unify.Report, map[string]any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r unify.Report
	var raw map[string]any
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	return r, raw
}

// TestUnifyCommand: dry run, run, re-run and verify through the command
// line, with the exit statuses of CONTRACT §1.
func TestUnifyCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := mustConfig(t, dir, "login:\n  legacy_login_cutoff: \"2025-10-28\"\n")
	d, s, exp := writeGenerated(t, dir, unifygen.Options{Dedibox: 120, Scaleway: 80, Seed: 5})
	db := filepath.Join(dir, "accounts.db")
	report := filepath.Join(dir, "report.json")
	args := []string{"unify", "--dedibox", d, "--scaleway", s, "--config", cfg, "--report", report}

	r := runUnigate(t, nil, "", append(args, "--dry-run")...)
	if r.code != 0 || !strings.Contains(r.stdout, "would import (dry run, nothing written) 120 Dedibox and 80 Scaleway records") {
		t.Fatalf("dry run:\n%v", r)
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dry run created the store: %v", err)
	}
	dry, raw := readReport(t, report)
	for _, key := range []string{"dedibox_records", "scaleway_records", "unified_accounts", "situations", "prelinked", "notifications_queued", "rejected"} {
		if _, ok := raw[key]; !ok {
			t.Errorf("report lacks %q", key)
		}
	}
	if len(raw) != 7 {
		t.Errorf("report has %d members, want the 7 of CONTRACT §8", len(raw))
	}
	if dry.UnifiedAccounts != exp.UnifiedAccounts || dry.Prelinked != exp.Prelinked || dry.NotificationsQueued != exp.UnifiedAccounts ||
		dry.Situations.MultipleDediboxAccounts != exp.Situations.MultipleDediboxAccounts {
		t.Errorf("dry run report %+v, want %+v", dry, exp)
	}

	r = runUnigate(t, nil, "", args...)
	if r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "unify: imported 120 Dedibox and 80 Scaleway records") {
		t.Fatalf("run:\n%v", r)
	}
	first, _ := readReport(t, report)
	if first.NotificationsQueued != exp.UnifiedAccounts {
		t.Errorf("queued %d, want %d", first.NotificationsQueued, exp.UnifiedAccounts)
	}

	r = runUnigate(t, nil, "", args...)
	again, _ := readReport(t, report)
	if r.code != 0 || again.NotificationsQueued != 0 || again.UnifiedAccounts != first.UnifiedAccounts {
		t.Errorf("re-run: exit %d, report %+v; want exit 0, nothing queued", r.code, again)
	}

	r = runUnigate(t, nil, "", "unify", "verify", "--dedibox", d, "--scaleway", s, "--config", cfg)
	if r.code != 0 || !strings.Contains(r.stdout, "every source record is accounted for") {
		t.Errorf("verify:\n%v", r)
	}
}

// TestUnifyCommandRejects: rejected lines are reported with file and line,
// the rest is imported, and the status is 1; verify lists them as not
// imported and exits 1.
func TestUnifyCommandRejects(t *testing.T) {
	dir := t.TempDir()
	cfg := mustConfig(t, dir, "")
	d, s, exp := writeGenerated(t, dir, unifygen.Options{Dedibox: 40, Scaleway: 20, Malformed: 3, Seed: 8})
	report := filepath.Join(dir, "report.json")
	r := runUnigate(t, nil, "", "unify", "--dedibox", d, "--scaleway", s, "--config", cfg, "--report", report)
	rep, _ := readReport(t, report)
	if rep.DediboxRecords != exp.DediboxRecords || len(rep.Rejected) != 3 {
		t.Fatalf("report %+v", rep)
	}
	want := ""
	for _, rj := range rep.Rejected {
		want += fmt.Sprintf("%s:%d: %s\n", rj.File, rj.Line, rj.Reason)
	}
	want += "unigate: unify: 3 lines rejected, not imported (the rest is)\n"
	if r.code != 1 || r.stderr != want {
		t.Errorf("run:\n%v\nwant exit 1 and stderr\n%s", r, want)
	}
	for i, rj := range rep.Rejected {
		file := d
		if exp.Rejected[i].File == "scaleway" {
			file = s
		}
		if rj.File != file || rj.Line != exp.Rejected[i].Line || rj.Reason == "" {
			t.Errorf("rejected[%d] = %+v, want %s:%d", i, rj, file, exp.Rejected[i].Line)
		}
		if !strings.Contains(r.stdout, rj.File) {
			t.Errorf("summary does not list %s:%d", rj.File, rj.Line)
		}
	}
	r = runUnigate(t, nil, "", "unify", "verify", "--dedibox", d, "--scaleway", s, "--config", cfg)
	if r.code != 1 || strings.Count(r.stdout, "not imported: ") != 3 || r.stderr != "unigate: unify verify: 0 differences, 3 lines not imported\n" {
		t.Errorf("verify:\n%v\nwant exit 1 listing 3 lines", r)
	}
}

func TestUnifyCommandUsage(t *testing.T) {
	dir := t.TempDir()
	cfg := mustConfig(t, dir, "")
	d, s, _ := writeGenerated(t, dir, unifygen.Options{Dedibox: 1, Scaleway: 1})
	tests := []struct {
		name   string
		args   []string
		stderr string // prefix
	}{
		{"no scaleway", []string{"unify", "--dedibox", d}, "unigate: unify: --dedibox and --scaleway are required"},
		{"directory", []string{"unify", "--dedibox", dir, "--scaleway", s}, "unigate: unify: " + dir + ": not a regular file"},
		{"bad config", []string{"unify", "--dedibox", d, "--scaleway", s, "--config", filepath.Join(dir, "nope.yaml")}, "config: "},
		{"verify positional", []string{"unify", "verify", "x"}, "unigate: unify verify: unexpected argument"},
		{"unknown flag", []string{"unify", "--dedibox", d, "--scaleway", s, "--force"}, "unigate: unify: flag provided but not defined: -force"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.name != "bad config" {
				args = append(args, "--config", cfg)
			}
			r := runUnigate(t, nil, "", args...)
			if r.code != 2 || !strings.HasPrefix(r.stderr, tt.stderr) {
				t.Errorf("%q:\n%v\nwant exit 2, stderr starting %q", args, r, tt.stderr)
			}
		})
	}
	if r := runUnigate(t, nil, "", "unify", "-h"); r.code != 0 || !strings.Contains(r.stdout, "-dry-run") {
		t.Errorf("unify -h:\n%v", r)
	}
	if r := runUnigate(t, nil, "", "unify", "verify", "-h"); r.code != 0 || !strings.Contains(r.stdout, "usage: unigate unify verify") {
		t.Errorf("unify verify -h:\n%v", r)
	}
}

// TestUnifyCommandPrintsRejectedLines (CONTRACT §8, issue 15): without
// --report, a run prints every rejected line on stderr as FILE:LINE:
// REASON, the first 100, then one line with how many more, so that the
// operator can tell which lines to fix.
func TestUnifyCommandPrintsRejectedLines(t *testing.T) {
	dir := t.TempDir()
	cfg := mustConfig(t, dir, "")
	d, s, exp := writeGenerated(t, dir, unifygen.Options{Dedibox: 150, Scaleway: 60, Malformed: 103, Seed: 9})
	if len(exp.Rejected) != 103 {
		t.Fatalf("the generator made %d rejected lines, want 103", len(exp.Rejected))
	}
	r := runUnigate(t, nil, "", "unify", "--dedibox", d, "--scaleway", s, "--config", cfg)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1:\n%v", r.code, r)
	}
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if len(lines) != 102 {
		t.Fatalf("stderr has %d lines, want 100 rejected lines, the count of the rest and the error:\n%s", len(lines), r.stderr)
	}
	for i, line := range lines[:100] {
		want := exp.Rejected[i]
		file := d
		if want.File == "scaleway" {
			file = s
		}
		prefix := fmt.Sprintf("%s:%d: ", file, want.Line)
		if !strings.HasPrefix(line, prefix) || len(line) == len(prefix) {
			t.Errorf("stderr line %d = %q, want %q and a reason", i+1, line, prefix+"…")
		}
	}
	if got, want := lines[100], "… and 3 more rejected lines"; got != want {
		t.Errorf("line 101 = %q, want %q", got, want)
	}
	if got, want := lines[101], "unigate: unify: 103 lines rejected, not imported (the rest is)"; got != want {
		t.Errorf("last line = %q, want %q", got, want)
	}
}

// TestUnifyAnnounceCommand: a dry run creates nothing, a run queues one
// announcement per future unified account and writes the report of CONTRACT
// §8 (announcements_queued in place of notifications_queued), a re-run
// queues none, a bad date is a usage error.
func TestUnifyAnnounceCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := mustConfig(t, dir, "login:\n  legacy_login_cutoff: \"2025-10-28\"\n")
	d, s, exp := writeGenerated(t, dir, unifygen.Options{Dedibox: 60, Scaleway: 40, Seed: 7})
	db := filepath.Join(dir, "accounts.db")
	report := filepath.Join(dir, "report.json")
	args := []string{"unify", "announce", "--dedibox", d, "--scaleway", s, "--config", cfg, "--report", report, "--date", "2026-03-01"}

	if r := runUnigate(t, nil, "", append(args, "--date", "March")...); r.code != 2 {
		t.Errorf("bad date: exit %d, want 2\n%v", r.code, r)
	}
	r := runUnigate(t, nil, "", append(args, "--dry-run")...)
	if r.code != 0 || !strings.Contains(r.stdout, "(dry run, nothing queued)") {
		t.Fatalf("dry run:\n%v", r)
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dry run created the store: %v", err)
	}
	_, raw := readReport(t, report)
	if _, ok := raw["notifications_queued"]; ok || len(raw) != 7 || raw["announcements_queued"] != float64(exp.UnifiedAccounts) {
		t.Errorf("dry run report %v, want 7 members with announcements_queued %d", raw, exp.UnifiedAccounts)
	}
	for i, want := range []int{exp.UnifiedAccounts, 0} {
		r := runUnigate(t, nil, "", args...)
		if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("announcements queued: %d", want)) {
			t.Fatalf("run %d:\n%v", i+1, r)
		}
		_, raw := readReport(t, report)
		if raw["announcements_queued"] != float64(want) {
			t.Errorf("run %d: announcements_queued %v, want %d", i+1, raw["announcements_queued"], want)
		}
	}
}
