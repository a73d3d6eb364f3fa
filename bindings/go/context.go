package warden

import (
	"encoding"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
)

// The request's context as the engine sees it (policy-language.md §1a, §3):
// Go values read as encoding/json would write them, checked as a whole for
// the limits only the host can see, and sent as the values at the paths the
// policies read. Two departures from encoding/json, both from the spec: NaN
// and infinities are null (encoding/json refuses them), and a string that is
// not UTF-8 is sent as it is, so the engine refuses the request instead of
// deciding on replacement characters.

const (
	maxContextDepth = 64
	maxStringBytes  = 1 << 20
)

// invalidRequest is a request the host refuses itself: a deny with
// ERR_REQUEST_INVALID, the engine untouched.
type invalidRequest string

func (e invalidRequest) Error() string { return string(e) }

const (
	errDeep       = invalidRequest("the context nests more than 64 objects or arrays deep")
	errLongString = invalidRequest("the context holds a string longer than 1 MiB of UTF-8")
	errLongName   = invalidRequest("the context holds a member name longer than 1 MiB of UTF-8")
)

// checkContext checks the whole context: at most 64 levels of objects and
// arrays (the context itself is the first), no string or member name over
// 1 MiB, and nothing without a JSON form.
func checkContext(ctx map[string]any) error {
	_, err := plainContext(ctx)
	return err
}

// plainContext checks the context as checkContext does and returns it with
// every value that is not already one the engine's writer reads as it is
// replaced by what encoding/json would write for it (the context itself
// when nothing needed replacing). It runs once, before any lock is taken:
// a MarshalJSON or MarshalText is called once per value, may call back into
// the same Warden, and the engine reads exactly the values that were checked.
func plainContext(ctx map[string]any) (map[string]any, error) {
	m, _, err := plainMembers(ctx, 1)
	return m, err
}

func plainMembers(m map[string]any, depth int) (map[string]any, bool, error) {
	var copied map[string]any
	for k, v := range m {
		if len(k) > maxStringBytes {
			return nil, false, errLongName
		}
		p, changed, err := plainValue(v, depth+1)
		if err != nil {
			return nil, false, err
		}
		if changed && copied == nil {
			// The members seen so far are unchanged: start from all of them, as they are.
			copied = make(map[string]any, len(m))
			for k2, v2 := range m {
				copied[k2] = v2
			}
		}
		if copied != nil {
			copied[k] = p
		}
	}
	if copied != nil {
		return copied, true, nil
	}
	return m, false, nil
}

// plainValue is v checked, as a value the writer reads as it is, and whether
// it had to be made (v itself is returned unchanged otherwise).
func plainValue(v any, depth int) (any, bool, error) {
	switch x := v.(type) {
	case nil, bool, float64, int, int64, float32, int32, uint, uint64:
		return v, false, nil
	case string:
		if len(x) > maxStringBytes {
			return nil, false, errLongString
		}
		return v, false, nil
	case map[string]any:
		if x == nil {
			return v, false, nil
		}
		if depth > maxContextDepth {
			return nil, false, errDeep
		}
		m, changed, err := plainMembers(x, depth)
		if err != nil || !changed {
			return v, false, err
		}
		return m, true, nil
	case []any:
		if x == nil {
			return v, false, nil
		}
		if depth > maxContextDepth {
			return nil, false, errDeep
		}
		var copied []any
		for i, e := range x {
			p, changed, err := plainValue(e, depth+1)
			if err != nil {
				return nil, false, err
			}
			if changed && copied == nil {
				copied = append(make([]any, 0, len(x)), x...)
			}
			if copied != nil {
				copied[i] = p
			}
		}
		if copied != nil {
			return copied, true, nil
		}
		return v, false, nil
	case []string:
		if x == nil {
			return v, false, nil
		}
		if depth > maxContextDepth {
			return nil, false, errDeep
		}
		for _, s := range x {
			if len(s) > maxStringBytes {
				return nil, false, errLongString
			}
		}
		return v, false, nil
	}
	w, err := jsonView(v)
	if err != nil {
		return nil, false, err
	}
	p, _, err := plainValue(w, depth)
	return p, true, err
}

