package warden

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/api"
)

const refunds = `[{
  "name": "refunds",
  "rules": [
    {"name": "lookups", "effect": "allow", "action": "tool.call", "resource": "tool/lookup_*"},
    {"name": "small", "effect": "allow", "action": "tool.call", "resource": "tool/issue_refund", "conditions": "context.amount <= 50"},
    {"name": "large", "effect": "escalate", "action": "tool.call", "resource": "tool/issue_refund", "conditions": "context.amount > 500", "reason": "refunds over $500 need a person"},
    {"effect": "deny", "action": "tool.call", "resource": "tool/delete_*", "alert": true, "log_context": ["user.id"]}
  ],
  "rate_limits": [{"action": "tool.call", "resource": "tool/issue_refund", "limit": 2, "period": "1h", "scope": "agent"}]
}]`

var bg = context.Background()

func mustLoad(t testing.TB, policies string, opts ...Option) *Warden {
	t.Helper()
	w, err := Load([]byte(policies), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func expectInvalid(t *testing.T, d Decision, contains string) {
	t.Helper()
	if d.Allowed || d.Effect != Deny || d.Policy != -1 || d.Rule != -1 {
		t.Errorf("%s: want a deny without a rule, got %+v", contains, d)
	}
	if d.Error == nil || d.Error.Code != ErrRequestInvalid {
		t.Fatalf("%s: want ERR_REQUEST_INVALID, got %+v", contains, d.Error)
	}
	if !strings.Contains(d.Error.Message, contains) {
		t.Errorf("want a message with %q, got %q", contains, d.Error.Message)
	}
}

func refund(amount float64) Request {
	return Request{Action: "tool.call", Resource: "tool/issue_refund", Context: map[string]any{"amount": amount},
		Agent: &Agent{ID: "bot"}, TimeText: "2026-03-05T10:00:00Z"}
}

func TestCheckReturnsTheWinningRuleItsNamesReasonAndFlags(t *testing.T) {
	w := mustLoad(t, refunds)
	d := w.Check(bg, Request{Action: "tool.call", Resource: "tool/delete_account", Context: map[string]any{"user": map[string]any{"id": 7}}})
	want := Decision{
		Allowed: false, Effect: Deny, Policy: 0, PolicyName: "refunds", Rule: 3, Reason: "denied by rule 3 of policy 0 (`refunds`)",
		Indeterminate: []string{}, Log: true, LogContext: []string{"user.id"}, Alert: true,
	}
	if !reflect.DeepEqual(d, want) {
		t.Fatalf("got  %+v\nwant %+v", d, want)
	}
}

func TestEscalationIsToldFromDenial(t *testing.T) {
	w := mustLoad(t, refunds)
	r := Request{Action: "tool.call", Resource: "tool/issue_refund", Context: map[string]any{"amount": 900}, Agent: &Agent{ID: "bot"}}
	d := w.Check(bg, r)
	if d.Allowed || d.Effect != Escalate || d.Rule != 2 || d.Reason != "refunds over $500 need a person" || !d.ReasonGiven {
		t.Fatalf("got %+v", d)
	}
	_, err := w.Enforce(bg, r)
	var violation *PolicyViolationError
	if !errors.As(err, &violation) || Code(err) != ErrPolicyViolation || violation.Decision.Effect != Escalate {
		t.Fatalf("want a PolicyViolationError for the escalation, got %v", err)
	}
	if !strings.Contains(err.Error(), "escalation required: refunds over $500") {
		t.Errorf("message: %s", err)
	}
	_, err = w.Enforce(bg, Request{Action: "tool.call", Resource: "tool/delete_account"})
	if !errors.As(err, &violation) || violation.Decision.Effect != Deny || !strings.Contains(err.Error(), "denied: ") {
		t.Fatalf("want a PolicyViolationError for the denial, got %v", err)
	}
	if d, err := w.Enforce(bg, Request{Action: "tool.call", Resource: "tool/lookup_order"}); err != nil || !d.Allowed {
		t.Fatalf("an allowed request: %+v %v", d, err)
	}
}

func TestNothingLoadedDeniesEverything(t *testing.T) {
	w, err := New()
	if err != nil {
		t.Fatal(err)
	}
	d := w.Check(bg, Request{Action: "tool.call", Resource: "tool/lookup_order"})
	if d.Allowed || d.Effect != Deny || d.Policy != -1 || d.Rule != -1 || d.Reason != "no policies have loaded yet, so every request is denied" {
		t.Fatalf("got %+v", d)
	}
	if w.Metadata() != nil {
		t.Fatal("metadata before any load")
	}
}

type tier string

type account struct {
	Tier    string  `json:"tier"`
	Balance float64 `json:"balance"`
	Secret  string  `json:"-"`
}

type upper string

func (u upper) MarshalText() ([]byte, error) { return []byte(strings.ToUpper(string(u))), nil }

// The context is read as encoding/json writes Go values, except NaN and the
// infinities, which are null (policy-language.md §1a).
func TestContextIsReadAsEncodingJSONWritesIt(t *testing.T) {
	w := mustLoad(t, `[{"rules": [
	  {"effect": "allow", "action": "date", "conditions": "context.v == '2026-03-05T10:00:00Z'"},
	  {"effect": "allow", "action": "nan", "conditions": {"v": null}},
	  {"effect": "allow", "action": "five", "conditions": "context.v == 5"},
	  {"effect": "allow", "action": "big", "conditions": "context.v == 9007199254740992"},
	  {"effect": "allow", "action": "gold", "conditions": {"v.tier": "gold", "v.balance": 2.5, "v.Secret": {"exists": false}}},
	  {"effect": "allow", "action": "list", "conditions": "context.v == ['a', 'b']"},
	  {"effect": "allow", "action": "bytes", "conditions": "context.v == 'aGk='"},
	  {"effect": "allow", "action": "keys", "conditions": {"v.K7": 1, "v.7": 2}},
	  {"effect": "allow", "action": "tier", "conditions": {"v": "gold"}},
	  {"effect": "allow", "action": "missing", "conditions": {"v": {"exists": false}}}
	]}]`)
	nan, inf := math.NaN(), math.Inf(1)
	five := 5
	cases := []struct {
		action string
		v      any
	}{
		{"date", time.Date(2026, 3, 5, 10, 0, 0, 0, time.UTC)},
		{"nan", nan},
		{"nan", inf},
		{"nan", float32(math.Inf(-1))},
		{"nan", map[string]int(nil)},
		{"nan", (*int)(nil)},
		{"five", 5},
		{"five", int8(5)},
		{"five", uint16(5)},
		{"five", 5.0},
		{"five", json.Number("5e0")},
		{"five", &five},
		{"big", int64(1<<53 + 1)}, // no double is 2^53+1: the nearest is 2^53
		{"big", uint64(1<<53 + 1)},
		{"gold", account{Tier: "gold", Balance: 2.5, Secret: "x"}},
		{"gold", &account{Tier: "gold", Balance: 2.5}},
		{"gold", map[string]any{"tier": tier("gold"), "balance": float32(2.5)}},
		{"list", []string{"a", "b"}},
		{"list", [2]string{"a", "b"}},
		{"list", []tier{"a", "b"}},
		{"bytes", []byte("hi")},
		{"keys", map[string]any{"K7": 1, "7": uint8(2)}},
		{"tier", tier("gold")},
	}
	for _, c := range cases {
		d := w.Check(bg, Request{Action: c.action, Context: map[string]any{"v": c.v}})
		if !d.Allowed || d.Error != nil {
			t.Errorf("%s with %T %v: %+v", c.action, c.v, c.v, d)
		}
	}
	// Map keys as encoding/json writes them: a TextMarshaler's text, an integer's digits.
	for _, v := range []any{map[upper]int{"k7": 1}, map[int]int{7: 2}} {
		d := w.Check(bg, Request{Action: "keys", Context: map[string]any{"v": v}})
		if d.Allowed || d.Error != nil {
			t.Errorf("keys of %T: %+v", v, d)
		}
	}
	if d := w.Check(bg, Request{Action: "missing", Context: map[string]any{}}); !d.Allowed {
		t.Errorf("an absent member must be missing: %+v", d)
	}
	if d := w.Check(bg, Request{Action: "missing"}); !d.Allowed {
		t.Errorf("a nil context is {}: %+v", d)
	}
	// A value without a JSON form makes the request invalid, as encoding/json refuses it.
	expectInvalid(t, w.Check(bg, Request{Action: "five", Context: map[string]any{"v": make(chan int)}}), "has no JSON form")
	expectInvalid(t, w.Check(bg, Request{Action: "five", Context: map[string]any{"unread": func() {}}}), "has no JSON form")
}

func TestTimeZonesComeFromGosTimePackage(t *testing.T) {
	w := mustLoad(t, `[{"timezone": "America/New_York", "rules": [{"effect": "allow", "action": "a", "conditions": "time.hour == 9 AND time.weekday == 4"}]}]`)
	for _, c := range []struct {
		r    Request
		want bool
	}{
		{Request{Action: "a", TimeText: "2026-03-05T14:30:00Z"}, true}, // EST, UTC-5
		{Request{Action: "a", TimeText: "2026-07-02T13:30:00Z"}, true}, // EDT, UTC-4
		{Request{Action: "a", Time: time.Date(2026, 7, 2, 14, 30, 0, 0, time.UTC)}, false},
		{Request{Action: "a", Time: time.Date(2026, 3, 5, 14, 59, 59, 999999999, time.UTC)}, true},
		{Request{Action: "a", Time: time.Date(2026, 3, 5, 9, 30, 0, 0, time.FixedZone("x", -5*3600))}, true},
	} {
		if d := w.Check(bg, c.r); d.Allowed != c.want || d.Error != nil {
			t.Errorf("%+v: %+v", c.r, d)
		}
	}
	// The clock, when a request has no time.
	clock := time.Date(2026, 3, 5, 14, 0, 0, 0, time.UTC)
	w = mustLoad(t, `[{"timezone": "Asia/Calcutta", "rules": [{"effect": "allow", "action": "a", "conditions": "time.hour == 19 AND time.minute == 30"}]}]`,
		WithClock(func() time.Time { return clock }))
	if d := w.Check(bg, Request{Action: "a"}); !d.Allowed {
		t.Errorf("19:30 in Kolkata: %+v", d)
	}
}

// engineZones decodes the zone names the engine carries
// (engine/assembly/zones.ts: sorted, front-coded in blocks, see
// engine/scripts/gen-zones.mjs).
func engineZones(t *testing.T) []string {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("..", "..", "engine", "assembly", "zones.ts"))
	if err != nil {
		t.Fatal(err)
	}
	count := regexp.MustCompile(`ZONE_COUNT: u32 = (\d+)`).FindSubmatch(text)
	block := regexp.MustCompile(`ZONE_BLOCK: u32 = (\d+)`).FindSubmatch(text)
	blob := regexp.MustCompile(`(?s)memory\.data<u8>\(\[(.*?)\]\)`).FindSubmatch(text)
	if count == nil || block == nil || blob == nil {
		t.Fatal("engine/assembly/zones.ts has changed shape")
	}
	var data []byte
	for _, f := range strings.FieldsFunc(string(blob[1]), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, byte(n))
	}
	n, _ := strconv.Atoi(string(count[1]))
	per, _ := strconv.Atoi(string(block[1]))
	var names []string
	previous, p := "", 0
	for i := 0; i < n; i++ {
		shared := 0
		if i%per != 0 {
			shared = int(data[p])
			p++
		}
		length := int(data[p])
		name := previous[:shared] + string(data[p+1:p+1+length])
		p += 1 + length
		names = append(names, name)
		previous = name
	}
	return names
}

