package unify

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// The exports are read strictly: a line is one JSON object whose member
// names are matched exactly (encoding/json would also take "ID" or "Email"
// for id and email) and appear once (encoding/json keeps the last of two,
// another reader might keep the first: the same line must not mean two
// things). Unknown members are allowed and kept, in the stored line.

// member is one name/value pair of a JSON object; value is the raw JSON.
type member struct {
	name  string
	value []byte
}

// object is a JSON object's members in order.
type object []member

var (
	errNotObject = errors.New("not a JSON object")
	errDupMember = errors.New("duplicate member")
)

// dupMemberError names the member that appears twice.
type dupMemberError struct{ name string }

func (e *dupMemberError) Error() string { return "member " + strconv.Quote(e.name) + " appears twice" }
func (e *dupMemberError) Unwrap() error { return errDupMember }

// splitObject splits b, which must be valid JSON (json.Valid), into the
// members of the object it holds.
func splitObject(b []byte) (object, error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, errNotObject
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return nil, nil
	}
	obj := make(object, 0, 16) // a record has about ten members
	for i < len(b) {
		end := skipString(b, i)
		name, err := memberName(b[i:end])
		if err != nil {
			return nil, err
		}
		i = skipSpace(b, end)
		i = skipSpace(b, i+1) // the ':'
		vend := skipValue(b, i)
		obj = append(obj, member{name: name, value: b[i:vend]})
		i = skipSpace(b, vend)
		if i < len(b) && b[i] == '}' {
			break
		}
		i = skipSpace(b, i+1) // the ','
	}
	if err := obj.checkUnique(); err != nil {
		return nil, err
	}
	return obj, nil
}

// checkUnique refuses a name that appears twice.
func (o object) checkUnique() error {
	if len(o) <= 16 {
		for i := range o {
			for j := range i {
				if o[i].name == o[j].name {
					return &dupMemberError{o[i].name}
				}
			}
		}
		return nil
	}
	seen := make(map[string]bool, len(o))
	for _, m := range o {
		if seen[m.name] {
			return &dupMemberError{m.name}
		}
		seen[m.name] = true
	}
	return nil
}

// get returns the raw value of the member name, or nil when there is none.
func (o object) get(name string) []byte {
	for _, m := range o {
		if m.name == name {
			return m.value
		}
	}
	return nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string that starts at b[i] ('"').
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index after the value that starts at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	}
	for ; i < len(b); i++ {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return i
		}
	}
	return i
}

// splitArray splits a valid JSON array into its elements' raw values.
func splitArray(b []byte) ([][]byte, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return nil, false
	}
	i = skipSpace(b, i+1)
	var out [][]byte
	if i < len(b) && b[i] == ']' {
		return out, true
	}
	for i < len(b) {
		end := skipValue(b, i)
		out = append(out, b[i:end])
		i = skipSpace(b, end)
		if i < len(b) && b[i] == ']' {
			break
		}
		i = skipSpace(b, i+1)
	}
	return out, true
}

// unquote decodes a JSON string token.
func unquote(tok []byte) (string, error) {
	if len(tok) >= 2 && tok[0] == '"' && tok[len(tok)-1] == '"' && bytes.IndexByte(tok, '\\') < 0 {
		return string(tok[1 : len(tok)-1]), nil
	}
	var s string
	if err := json.Unmarshal(tok, &s); err != nil {
		return "", err
	}
	return s, nil
}

// memberName is unquote for a member's name: the names of the exports'
// records are the same strings a million times over, and come back
// without a copy each.
func memberName(tok []byte) (string, error) {
	if len(tok) >= 2 {
		switch string(tok[1 : len(tok)-1]) { // compared without a copy
		case "id":
			return "id", nil
		case "email":
			return "email", nil
		case "password_hash":
			return "password_hash", nil
		case "totp_secret":
			return "totp_secret", nil
		case "sms_mfa_phone":
			return "sms_mfa_phone", nil
		case "linked_scaleway_account_id":
			return "linked_scaleway_account_id", nil
		case "linked_at":
			return "linked_at", nil
		case "created_at":
			return "created_at", nil
		case "locale":
			return "locale", nil
		case "webauthn_credentials":
			return "webauthn_credentials", nil
		case "organizations":
			return "organizations", nil
		case "name":
			return "name", nil
		case "role":
			return "role", nil
		case "public_key":
			return "public_key", nil
		case "sign_count":
			return "sign_count", nil
		case "aaguid":
			return "aaguid", nil
		case "transports":
			return "transports", nil
		}
	}
	return unquote(tok)
}

// isNull reports a JSON null (or an absent member: nil).
func isNull(v []byte) bool { return v == nil || string(v) == "null" }