// valueAt returns the value at a context path (its segments after
// `context.`), or false when it is missing: a step into anything but an
// object, or to an absent member.
func valueAt(ctx map[string]any, segments []string) (any, bool) {
	m := ctx
	var v any
	for i, s := range segments {
		if i > 0 {
			next, ok := v.(map[string]any)
			if !ok {
				if isJSONShaped(v) {
					return nil, false
				}
				w, err := jsonView(v)
				if next, ok = w.(map[string]any); err != nil || !ok {
					return nil, false
				}
			}
			m = next
		}
		var ok bool
		if v, ok = m[s]; !ok {
			return nil, false
		}
	}
	return v, true
}

// isJSONShaped reports whether v is one of the types a decoded JSON value has.
func isJSONShaped(v any) bool {
	switch v.(type) {
	case nil, bool, float64, string, map[string]any, []any:
		return true
	}
	return false
}

// jsonView turns a Go value into the JSON value encoding/json would write
// for it, one level deep: nil, bool, float64, string, []any or
// map[string]any, whose members may still need a view of their own.
func jsonView(v any) (any, error) {
	for {
		if isJSONShaped(v) {
			return v, nil
		}
		rv := reflect.ValueOf(v)
		if (rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface) && rv.IsNil() {
			return nil, nil
		}
		switch x := v.(type) {
		case json.Number:
			f, err := strconv.ParseFloat(string(x), 64)
			if err != nil && f == 0 {
				return nil, invalidRequest(fmt.Sprintf("the context holds json.Number %q, which is not a number", string(x)))
			}
			return f, nil
		case json.Marshaler:
			b, err := x.MarshalJSON()
			if err != nil {
				return nil, invalidRequest(fmt.Sprintf("a %T in the context does not marshal to JSON: %v", v, err))
			}
			parsed, err := parseJSON(b)
			if err != nil {
				return nil, invalidRequest(fmt.Sprintf("a %T in the context marshals to invalid JSON: %v", v, err))
			}
			return parsed, nil
		case encoding.TextMarshaler:
			b, err := x.MarshalText()
			if err != nil {
				return nil, invalidRequest(fmt.Sprintf("a %T in the context does not marshal to text: %v", v, err))
			}
			return string(b), nil
		}
		switch rv.Kind() {
		case reflect.Pointer, reflect.Interface:
			v = rv.Elem().Interface()
			continue
		case reflect.Bool:
			return rv.Bool(), nil
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return float64(rv.Int()), nil
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			return float64(rv.Uint()), nil
		case reflect.Float32, reflect.Float64:
			return rv.Float(), nil
		case reflect.String:
			return rv.String(), nil
		case reflect.Map:
			return mapView(rv)
		case reflect.Slice:
			if rv.IsNil() {
				return nil, nil
			}
			if rv.Type().Elem().Kind() == reflect.Uint8 {
				// encoding/json writes a []byte as base64 text.
				return base64.StdEncoding.EncodeToString(rv.Bytes()), nil
			}
			return sliceView(rv), nil
		case reflect.Array:
			return sliceView(rv), nil
		case reflect.Struct:
			b, err := json.Marshal(v)
			if err != nil {
				return nil, invalidRequest(fmt.Sprintf("a %T in the context has no JSON form: %v", v, err))
			}
			return parseJSON(b)
		default:
			return nil, invalidRequest(fmt.Sprintf("a %T in the context has no JSON form", v))
		}
	}
}

func sliceView(rv reflect.Value) []any {
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out
}

// mapView is a map with keys as encoding/json writes them: strings, decimal
// integers, or the text of a TextMarshaler.
func mapView(rv reflect.Value) (any, error) {
	if rv.IsNil() {
		return nil, nil
	}
	out := make(map[string]any, rv.Len())
	iter := rv.MapRange()
	for iter.Next() {
		k := iter.Key()
		var name string
		switch {
		case k.Kind() == reflect.String:
			name = k.String()
		case k.Type().Implements(reflect.TypeFor[encoding.TextMarshaler]()):
			b, err := k.Interface().(encoding.TextMarshaler).MarshalText()
			if err != nil {
				return nil, invalidRequest(fmt.Sprintf("a map key in the context does not marshal to text: %v", err))
			}
			name = string(b)
		case k.CanInt():
			name = strconv.FormatInt(k.Int(), 10)
		case k.CanUint():
			name = strconv.FormatUint(k.Uint(), 10)
		default:
			return nil, invalidRequest(fmt.Sprintf("a map with %s keys in the context has no JSON form", k.Type()))
		}
		out[name] = iter.Value().Interface()
	}
	return out, nil
}
