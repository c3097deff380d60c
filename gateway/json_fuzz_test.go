package gateway

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// jsonCases are request bodies with the error code decodeJSON answers them
// with ("" for none); they seed FuzzDecodeJSON.
var jsonCases = []struct {
	contentType, body, code string
}{
	{"application/json", `{"email":"a@example.com","password":"pw"}`, ""},
	{"application/json; charset=utf-8", `{"email":"a@example.com"}`, ""},
	{"Application/JSON", " {} \n", ""},
	{"application/json", `{"unknown":1}`, ""},
	{"application/json", ``, "invalid_json"},
	{"application/json", `{`, "invalid_json"},
	{"application/json", `{"email":1}`, "invalid_json"},
	{"application/json", `{} {}`, "invalid_json"},
	{"application/json", `{"email":"a"}]`, "invalid_json"},
	{"application/json", `{"email":"a"} } x`, "invalid_json"},
	{"application/json", `{"email":"a"}` + " \r\n\t", ""},
	{"application/json", `[]`, "invalid_json"},
	{"application/json", `null`, ""},
	{"application/json", `{"email":"\ud800"}`, ""},
	{"text/plain", `{}`, "unsupported_media_type"},
	{"", `{}`, "unsupported_media_type"},
	{"application/json;;", `{}`, "unsupported_media_type"},
	{"application/json", `{"email":"` + strings.Repeat("a", maxJSONBody) + `"}`, "body_too_large"},
}

// jsonBody is the shape of a login step's body.
type jsonBody struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func decodeBody(contentType, body string) (jsonBody, error) {
	r := httptest.NewRequest("POST", "/api/v1/login/identify", strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	var v jsonBody
	err := decodeJSON(httptest.NewRecorder(), r, &v)
	return v, err
}

func TestDecodeJSON(t *testing.T) {
	for _, tc := range jsonCases {
		_, err := decodeBody(tc.contentType, tc.body)
		got := ""
		if err != nil {
			got = describe(err).Code
		}
		if got != tc.code {
			t.Errorf("decodeJSON(%q, %.40q) = %q, want %q", tc.contentType, tc.body, got, tc.code)
		}
	}
}

// FuzzDecodeJSON: decodeJSON never panics; it refuses with a client error
// of the contract (4xx, never internal_error), and what it accepts is one
// JSON value, under the size bound, that encoding/json decodes the same.
func FuzzDecodeJSON(f *testing.F) {
	for _, tc := range jsonCases {
		if len(tc.body) < 1024 {
			f.Add(tc.contentType, []byte(tc.body))
		}
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		v, err := decodeBody(contentType, string(body))
		if err != nil {
			p := describe(err)
			if p.Status < 400 || p.Status >= 500 {
				t.Fatalf("decodeJSON(%q, %q): %s, status %d, want a client error", contentType, body, p.Code, p.Status)
			}
			if !slices.Contains([]string{"invalid_json", "body_too_large", "unsupported_media_type"}, p.Code) {
				t.Fatalf("decodeJSON(%q, %q): code %s", contentType, body, p.Code)
			}
			return
		}
		if len(body) > maxJSONBody {
			t.Fatalf("decodeJSON accepted %d bytes, over the %d bound", len(body), maxJSONBody)
		}
		value := acceptedJSON(body)
		if !json.Valid(value) {
			t.Fatalf("decodeJSON(%q, %q) accepted a body that is not one JSON value", contentType, body)
		}
		var want jsonBody
		if err := json.Unmarshal(value, &want); err != nil || want != v {
			t.Fatalf("decodeJSON(%q, %q) = %+v; encoding/json: %+v, %v", contentType, body, v, want, err)
		}
	})
}

// acceptedJSON is body without the whitespace decodeJSON lets follow the
// value; anything else after it is refused.
func acceptedJSON(body []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(body))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return body
	}
	if len(bytes.TrimLeft(body[dec.InputOffset():], " \t\r\n")) == 0 {
		return raw
	}
	return body
}
