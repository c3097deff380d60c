package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

var durationType = reflect.TypeFor[time.Duration]()

// maxShapeDepth bounds checkShape's recursion: the Config tree is five levels
// deep, and a merge key ("<<") pointing back at its own mapping must not
// loop.
const maxShapeDepth = 16

// checkShape walks a parsed document beside the Config type and reports every
// unknown key, duplicate key and value of the wrong type, each with its key
// path and line. It only explains: decode has already refused the document.
func checkShape(doc *yaml.Node) Problems {
	var ps Problems
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return ps
	}
	root := doc.Content[0]
	if isNull(root) {
		return ps
	}
	if root.Kind != yaml.MappingNode {
		ps.add("", "the file must be a YAML mapping of keys (line %d)", root.Line)
		return ps
	}
	shapeStruct(root, reflect.TypeFor[Config](), "", &ps, 0)
	return ps
}

// shapeStruct checks a mapping node against a struct type.
func shapeStruct(n *yaml.Node, t reflect.Type, path string, ps *Problems, depth int) {
	if depth > maxShapeDepth {
		return
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		ps.add(path, "want a mapping of keys, got %s (line %d)", nodeDesc(n), n.Line)
		return
	}
	fields := keyedFields(t)
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" {
			// A merge key: the merged mapping(s) belong to this struct too.
			merged := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				merged = v.Content
			}
			for _, m := range merged {
				shapeStruct(m, t, path, ps, depth+1)
			}
			continue
		}
		key := joinKey(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			ps.add(key, "duplicate key (line %d; first at line %d)", k.Line, first)
			continue
		}
		seen[k.Value] = k.Line
		f, ok := fields[k.Value]
		if !ok {
			msg := fmt.Sprintf("unknown key (line %d)", k.Line)
			if s := suggest(k.Value, mapKeys(fields)); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			ps.add(key, "%s", msg)
			continue
		}
		shapeValue(v, f.Type, key, ps, depth+1)
	}
}

// shapeValue checks one value node against a field type.
func shapeValue(n *yaml.Node, t reflect.Type, path string, ps *Problems, depth int) {
	switch {
	case t.Kind() == reflect.Struct:
		shapeStruct(n, t, path, ps, depth)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		if isNull(n) {
			return
		}
		if n.Kind != yaml.SequenceNode {
			ps.add(path, "want a list, got %s (line %d)", nodeDesc(n), n.Line)
			return
		}
		for i, el := range n.Content {
			shapeStruct(el, t.Elem(), fmt.Sprintf("%s[%d]", path, i), ps, depth)
		}
	default:
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			ps.add(path, "want %s, got %s (line %d)", typeDesc(t), nodeDesc(n), n.Line)
		}
	}
}

// keyedFields maps the YAML keys of struct type t to their fields.
func keyedFields(t reflect.Type) map[string]reflect.StructField {
	m := make(map[string]reflect.StructField, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if name, ok := yamlKey(f); ok {
			m[name] = f
		}
	}
	return m
}

// yamlKey is the YAML key of a field, from its tag; unexported and untagged
// fields have none.
func yamlKey(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "" || name == "-" {
		return "", false
	}
	return name, true
}

func mapKeys(m map[string]reflect.StructField) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// typeDesc names what a field of type t accepts, for people.
func typeDesc(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration such as 30s or 15m"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() == reflect.Int:
		return "an integer"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return "a list of strings"
	case t.Kind() == reflect.Slice:
		return "a list"
	case t.Kind() == reflect.Struct:
		return "a mapping of keys"
	}
	return t.String()
}

// nodeDesc names what the document holds, quoting short scalars.
func nodeDesc(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		return fmt.Sprintf("%q", v)
	}
	return "nothing"
}

// suggest returns the candidate closest to s when it is a plausible typo,
// else "": at most 2 edits, and fewer for short words (a third of their
// length) so that "foo" does not suggest "log".
func suggest(s string, candidates []string) string {
	best, bestDist := "", min(2, max(1, len(s)/3))+1
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestDist || (d == bestDist && c < best) {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, bytewise.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
