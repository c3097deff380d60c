// Package deploy holds what operators deploy next to unigate: Prometheus
// alerting rules (prometheus/, checked by promtool in .ci/run) and a Grafana
// dashboard (grafana/). This test keeps both on the metrics the contract
// names, so that a renamed metric cannot leave an alert that never fires or
// a panel that stays empty.
package deploy

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// contractMetrics are the metrics of CONTRACT §7 and §12.
var contractMetrics = []string{
	"unigate_proxy_requests_total",
	"unigate_proxy_request_duration_seconds",
	"unigate_login_attempts_total",
	"unigate_sessions_created_total",
	"unigate_sessions_revoked_total",
	"unigate_session_store_errors_total",
	"unigate_unauthenticated_requests_total",
	"unigate_outbox_pending",
	"unigate_mail_sent_total",
	"unigate_step_up_required_total",
	"unigate_forward_auth_requests_total",
	"unigate_config_reloads_total",
	"unigate_config_last_reload_success_timestamp_seconds",
}

// otherMetrics are not unigate's own: Prometheus's scrape health, the
// blackbox_exporter probe of /readyz, the Go and process collectors.
var otherMetrics = []string{
	"up", "probe_success",
	"process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
	"go_goroutines", "go_memstats_heap_inuse_bytes",
}

// What metricsOf strips before looking for names: strings, label matchers,
// ranges and the label lists of by/without/on/ignoring/group_*.
var (
	notNames = regexp.MustCompile(`"[^"]*"|\{[^}]*\}|\[[^\]]*\]|\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	ident    = regexp.MustCompile(`\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?`)
	keywords = []string{"and", "or", "unless", "offset", "bool"}
)

// metricsOf returns the names of the series a PromQL expression selects:
// the identifiers left once strings, matchers, ranges and label lists are
// gone that are neither a function call nor a keyword.
func metricsOf(expr string) []string {
	var out []string
	for _, m := range ident.FindAllStringSubmatch(notNames.ReplaceAllString(expr, " "), -1) {
		if m[2] != "" || slices.Contains(keywords, m[1]) {
			continue // a function call or a keyword
		}
		out = append(out, strings.TrimSuffix(m[1], "_bucket"))
	}
	return out
}

func known(name string) bool {
	return slices.Contains(contractMetrics, name) || slices.Contains(otherMetrics, name)
}

func TestRulesUseContractMetrics(t *testing.T) {
	data, err := os.ReadFile("prometheus/rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	alerts := map[string]bool{}
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			alerts[r.Alert] = true
			names := metricsOf(r.Expr)
			if len(names) == 0 {
				t.Errorf("alert %s: no metric found in %q", r.Alert, r.Expr)
			}
			for _, n := range names {
				if !known(n) {
					t.Errorf("alert %s uses %s, which is no metric of the contract", r.Alert, n)
				}
			}
		}
	}
	// The alerts issue 14 asks for.
	for _, want := range []string{
		"UnigateSessionStoreErrors", "UnigateNotReady", "UnigateConsole5xxRatio", "UnigateLoginFailureSpike",
		"UnigateLockouts", "UnigateOutboxBacklog", "UnigateConfigReloadFailed",
	} {
		if !alerts[want] {
			t.Errorf("rules.yml has no alert %s", want)
		}
	}
}

func TestDashboardShowsContractMetrics(t *testing.T) {
	data, err := os.ReadFile("grafana/unigate.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			ID         int    `json:"id"`
			Type       string `json:"type"`
			Title      string `json:"title"`
			Datasource *struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("unigate.json: %v", err)
	}
	if dash.UID == "" {
		t.Error("the dashboard has no uid: every import would make a copy")
	}
	shown := map[string]bool{}
	ids := map[int]bool{}
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q does not use the $datasource variable", p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			for _, n := range metricsOf(q.Expr) {
				if !known(n) {
					t.Errorf("panel %q uses %s, which is no metric of the contract", p.Title, n)
				}
				shown[n] = true
			}
		}
	}
	var missing []string
	for _, m := range contractMetrics {
		if !shown[m] {
			missing = append(missing, m)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("no panel shows %v", missing)
	}
}