// Every zone name the engine accepts must resolve in Go, or a policy that
// loads could not be decided.
func TestEveryZoneTheEngineAcceptsResolves(t *testing.T) {
	zones := engineZones(t)
	if len(zones) < 598 || !sort.StringsAreSorted(zones) {
		t.Fatalf("decoded %d zones", len(zones))
	}
	for _, zone := range zones {
		if _, err := loadZone(zone); err != nil {
			t.Error(err)
		}
	}
	w, _ := New()
	for _, zone := range []string{zones[0], "Asia/Calcutta", "US/Eastern", zones[len(zones)-1]} {
		meta, err := w.Load([]byte(fmt.Sprintf(`[{"timezone": %q, "rules": [{"effect": "allow", "action": "a", "conditions": "time.hour >= 0"}]}]`, zone)))
		if err != nil || !reflect.DeepEqual(meta.Zones, []string{zone}) {
			t.Errorf("%s: %v", zone, err)
		}
	}
	if _, err := w.Load([]byte(`[{"timezone": "Mars/Olympus", "rules": []}]`)); Code(err) != ErrPolicyInvalid {
		t.Errorf("an unknown zone: %v", err)
	}
}

func TestInternedActionsAndResourcesDecideAsText(t *testing.T) {
	w := mustLoad(t, `[{"rules": [
	  {"effect": "allow", "action": "tool.call", "resource": "tool/*"},
	  {"effect": "deny", "action": "tool.call", "resource": "tool/r1*"}]}]`)
	// Each resource three times (text, then interned twice), over more than the 4,096 the host keeps.
	for i := 0; i < 5000; i++ {
		resource := fmt.Sprintf("tool/r%d", i)
		want := 0
		if strings.HasPrefix(resource, "tool/r1") {
			want = 1
		}
		for k := 0; k < 3; k++ {
			if d := w.Check(bg, Request{Action: "tool.call", Resource: resource, Agent: &Agent{ID: resource}}); d.Rule != want {
				t.Fatalf("%s, time %d: rule %d, want %d", resource, k, d.Rule, want)
			}
		}
	}
	for k := 0; k < 3; k++ {
		expectInvalid(t, w.Check(bg, Request{Action: "tool.call", Resource: "tool/\xff"}), "UTF-8")
	}
}

