package warden

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The shared test keys and project of conformance/bundles/manifest.json.
type testManifest struct {
	Project     string            `json:"project"`
	ProjectKey  string            `json:"project_key"`
	TrustedKeys map[string]string `json:"trusted_keys"`
	Seeds       map[string]string `json:"test_signing_seeds"`
}

var (
	manifestOnce sync.Once
	manifest     testManifest
	manifestErr  error
)

func conformanceDir() string {
	if dir := os.Getenv("WARDEN_CONFORMANCE_DIR"); dir != "" {
		return dir
	}
	return filepath.Join("..", "..", "..", "shared", "conformance")
}

func testKeys(t testing.TB) testManifest {
	t.Helper()
	manifestOnce.Do(func() {
		path := filepath.Join(conformanceDir(), "bundles", "manifest.json")
		text, err := os.ReadFile(path)
		if err != nil {
			manifestErr = fmt.Errorf("the bundle vectors are not at %s (set WARDEN_CONFORMANCE_DIR): %w", path, err)
			return
		}
		manifestErr = json.Unmarshal(text, &manifest)
	})
	if manifestErr != nil {
		t.Fatal(manifestErr)
	}
	return manifest
}

func signingKey(t testing.TB, id string) ed25519.PrivateKey {
	t.Helper()
	seed, err := base64.RawURLEncoding.DecodeString(testKeys(t).Seeds[id])
	if err != nil {
		t.Fatal(err)
	}
	key := ed25519.NewKeyFromSeed(seed)
	if toBase64url(key.Public().(ed25519.PublicKey)) != testKeys(t).TrustedKeys[id] {
		t.Fatalf("the seed of %s does not give its trusted key", id)
	}
	return key
}

// policiesFor allows exactly tool/v{version}, so a decision shows which
// version is in force.
func policiesFor(version int64) []byte {
	return []byte(fmt.Sprintf(`[{"name": "v%d", "rules": [{"effect": "allow", "action": "tool.call", "resource": "tool/v%d"}]}]`, version, version))
}

type bundleOverrides struct {
	project, keyID, projectKey string
	key                        ed25519.PrivateKey
	plain                      bool
}

