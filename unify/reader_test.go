package unify

import (
	"io"
	"strings"
	"testing"
)

func TestLineReader(t *testing.T) {
	long := strings.Repeat("x", MaxLineBytes+1)
	limit := strings.Repeat("y", MaxLineBytes)
	tests := []struct {
		name, in string
		want     []string // "<too long>" for a refused line
	}{
		{"empty file", "", nil},
		{"one line", "a\n", []string{"a"}},
		{"no final newline", "a\nb", []string{"a", "b"}},
		{"blank lines are lines", "a\n\n\nb\n", []string{"a", "", "", "b"}},
		{"CR kept", "a\r\nb\r\n", []string{"a\r", "b\r"}},
		{"BOM dropped on line 1 only", "\xEF\xBB\xBFa\n\xEF\xBB\xBFb\n", []string{"a", "\xEF\xBB\xBFb"}},
		{"at the limit", limit + "\nz\n", []string{limit, "z"}},
		{"at the limit, last", limit, []string{limit}},
		{"over the limit, skipped", "a\n" + long + "\nb\n", []string{"a", "<too long>", "b"}},
		{"over the limit, last", "a\n" + long, []string{"a", "<too long>"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lr := newLineReader(strings.NewReader(tc.in))
			var got []string
			for {
				l, err := lr.next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if l.num != len(got)+1 {
					t.Errorf("line number %d, want %d", l.num, len(got)+1)
				}
				if l.tooLong {
					got = append(got, "<too long>")
					continue
				}
				if tc.in[l.off:l.off+int64(len(l.data))] != string(l.data) {
					t.Errorf("line %d: offset %d does not point at it", l.num, l.off)
				}
				got = append(got, string(l.data))
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d lines, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("line %d = %.40q…, want %.40q…", i+1, got[i], tc.want[i])
				}
			}
		})
	}
}
