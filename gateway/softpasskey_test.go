package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
)

// softPasskey plays a browser with a platform authenticator holding one
// ES256 discoverable credential, for HTTP tests of passkey sign-ins (the
// same construction as mfa's test authenticator: WebAuthn §6.1, §6.5, §8.7).
type softPasskey struct {
	key        *ecdsa.PrivateKey
	credID     []byte
	origin     string
	rpID       string
	counter    uint32
	userHandle []byte
}

func newSoftPasskey(tb testing.TB, rpID, origin string) *softPasskey {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	id := make([]byte, 32)
	rand.Read(id)
	return &softPasskey{key: key, credID: id, origin: origin, rpID: rpID}
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// register answers creation options as navigator.credentials.create would.
func (a *softPasskey) register(tb testing.TB, options []byte) json.RawMessage {
	tb.Helper()
	var opts struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
			User      struct {
				ID string `json:"id"`
			} `json:"user"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &opts); err != nil {
		tb.Fatalf("creation options: %v\n%s", err, options)
	}
	handle, err := base64.RawURLEncoding.DecodeString(opts.PublicKey.User.ID)
	if err != nil {
		tb.Fatal(err)
	}
	a.userHandle = handle
	cose, err := webauthncbor.Marshal(map[int64]any{
		1:  int64(webauthncose.EllipticKey),
		3:  int64(webauthncose.AlgES256),
		-1: int64(webauthncose.P256),
		-2: a.key.PublicKey.X.FillBytes(make([]byte, 32)),
		-3: a.key.PublicKey.Y.FillBytes(make([]byte, 32)),
	})
	if err != nil {
		tb.Fatal(err)
	}
	attested := make([]byte, 16) // a zero AAGUID
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(a.credID)))
	attested = append(attested, a.credID...)
	attested = append(attested, cose...)
	flags := protocol.FlagUserPresent | protocol.FlagUserVerified | protocol.FlagAttestedCredentialData
	attObj, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": a.authData(flags, attested)})
	if err != nil {
		tb.Fatal(err)
	}
	return a.credential(tb, map[string]any{
		"clientDataJSON":    b64url(a.clientData(tb, "webauthn.create", opts.PublicKey.Challenge)),
		"attestationObject": b64url(attObj),
		"transports":        []string{"internal"},
	})
}

// assert answers request options as navigator.credentials.get would.
func (a *softPasskey) assert(tb testing.TB, options []byte) json.RawMessage {
	tb.Helper()
	var opts struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &opts); err != nil {
		tb.Fatalf("request options: %v\n%s", err, options)
	}
	a.counter++
	authData := a.authData(protocol.FlagUserPresent|protocol.FlagUserVerified, nil)
	clientData := a.clientData(tb, "webauthn.get", opts.PublicKey.Challenge)
	hash := sha256.Sum256(clientData)
	digest := sha256.Sum256(append(append([]byte{}, authData...), hash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		tb.Fatal(err)
	}
	return a.credential(tb, map[string]any{
		"clientDataJSON":    b64url(clientData),
		"authenticatorData": b64url(authData),
		"signature":         b64url(sig),
		"userHandle":        b64url(a.userHandle),
	})
}

func (a *softPasskey) authData(flags protocol.AuthenticatorFlags, attested []byte) []byte {
	rpIDHash := sha256.Sum256([]byte(a.rpID))
	data := append([]byte{}, rpIDHash[:]...)
	data = append(data, byte(flags))
	data = binary.BigEndian.AppendUint32(data, a.counter)
	return append(data, attested...)
}

func (a *softPasskey) clientData(tb testing.TB, typ, challenge string) []byte {
	tb.Helper()
	data, err := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.origin, "crossOrigin": false})
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func (a *softPasskey) credential(tb testing.TB, response map[string]any) json.RawMessage {
	tb.Helper()
	body, err := json.Marshal(map[string]any{
		"id": b64url(a.credID), "rawId": b64url(a.credID), "type": "public-key",
		"authenticatorAttachment": "platform", "clientExtensionResults": map[string]any{}, "response": response,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return body
}
