package unify

import (
	"testing"
	"unsafe"
)

// TestEntrySizes: the first pass holds one entry per record, the second
// one location: their sizes are the run's memory per record (the README's
// peak RSS rests on them).
func TestEntrySizes(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"dediboxEntry", unsafe.Sizeof(dediboxEntry{}), 80},
		{"scalewayEntry", unsafe.Sizeof(scalewayEntry{}), 64},
		{"location", unsafe.Sizeof(location{}), 24},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d bytes, want %d", c.name, c.got, c.want)
		}
	}
}
