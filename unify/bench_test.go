package unify

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"testing"

	"unigate/unify/unifygen"
)

// BenchmarkUnify runs a whole unification of generated exports into a fresh
// store per iteration, on each driver. UNIFY_BENCH_RECORDS sets the number
// of Dedibox records (Scaleway: 60% of it; default 20,000). It is not run by
// CI (benchmarks never are); bench/unify.sh runs the real binary on a
// million records.
//
//	go test -run X -bench Unify -benchtime 1x ./unify/
func BenchmarkUnify(b *testing.B) {
	n := 20000
	if v := os.Getenv("UNIFY_BENCH_RECORDS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	d, s, exp := generate(b, unifygen.Options{Dedibox: n, Scaleway: n * 6 / 10, Seed: 1})
	for _, driver := range drivers {
		b.Run(driver, func(b *testing.B) {
			opts := testOptions(d, s)
			opts.Workers, opts.BatchSize = 2, 2000 // as `unigate unify` runs
			if driver == "sqlite" {
				opts.BatchSize = 1000
			}
			if v, err := strconv.Atoi(os.Getenv("UNIFY_BENCH_WORKERS")); err == nil {
				opts.Workers = v
			}
			if v, err := strconv.Atoi(os.Getenv("UNIFY_BENCH_BATCH")); err == nil {
				opts.BatchSize = v
			}
			for b.Loop() {
				b.StopTimer()
				st := newTestStore(b, driver)
				b.StartTimer()
				rep, err := Run(context.Background(), st.unify(), opts)
				if err != nil {
					b.Fatal(err)
				}
				if rep.UnifiedAccounts != exp.UnifiedAccounts {
					b.Fatalf("unified %d accounts, want %d", rep.UnifiedAccounts, exp.UnifiedAccounts)
				}
			}
			records := float64(exp.DediboxRecords + exp.ScalewayRecords)
			b.ReportMetric(records*float64(b.N)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkParseLines parses generated lines of both exports, as each pass
// of a run does: its allocations are most of the collector's work.
//
//	go test -run X -bench ParseLines -benchmem ./unify/
func BenchmarkParseLines(b *testing.B) {
	d, s, _ := generate(b, unifygen.Options{Dedibox: 2000, Scaleway: 1200, Seed: 1})
	var lines [2][][]byte
	for i, path := range []string{d, s} {
		data, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		lines[i] = bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range lines[0] {
			ParseDediboxLine(l)
		}
		for _, l := range lines[1] {
			ParseScalewayLine(l)
		}
	}
}
