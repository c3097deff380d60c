package gateway

import (
	"encoding/json"
	"io"
	"iter"
	"strings"
)

func jsonDecoder(r io.Reader) *json.Decoder { return json.NewDecoder(r) }

// splitComma yields the trimmed, non-empty parts of a comma-separated header value.
func splitComma(v string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for part := range strings.SplitSeq(v, ",") {
			part = strings.TrimSpace(part)
			if part != "" && !yield(part) {
				return
			}
		}
	}
}
