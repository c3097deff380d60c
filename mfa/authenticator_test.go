package mfa

import (
	"bytes"
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

// softAuthenticator plays the browser and a platform authenticator holding
// one ES256 discoverable credential, well enough to answer the options
// WebAuthn hands out: it builds clientDataJSON, authenticatorData
// (rpIdHash || flags || signCount || [attestedCredentialData]), a "none"
// attestation object in CBOR, and ECDSA assertion signatures (WebAuthn §6.1,
// §6.5, §8.7). Tests change its fields to misbehave.
type softAuthenticator struct {
	key    *ecdsa.PrivateKey
	credID []byte
	aaguid []byte

	// origin goes into clientDataJSON; rpID is hashed into authenticatorData.
	// Both start as the relying party's own.
	origin, rpID string
	// ceremonyType overrides clientDataJSON's type when not "".
	ceremonyType string
	// flags are set in authenticatorData (AT is added at registration).
	flags protocol.AuthenticatorFlags
	// counter is the signature counter; each assertion adds one to it
	// unless frozen.
	counter uint32
	frozen  bool
	// userHandle is the user.id of the registration, returned by assertions.
	userHandle []byte
	// badSignature flips a bit of each assertion's signature.
	badSignature bool
}

func newSoftAuthenticator(tb testing.TB, rpID, origin string) *softAuthenticator {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	id := make([]byte, 32)
	rand.Read(id)
	return &softAuthenticator{
		key: key, credID: id, aaguid: bytes.Repeat([]byte{0x5a}, 16),
		origin: origin, rpID: rpID,
		flags: protocol.FlagUserPresent | protocol.FlagUserVerified,
	}
}

// creationOptions is the part of PublicKeyCredentialCreationOptionsJSON the
// authenticator reads.
type creationOptions struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		PubKeyCredParams []struct {
			Alg int64 `json:"alg"`
		} `json:"pubKeyCredParams"`
		ExcludeCredentials []struct {
			ID string `json:"id"`
		} `json:"excludeCredentials"`
	} `json:"publicKey"`
}

// requestOptions is the part of PublicKeyCredentialRequestOptionsJSON it reads.
type requestOptions struct {
	PublicKey struct {
		Challenge        string `json:"challenge"`
		RPID             string `json:"rpId"`
		AllowCredentials []struct {
			ID string `json:"id"`
		} `json:"allowCredentials"`
	} `json:"publicKey"`
}

// register answers creation options as navigator.credentials.create would,
// returning the PublicKeyCredential's JSON (RegistrationResponseJSON).
func (a *softAuthenticator) register(tb testing.TB, options []byte) []byte {
	tb.Helper()
	var opts creationOptions
	if err := json.Unmarshal(options, &opts); err != nil {
		tb.Fatalf("creation options: %v\n%s", err, options)
	}
	es256 := false
	for _, p := range opts.PublicKey.PubKeyCredParams {
		es256 = es256 || p.Alg == int64(webauthncose.AlgES256)
	}
	if !es256 {
		tb.Fatalf("creation options do not offer ES256: %s", options)
	}
	for _, c := range opts.PublicKey.ExcludeCredentials {
		if c.ID == b64(a.credID) {
			tb.Fatalf("the authenticator's credential is excluded (a browser answers InvalidStateError)")
		}
	}
	a.userHandle = mustB64(tb, opts.PublicKey.User.ID)

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
	attested := append([]byte{}, a.aaguid...)
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(a.credID)))
	attested = append(attested, a.credID...)
	attested = append(attested, cose...)
	authData := a.authenticatorData(a.flags|protocol.FlagAttestedCredentialData, attested)

	attObj, err := webauthncbor.Marshal(map[string]any{
		"fmt":      "none",
		"attStmt":  map[string]any{},
		"authData": authData,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return a.credentialJSON(tb, map[string]any{
		"clientDataJSON":    b64(a.clientData(tb, "webauthn.create", opts.PublicKey.Challenge)),
		"attestationObject": b64(attObj),
		"transports":        []string{"internal", "hybrid"},
	})
}

// assert answers request options as navigator.credentials.get would
// (AuthenticationResponseJSON).
func (a *softAuthenticator) assert(tb testing.TB, options []byte) []byte {
	tb.Helper()
	var opts requestOptions
	if err := json.Unmarshal(options, &opts); err != nil {
		tb.Fatalf("request options: %v\n%s", err, options)
	}
	if allow := opts.PublicKey.AllowCredentials; len(allow) > 0 {
		allowed := false
		for _, c := range allow {
			allowed = allowed || c.ID == b64(a.credID)
		}
		if !allowed {
			tb.Fatalf("the authenticator's credential is not in allowCredentials")
		}
	}
	if !a.frozen {
		a.counter++
	}
	authData := a.authenticatorData(a.flags, nil)
	clientData := a.clientData(tb, "webauthn.get", opts.PublicKey.Challenge)
	hash := sha256.Sum256(clientData)
	digest := sha256.Sum256(append(append([]byte{}, authData...), hash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		tb.Fatal(err)
	}
	if a.badSignature {
		sig[len(sig)-1] ^= 1
	}
	return a.credentialJSON(tb, map[string]any{
		"clientDataJSON":    b64(clientData),
		"authenticatorData": b64(authData),
		"signature":         b64(sig),
		"userHandle":        b64(a.userHandle),
	})
}

func (a *softAuthenticator) authenticatorData(flags protocol.AuthenticatorFlags, attested []byte) []byte {
	rpIDHash := sha256.Sum256([]byte(a.rpID))
	data := append([]byte{}, rpIDHash[:]...)
	data = append(data, byte(flags))
	data = binary.BigEndian.AppendUint32(data, a.counter)
	return append(data, attested...)
}

func (a *softAuthenticator) clientData(tb testing.TB, typ, challenge string) []byte {
	tb.Helper()
	if a.ceremonyType != "" {
		typ = a.ceremonyType
	}
	data, err := json.Marshal(map[string]any{
		"type":        typ,
		"challenge":   challenge,
		"origin":      a.origin,
		"crossOrigin": false,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func (a *softAuthenticator) credentialJSON(tb testing.TB, response map[string]any) []byte {
	tb.Helper()
	body, err := json.Marshal(map[string]any{
		"id":                      b64(a.credID),
		"rawId":                   b64(a.credID),
		"type":                    "public-key",
		"authenticatorAttachment": "platform",
		"clientExtensionResults":  map[string]any{},
		"response":                response,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustB64(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		tb.Fatalf("%q is not base64url without padding: %v", s, err)
	}
	return b
}
