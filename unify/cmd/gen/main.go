// Command gen writes realistic Dedibox and Scaleway exports for the account
// unification (package unify/unifygen), and what unifying them must report:
//
//	go run ./unify/cmd/gen --dedibox 1000000 --scaleway 600000 --out DIR [--seed S] [--malformed K]
//
// It writes DIR/dedibox.jsonl, DIR/scaleway.jsonl and DIR/expected.json.
// The same flags always give the same files.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"unigate/unify/unifygen"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(2)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	dedibox := fs.Int("dedibox", 1000, "valid Dedibox `records` to write")
	scaleway := fs.Int("scaleway", 600, "valid Scaleway `records` to write")
	malformed := fs.Int("malformed", 0, "refused `lines` to add, of every kind in turn")
	seed := fs.Uint64("seed", 1, "random `seed`: the same seed, the same files")
	cutoff := fs.String("cutoff", unifygen.DefaultCutoff.Format(time.DateOnly), "legacy_login_cutoff (`YYYY-MM-DD`)")
	out := fs.String("out", "", "output `directory` (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		return fmt.Errorf("usage: gen --dedibox N --scaleway M --out DIR [--seed S] [--malformed K]")
	}
	c, err := time.Parse(time.DateOnly, *cutoff)
	if err != nil {
		return fmt.Errorf("--cutoff: %w", err)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	d, err := os.Create(filepath.Join(*out, "dedibox.jsonl"))
	if err != nil {
		return err
	}
	defer d.Close()
	s, err := os.Create(filepath.Join(*out, "scaleway.jsonl"))
	if err != nil {
		return err
	}
	defer s.Close()
	exp, err := unifygen.Generate(d, s, unifygen.Options{
		Dedibox: *dedibox, Scaleway: *scaleway, Malformed: *malformed, Seed: *seed, Cutoff: c,
	})
	if err != nil {
		return err
	}
	if err := d.Close(); err != nil {
		return err
	}
	if err := s.Close(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(exp, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(*out, "expected.json"), append(b, '\n'), 0o644)
}
