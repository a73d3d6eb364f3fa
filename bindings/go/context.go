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
	return checkMembers(ctx, 1)
}

func checkMembers(m map[string]any, depth int) error {
	for k, v := range m {
		if len(k) > maxStringBytes {
			return errLongName
		}
		if err := checkValue(v, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func checkValue(v any, depth int) error {
	switch x := v.(type) {
	case nil, bool, float64, int, int64, float32, int32, uint, uint64:
		return nil
	case string:
		if len(x) > maxStringBytes {
			return errLongString
		}
		return nil
	case map[string]any:
		if x == nil {
			return nil
		}
		if depth > maxContextDepth {
			return errDeep
		}
		return checkMembers(x, depth)
	case []any:
		if x == nil {
			return nil
		}
		if depth > maxContextDepth {
			return errDeep
		}
		for _, e := range x {
			if err := checkValue(e, depth+1); err != nil {
				return err
			}
		}
		return nil
	case []string:
		if x == nil {
			return nil
		}
		if depth > maxContextDepth {
			return errDeep
		}
		for _, s := range x {
			if len(s) > maxStringBytes {
				return errLongString
			}
		}
		return nil
	}
	w, err := jsonView(v)
	if err != nil {
		return err
	}
	return checkValue(w, depth)
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
