package config

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// envPrefix starts every environment override (CONTRACT §2).
const envPrefix = "UNIGATE_"

// applyEnv overrides leaves of cfg from the environment. Each leaf key has
// one variable: "UNIGATE_" + its path upper-cased, with "_" between the
// levels and the index of a list entry as a level of its own:
//
//	session.redis.url         UNIGATE_SESSION_REDIS_URL
//	consoles[0].upstream      UNIGATE_CONSOLES_0_UPSTREAM
//	trusted_proxies           UNIGATE_TRUSTED_PROXIES='["10.0.0.0/8"]'
//
// Names are built from the struct, never by splitting the variable, because
// keys hold underscores themselves (public_url). Entries of a list of
// mappings (consoles) can be changed, not added. An empty variable counts as
// unset (os.Getenv cannot tell them apart); a string value is taken
// literally unless it starts with a quote, when it is read as a YAML quoted
// string (UNIGATE_METRICS_LISTEN='""' turns metrics off). Other values are
// read as YAML into the key's type: 30m, true, [a, b].
//
// A set UNIGATE_* variable that names no key is a problem: a misspelt
// override would otherwise be silently ignored. UNIGATE_TEST_* and
// UNIGATE_REQUIRE_SERVICES belong to the test suites and are let be.
func applyEnv(cfg *Config, getenv func(string) string, environ []string) Problems {
	var ps Problems
	known := make(map[string]bool)
	walkLeaves(reflect.ValueOf(cfg).Elem(), "", strings.TrimSuffix(envPrefix, "_"), func(v reflect.Value, key, name string) {
		known[name] = true
		raw := getenv(name)
		if raw == "" {
			return
		}
		if err := setFromEnv(v, raw); err != nil {
			ps.add(key, "%s: %v", name, err)
		}
	})

	var unknown []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, envPrefix) && !known[name] && !ignoredEnv(name) && getenv(name) != "" {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	unknown = slices.Compact(unknown)
	lists := structLists(reflect.ValueOf(cfg).Elem(), strings.TrimSuffix(envPrefix, "_"))
	for _, name := range unknown {
		ps.add(name, "%s", unknownEnvMsg(name, known, lists))
	}
	return ps
}

// ignoredEnv reports the UNIGATE_ variables that are not configuration.
func ignoredEnv(name string) bool {
	return strings.HasPrefix(name, "UNIGATE_TEST_") || name == "UNIGATE_REQUIRE_SERVICES"
}

// walkLeaves calls fn for every leaf of the struct v (a scalar, or a list of
// scalars), with its key path and its variable name.
func walkLeaves(v reflect.Value, key, name string, fn func(v reflect.Value, key, name string)) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		k, ok := yamlKey(f)
		if !ok {
			continue
		}
		fv, fk, fn2 := v.Field(i), joinKey(key, k), name+"_"+strings.ToUpper(k)
		switch {
		case f.Type.Kind() == reflect.Struct:
			walkLeaves(fv, fk, fn2, fn)
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			for j := range fv.Len() {
				walkLeaves(fv.Index(j), fmt.Sprintf("%s[%d]", fk, j), fn2+"_"+strconv.Itoa(j), fn)
			}
		default:
			fn(fv, fk, fn2)
		}
	}
}

// structLists maps the variable prefix of every list of mappings (e.g.
// "UNIGATE_CONSOLES") to its key path and length, to explain an override of
// an entry the file does not have.
func structLists(v reflect.Value, name string) map[string]listInfo {
	m := make(map[string]listInfo)
	var walk func(v reflect.Value, key, name string)
	walk = func(v reflect.Value, key, name string) {
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			k, ok := yamlKey(f)
			if !ok {
				continue
			}
			fk, fn := joinKey(key, k), name+"_"+strings.ToUpper(k)
			switch {
			case f.Type.Kind() == reflect.Struct:
				walk(v.Field(i), fk, fn)
			case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
				m[fn] = listInfo{key: fk, len: v.Field(i).Len()}
			}
		}
	}
	walk(v, "", name)
	return m
}

type listInfo struct {
	key string
	len int
}

// unknownEnvMsg explains why name is no override, with a likely fix.
func unknownEnvMsg(name string, known map[string]bool, lists map[string]listInfo) string {
	for prefix, l := range lists {
		rest, ok := strings.CutPrefix(name, prefix+"_")
		if !ok {
			continue
		}
		digits, _, _ := strings.Cut(rest, "_")
		if i, err := strconv.Atoi(digits); err == nil && i >= l.len {
			return fmt.Sprintf("environment variable names entry %d of %s, which has %d; the environment can change entries, not add them", i, l.key, l.len)
		}
	}
	msg := "environment variable names no configuration key"
	names := make([]string, 0, len(known))
	for k := range known {
		names = append(names, k)
	}
	if s := suggest(name, names); s != "" {
		msg += fmt.Sprintf("; did you mean %s?", s)
	}
	return msg
}

// setFromEnv parses raw into v's type and stores it (see applyEnv).
func setFromEnv(v reflect.Value, raw string) error {
	if v.Kind() == reflect.String && !strings.HasPrefix(raw, `"`) && !strings.HasPrefix(raw, "'") {
		v.SetString(raw)
		return nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(raw), &doc); err != nil || len(doc.Content) == 0 {
		return fmt.Errorf("want %s, got %q", typeDesc(v.Type()), raw)
	}
	p := reflect.New(v.Type())
	if err := doc.Content[0].Decode(p.Interface()); err != nil {
		return fmt.Errorf("want %s, got %q", typeDesc(v.Type()), raw)
	}
	v.Set(p.Elem())
	return nil
}
