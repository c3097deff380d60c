package unifygen

import (
	"bufio"
	"bytes"
	"encoding/json"
	"testing"
)

// TestDeterministic: the same options, the same files; another seed, others.
func TestDeterministic(t *testing.T) {
	gen := func(seed uint64) (string, string, *Expected) {
		var d, s bytes.Buffer
		exp, err := Generate(&d, &s, Options{Dedibox: 300, Scaleway: 200, Malformed: 13, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		return d.String(), s.String(), exp
	}
	d1, s1, e1 := gen(1)
	d2, s2, e2 := gen(1)
	if d1 != d2 || s1 != s2 || len(e1.Rejected) != len(e2.Rejected) {
		t.Errorf("two runs with one seed differ")
	}
	if d3, _, _ := gen(2); d3 == d1 {
		t.Errorf("another seed gave the same file")
	}
}

// TestCounts: exactly the records asked for, every situation present,
// the refused lines where the expectation says, every other line a JSON
// object.
func TestCounts(t *testing.T) {
	var d, s bytes.Buffer
	exp, err := Generate(&d, &s, Options{Dedibox: 2000, Scaleway: 1200, Malformed: 26, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if exp.DediboxRecords != 2000 || exp.ScalewayRecords != 1200 || len(exp.Rejected) != 26 {
		t.Fatalf("expected %+v", exp)
	}
	sit := exp.Situations
	if sit.ScalewayAccount == 0 || sit.NoScalewayAccount == 0 || sit.SMSMFADisabled == 0 || sit.MultipleDediboxAccounts == 0 || exp.Prelinked == 0 {
		t.Errorf("a situation is missing: %+v", exp)
	}
	bad := map[string]map[int]bool{"dedibox": {}, "scaleway": {}}
	for _, r := range exp.Rejected {
		bad[r.File][r.Line] = true
	}
	for name, buf := range map[string]*bytes.Buffer{"dedibox": &d, "scaleway": &s} {
		sc := bufio.NewScanner(buf)
		sc.Buffer(nil, 1<<20)
		n, valid := 0, 0
		for sc.Scan() {
			n++
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err == nil && !bad[name][n] {
				valid++
			}
		}
		want := exp.DediboxRecords
		if name == "scaleway" {
			want = exp.ScalewayRecords
		}
		if valid != want || n != want+len(bad[name]) {
			t.Errorf("%s: %d lines, %d JSON objects outside the refused ones; want %d records and %d refused", name, n, valid, want, len(bad[name]))
		}
	}
}