// invalidCase is a request Check must refuse, and what the refusal says.
type invalidCase struct {
	message string
	r       Request
}

// invalidContexts are requests made by `with` whose context no host may send:
// nested past 64 levels, holding itself, with no JSON form, over 1 MiB.
func invalidContexts(with func(func(*Request)) Request) []invalidCase {
	deep := map[string]any{}
	inner := deep
	for i := 0; i < 70; i++ {
		next := map[string]any{}
		inner["x"] = next
		inner = next
	}
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	return []invalidCase{
		{"the context nests more than 64 objects or arrays deep", with(func(r *Request) { r.Context["unread"] = deep })},
		{"the context nests more than 64 objects or arrays deep", with(func(r *Request) { r.Context["cyclic"] = cyclic })},
		{"has no JSON form", with(func(r *Request) { r.Context["c"] = make(chan int) })},
		{"1 MiB", with(func(r *Request) { r.Context["note"] = strings.Repeat("é", 600_000) })},
		{"1 MiB", with(func(r *Request) { r.Context[strings.Repeat("k", 1<<20+1)] = 1 })},
	}
}

func TestInvalidRequestsAreDenialsThatLeaveTheEngineUntouched(t *testing.T) {
	w := mustLoad(t, refunds)
	if d := w.Check(bg, refund(10)); !d.Allowed {
		t.Fatalf("first refund: %+v", d)
	}
	with := func(mutate func(*Request)) Request {
		r := refund(10)
		r.Context = map[string]any{"amount": 10.0}
		mutate(&r)
		return r
	}
	cases := append(invalidContexts(with), []invalidCase{
		{"UTF-8", with(func(r *Request) { r.Action = "tool.call\xff" })},
		{"RFC 3339", with(func(r *Request) { r.TimeText = "2026-03-05 10:00:00Z" })},
		{"not both", with(func(r *Request) { r.Time = time.Now() })},
		{"range of instants", with(func(r *Request) { r.TimeText, r.Time = "", time.Unix(1<<53+1, 0) })},
	}...)
	for _, c := range cases {
		expectInvalid(t, w.Check(bg, c.r), c.message)
	}
	expectInvalid(t, w.CheckJSON(bg, []byte(`{"action": "tool.call", "resource": "tool/issue_refund", "context": {"amount": 10},
	  "agent": {"id": "bot", "name": "x"}, "time": "2026-03-05T10:00:00Z"}`)), "unknown agent field `name`")
	// The invalid requests did not count: one more refund fits under the limit of 2.
	if d := w.Check(bg, refund(10)); !d.Allowed {
		t.Fatalf("second refund: %+v", d)
	}
	d := w.Check(bg, refund(10))
	if d.Allowed || d.RateLimit == nil || *d.RateLimit != (RateLimitRef{0, 0}) || d.Reason != "rate limit exceeded" || !d.ReasonGiven || d.Rule != 1 {
		t.Fatalf("third refund: %+v", d)
	}
}

