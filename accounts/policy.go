package accounts

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"errors"
	"strings"
	"sync"
	"unicode/utf8"
)

// Password policy errors (NIST SP 800-63B §3.1.1.2, ASVS V6.2): a minimum
// length, at most MaxPasswordBytes, never truncated, not a common password,
// and no composition rules.
var (
	ErrPasswordTooShort = errors.New("accounts: password too short")
	ErrCommonPassword   = errors.New("accounts: password is too common")
	ErrPasswordInvalid  = errors.New("accounts: password is not valid UTF-8")
)

//go:embed data/common-passwords.txt.gz
var commonPasswordsGz []byte

var (
	commonOnce sync.Once
	common     map[string]struct{}
)

// loadCommon reads the embedded list once, on first use.
func loadCommon() {
	common = make(map[string]struct{}, 100_000)
	zr, err := gzip.NewReader(bytes.NewReader(commonPasswordsGz))
	if err != nil {
		panic("accounts: embedded password list: " + err.Error()) // the build embeds a good file
	}
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		if line := sc.Text(); line != "" {
			common[line] = struct{}{}
		}
	}
}

// CheckPassword applies the password policy: at least minLength characters,
// at most MaxPasswordBytes bytes, valid UTF-8, and not one of the 100,000
// most common passwords (compared case-insensitively).
func CheckPassword(pw string, minLength int) error {
	switch {
	case !utf8.ValidString(pw):
		return ErrPasswordInvalid
	case utf8.RuneCountInString(pw) < minLength:
		return ErrPasswordTooShort
	case len(pw) > MaxPasswordBytes:
		return ErrPasswordTooLong
	}
	commonOnce.Do(loadCommon)
	if _, ok := common[strings.ToLower(pw)]; ok {
		return ErrCommonPassword
	}
	return nil
}