func testBundle(t testing.TB, version int64, o bundleOverrides) []byte {
	t.Helper()
	m := testKeys(t)
	spec := BundleSpec{Project: m.Project, Version: version, KeyID: "k1", SigningKey: o.key, ProjectKey: m.ProjectKey,
		CreatedAt: time.Date(2026, 3, 5, 10, 0, 0, 0, time.UTC)}
	if o.project != "" {
		spec.Project = o.project
	}
	if o.keyID != "" {
		spec.KeyID = o.keyID
	}
	if o.key == nil {
		spec.SigningKey = signingKey(t, "k1")
	}
	if o.projectKey != "" {
		spec.ProjectKey = o.projectKey
	}
	if o.plain {
		spec.ProjectKey = ""
	}
	b, err := BuildBundle(policiesFor(version), spec)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testTrust(t testing.TB) Trust {
	m := testKeys(t)
	return Trust{Project: m.Project, ProjectKey: m.ProjectKey, TrustedKeys: m.TrustedKeys}
}

func allows(w *Warden, version int64) bool {
	return w.Check(bg, Request{Action: "tool.call", Resource: fmt.Sprintf("tool/v%d", version)}).Allowed
}

// edit changes one member of a bundle file's JSON, keeping the others.
func edit(t testing.TB, bundle []byte, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(bundle, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBundlesLoadThroughEveryStep(t *testing.T) {
	w, _ := New()
	trust := testTrust(t)
	r, err := w.LoadBundle(testBundle(t, 5, bundleOverrides{}), trust)
	if err != nil || r != (BundleResult{Version: 5, Changed: true}) {
		t.Fatalf("%+v %v", r, err)
	}
	if !allows(w, 5) || w.BundleVersion() != 5 || w.Check(bg, Request{Action: "tool.call", Resource: "tool/v5"}).BundleVersion != 5 {
		t.Fatal("version 5 is not in force")
	}
	// The same version again: nothing to do, not an error.
	if r, err := w.LoadBundle(testBundle(t, 5, bundleOverrides{}), trust); err != nil || r != (BundleResult{Version: 5}) {
		t.Fatalf("the version in force again: %+v %v", r, err)
	}
	// Signed by the second trusted key.
	if _, err := w.LoadBundle(testBundle(t, 6, bundleOverrides{keyID: "k2", key: signingKey(t, "k2")}), trust); err != nil || !allows(w, 6) {
		t.Fatalf("k2: %v", err)
	}
	// Plain bundles load only where allowed.
	plain := testBundle(t, 7, bundleOverrides{plain: true})
	if _, err := w.LoadBundle(plain, trust); Code(err) != ErrBundleDecrypt {
		t.Fatalf("a plain bundle without AllowPlain: %v", err)
	}
	trust.AllowPlain = true
	if _, err := w.LoadBundle(plain, trust); err != nil || !allows(w, 7) {
		t.Fatalf("a plain bundle with AllowPlain: %v", err)
	}
	st := w.Status()
	if st.Version != 7 || st.HighestVersion != 7 || st.Source != SourceDirect || st.LoadedAt.IsZero() {
		t.Fatalf("status %+v", st)
	}
}

func TestBundleRefusalsCarryTheirStepsCodeAndChangeNothing(t *testing.T) {
	w, _ := New()
	trust := testTrust(t)
	if _, err := w.LoadBundle(testBundle(t, 5, bundleOverrides{}), trust); err != nil {
		t.Fatal(err)
	}
	good := testBundle(t, 6, bundleOverrides{})
	k2 := signingKey(t, "k2")
	flip := func(s string) string {
		c := "A"
		if strings.HasPrefix(s, "A") {
			c = "B"
		}
		return c + s[1:]
	}
	cases := []struct {
		name   string
		bundle []byte
		code   string
	}{
		{"not JSON", []byte(`{"format": "warden-bundle-1"`), ErrBundleFormat},
		{"an array", []byte(`[]`), ErrBundleFormat},
		{"a member spelt `Version`", edit(t, good, func(m map[string]any) { m["Version"] = m["version"]; delete(m, "version") }), ErrBundleFormat},
		{"an extra member", edit(t, good, func(m map[string]any) { m["comment"] = "x" }), ErrBundleFormat},
		{"a missing member", edit(t, good, func(m map[string]any) { delete(m, "created_at") }), ErrBundleFormat},
		{"a duplicate member", []byte(strings.Replace(string(good), `"version": 6,`, `"version": 6, "version": 9,`, 1)), ErrBundleFormat},
		{"version as a string", edit(t, good, func(m map[string]any) { m["version"] = "6" }), ErrBundleFormat},
		{"version 1.5", edit(t, good, func(m map[string]any) { m["version"] = 1.5 }), ErrBundleFormat},
		{"version 0", edit(t, good, func(m map[string]any) { m["version"] = 0 }), ErrBundleFormat},
		{"version 2^53", edit(t, good, func(m map[string]any) { m["version"] = float64(1 << 53) }), ErrBundleFormat},
		{"an impossible date", edit(t, good, func(m map[string]any) { m["created_at"] = "2026-02-30T10:00:00Z" }), ErrBundleFormat},
		{"a time with a fraction", edit(t, good, func(m map[string]any) { m["created_at"] = "2026-03-05T10:00:00.5Z" }), ErrBundleFormat},
		{"a line feed in the project", edit(t, good, func(m map[string]any) { m["project"] = "proj\nsupport" }), ErrBundleFormat},
		{"an unknown enc", edit(t, good, func(m map[string]any) { m["enc"] = "A128GCM" }), ErrBundleFormat},
		{"padding in the payload", edit(t, good, func(m map[string]any) { m["payload"] = m["payload"].(string) + "==" }), ErrBundleFormat},
		{"base64 with + and /", edit(t, good, func(m map[string]any) {
			m["payload"] = strings.NewReplacer("-", "+", "_", "/").Replace(m["payload"].(string)) + "+/"
		}), ErrBundleFormat},
		{"a space in the signature", edit(t, good, func(m map[string]any) { s := m["sig"].(string); m["sig"] = s[:10] + " " + s[11:] }), ErrBundleFormat},
		{"a signature with unused bits set", edit(t, good, func(m map[string]any) { s := m["sig"].(string); m["sig"] = s[:len(s)-1] + "B" }), ErrBundleFormat},
		{"a short nonce", edit(t, good, func(m map[string]any) { m["nonce"] = "AAECAwQF" }), ErrBundleFormat},
		{"another project", testBundle(t, 6, bundleOverrides{project: "proj_other"}), ErrBundleProject},
		{"another project, badly signed", testBundle(t, 6, bundleOverrides{project: "proj_other", key: k2}), ErrBundleProject},
		{"an untrusted key", testBundle(t, 6, bundleOverrides{keyID: "k9"}), ErrBundleUnknownKey},
		{"signed by k2 as k1", testBundle(t, 6, bundleOverrides{key: k2}), ErrBundleSignature},
		{"the payload changed", edit(t, good, func(m map[string]any) { m["payload"] = flip(m["payload"].(string)) }), ErrBundleSignature},
		{"the version raised", edit(t, good, func(m map[string]any) { m["version"] = 60 }), ErrBundleSignature},
		{"stale", testBundle(t, 4, bundleOverrides{}), ErrBundleStale},
		{"stale, under another project key", testBundle(t, 4, bundleOverrides{projectKey: "other"}), ErrBundleStale},
		{"another project key", testBundle(t, 6, bundleOverrides{projectKey: "other"}), ErrBundleDecrypt},
		{"plain", testBundle(t, 6, bundleOverrides{plain: true}), ErrBundleDecrypt},
	}
	for _, c := range cases {
		_, err := w.LoadBundle(c.bundle, testTrust(t))
		if Code(err) != c.code {
			t.Errorf("%s: want %s, got %v", c.name, c.code, err)
		}
		if !allows(w, 5) || w.BundleVersion() != 5 {
			t.Fatalf("%s: the bundle in force changed", c.name)
		}
	}
	// Without a project key an encrypted bundle cannot load; a trusted key
	// that is not a key is no key.
	noKey := testTrust(t)
	noKey.ProjectKey = ""
	if _, err := w.LoadBundle(good, noKey); Code(err) != ErrBundleDecrypt {
		t.Errorf("no project key: %v", err)
	}
	badKey := testTrust(t)
	badKey.TrustedKeys = map[string]string{"k1": "not-a-key"}
	if _, err := w.LoadBundle(good, badKey); Code(err) != ErrBundleUnknownKey {
		t.Errorf("a malformed trusted key: %v", err)
	}
	// Step 7: the payload must be {"policies": [...]} of policies that load.
	key := signingKey(t, "k1")
	for _, payload := range []string{`[]`, `{"policies": [{"rules": [{"effect": "permit", "action": "a"}]}]}`} {
		b, err := BuildBundle([]byte("null"), BundleSpec{Project: testKeys(t).Project, Version: 6, KeyID: "k1", SigningKey: key, ProjectKey: testKeys(t).ProjectKey})
		if err != nil {
			t.Fatal(err)
		}
		b = resealed(t, b, payload)
		_, err = w.LoadBundle(b, testTrust(t))
		var invalid *PolicyInvalidError
		if Code(err) != ErrPolicyInvalid || (strings.Contains(payload, "permit") && !errors.As(err, &invalid)) {
			t.Errorf("payload %s: %v", payload, err)
		}
	}
	if !allows(w, 5) {
		t.Fatal("the bundle in force changed")
	}
	// The highest version stays apart from the policies in force.
	if _, err := w.Load(policiesFor(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.LoadBundle(testBundle(t, 4, bundleOverrides{}), testTrust(t)); Code(err) != ErrBundleStale {
		t.Errorf("an older bundle after a plain load: %v", err)
	}
}

// resealed replaces a bundle's plain payload with text, encrypted and signed
// again with the test keys.
func resealed(t *testing.T, bundle []byte, payload string) []byte {
	t.Helper()
	b, err := parseBundle(bundle)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := payloadCipher(testKeys(t).ProjectKey, b.project)
	if err != nil {
		t.Fatal(err)
	}
	nonce, _ := fromBase64url(b.nonce)
	b.payload = toBase64url(gcm.Seal(nil, nonce, []byte(payload), []byte(b.header())))
	b.sig = toBase64url(ed25519.Sign(signingKey(t, "k1"), []byte(b.header()+b.payload)))
	return edit(t, bundle, func(m map[string]any) { m["payload"], m["sig"] = b.payload, b.sig })
}

func TestBase64urlIsStrict(t *testing.T) {
	for _, c := range []struct {
		text string
		ok   bool
		want string
	}{
		{"", true, ""}, {"YQ", true, "a"}, {"YWI", true, "ab"}, {"YWJj", true, "abc"}, {"-_-_", true, "\xfb\xff\xbf"},
		{"YQ==", false, ""}, {"Y", false, ""}, {"YR", false, ""}, {"YW J", false, ""}, {"YW+j", false, ""}, {"YW/j", false, ""}, {"YWJj\n", false, ""},
	} {
		got, ok := fromBase64url(c.text)
		if ok != c.ok || (ok && string(got) != c.want) {
			t.Errorf("%q: %q %v", c.text, got, ok)
		}
		if ok && toBase64url(got) != c.text {
			t.Errorf("%q does not encode back: %q", c.text, toBase64url(got))
		}
	}
}