func TestCheckJSONDecidesTheVectorShapeAndRefusesAnyOther(t *testing.T) {
	w := mustLoad(t, refunds)
	if d := w.CheckJSON(bg, []byte(`{"action": "tool.call", "resource": "tool/lookup_order", "context": {}, "agent": null, "time": "2026-03-05T10:00:00Z"}`)); !d.Allowed {
		t.Fatalf("got %+v", d)
	}
	for _, c := range []struct{ request, message string }{
		{`null`, "a request must be a JSON object"},
		{`["tool.call"]`, "a request must be a JSON object"},
		{`{"resource": "tool/x"}`, "a request needs `action`"},
		{`{"action": "tool.call", "actor": "x"}`, "unknown request member `actor`"},
		{`{"action": "tool.call", "Action": "x"}`, "unknown request member `Action`"},
		{`{"action": "tool.call", "time": 1772704800000}`, "`time` must be an RFC 3339 string"},
		{`{"action": "tool.call", "context": "x"}`, "`context` must be a JSON object"},
		{`{"action": "tool.call", "resource": 5}`, "`resource` must be a string"},
		{`{"action": 7}`, "`action` must be a string"},
		{`{"action": "tool.call", "action": "tool.call"}`, "duplicate member `action`"},
		{`{"action": "tool.call",}`, "not JSON"},
		{"{\"action\": \"tool.call\xff\"}", "not UTF-8"},
		{`{"action": "tool.\ud800call"}`, "UTF-8"},
		{`{"action": "tool.call", "agent": {"id": 5}}`, "agent"},
	} {
		expectInvalid(t, w.CheckJSON(bg, []byte(c.request)), c.message)
	}
	// An escaped pair is one character; a lone surrogate is refused above.
	if d := w.CheckJSON(bg, []byte(`{"action": "tool.call", "resource": "tool/lookup_\ud83d\ude00"}`)); !d.Allowed {
		t.Fatalf("got %+v", d)
	}
}

