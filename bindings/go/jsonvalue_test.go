package warden

import (
	"math"
	"reflect"
	"testing"
)

func TestTheStrictJSONReader(t *testing.T) {
	for _, c := range []struct {
		text string
		want any
	}{
		{`{"a": [1, -0.5e1, 1E+2, 0, true, false, null, "x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"]}`,
			map[string]any{"a": []any{1.0, -5.0, 100.0, 0.0, true, false, nil, "x\"\\/\b\f\n\r\té😀"}}},
		{` [ ] `, []any{}},
		{`{}`, map[string]any{}},
		{`9007199254740993`, 9007199254740992.0}, // the nearest double
		{`1e400`, math.Inf(1)},
		{`"\ud800"`, "\xed\xa0\x80"}, // a lone surrogate: WTF-8, not UTF-8
		{`{"A": 1, "a": 2}`, map[string]any{"A": 1.0, "a": 2.0}},
	} {
		got, err := parseJSON([]byte(c.text))
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %#v %v", c.text, got, err)
		}
	}
	for _, text := range []string{
		``, ` `, `01`, `-`, `1.`, `.5`, `+1`, `NaN`, `Infinity`, `tru`, `nul`, `"a`, `"a` + "\n" + `"`, `'a'`,
		`[1,]`, `[1 2]`, `{"a" 1}`, `{"a": 1,}`, `{a: 1}`, `{"a": 1, "a": 1}`, `"\x"`, `"\u12"`, `1 2`, `[`, "\xef\xbb\xbf{}",
		"\"\xff\"", `[]]`,
	} {
		if v, err := parseJSON([]byte(text)); err == nil {
			t.Errorf("%q parsed as %#v", text, v)
		}
	}
	deep := make([]byte, 0, 2*maxJSONDepth+2)
	for i := 0; i <= maxJSONDepth; i++ {
		deep = append(deep, '[')
	}
	for i := 0; i <= maxJSONDepth; i++ {
		deep = append(deep, ']')
	}
	if _, err := parseJSON(deep); err == nil {
		t.Error("nesting past the limit parsed")
	}
}
