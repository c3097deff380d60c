package accounts

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// argonParams are the argon2id parameters a hash was made with.
type argonParams struct {
	memory  uint32 // KiB
	time    uint32 // passes
	threads uint8
	saltLen int // bytes
	keyLen  int // bytes
}

// owaspParams: OWASP Password Storage Cheat Sheet, argon2id, m=19 MiB, t=2,
// p=1 (ASVS V11.4.2), with a 16-byte salt and a 32-byte key (RFC 9106 §4).
var owaspParams = argonParams{memory: 19456, time: 2, threads: 1, saltLen: 16, keyLen: 32}

// Bounds on the parameters of a hash Verify will compute. A stored hash is
// data, possibly imported from a file, and its parameters set the work: without
// bounds one line with m=4 TiB or t=2^32 takes the process down (the hash is a
// DoS payload). The limits admit every preset in common use, the strongest
// being libsodium's SENSITIVE (1 GiB, t=4); with the Hasher's slots that makes
// at most maxConcurrent GiB and a few seconds per verification in the worst
// case. RFC 9106's first option (2 GiB) is refused: no web login uses it.
const (
	argonMaxMemoryKiB     = 1 << 20 // 1 GiB
	argonMaxTime          = 16
	argonMaxWorkKiBPasses = 4 << 20 // memory × time, 1 GiB × 4
	argonMaxThreads       = 16
	argonMinSaltLen       = 8 // RFC 9106 §3.1
	argonMaxSaltLen       = 64
	argonMinKeyLen        = 16 // 128 bits: a false match stays out of reach
	argonMaxKeyLen        = 64
	argonVersion          = 0x13 // v=19, the only version x/crypto/argon2 computes
)

// bcrypt costs outside [bcryptMinCost, bcryptMaxCost] are refused: below 4 is
// not bcrypt, and each step doubles the work, 2^16 rounds being seconds of CPU
// already (legacy hashes use 10 to 14).
const (
	bcryptMinCost = 4
	bcryptMaxCost = 16
	bcryptHashLen = 60 // "$2a$" + 2-digit cost + "$" + 22 salt + 31 hash
)

// phcB64 is the PHC string format's base64: standard alphabet, no padding;
// Strict refuses non-zero trailing bits, so each hash has one spelling.
var phcB64 = base64.RawStdEncoding.Strict()

// argon2Hash is a parsed argon2id PHC string.
type argon2Hash struct {
	params argonParams
	salt   []byte
	key    []byte
}

// bcryptHash is a validated bcrypt hash, with $2y$ rewritten as $2a$ (the same
// algorithm; PHP's name for the fixed $2a$).
type bcryptHash struct {
	encoded []byte
}

// parseHash recognises and validates a stored hash without computing anything.
func parseHash(s string) (any, error) {
	switch {
	case strings.HasPrefix(s, "$argon2id$"):
		return parseArgon2(s)
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		return parseBcrypt(s)
	case s == "":
		return nil, fmt.Errorf("%w: empty", ErrInvalidHash)
	default:
		return nil, fmt.Errorf("%w: unknown scheme", ErrInvalidHash)
	}
}

// encodeArgon2 writes $argon2id$v=19$m=…,t=…,p=…$salt$key.
func encodeArgon2(p argonParams, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argonVersion, p.memory, p.time, p.threads,
		phcB64.EncodeToString(salt), phcB64.EncodeToString(key))
}

