package warden

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// The bundle file (bundle-format.md §The file): strict parsing of its
// members, the signed header, and base64url without padding.

const bundleFormat = "warden-bundle-1"

var bundleMembers = []string{"format", "project", "version", "created_at", "key_id", "enc", "nonce", "payload", "sig"}

// bundleFile is a bundle file's members, checked.
type bundleFile struct {
	project   string
	version   int64
	createdAt string
	keyID     string
	enc       string
	nonce     string
	payload   string
	sig       string
}

func formatError(format string, args ...any) *Error {
	return newError(ErrBundleFormat, format, args...)
}

// validID is `[A-Za-z0-9._-]{1,128}`.
func validID(s string) bool {
	if len(s) < 1 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validCreatedAt is `YYYY-MM-DDTHH:MM:SSZ`, a real calendar date and time.
func validCreatedAt(s string) bool {
	if len(s) != 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 4, 7:
			if s[i] != '-' {
				return false
			}
		case 10:
			if s[i] != 'T' {
				return false
			}
		case 13, 16:
			if s[i] != ':' {
				return false
			}
		case 19:
			if s[i] != 'Z' {
				return false
			}
		default:
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
	}
	num := func(a, b int) int {
		n, _ := strconv.Atoi(s[a:b])
		return n
	}
	y, mo, d, h, mi, sec := num(0, 4), num(5, 7), num(8, 10), num(11, 13), num(14, 16), num(17, 19)
	t := time.Date(y, time.Month(mo), d, h, mi, sec, 0, time.UTC)
	return t.Year() == y && int(t.Month()) == mo && t.Day() == d && h < 24 && mi < 60 && sec < 60
}

const base64urlAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

var base64urlValue = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(base64urlAlphabet); i++ {
		t[base64urlAlphabet[i]] = int8(i)
	}
	return t
}()

// fromBase64url decodes base64url text without padding; ok is false when it
// holds any other character, cannot be a whole number of bytes, or has
// unused low bits set (so each byte string has exactly one text).
func fromBase64url(text string) (out []byte, ok bool) {
	if len(text)%4 == 1 {
		return nil, false
	}
	out = make([]byte, 0, len(text)*3/4)
	var value uint32
	bits := 0
	for i := 0; i < len(text); i++ {
		v := base64urlValue[text[i]]
		if v < 0 {
			return nil, false
		}
		value = value<<6 | uint32(v)
		bits += 6
		if bits >= 8 {
			bits -= 8
			out = append(out, byte(value>>bits))
		}
	}
	if value&(1<<bits-1) != 0 {
		return nil, false
	}
	return out, true
}

func toBase64url(b []byte) string {
	out := make([]byte, 0, (len(b)*4+2)/3)
	i := 0
	for ; i+3 <= len(b); i += 3 {
		n := uint32(b[i])<<16 | uint32(b[i+1])<<8 | uint32(b[i+2])
		out = append(out, base64urlAlphabet[n>>18], base64urlAlphabet[n>>12&63], base64urlAlphabet[n>>6&63], base64urlAlphabet[n&63])
	}
	switch len(b) - i {
	case 1:
		n := uint32(b[i]) << 16
		out = append(out, base64urlAlphabet[n>>18], base64urlAlphabet[n>>12&63])
	case 2:
		n := uint32(b[i])<<16 | uint32(b[i+1])<<8
		out = append(out, base64urlAlphabet[n>>18], base64urlAlphabet[n>>12&63], base64urlAlphabet[n>>6&63])
	}
	return string(out)
}

// parseBundle is step 1 of loading: the JSON, every member as the format
// says, and no others (ERR_BUNDLE_FORMAT).
func parseBundle(text []byte) (*bundleFile, error) {
	doc, err := parseJSON(text)
	if err != nil {
		return nil, formatError("the bundle is not JSON: %v", err)
	}
	m, ok := doc.(map[string]any)
	if !ok {
		return nil, formatError("a bundle is a JSON object")
	}
	for k := range m {
		known := false
		for _, name := range bundleMembers {
			known = known || k == name
		}
		if !known {
			return nil, formatError("unknown bundle member `%s`", k)
		}
	}
	for _, name := range bundleMembers {
		if _, ok := m[name]; !ok {
			return nil, formatError("the bundle has no `%s`", name)
		}
	}
	str := func(name string) (string, bool) {
		s, ok := m[name].(string)
		return s, ok
	}
	if f, ok := str("format"); !ok || f != bundleFormat {
		return nil, formatError("unknown bundle format %s: this runtime reads `%s`", jsonText(m["format"]), bundleFormat)
	}
	b := &bundleFile{}
	if b.project, ok = str("project"); !ok || !validID(b.project) {
		return nil, formatError("`project` must be 1 to 128 of A-Z a-z 0-9 . _ -")
	}
	v, isNumber := m["version"].(float64)
	if !isNumber || v != math.Trunc(v) || v < 1 || v > maxSafeInteger {
		return nil, formatError("`version` must be an integer from 1 to 2^53-1")
	}
	b.version = int64(v)
	if b.createdAt, ok = str("created_at"); !ok || !validCreatedAt(b.createdAt) {
		return nil, formatError("`created_at` must be an RFC 3339 UTC time, YYYY-MM-DDTHH:MM:SSZ")
	}
	if b.keyID, ok = str("key_id"); !ok || !validID(b.keyID) {
		return nil, formatError("`key_id` must be 1 to 128 of A-Z a-z 0-9 . _ -")
	}
	if b.enc, ok = str("enc"); !ok || (b.enc != "A256GCM" && b.enc != "none") {
		return nil, formatError("`enc` must be `A256GCM` or `none`")
	}
	if b.nonce, ok = str("nonce"); !ok {
		return nil, formatError("`nonce` must be a string")
	}
	if b.enc == "none" {
		if b.nonce != "" {
			return nil, formatError("`nonce` must be empty when `enc` is `none`")
		}
	} else if nonce, ok := fromBase64url(b.nonce); !ok || len(nonce) != 12 {
		return nil, formatError("`nonce` must be base64url of 12 bytes")
	}
	if b.payload, ok = str("payload"); !ok {
		return nil, formatError("`payload` must be base64url without padding")
	}
	if _, ok := fromBase64url(b.payload); !ok {
		return nil, formatError("`payload` must be base64url without padding")
	}
	if b.sig, ok = str("sig"); !ok {
		return nil, formatError("`sig` must be base64url of a 64-byte signature")
	}
	if sig, ok := fromBase64url(b.sig); !ok || len(sig) != 64 {
		return nil, formatError("`sig` must be base64url of a 64-byte signature")
	}
	return b, nil
}

// header is the signed header (bundle-format.md §Header, signature,
// encryption).
func (b *bundleFile) header() string {
	return fmt.Sprintf("%s\n%s\n%d\n%s\n%s\n%s\n%s\n", bundleFormat, b.project, b.version, b.createdAt, b.keyID, b.enc, b.nonce)
}

func jsonText(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case nil:
		return "null"
	default:
		return fmt.Sprint(x)
	}
}