func TestLoadReportsEveryErrorAndKeepsThePoliciesInForce(t *testing.T) {
	w := mustLoad(t, refunds)
	_, err := w.Load([]byte(`[{"rules": [{"efect": "allow", "action": "a"}]}, {"rules": [], "timezone": "Mars/Olympus"}]`))
	var invalid *PolicyInvalidError
	if !errors.As(err, &invalid) || Code(err) != ErrPolicyInvalid {
		t.Fatalf("want a PolicyInvalidError, got %v", err)
	}
	var where []string
	for _, e := range invalid.Errors {
		where = append(where, fmt.Sprintf("%d%s", e.Policy, e.Pointer))
	}
	sort.Strings(where)
	if !reflect.DeepEqual(where, []string{"0/rules/0/efect", "0/rules/0/effect", "1/timezone"}) {
		t.Fatalf("errors at %v", where)
	}
	if !strings.HasPrefix(err.Error(), "ERR_POLICY_INVALID: policies do not load: policy ") || !strings.Contains(err.Error(), "(and 2 more)") {
		t.Errorf("message: %s", err)
	}
	if d := w.Check(bg, Request{Action: "tool.call", Resource: "tool/lookup_order"}); !d.Allowed {
		t.Fatalf("the policies in force changed: %+v", d)
	}
	if name := w.Metadata().Policies[0].Name; name == nil || *name != "refunds" {
		t.Fatalf("metadata changed: %v", name)
	}
}

func TestNotInIsSpelledWithTheKeyword(t *testing.T) {
	w, _ := New()
	for _, c := range []struct {
		conditions string
		loads      bool
	}{{"context.a NOT IN [1]", true}, {"context.a ! IN [1]", false}, {"! context.a IN [1]", true}} {
		_, err := w.Load([]byte(fmt.Sprintf(`[{"rules": [{"effect": "allow", "action": "a", "conditions": %q}]}]`, c.conditions)))
		if (err == nil) != c.loads {
			t.Errorf("%s: %v", c.conditions, err)
		}
	}
}

