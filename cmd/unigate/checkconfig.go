package main

import (
	"fmt"

	"unigate/config"
)

// checkConfig validates the configuration as serve would load it,
// environment overrides included, and lists every problem.
func (c *cli) checkConfig(args []string) error {
	fs := c.flagSet("check-config", "[--config FILE]",
		"Validate the configuration file, with its UNIGATE_* environment overrides applied.\n"+
			"Exit 0, or exit 2 printing one \"config: <key>: <problem>\" line per problem.")
	path := fs.String("config", defaultConfig, "configuration `FILE`")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if _, err := c.loadConfig(*path); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, "config OK")
	return nil
}

// loadConfig loads and validates the configuration file; its problems are
// a configError (exit 2).
func (c *cli) loadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path, c.getenv)
	if err != nil {
		return nil, &configError{err: err}
	}
	return cfg, nil
}
