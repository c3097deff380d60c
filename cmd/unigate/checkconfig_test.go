package main

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckConfigOK(t *testing.T) {
	path := mustConfig(t, t.TempDir(), "")
	r := runUnigate(t, nil, "", "check-config", "--config", path)
	if r.code != 0 || r.stdout != "config OK\n" || r.stderr != "" {
		t.Errorf("check-config:\n%v\nwant exit 0 and \"config OK\"", r)
	}
}

func TestCheckConfigProblems(t *testing.T) {
	path := mustConfig(t, t.TempDir(), "log:\n  level: loud\n")
	r := runUnigate(t, map[string]string{"UNIGATE_SESSION_HANDOFF_TTL": "2m"}, "", "check-config", "-config", path)
	want := "config: session.handoff_ttl: must be more than 0 and at most 60s, got 2m0s\n" +
		"config: log.level: want debug, info, warn or error, got \"loud\"\n"
	if r.code != 2 || r.stderr != want || r.stdout != "" {
		t.Errorf("check-config:\n%v\nwant exit 2 and stderr\n%s", r, want)
	}
}

func TestCheckConfigUnknownKey(t *testing.T) {
	path := mustConfig(t, t.TempDir(), "sesion:\n  store: memory\n")
	r := runUnigate(t, nil, "", "check-config", "--config", path)
	want := "config: sesion: unknown key (line 17); did you mean \"session\"?\n"
	if r.code != 2 || r.stderr != want {
		t.Errorf("check-config:\n%v\nwant exit 2 and stderr %q", r, want)
	}
}

func TestCheckConfigMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yaml")
	r := runUnigate(t, nil, "", "check-config", "--config", path)
	want := "config: open " + path + ": no such file or directory\n"
	if r.code != 2 || r.stderr != want {
		t.Errorf("check-config:\n%v\nwant exit 2 and stderr %q", r, want)
	}
}

func TestCheckConfigDefaultPath(t *testing.T) {
	t.Chdir(t.TempDir())
	r := runUnigate(t, nil, "", "check-config")
	if r.code != 2 || !strings.Contains(r.stderr, "open config.yaml:") {
		t.Errorf("check-config without --config:\n%v\nwant exit 2 about ./config.yaml", r)
	}
}

func TestServeRefusesBadConfig(t *testing.T) {
	// Config problems stop serve before anything starts.
	path := mustConfig(t, t.TempDir(), "listen: nowhere\n")
	r := runUnigate(t, nil, "", "serve", "--config", path)
	want := "config: listen: want host:port such as 127.0.0.1:8080, got \"nowhere\"\n"
	if r.code != 2 || r.stderr != want {
		t.Errorf("serve:\n%v\nwant exit 2 and stderr %q", r, want)
	}
}
