package warden

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"time"
)

// Bundle cryptography with the standard library only (bundle-format.md
// §Header, signature, encryption): Ed25519 signatures over header + payload
// text, AES-256-GCM under an HKDF-SHA256 key from the project key, the header
// as additional data. Also the other direction, for tools and tests that
// build bundles.

// publicKey decodes a trusted key: 32 raw bytes of Ed25519 public key in
// base64url.
func publicKey(base64url string) (ed25519.PublicKey, bool) {
	raw, ok := fromBase64url(base64url)
	if !ok || len(raw) != ed25519.PublicKeySize {
		return nil, false
	}
	return ed25519.PublicKey(raw), true
}

// verifySignature reports whether sig is the signature of header + payload
// text by key.
func verifySignature(b *bundleFile, key ed25519.PublicKey) bool {
	sig, _ := fromBase64url(b.sig) // parseBundle checked it
	return ed25519.Verify(key, []byte(b.header()+b.payload), sig)
}

// payloadKey is HKDF-SHA256 of the project key, salt
// `warden-bundle-1:{project}`, info `payload-key`, 32 bytes.
func payloadKey(projectKey, project string) ([]byte, error) {
	return hkdf.Key(sha256.New, []byte(projectKey), []byte(bundleFormat+":"+project), "payload-key", 32)
}

func payloadCipher(projectKey, project string) (cipher.AEAD, error) {
	key, err := payloadKey(projectKey, project)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// decryptPayload returns the payload's plaintext, or false when it does not
// decrypt (wrong key; changed ciphertext, header or nonce).
func decryptPayload(b *bundleFile, projectKey string) ([]byte, bool) {
	gcm, err := payloadCipher(projectKey, b.project)
	if err != nil {
		return nil, false
	}
	nonce, _ := fromBase64url(b.nonce)
	sealed, _ := fromBase64url(b.payload)
	plain, err := gcm.Open(nil, nonce, sealed, []byte(b.header()))
	return plain, err == nil
}

// BundleSpec is what BuildBundle needs besides the policies.
type BundleSpec struct {
	Project string
	Version int64
	KeyID   string
	// SigningKey is the Ed25519 private key that signs
	// (ed25519.NewKeyFromSeed turns a 32-byte seed into one).
	SigningKey ed25519.PrivateKey
	// ProjectKey encrypts the payload; "" builds a plain bundle (enc
	// "none"), for development only.
	ProjectKey string
	// CreatedAt defaults to now; it is written to the second.
	CreatedAt time.Time
}

// BuildBundle builds a bundle file (bundle-format.md) for the policies of
// policiesJSON, a JSON array of policy documents: encrypt, then sign. It does
// not validate the policies; load them first.
func BuildBundle(policiesJSON []byte, spec BundleSpec) ([]byte, error) {
	if !validID(spec.Project) || !validID(spec.KeyID) {
		return nil, newError(ErrBundleFormat, "the project and key id must be 1 to 128 of A-Z a-z 0-9 . _ -")
	}
	if spec.Version < 1 || spec.Version > maxSafeInteger {
		return nil, newError(ErrBundleFormat, "the version must be an integer from 1 to 2^53-1")
	}
	if len(spec.SigningKey) != ed25519.PrivateKeySize {
		return nil, newError(ErrBundleSignature, "the signing key must be an Ed25519 private key")
	}
	created := spec.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	plain := append(append([]byte(`{"policies":`), policiesJSON...), '}')
	b := &bundleFile{
		project: spec.Project, version: spec.Version, createdAt: created.UTC().Format("2006-01-02T15:04:05Z"),
		keyID: spec.KeyID, enc: "none",
	}
	payload := plain
	if spec.ProjectKey != "" {
		nonce := make([]byte, 12)
		if _, err := rand.Read(nonce); err != nil {
			return nil, err
		}
		b.enc, b.nonce = "A256GCM", toBase64url(nonce)
		gcm, err := payloadCipher(spec.ProjectKey, spec.Project)
		if err != nil {
			return nil, err
		}
		payload = gcm.Seal(nil, nonce, plain, []byte(b.header()))
	}
	b.payload = toBase64url(payload)
	b.sig = toBase64url(ed25519.Sign(spec.SigningKey, []byte(b.header()+b.payload)))
	file := struct {
		Format    string `json:"format"`
		Project   string `json:"project"`
		Version   int64  `json:"version"`
		CreatedAt string `json:"created_at"`
		KeyID     string `json:"key_id"`
		Enc       string `json:"enc"`
		Nonce     string `json:"nonce"`
		Payload   string `json:"payload"`
		Sig       string `json:"sig"`
	}{bundleFormat, b.project, b.version, b.createdAt, b.keyID, b.enc, b.nonce, b.payload, b.sig}
	out, err := json.MarshalIndent(file, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
