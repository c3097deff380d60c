package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set at build time: go build -ldflags "-X main.version=1.2.3".
var version = "dev"

// version prints the version and what the binary knows of its build.
func (c *cli) version(args []string) error {
	fs := c.flagSet("version", "", "Print version and build information.")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	info, ok := debug.ReadBuildInfo()
	v := version
	if v == "dev" && ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		v = info.Main.Version // installed with go install …@version
	}
	fmt.Fprintf(c.stdout, "unigate %s\n", v)
	fmt.Fprintf(c.stdout, "go: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if !ok {
		return nil
	}
	fmt.Fprintf(c.stdout, "module: %s %s\n", info.Main.Path, info.Main.Version)
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision", "vcs.time", "vcs.modified":
			fmt.Fprintf(c.stdout, "%s: %s\n", s.Key, s.Value)
		}
	}
	return nil
}