func TestRateLimitCountsCarryAcrossAReloadOfTheSameLimit(t *testing.T) {
	w := mustLoad(t, refunds)
	w.Check(bg, refund(1))
	w.Check(bg, refund(1))
	if _, err := w.Load([]byte(refunds)); err != nil {
		t.Fatal(err)
	}
	if d := w.Check(bg, refund(1)); d.Allowed || d.RateLimit == nil {
		t.Fatalf("the counts did not carry: %+v", d)
	}
	// A different period is a different limit: its counts start empty.
	if _, err := w.Load([]byte(strings.Replace(refunds, `"1h"`, `"2h"`, 1))); err != nil {
		t.Fatal(err)
	}
	if d := w.Check(bg, refund(1)); !d.Allowed {
		t.Fatalf("a new limit: %+v", d)
	}
}

func TestTimeIsExactBelowTheMillisecond(t *testing.T) {
	w := mustLoad(t, `[{
	  "rules": [
	    {"effect": "allow", "action": "hour", "conditions": "time.hour == 23 AND time.epoch == 1772755199"},
	    {"effect": "allow", "action": "count"}],
	  "rate_limits": [{"action": "count", "limit": 1, "period": "1s", "scope": "global"}]}]`)
	if d := w.Check(bg, Request{Action: "hour", TimeText: "2026-03-05T23:59:59.9999999Z"}); !d.Allowed {
		t.Fatalf("%+v", d)
	}
	if d := w.Check(bg, Request{Action: "count", TimeText: "2026-03-05T10:00:00Z"}); !d.Allowed {
		t.Fatalf("%+v", d)
	}
	if d := w.Check(bg, Request{Action: "count", Time: time.Date(2026, 3, 5, 10, 0, 0, 999999999, time.UTC)}); d.RateLimit == nil {
		t.Fatalf("within the second: %+v", d)
	}
	if d := w.Check(bg, Request{Action: "count", TimeText: "2026-03-05T10:00:00.999999999999Z"}); d.RateLimit == nil {
		t.Fatalf("within the second, to the attosecond: %+v", d)
	}
	if d := w.Check(bg, Request{Action: "count", TimeText: "2026-03-05T10:00:01Z"}); !d.Allowed {
		t.Fatalf("the next second: %+v", d)
	}
}

func TestExplainShowsEveryRuleWithoutCounting(t *testing.T) {
	w := mustLoad(t, refunds)
	r := refund(0)
	r.Context = map[string]any{}
	x, err := w.Explain(bg, r)
	if err != nil {
		t.Fatal(err)
	}
	if x.Decision.Allowed || x.Decision.Effect != Escalate || x.Decision.Rule != 2 || !reflect.DeepEqual(x.Decision.Indeterminate, []string{"context.amount"}) {
		t.Fatalf("decision %+v", x.Decision)
	}
	if len(x.Rules) != 4 {
		t.Fatalf("rules %+v", x.Rules)
	}
	if r0 := x.Rules[0]; r0.Resource == nil || r0.Resource.Matched || !reflect.DeepEqual(r0.Resource.Patterns, []string{"tool/lookup_*"}) {
		t.Errorf("rule 0: %+v", r0)
	}
	if r1 := x.Rules[1]; r1.Conditions == nil || r1.Conditions.Result != "indeterminate" || r1.Candidate == nil || *r1.Candidate ||
		!reflect.DeepEqual(r1.Conditions.Indeterminate, []string{"context.amount"}) {
		t.Errorf("rule 1: %+v", r1)
	}
	if r2 := x.Rules[2]; r2.Action.Specificity != [2]int{9, 0} || r2.Resource.Specificity != [2]int{17, 0} || r2.Candidate == nil || !*r2.Candidate {
		t.Errorf("rule 2: %+v", r2)
	}
	if x.Why != "rule 2 of policy 0 is the only candidate" {
		t.Errorf("why: %s", x.Why)
	}
	for i := 0; i < 5; i++ {
		if x, err := w.Explain(bg, refund(5)); err != nil || !x.Decision.Allowed {
			t.Fatalf("explain %d: %+v %v", i, x.Decision, err)
		}
	}
	if d := w.Check(bg, refund(5)); !d.Allowed {
		t.Fatalf("explain counted: %+v", d)
	}
	x, err = w.Explain(bg, Request{Action: "tool.call\xff"})
	if err != nil || x.Decision.Error == nil || !strings.HasPrefix(x.Why, "the request is invalid: ") || x.Rules == nil || len(x.Rules) != 0 {
		t.Fatalf("an invalid request: %+v %v", x, err)
	}
}