// parseArgon2 accepts exactly the form encodeArgon2 writes (which is what
// every argon2 library writes), with any parameters inside the bounds.
func parseArgon2(s string) (argon2Hash, error) {
	var h argon2Hash
	fields := strings.Split(s, "$")
	if len(fields) != 6 || fields[0] != "" || fields[1] != "argon2id" {
		return h, invalidHash("argon2id: want $argon2id$v=..$m=..,t=..,p=..$salt$hash")
	}
	v, ok := strings.CutPrefix(fields[2], "v=")
	if !ok {
		return h, invalidHash("argon2id: missing version")
	}
	if n, err := phcDecimal(v, 255); err != nil || n != argonVersion {
		return h, invalidHash("argon2id: unsupported version")
	}
	var err error
	if h.params, err = parseArgonParams(fields[3]); err != nil {
		return h, err
	}
	if h.salt, err = phcB64.DecodeString(fields[4]); err != nil {
		return h, invalidHash("argon2id: salt is not base64")
	}
	if h.key, err = phcB64.DecodeString(fields[5]); err != nil {
		return h, invalidHash("argon2id: hash is not base64")
	}
	h.params.saltLen, h.params.keyLen = len(h.salt), len(h.key)
	if h.params.saltLen < argonMinSaltLen || h.params.saltLen > argonMaxSaltLen {
		return h, invalidHash("argon2id: salt length out of bounds")
	}
	if h.params.keyLen < argonMinKeyLen || h.params.keyLen > argonMaxKeyLen {
		return h, invalidHash("argon2id: hash length out of bounds")
	}
	return h, nil
}

// parseArgonParams reads "m=…,t=…,p=…" in that order and checks the bounds.
func parseArgonParams(s string) (argonParams, error) {
	var p argonParams
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return p, invalidHash("argon2id: want m=..,t=..,p=..")
	}
	var vals [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		digits, ok := strings.CutPrefix(parts[i], name)
		if !ok {
			return p, invalidHash("argon2id: want m=..,t=..,p=..")
		}
		n, err := phcDecimal(digits, 1<<32-1)
		if err != nil {
			return p, invalidHash("argon2id: bad " + name[:1])
		}
		vals[i] = n
	}
	m, t, threads := vals[0], vals[1], vals[2]
	switch {
	case threads < 1 || threads > argonMaxThreads:
		return p, invalidHash("argon2id: p out of bounds")
	case m < 8*threads || m > argonMaxMemoryKiB:
		return p, invalidHash("argon2id: m out of bounds")
	case t < 1 || t > argonMaxTime || m*t > argonMaxWorkKiBPasses:
		return p, invalidHash("argon2id: t out of bounds")
	}
	p.memory, p.time, p.threads = uint32(m), uint32(t), uint8(threads)
	return p, nil
}

// phcDecimal parses a PHC decimal: digits only, no sign, no leading zero.
func phcDecimal(s string, limit uint64) (uint64, error) {
	if s == "" || len(s) > 10 || (len(s) > 1 && s[0] == '0') {
		return 0, strconv.ErrSyntax
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, strconv.ErrSyntax
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > limit {
		return 0, strconv.ErrRange
	}
	return n, nil
}

// parseBcrypt checks the modular crypt format of bcrypt: $2x$NN$ then 53
// characters of bcrypt's base64 alphabet.
func parseBcrypt(s string) (bcryptHash, error) {
	if len(s) != bcryptHashLen || s[6] != '$' {
		return bcryptHash{}, invalidHash("bcrypt: want $2b$NN$ and 53 characters")
	}
	if !isDigit(s[4]) || !isDigit(s[5]) {
		return bcryptHash{}, invalidHash("bcrypt: bad cost")
	}
	// The cost is always two digits: "04" … "31".
	if cost := int(s[4]-'0')*10 + int(s[5]-'0'); cost < bcryptMinCost || cost > bcryptMaxCost {
		return bcryptHash{}, invalidHash("bcrypt: cost out of bounds")
	}
	for i := 7; i < len(s); i++ {
		if !isBcryptB64(s[i]) {
			return bcryptHash{}, invalidHash("bcrypt: not bcrypt base64")
		}
	}
	b := []byte(s)
	if b[2] == 'y' {
		b[2] = 'a'
	}
	return bcryptHash{encoded: b}, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isBcryptB64(c byte) bool {
	return c == '.' || c == '/' || ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9')
}

func invalidHash(reason string) error {
	return fmt.Errorf("%w: %s", ErrInvalidHash, reason)
}
