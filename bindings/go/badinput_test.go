package warden

import (
	"errors"
	"strings"
	"testing"
)

// Hostile and broken input: each gets a clear error or a decision, and the
// Warden goes on deciding with the policies it had.

const guard = `[{"name": "guard", "rules": [
  {"effect": "allow", "action": "tool.call", "resource": "tool/lookup_*"},
  {"effect": "allow", "action": "*a*a*a*b"},
  {"effect": "allow", "action": "read", "conditions": "context.v == 'ok'"}]}]`

// stillDecides checks that the policies of guard are in force.
func stillDecides(t *testing.T, w *Warden) {
	t.Helper()
	if d := w.Check(bg, Request{Action: "tool.call", Resource: "tool/lookup_order"}); !d.Allowed || d.Rule != 0 {
		t.Fatalf("the policies in force changed: %+v", d)
	}
	if d := w.Check(bg, Request{Action: "tool.call", Resource: "tool/delete"}); d.Allowed {
		t.Fatalf("the policies in force changed: %+v", d)
	}
}

func TestBadPoliciesAreRefusedWithWhereAndWhy(t *testing.T) {
	w := mustLoad(t, guard)
	cases := []struct {
		name, policies  string
		policy          int
		pointer, inText string
	}{
		{"malformed JSON", `[{"rules": [}]`, -1, "", ""},
		{"not JSON at all", `rules: []`, -1, "", ""},
		{"trailing comma", `[{"rules": [],}]`, -1, "", ""},
		{"duplicate members", `[{"rules": [], "rules": []}]`, 0, "/rules", "duplicate"},
		{"duplicate members in a rule", `[{"rules": [{"effect": "allow", "effect": "deny", "action": "a"}]}]`, 0, "/rules/0/effect", "duplicate"},
		{"unknown field", `[{"rules": [{"effect": "allow", "action": "a", "conditon": "context.a == 1"}]}]`, 0, "/rules/0/conditon", "conditions"},
		{"member names are case-sensitive", `[{"Version": 2, "rules": []}]`, 0, "/Version", "version"},
		{"a lone \\ in a pattern", `[{"rules": [{"effect": "allow", "action": "tool\\"}]}]`, 0, "/rules/0/action", ""},
		{"a lone \\ after MATCHES", `[{"rules": [{"effect": "allow", "action": "a", "conditions": "context.a MATCHES 'x\\\\'"}]}]`, 0, "/rules/0/conditions", ""},
		{"a bad expression", `[{"rules": [{"effect": "allow", "action": "a", "conditions": "context.amount <= "}]}]`, 0, "/rules/0/conditions", ""},
		{"a bad expression in a list", `[{"rules": [{"effect": "allow", "action": "a", "conditions": ["context.a == 1", "(context.b"]}]}]`, 0, "/rules/0/conditions/1", ""},
		{"a bad path", `[{"rules": [{"effect": "allow", "action": "a", "conditions": "agent.name == 'x'"}]}]`, 0, "/rules/0/conditions", ""},
		{"the second policy", `[{"rules": []}, {"rules": [{"effect": "permit", "action": "a"}]}]`, 1, "/rules/0/effect", "allow"},
		{"not UTF-8", "[{\"name\": \"x\xff\", \"rules\": []}]", -1, "", ""},
		{"nested 300 deep", "[{\"description\": " + strings.Repeat("[", 300) + strings.Repeat("]", 300) + ", \"rules\": []}]", -1, "", ""},
		{"not an array", `{"rules": []}`, -1, "", "array"},
	}
	for _, c := range cases {
		_, err := w.Load([]byte(c.policies))
		var invalid *PolicyInvalidError
		if !errors.As(err, &invalid) {
			t.Errorf("%s: want ERR_POLICY_INVALID, got %v", c.name, err)
			continue
		}
		found := false
		for _, e := range invalid.Errors {
			if c.policy < 0 {
				// Syntax and encoding errors say where, in bytes; a set that is
				// not an array is outside any policy.
				found = found || (e.Message != "" && (e.Offset >= 0 || e.Policy == -1) && strings.Contains(e.Message, c.inText))
			} else if e.Policy == c.policy && e.Pointer == c.pointer && strings.Contains(e.Message, c.inText) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no error at policy %d %q mentioning %q: %+v", c.name, c.policy, c.pointer, c.inText, invalid.Errors)
		}
		stillDecides(t, w)
	}
	// Syntax and encoding errors say where, in bytes.
	_, err := w.Load([]byte("[{\"name\": \"x\xff\", \"rules\": []}]"))
	if invalid := (*PolicyInvalidError)(nil); !errors.As(err, &invalid) || invalid.Errors[0].Offset != 12 {
		t.Errorf("the offset of a byte that is not UTF-8: %v", err)
	}
}

