package warden

import (
	"context"
	"errors"
	"fmt"
)

// Loading a bundle (bundle-format.md §Loading), in the spec's order, each
// failure with its code: format, project, key, signature, version, payload,
// policies. Until the last step nothing changes: a failure leaves the bundle
// in force.

// Trust says whose bundles a Warden accepts. Signatures are always required;
// plain payloads only with AllowPlain.
type Trust struct {
	// Project is the project this Warden serves.
	Project string
	// TrustedKeys maps key_id to an Ed25519 public key (32 bytes, base64url
	// without padding). Several at once let keys rotate.
	TrustedKeys map[string]string
	// ProjectKey is the project's key, for encrypted payloads ("" : none).
	ProjectKey string
	// AllowPlain lets plain (enc "none") bundles load, for development.
	AllowPlain bool
}

// Source says where a bundle came from.
type Source string

const (
	SourceCache   Source = "cache"
	SourceNetwork Source = "network"
	SourceDirect  Source = "direct"
)

// BundleResult is what LoadBundle did: the version in force, and whether it
// changed (a bundle of the version in force changes nothing).
type BundleResult struct {
	Version int64
	Changed bool
}

// BundleUpdate reports a bundle that loaded.
type BundleUpdate struct {
	Version int64
	Source  Source
}

// BundleFailure reports a bundle that was refused or could not be fetched;
// the bundle in force stays.
type BundleFailure struct {
	Err    error
	Source Source
}

// OnUpdate is called after a bundle loads, on the goroutine that loaded it
// (outside the Warden's locks). It may check requests, but must not call
// Refresh: a fetch calls it.
func OnUpdate(f func(BundleUpdate)) Option {
	return func(s *settings) { s.onUpdate = f }
}

// OnError is called when a connected Warden refuses a bundle or cannot fetch
// one, on the goroutine that fetched. It must not call Refresh.
func OnError(f func(BundleFailure)) Option {
	return func(s *settings) { s.onError = f }
}

// openBundle runs steps 1 to 6: it returns the verified bundle and its
// decrypted payload, or unchanged when its version is the one in force.
// inForce is the version loaded now (0: none); highest the highest ever
// loaded, kept apart from any cache, below which nothing loads again.
func openBundle(text []byte, trust Trust, inForce, highest int64) (b *bundleFile, payload []byte, unchanged bool, err error) {
	if b, err = parseBundle(text); err != nil {
		return nil, nil, false, err
	}
	if b.project != trust.Project {
		return nil, nil, false, newError(ErrBundleProject, "the bundle is for project `%s`, this client serves `%s`", b.project, trust.Project)
	}
	encoded, trusted := trust.TrustedKeys[b.keyID]
	if !trusted {
		return nil, nil, false, newError(ErrBundleUnknownKey, "the bundle is signed with key `%s`, which this client does not trust", b.keyID)
	}
	key, ok := publicKey(encoded)
	if !ok {
		return nil, nil, false, newError(ErrBundleUnknownKey, "trusted key `%s` must be 32 bytes of Ed25519 public key in base64url", b.keyID)
	}
	if !verifySignature(b, key) {
		return nil, nil, false, newError(ErrBundleSignature, "the bundle's signature does not verify with key `%s`", b.keyID)
	}
	if inForce != 0 && b.version == inForce {
		return b, nil, true, nil
	}
	if b.version < highest || b.version < inForce {
		return nil, nil, false, newError(ErrBundleStale, "the bundle has version %d, older than version %d already loaded: publish older policies under a higher version", b.version, max(highest, inForce))
	}
	if b.enc == "none" {
		if !trust.AllowPlain {
			return nil, nil, false, newError(ErrBundleDecrypt, "the bundle is not encrypted, and this client does not allow plain bundles")
		}
		payload, _ = fromBase64url(b.payload) // parseBundle checked it
		return b, payload, false, nil
	}
	if trust.ProjectKey == "" {
		return nil, nil, false, newError(ErrBundleDecrypt, "the bundle is encrypted, and this client has no project key")
	}
	if payload, ok = decryptPayload(b, trust.ProjectKey); !ok {
		return nil, nil, false, newError(ErrBundleDecrypt, "the payload does not decrypt with this project key (wrong key, or the bundle was altered)")
	}
	return b, payload, false, nil
}

// LoadBundle loads a bundle file's text through every step of
// bundle-format.md §Loading, in order. A refusal is an *Error whose Code is
// the step's (ERR_BUNDLE_FORMAT … ERR_POLICY_INVALID), and then nothing
// changes; a bundle of the version in force changes nothing either. The
// highest version ever loaded is remembered: nothing older loads again.
func (w *Warden) LoadBundle(text []byte, trust Trust) (BundleResult, error) {
	return w.acceptBundle(context.Background(), text, trust, SourceDirect)
}

func (w *Warden) acceptBundle(ctx context.Context, text []byte, trust Trust, source Source) (BundleResult, error) {
	var update *BundleUpdate
	defer func() {
		if update != nil && w.settings.onUpdate != nil {
			w.settings.onUpdate(*update)
		}
	}()
	w.loadMu.Lock()
	defer w.loadMu.Unlock()
	w.mu.Lock()
	inForce, highest := w.st.Load().version, w.highest
	w.mu.Unlock()
	b, payload, unchanged, err := openBundle(text, trust, inForce, highest)
	if err != nil {
		return BundleResult{}, err
	}
	if unchanged {
		return BundleResult{Version: inForce}, nil
	}
	// Step 7: the payload is {"policies": [...]} (the engine checks the
	// rest) and every policy loads.
	if first := firstNonSpace(payload); first != '{' {
		return BundleResult{}, newError(ErrPolicyInvalid, "the payload must be a JSON object {\"policies\": [...]}")
	}
	if _, err := w.loadPolicies(ctx, payload, b.version, source); err != nil {
		var invalid *PolicyInvalidError
		if errors.As(err, &invalid) {
			return BundleResult{}, &Error{Code: ErrPolicyInvalid, Message: fmt.Sprintf("the bundle's policies do not load: %v", invalid), Err: invalid}
		}
		return BundleResult{}, err
	}
	update = &BundleUpdate{Version: b.version, Source: source}
	return BundleResult{Version: b.version, Changed: true}, nil
}

func firstNonSpace(b []byte) int {
	for _, c := range b {
		if c != ' ' && c != '\n' && c != '\r' && c != '\t' {
			return int(c)
		}
	}
	return -1
}

// raiseFloor raises the highest version ever loaded (read from a cache).
func (w *Warden) raiseFloor(version int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.highest = max(w.highest, version)
}
