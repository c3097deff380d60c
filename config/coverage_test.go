package config

import (
	"fmt"
	"os"
	"reflect"
	"testing"

	"go.yaml.in/yaml/v3"
)

func decodeFileForTest(tb testing.TB, path string) (*Config, Problems) {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return decode(path, data)
}

// missingKeys lists the keys of the Config type that the file at path does
// not spell out (in every list entry).
func missingKeys(tb testing.TB, path string) []string {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		tb.Fatal(err)
	}
	var missing []string
	var walk func(n *yaml.Node, t reflect.Type, path string)
	walk = func(n *yaml.Node, t reflect.Type, path string) {
		present := make(map[string]*yaml.Node)
		for i := 0; i+1 < len(n.Content); i += 2 {
			present[n.Content[i].Value] = n.Content[i+1]
		}
		for i := range t.NumField() {
			f := t.Field(i)
			k, ok := yamlKey(f)
			if !ok {
				continue
			}
			v, ok := present[k]
			if !ok {
				missing = append(missing, joinKey(path, k))
				continue
			}
			switch {
			case f.Type.Kind() == reflect.Struct:
				walk(v, f.Type, joinKey(path, k))
			case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
				for j, el := range v.Content {
					walk(el, f.Type.Elem(), fmt.Sprintf("%s[%d]", joinKey(path, k), j))
				}
			}
		}
	}
	walk(doc.Content[0], reflect.TypeFor[Config](), "")
	return missing
}
