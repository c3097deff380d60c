package accounts

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckPassword(t *testing.T) {
	cases := []struct {
		pw   string
		want error
	}{
		{"correct horse battery", nil},
		{"short", ErrPasswordTooShort},
		{"ééééééééééé", ErrPasswordTooShort}, // 11 characters, 22 bytes: counted in characters
		{"ééééééééééééé", nil},
		{strings.Repeat("x", 257), ErrPasswordTooLong},
		{"password1234", ErrCommonPassword},
		{"QWERTYUIOPASDF", ErrCommonPassword}, // case-insensitive
		{"1234567890123", ErrCommonPassword},
		{"\xff\xfe invalid utf8!", ErrPasswordInvalid},
	}
	for _, tc := range cases {
		if got := CheckPassword(tc.pw, 12); !errors.Is(got, tc.want) {
			t.Errorf("CheckPassword(%q) = %v, want %v", tc.pw, got, tc.want)
		}
	}
	if len(common) < 99_000 {
		t.Errorf("common password list has %d entries", len(common))
	}
}