func TestExplainSaysWhichCriterionDecided(t *testing.T) {
	w := mustLoad(t, `[{"rules": [
	  {"effect": "allow", "action": "tool.call", "resource": "tool/*"},
	  {"effect": "deny", "action": "*", "resource": "tool/issue_refund"}]}]`)
	x, err := w.ExplainJSON(bg, []byte(`{"action": "tool.call", "resource": "tool/issue_refund"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := "rule 1 of policy 0 wins over rule 0 of policy 0: its resource pattern is more specific (17 literal characters, 0 wildcards against 5 literal characters, 1 wildcard)"
	if x.Why != want {
		t.Fatalf("why: %s", x.Why)
	}
}

func TestRateLimitStateExportsAndImportsIntoAFreshWarden(t *testing.T) {
	a := mustLoad(t, refunds)
	a.Check(bg, refund(1))
	a.Check(bg, refund(1))
	state, err := a.ExportState()
	if err != nil {
		t.Fatal(err)
	}
	var got any
	if err := json.Unmarshal(state, &got); err != nil {
		t.Fatal(err)
	}
	var want any
	_ = json.Unmarshal([]byte(`{"format": "warden-rate-limits-1", "limits": [{
	  "policy": "refunds", "action": ["tool.call"], "resource": ["tool/issue_refund"], "period_seconds": 3600, "scope": "agent",
	  "counts": [{"key": "bot", "times": ["1772704800", "1772704800"]}]}]}`), &want)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("state %s", state)
	}
	b := mustLoad(t, refunds)
	if err := b.ImportState(state); err != nil {
		t.Fatal(err)
	}
	if d := b.Check(bg, refund(1)); d.Allowed || d.RateLimit == nil {
		t.Fatalf("imported counts: %+v", d)
	}
	if err := b.ImportState([]byte("{}")); Code(err) != ErrStateInvalid {
		t.Fatalf("malformed state: %v", err)
	}
}

// trapOnCall makes an export trap for real: it calls the engine's `load`
// with a block far outside its memory, as the TypeScript host's test does.
type trapOnCall struct {
	api.Function
	load api.Function
}

func (f trapOnCall) CallWithStack(ctx context.Context, stack []uint64) error {
	stack[0], stack[1] = 0xfffffff0, 64
	return f.load.CallWithStack(ctx, stack)
}

func TestATrapIsRecoveredFrom(t *testing.T) {
	var events []RecoveredEvent
	var logged bytes.Buffer
	w := mustLoad(t, refunds, OnRecovered(func(e RecoveredEvent) { events = append(events, e) }),
		WithLogger(slog.New(slog.NewTextHandler(&logged, nil))))
	w.Check(bg, refund(1))
	w.Check(bg, refund(1))
	trapped := w.inst.primary
	trapped.fn.decide = trapOnCall{trapped.fn.decide, trapped.fn.load}
	d := w.Check(bg, refund(1))
	if len(events) != 1 || !events[0].CountsCarried {
		t.Fatalf("events %+v", events)
	}
	if !strings.Contains(events[0].Err.Error(), "out of bounds") {
		t.Errorf("the trap: %v", events[0].Err)
	}
	if !strings.Contains(logged.String(), "warden: the engine trapped; a fresh instance took over") {
		t.Errorf("logged: %s", logged.String())
	}
	if w.inst.primary == trapped {
		t.Fatal("the trapped instance is still in use")
	}
	// The retried decision ran on the new instance, which still counts the two refunds.
	if d.Allowed || d.RateLimit == nil {
		t.Fatalf("retried decision: %+v", d)
	}
	if d := w.Check(bg, Request{Action: "tool.call", Resource: "tool/lookup_order"}); !d.Allowed {
		t.Fatalf("after recovery: %+v", d)
	}
}

// Many goroutines share one Warden: every decision is right, and a global
// limit counts exactly, as one instance counts it.
func TestConcurrentChecksShareOneCount(t *testing.T) {
	w := mustLoad(t, `[{"rules": [{"effect": "allow", "action": "tool.call", "resource": "tool/*"}],
	  "rate_limits": [{"action": "tool.call", "resource": "tool/limited", "limit": 300, "period": "1h", "scope": "global"}]}]`)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				if d := w.Check(bg, Request{Action: "tool.call", Resource: "tool/limited", TimeText: "2026-03-05T10:00:00Z"}); d.Allowed {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
				if d := w.Check(bg, Request{Action: "tool.call", Resource: fmt.Sprintf("tool/x%d", i%10)}); !d.Allowed || d.Rule != 0 {
					t.Errorf("%+v", d)
				}
				if i%25 == 0 {
					if _, err := w.Load([]byte(`[{"rules": [{"effect": "allow", "action": "tool.call", "resource": "tool/*"}],
					  "rate_limits": [{"action": "tool.call", "resource": "tool/limited", "limit": 300, "period": "1h", "scope": "global"}]}]`)); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	if allowed != 300 {
		t.Fatalf("allowed %d of 800 under a limit of 300", allowed)
	}
}

func TestATrapInAPooledInstanceIsRecoveredFrom(t *testing.T) {
	var events []RecoveredEvent
	w := mustLoad(t, guard, OnRecovered(func(e RecoveredEvent) { events = append(events, e) }),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	stillDecides(t, w) // the pool has an instance now
	for i := range w.inst.slots[:w.inst.created.Load()] {
		e := w.inst.slots[i].eng
		e.fn.decide = trapOnCall{e.fn.decide, e.fn.load}
	}
	d := w.Check(bg, Request{Action: "tool.call", Resource: "tool/lookup_order"})
	if !d.Allowed || d.Rule != 0 || len(events) != 1 {
		t.Fatalf("decision %+v, events %+v", d, events)
	}
	stillDecides(t, w)
}

// Decisions made by pooled instances while bundles change under them are
// each made with the policies whose version they report.
func TestPooledDecisionsMatchTheVersionTheyReport(t *testing.T) {
	w, _ := New()
	trust := testTrust(t)
	bundles := make([][]byte, 12)
	for v := 1; v < len(bundles); v++ {
		bundles[v] = testBundle(t, int64(v), bundleOverrides{})
	}
	if _, err := w.LoadBundle(bundles[1], trust); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 400; i++ {
				asked := int64(1 + (i+g)%(len(bundles)-1))
				d := w.Check(bg, Request{Action: "tool.call", Resource: fmt.Sprintf("tool/v%d", asked)})
				if d.Allowed != (asked == d.BundleVersion) || d.BundleVersion == 0 {
					t.Errorf("asked for v%d under version %d: %+v", asked, d.BundleVersion, d)
					return
				}
			}
		}(g)
	}
	for v := 2; v < len(bundles); v++ {
		if _, err := w.LoadBundle(bundles[v], trust); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
}

// The engine writes a rule that sets none of its metadata as its effect alone
// (ABI.md §Loading); Metadata holds it whole, with the defaults.
func TestRuleMetadataWrittenAsEffectAlone(t *testing.T) {
	w := mustLoad(t, `[{"rules": [
		{"effect": "escalate", "action": "a"},
		{"effect": "deny", "action": "b", "name": "no-b", "log": false, "log_context": ["context.x"]}]}]`)
	noB := "no-b"
	want := []RuleInfo{
		{Effect: Escalate, Log: true},
		{Name: &noB, Effect: Deny, Log: false, LogContext: []string{"context.x"}},
	}
	if got := w.Metadata().Policies[0].Rules; !reflect.DeepEqual(got, want) {
		t.Fatalf("rules metadata %+v, want %+v", got, want)
	}
	if d := w.Check(bg, Request{Action: "a", Resource: "x"}); d.Effect != Escalate || !d.Log || d.Reason != "escalated for approval by rule 0 of policy 0" {
		t.Fatalf("decision %+v", d)
	}
}
