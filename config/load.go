package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads the configuration file at path and returns it ready to use:
// decoded strictly (unknown keys are refused, with their path and line),
// overridden by UNIGATE_* environment variables (see applyEnv), completed
// with the documented defaults and validated.
//
// Every override is looked up with getenv. Catching a misspelt variable
// needs the list of names, which a getenv function cannot give: Load takes
// the names from os.Environ() and counts one as set only when getenv also
// returns it, so a test's getenv stays in control. LoadEnviron is the
// hermetic form.
//
// The error is a Problems listing everything found, or a plain error when
// the file cannot be read.
func Load(path string, getenv func(string) string) (*Config, error) {
	return load(path, getenv, os.Environ())
}

// LoadEnviron is Load with the environment given as "NAME=value" pairs (the
// form of os.Environ) instead of the process's.
func LoadEnviron(path string, environ []string) (*Config, error) {
	vars := make(map[string]string, len(environ))
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		vars[name] = value
	}
	return load(path, func(name string) string { return vars[name] }, environ)
}

func load(path string, getenv func(string) string, environ []string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return parse(path, data, getenv, environ)
}

// parse is Load once the file is read: decode, override, default, validate.
// A file whose shape is wrong (unknown key, wrong type) stops at the decode:
// validating half a file would report problems that are only echoes.
func parse(name string, data []byte, getenv func(string) string, environ []string) (*Config, error) {
	cfg, ps := decode(name, data)
	if len(ps) > 0 {
		return nil, ps
	}
	ps = applyEnv(cfg, getenv, environ)
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		var vps Problems
		if !errors.As(err, &vps) {
			return nil, err
		}
		ps = append(ps, vps...)
	}
	if len(ps) > 0 {
		return nil, ps
	}
	return cfg, nil
}

// decode reads one YAML document into a Config with unknown keys refused.
// yaml.v3's own errors name the Go type, not the key; when decoding fails the
// document is walked again beside the Config type (checkShape) to say which
// key is wrong, on which line.
func decode(name string, data []byte) (*Config, Problems) {
	var ps Problems
	cfg := new(Config)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(cfg)
	switch {
	case errors.Is(err, io.EOF):
		// An empty file: Validate will say what is missing.
		return cfg, nil
	case err == nil:
		var next yaml.Node
		switch err := dec.Decode(&next); {
		case errors.Is(err, io.EOF):
			return cfg, nil
		case err == nil:
			ps.add("", "%s: more than one YAML document; want exactly one", name)
		default:
			ps.add("", "%s: %v", name, err)
		}
		return nil, ps
	}
	var root yaml.Node
	if perr := yaml.Unmarshal(data, &root); perr != nil {
		ps.add("", "%s: %v", name, perr)
		return nil, ps
	}
	ps = checkShape(&root)
	if len(ps) == 0 {
		ps.add("", "%s: %v", name, err)
	}
	return nil, ps
}