func TestBadRequestsAreDecidedOrRefusedClearly(t *testing.T) {
	w := mustLoad(t, guard)

	// A context value nested 10,000 deep, as Go values and as JSON.
	deep := any("bottom")
	for i := 0; i < 10000; i++ {
		deep = map[string]any{"v": deep}
	}
	expectInvalid(t, w.Check(bg, Request{Action: "read", Context: map[string]any{"v": deep}}), "more than 64")
	expectInvalid(t, w.Check(bg, Request{Action: "read", Context: map[string]any{"unread": deep}}), "more than 64")
	deepJSON := `{"action": "read", "context": {"v": ` + strings.Repeat(`{"v": `, 10000) + `1` + strings.Repeat("}", 10000) + `}}`
	expectInvalid(t, w.CheckJSON(bg, []byte(deepJSON)), "nests more than")
	deepArrays := `{"action": "read", "context": {"v": ` + strings.Repeat(`[`, 5000) + strings.Repeat("]", 5000) + `}}`
	expectInvalid(t, w.CheckJSON(bg, []byte(deepArrays)), "more than 64")
	stillDecides(t, w)

	// A 1 MB action is a request like any other; past 1 MiB it is invalid.
	big := strings.Repeat("a", 1_000_000)
	if d := w.Check(bg, Request{Action: big}); d.Allowed || d.Error != nil || d.Rule != -1 {
		t.Errorf("a 1 MB action: %+v", d)
	}
	// `*a*a*a*b` against 1 MB of `a`: no match, and then a match, both decided.
	if d := w.Check(bg, Request{Action: big + "b"}); !d.Allowed || d.Rule != 1 {
		t.Errorf("a 1 MB action that matches *a*a*a*b: %+v", d)
	}
	if d := w.Check(bg, Request{Action: "x", Resource: big}); d.Allowed || d.Error != nil {
		t.Errorf("a 1 MB resource: %+v", d)
	}
	expectInvalid(t, w.Check(bg, Request{Action: strings.Repeat("a", 1<<20+1)}), "1 MiB")
	expectInvalid(t, w.Check(bg, Request{Action: "read", Context: map[string]any{"v": strings.Repeat("a", 1<<20+1)}}), "1 MiB")
	stillDecides(t, w)

	// Text that is not UTF-8, wherever the engine reads it.
	for name, c := range map[string]struct {
		r       Request
		message string
	}{
		"action":      {Request{Action: "tool.call\xc3"}, "UTF-8"},
		"resource":    {Request{Action: "tool.call", Resource: "tool/lookup_\xff"}, "UTF-8"},
		"agent id":    {Request{Action: "tool.call", Agent: &Agent{ID: "\xed\xa0\x80"}}, "UTF-8"},
		"a read path": {Request{Action: "read", Context: map[string]any{"v": "ok\xff"}}, "UTF-8"},
		"a name":      {Request{Action: "read", Context: map[string]any{"v": map[string]any{"\xff": 1}}}, "UTF-8"},
		// The engine says "agent `tags` must be an array of strings" here,
		// not that a tag is not UTF-8 (reported to the engine's owners).
		"agent tag": {Request{Action: "tool.call", Agent: &Agent{Tags: []string{"ok", "\xff"}}}, "`tags`"},
	} {
		d := w.Check(bg, c.r)
		if d.Error == nil || d.Error.Code != ErrRequestInvalid || !strings.Contains(d.Error.Message, c.message) {
			t.Errorf("%s that is not UTF-8: %+v", name, d)
		}
	}
	// A string nothing reads is never sent.
	if d := w.Check(bg, Request{Action: "read", Context: map[string]any{"v": "ok", "unread": "\xff"}}); !d.Allowed {
		t.Errorf("an unread string: %+v", d)
	}
	stillDecides(t, w)

	// Malformed, duplicate and unknown members in the JSON form.
	for _, request := range []string{
		`{"action": "tool.call", "resource": "tool/lookup_order"`,
		`{"action": "tool.call", "resource": "tool/lookup_order", "resource": "tool/delete"}`,
		`{"action": "tool.call", "context": {"v": 1, "v": 2}}`,
		`{"action": "tool.call", "Resource": "tool/lookup_order"}`,
		`{"action": "tool.call", "agent": {"id": "a", "trust": "admin"}}`,
		`{"action": "tool.call", "agent": "bot"}`,
		`{"action": "tool.call", "resource": "tool/lookup_order"} {}`,
		``,
	} {
		if d := w.CheckJSON(bg, []byte(request)); d.Error == nil || d.Error.Code != ErrRequestInvalid || d.Allowed {
			t.Errorf("%s: %+v", request, d)
		}
	}
	stillDecides(t, w)
}
