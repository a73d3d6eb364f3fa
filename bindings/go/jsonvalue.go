package warden

import (
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A strict JSON reader for the documents this host reads itself: bundle files
// (bundle-format.md §The file) and requests in their JSON form
// (policy-language.md §1a). Policies never pass through it: the engine parses
// those. encoding/json would not do here: it matches member names without
// regard to case, keeps the last of duplicate members and replaces bytes that
// are not UTF-8. Here member names are exact, a duplicate is an error, input
// that is not UTF-8 is an error, and numbers are IEEE-754 doubles as in
// JavaScript's JSON.parse (integers past 2^53 become the nearest double).
//
// Values come out as nil, bool, float64, string, []any and map[string]any.
// A \u escape of a lone surrogate becomes the bytes WTF-8 gives it, which are
// not UTF-8: the engine then refuses that string if a request sends it, as
// the TypeScript host refuses a lone surrogate.

// maxJSONDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxJSONDepth = 10000

type jsonError struct {
	offset  int
	message string
}

func (e *jsonError) Error() string {
	return fmt.Sprintf("%s at byte %d", e.message, e.offset)
}

type jsonReader struct {
	data []byte
	pos  int
}

// parseJSON reads one JSON value that spans all of data (whitespace aside).
func parseJSON(data []byte) (any, error) {
	if !utf8.Valid(data) {
		at := 0
		for at < len(data) {
			r, n := utf8.DecodeRune(data[at:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			at += n
		}
		return nil, &jsonError{at, "the text is not UTF-8"}
	}
	r := jsonReader{data: data}
	v, err := r.value(0)
	if err != nil {
		return nil, err
	}
	r.space()
	if r.pos != len(data) {
		return nil, r.fail("unexpected text after the JSON value")
	}
	return v, nil
}

func (r *jsonReader) fail(message string) error {
	return &jsonError{r.pos, message}
}

func (r *jsonReader) space() {
	for r.pos < len(r.data) {
		switch r.data[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

func (r *jsonReader) value(depth int) (any, error) {
	r.space()
	if r.pos >= len(r.data) {
		return nil, r.fail("unexpected end of JSON")
	}
	switch c := r.data[r.pos]; {
	case c == '{':
		return r.object(depth + 1)
	case c == '[':
		return r.array(depth + 1)
	case c == '"':
		return r.string()
	case c == '-' || (c >= '0' && c <= '9'):
		return r.number()
	case r.literal("true"):
		return true, nil
	case r.literal("false"):
		return false, nil
	case r.literal("null"):
		return nil, nil
	default:
		return nil, r.fail(fmt.Sprintf("unexpected character %q", rune(c)))
	}
}

func (r *jsonReader) literal(word string) bool {
	if len(r.data)-r.pos >= len(word) && string(r.data[r.pos:r.pos+len(word)]) == word {
		r.pos += len(word)
		return true
	}
	return false
}

func (r *jsonReader) object(depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, r.fail(fmt.Sprintf("the JSON nests more than %d levels deep", maxJSONDepth))
	}
	r.pos++ // {
	m := map[string]any{}
	r.space()
	if r.pos < len(r.data) && r.data[r.pos] == '}' {
		r.pos++
		return m, nil
	}
	for {
		r.space()
		if r.pos >= len(r.data) || r.data[r.pos] != '"' {
			return nil, r.fail("expected a member name in double quotes")
		}
		at := r.pos
		name, err := r.string()
		if err != nil {
			return nil, err
		}
		if _, dup := m[name]; dup {
			return nil, &jsonError{at, fmt.Sprintf("duplicate member `%s`", name)}
		}
		r.space()
		if r.pos >= len(r.data) || r.data[r.pos] != ':' {
			return nil, r.fail("expected `:` after a member name")
		}
		r.pos++
		v, err := r.value(depth)
		if err != nil {
			return nil, err
		}
		m[name] = v
		r.space()
		if r.pos >= len(r.data) {
			return nil, r.fail("unexpected end of JSON in an object")
		}
		switch r.data[r.pos] {
		case ',':
			r.pos++
		case '}':
			r.pos++
			return m, nil
		default:
			return nil, r.fail("expected `,` or `}` in an object")
		}
	}
}

func (r *jsonReader) array(depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, r.fail(fmt.Sprintf("the JSON nests more than %d levels deep", maxJSONDepth))
	}
	r.pos++ // [
	a := []any{}
	r.space()
	if r.pos < len(r.data) && r.data[r.pos] == ']' {
		r.pos++
		return a, nil
	}
	for {
		v, err := r.value(depth)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		r.space()
		if r.pos >= len(r.data) {
			return nil, r.fail("unexpected end of JSON in an array")
		}
		switch r.data[r.pos] {
		case ',':
			r.pos++
		case ']':
			r.pos++
			return a, nil
		default:
			return nil, r.fail("expected `,` or `]` in an array")
		}
	}
}

func (r *jsonReader) number() (any, error) {
	start := r.pos
	d := r.data
	if d[r.pos] == '-' {
		r.pos++
	}
	digits := func() int {
		n := 0
		for r.pos < len(d) && d[r.pos] >= '0' && d[r.pos] <= '9' {
			r.pos++
			n++
		}
		return n
	}
	if r.pos < len(d) && d[r.pos] == '0' {
		r.pos++
	} else if digits() == 0 {
		return nil, r.fail("a number needs digits")
	}
	if r.pos < len(d) && d[r.pos] == '.' {
		r.pos++
		if digits() == 0 {
			return nil, r.fail("a number needs digits after `.`")
		}
	}
	if r.pos < len(d) && (d[r.pos] == 'e' || d[r.pos] == 'E') {
		r.pos++
		if r.pos < len(d) && (d[r.pos] == '+' || d[r.pos] == '-') {
			r.pos++
		}
		if digits() == 0 {
			return nil, r.fail("a number needs digits in its exponent")
		}
	}
	// Out of range gives ±Inf (as JSON.parse does), which a request sends as null.
	// The grammar was checked above, so an error here can only be ErrRange.
	f, _ := strconv.ParseFloat(string(d[start:r.pos]), 64)
	return f, nil
}

func (r *jsonReader) string() (string, error) {
	r.pos++ // "
	d := r.data
	start := r.pos
	// The common case: no escapes, so the text is the string.
	for r.pos < len(d) {
		c := d[r.pos]
		if c == '"' {
			s := string(d[start:r.pos])
			r.pos++
			return s, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", r.fail("a control character in a string must be escaped")
		}
		r.pos++
	}
	out := append([]byte(nil), d[start:r.pos]...)
	for r.pos < len(d) {
		c := d[r.pos]
		switch {
		case c == '"':
			r.pos++
			return string(out), nil
		case c < 0x20:
			return "", r.fail("a control character in a string must be escaped")
		case c != '\\':
			out = append(out, c)
			r.pos++
			continue
		}
		r.pos++
		if r.pos >= len(d) {
			break
		}
		e := d[r.pos]
		r.pos++
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			u, ok := r.hex4()
			if !ok {
				return "", r.fail("`\\u` needs four hex digits")
			}
			if utf16.IsSurrogate(rune(u)) && u < 0xdc00 && r.pos+6 <= len(d) && d[r.pos] == '\\' && d[r.pos+1] == 'u' {
				save := r.pos
				r.pos += 2
				if low, ok := r.hex4(); ok && low >= 0xdc00 && low <= 0xdfff {
					out = utf8.AppendRune(out, utf16.DecodeRune(rune(u), rune(low)))
					continue
				}
				r.pos = save
			}
			if utf16.IsSurrogate(rune(u)) {
				// WTF-8: the three bytes a surrogate would take; never valid UTF-8.
				out = append(out, 0xe0|byte(u>>12), 0x80|byte(u>>6)&0x3f, 0x80|byte(u)&0x3f)
			} else {
				out = utf8.AppendRune(out, rune(u))
			}
		default:
			return "", r.fail(fmt.Sprintf("unknown escape `\\%c`", e))
		}
	}
	return "", r.fail("unexpected end of JSON in a string")
}

func (r *jsonReader) hex4() (uint16, bool) {
	if r.pos+4 > len(r.data) {
		return 0, false
	}
	var u uint16
	for _, c := range r.data[r.pos : r.pos+4] {
		switch {
		case c >= '0' && c <= '9':
			u = u<<4 | uint16(c-'0')
		case c >= 'a' && c <= 'f':
			u = u<<4 | uint16(c-'a'+10)
		case c >= 'A' && c <= 'F':
			u = u<<4 | uint16(c-'A'+10)
		default:
			return 0, false
		}
	}
	r.pos += 4
	return u, true
}
