package main

import (
	"context"
	"fmt"
	"net"

	"unigate/config"
)

// serve loads the configuration (exit 2 on any problem, before anything
// starts) and runs the gateway until ctx is cancelled.
func (c *cli) serve(ctx context.Context, args []string) error {
	fs := c.flagSet("serve", "[--config FILE]", "Run the gateway until SIGINT or SIGTERM.")
	path := fs.String("config", defaultConfig, "configuration `FILE`")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	cfg, err := c.loadConfig(*path)
	if err != nil {
		return err
	}
	// SIGHUP loads the same file again, environment overrides included.
	load := func() (*config.Config, error) { return c.loadConfig(*path) }
	if err := runServe(ctx, cfg, load, c.stdout, c.stderr); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// demo runs the embedded demo (CONTRACT §1).
func (c *cli) demo(ctx context.Context, args []string) error {
	fs := c.flagSet("demo", "[--listen ADDR]",
		"Run a self-contained demo: memory sessions, SQLite in a temporary directory, two demo\n"+
			"consoles on dedibox.localhost and scaleway.localhost, the portal on account.localhost,\n"+
			"and a seeded demo account whose email and password are printed.")
	listen := fs.String("listen", "127.0.0.1:8080", "listen `ADDR` (host:port)")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(*listen); err != nil {
		return usageErrorf("demo: --listen: want host:port such as 127.0.0.1:8080, got %q", *listen)
	}
	if err := runDemo(ctx, *listen, c.stdout, c.stderr); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return nil
}
