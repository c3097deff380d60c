package mfa

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"image/png"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters: those every authenticator app understands (RFC 6238
// defaults, the Google Authenticator key URI format), with a 160-bit secret
// (RFC 4226 §4 recommends 160 bits).
const (
	TOTPDigits     = 6
	TOTPPeriod     = 30 * time.Second
	totpSecretSize = 20 // bytes
	// TOTPSkew is how many steps either side of now a code is accepted for:
	// one step absorbs clock drift and typing time (RFC 6238 §5.2, "at most
	// one time step"). Replays inside the window are the store's job
	// (accounts.MFAStore.UseTOTPStep).
	TOTPSkew = 1
	// qrSize is the side of the enrollment QR code in pixels.
	qrSize = 200
)

var totpOpts = totp.ValidateOpts{
	Period:    uint(TOTPPeriod / time.Second),
	Digits:    otp.DigitsSix,
	Algorithm: otp.AlgorithmSHA1,
}

// GenerateTOTP draws a new secret (crypto/rand) for accountName (the email)
// at issuer and returns it in base32 (for manual entry), as an otpauth:// URI,
// and as that URI's QR code: a PNG in a data: URI for an <img> tag.
// The secret must be sealed before it is stored, and is confirmed by a first
// code before it counts as a factor.
func GenerateTOTP(issuer, accountName string) (secret, uri, pngDataURI string, err error) {
	if strings.Contains(issuer, ":") {
		// The key URI's label is "issuer:account": apps would split it wrongly.
		return "", "", "", errors.New("mfa: TOTP issuer must not contain ':'")
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      issuer,
		AccountName: accountName,
		Period:      totpOpts.Period,
		SecretSize:  totpSecretSize,
		Digits:      totpOpts.Digits,
		Algorithm:   totpOpts.Algorithm,
	})
	if err != nil {
		return "", "", "", fmt.Errorf("mfa: TOTP key: %w", err)
	}
	qr, err := qrDataURI(key)
	if err != nil {
		return "", "", "", err
	}
	return key.Secret(), key.URL(), qr, nil
}

// ParseCode reads a TOTP code as people type or paste it: exactly
// TOTPDigits ASCII digits, which spaces and dashes may separate
// ("123 456", "123-456"), surrounding white space ignored. ErrInvalidCode
// otherwise.
func ParseCode(s string) (string, error) { return parseDigits(s, TOTPDigits) }

// maxCodeInput bounds what the parsers look at: a code with separators is
// never longer.
const maxCodeInput = 64

func parseDigits(s string, n int) (string, error) {
	if len(s) > maxCodeInput {
		return "", fmt.Errorf("%w: too long", ErrInvalidCode)
	}
	digits := make([]byte, 0, n)
	for _, r := range strings.TrimSpace(s) {
		switch {
		case r >= '0' && r <= '9':
			if len(digits) == n {
				return "", fmt.Errorf("%w: more than %d digits", ErrInvalidCode, n)
			}
			digits = append(digits, byte(r))
		case r == ' ' || r == '-' || r == '\u00a0': // no-break space: pasted from a mail
		default:
			return "", fmt.Errorf("%w: unexpected character %q", ErrInvalidCode, r)
		}
	}
	if len(digits) != n {
		return "", fmt.Errorf("%w: want %d digits", ErrInvalidCode, n)
	}
	return string(digits), nil
}

// VerifyTOTP checks code against secret (base32) at now, accepting the time
// steps now−1, now and now+1 (TOTPSkew), and returns the step it matched
// (Unix time / 30 s; the latest when several match). The caller must then
// spend the step with the store's UseTOTPStep and accept the code only if
// that returns true: a code is good once (SECURITY.md family 6).
//
// Every step of the window is computed and compared in constant time
// (crypto/subtle), so the answer's timing says nothing about which step, or
// how many digits, matched.
func VerifyTOTP(secret, code string, now time.Time) (step int64, ok bool) {
	code, err := ParseCode(code)
	if err != nil {
		return 0, false
	}
	period := int64(TOTPPeriod / time.Second)
	current := now.Unix() / period
	if now.Unix() < 0 && now.Unix()%period != 0 {
		current-- // floor, as RFC 6238 counts
	}
	var matched int64
	found := 0
	for s := current - TOTPSkew; s <= current+TOTPSkew; s++ {
		if s < 0 {
			continue
		}
		want, err := totp.GenerateCodeCustom(secret, time.Unix(s*period, 0), totpOpts)
		if err != nil {
			return 0, false // not a base32 secret: nothing can match
		}
		eq := subtle.ConstantTimeCompare([]byte(want), []byte(code))
		matched = constantTimeSelect64(eq, s, matched)
		found |= eq
	}
	if found != 1 {
		return 0, false
	}
	return matched, true
}

// constantTimeSelect64 returns x if v == 1 and y if v == 0, without a branch.
func constantTimeSelect64(v int, x, y int64) int64 {
	mask := -int64(v) // all ones or all zeros
	return (x & mask) | (y &^ mask)
}

// TOTPKey rebuilds the otpauth:// URI and QR code of an existing secret, so
// that a set-up page shown again keeps the secret the user already scanned.
func TOTPKey(issuer, accountName, secret string) (uri, pngDataURI string, err error) {
	v := url.Values{}
	v.Set("secret", secret)
	v.Set("issuer", issuer)
	v.Set("period", strconv.Itoa(int(totpOpts.Period)))
	v.Set("digits", totpOpts.Digits.String())
	v.Set("algorithm", totpOpts.Algorithm.String())
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + issuer + ":" + accountName, RawQuery: v.Encode()}
	key, err := otp.NewKeyFromURL(u.String())
	if err != nil {
		return "", "", fmt.Errorf("mfa: TOTP key: %w", err)
	}
	qr, err := qrDataURI(key)
	if err != nil {
		return "", "", err
	}
	return key.URL(), qr, nil
}

// qrDataURI is key's otpauth:// URI as a QR code: a PNG in a data: URI for
// an <img> tag.
func qrDataURI(key *otp.Key) (string, error) {
	img, err := key.Image(qrSize, qrSize)
	if err != nil {
		return "", fmt.Errorf("mfa: TOTP QR code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return "", fmt.Errorf("mfa: TOTP QR code: %w", err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}
