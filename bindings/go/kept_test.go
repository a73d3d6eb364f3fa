package warden

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// plain decides by action and resource alone.
const plain = `[{"name": "support-bot", "rules": [
  {"effect": "allow", "action": "tool.call", "resource": "tool/lookup_*"},
  {"name": "no refunds", "effect": "deny", "action": "tool.call", "resource": "tool/issue_refund", "reason": "refunds go to a person", "alert": true, "log_context": ["order"]},
  {"effect": "escalate", "action": "tool.call", "resource": "tool/delete_*"},
  {"effect": "allow", "action": "llm.generate"}]}]`

// engineCalls counts the decide and explain calls of every instance of w.
func engineCalls(w *Warden) int {
	w.mu.Lock()
	n := w.inst.primary.decided
	w.mu.Unlock()
	for i := range w.inst.slots[:w.inst.created.Load()] {
		s := &w.inst.slots[i]
		s.mu.Lock()
		if s.eng != nil {
			n += s.eng.decided
		}
		s.mu.Unlock()
	}
	return n
}

// keptCount is the number of decisions w keeps now (-1: it keeps none).
func keptCount(w *Warden) int {
	if k := w.st.Load().kept; k != nil {
		return k.len()
	}
	return -1
}

func TestMetadataSaysWhenDecisionsDependOnActionAndResourceAlone(t *testing.T) {
	cases := []struct {
		name, policies string
		want           bool
	}{
		{"plain rules, names, reasons, alerts, log_context", plain, true},
		{"no policies", `[]`, true},
		{"a default allow", `[{"default_effect": "allow", "rules": [{"effect": "deny", "action": "x"}]}]`, true},
		{"conditions", `[{"rules": [{"effect": "allow", "action": "x", "conditions": "context.amount <= 50"}]}]`, false},
		{"object conditions", `[{"rules": [{"effect": "allow", "action": "x", "conditions": {"has_verification": true}}]}]`, false},
		{"time conditions", `[{"rules": [{"effect": "allow", "action": "x", "conditions": "time.hour >= 9"}]}]`, false},
		{"a trust level", `[{"rules": [{"effect": "allow", "action": "x", "trust_level": "elevated"}]}]`, false},
		{"agent_match", `[{"agent_match": {"ids": ["bot-*"]}, "rules": [{"effect": "allow", "action": "x"}]}]`, false},
		{"rate limits", `[{"rules": [{"effect": "allow", "action": "x"}],
		  "rate_limits": [{"action": "y", "limit": 1, "period": "1h"}]}]`, false},
		{"one policy of two with conditions", plain[:len(plain)-1] + `, {"rules": [{"effect": "deny", "action": "x", "conditions": "context.a == 1"}]}]`, false},
	}
	for _, c := range cases {
		w := mustLoad(t, c.policies)
		if got := w.Metadata().ActionResourceOnly; got != c.want {
			t.Errorf("%s: action_resource_only %v, want %v", c.name, got, c.want)
		}
		// Decisions are kept exactly then.
		if kept := w.st.Load().kept != nil; kept != c.want {
			t.Errorf("%s: keeps decisions: %v", c.name, kept)
		}
		if off := mustLoad(t, c.policies, WithKeepDecisions(false)); off.Metadata().ActionResourceOnly != c.want || off.st.Load().kept != nil {
			t.Errorf("%s: with WithKeepDecisions(false): metadata %v, keeps %v", c.name, off.Metadata().ActionResourceOnly, off.st.Load().kept != nil)
		}
	}
}

// plainRequests covers each rule, a default deny, a missing resource and
// contexts of every kind.
var plainRequests = []Request{
	{Action: "tool.call", Resource: "tool/lookup_order", Context: map[string]any{"order": "ord_1"}},
	{Action: "tool.call", Resource: "tool/issue_refund", Context: map[string]any{"order": "ord_1", "amount": 20.0}},
	{Action: "tool.call", Resource: "tool/delete_account"},
	{Action: "tool.call", Resource: "tool/unknown", Context: map[string]any{}},
	{Action: "llm.generate"},
	{Action: "llm.generate", Resource: "model/gpt-4", Context: map[string]any{"n": []any{1, "two", nil, map[string]any{"x": true}}}},
	{Action: "", Resource: ""},
	{Action: "tool.call", Resource: "tool/lookup_x", Context: map[string]any{"t": time.Unix(0, 0), "nan": math.NaN(), "s": struct{ A int }{1}}},
}

func TestAKeptDecisionIsReturnedAgainAndEqualsTheEngines(t *testing.T) {
	w := mustLoad(t, plain)
	off := mustLoad(t, plain, WithKeepDecisions(false))
	for i, r := range plainRequests {
		want := off.Check(bg, r)
		if want.Error != nil {
			t.Fatalf("request %d: %+v", i, want)
		}
		before := engineCalls(w)
		first := w.Check(bg, r)
		if calls := engineCalls(w) - before; calls != 1 {
			t.Fatalf("request %d: the first check made %d engine calls", i, calls)
		}
		for k := 0; k < 3; k++ {
			again := w.Check(bg, r)
			if !reflect.DeepEqual(again, want) || !reflect.DeepEqual(first, want) {
				t.Fatalf("request %d: kept %+v, first %+v, engine %+v", i, again, first, want)
			}
		}
		// Another context, or none, is the same (action, resource).
		other := r
		other.Context = map[string]any{"unrelated": "value"}
		if d := w.Check(bg, other); !reflect.DeepEqual(d, want) {
			t.Fatalf("request %d with another context: %+v, want %+v", i, d, want)
		}
		if calls := engineCalls(w) - before; calls != 1 {
			t.Fatalf("request %d: the kept decision went to the engine (%d calls)", i, calls)
		}
	}
	if n := keptCount(w); n != len(plainRequests) {
		t.Fatalf("%d decisions kept, want %d", n, len(plainRequests))
	}
	// What a kept decision says.
	d := w.Check(bg, plainRequests[1])
	if d.Allowed || d.Effect != Deny || d.Policy != 0 || d.Rule != 1 || d.RuleName != "no refunds" || d.PolicyName != "support-bot" ||
		d.Reason != "refunds go to a person" || !d.ReasonGiven || !d.Alert || !reflect.DeepEqual(d.LogContext, []string{"order"}) {
		t.Fatalf("%+v", d)
	}
	// Enforce and Authorize decide through Check.
	calls := engineCalls(w)
	if _, err := w.Enforce(bg, plainRequests[1]); err == nil {
		t.Fatal("Enforce allowed a denied request")
	}
	if d, err := w.Authorize(bg, plainRequests[2]); err == nil || d.Effect != Escalate {
		t.Fatalf("Authorize: %+v %v", d, err)
	}
	if engineCalls(w) != calls {
		t.Fatal("Enforce or Authorize went to the engine for a kept decision")
	}
	// Explain and CheckJSON always ask the engine, as @warden/core's explain and checkRequest do.
	if _, err := w.Explain(bg, plainRequests[0]); err != nil {
		t.Fatal(err)
	}
	w.CheckJSON(bg, []byte(`{"action": "tool.call", "resource": "tool/lookup_order"}`))
	if engineCalls(w) != calls+2 {
		t.Fatalf("Explain and CheckJSON made %d engine calls, want 2", engineCalls(w)-calls)
	}
}

// A request that names an agent or a time, or whose context is invalid, is
// refused on a kept (action, resource) exactly as the engine refuses it.
func TestKeptDecisionsStillRefuseInvalidRequests(t *testing.T) {
	w := mustLoad(t, plain)
	off := mustLoad(t, plain, WithKeepDecisions(false))
	with := func(mutate func(*Request)) Request {
		r := Request{Action: "tool.call", Resource: "tool/lookup_order", Context: map[string]any{"order": "ord_1"}}
		mutate(&r)
		return r
	}
	cases := append(invalidContexts(with), []invalidCase{
		{"has no JSON form", with(func(r *Request) { r.Context["f"] = []any{func() {}} })},
		{"does not marshal", with(func(r *Request) { r.Context["m"] = failingMarshaler{} })},
		{"UTF-8", with(func(r *Request) { r.Agent = &Agent{ID: "bot\xff"} })},
		{"UTF-8", with(func(r *Request) { r.Agent = &Agent{Tags: []string{"\xff"}} })},
		{"RFC 3339", with(func(r *Request) { r.TimeText = "2026-03-05 10:00:00Z" })},
		{"not both", with(func(r *Request) { r.Time, r.TimeText = time.Now(), "2026-03-05T10:00:00Z" })},
		{"range of instants", with(func(r *Request) { r.Time = time.Unix(1<<53+1, 0) })},
	}...)
	// The (action, resource) is kept.
	valid := with(func(*Request) {})
	want := w.Check(bg, valid)
	if !want.Allowed || keptCount(w) != 1 {
		t.Fatalf("%+v, %d kept", want, keptCount(w))
	}
	for _, c := range cases {
		for k := 0; k < 2; k++ {
			d := w.Check(bg, c.r)
			expectInvalid(t, d, c.message)
			if engine := off.Check(bg, c.r); !reflect.DeepEqual(d, engine) {
				t.Fatalf("%s: %+v, without kept decisions %+v", c.message, d, engine)
			}
		}
	}
	if d := w.Check(bg, valid); !reflect.DeepEqual(d, want) || keptCount(w) != 1 {
		t.Fatalf("after the invalid requests: %+v, %d kept", d, keptCount(w))
	}
	// A valid agent or time is decided by the engine, the same.
	for _, r := range []Request{
		with(func(r *Request) { r.Agent = &Agent{ID: "bot-1", TrustLevel: "basic", Tags: []string{"cs"}} }),
		with(func(r *Request) { r.Time = time.Date(2026, 3, 5, 10, 0, 0, 0, time.UTC) }),
		with(func(r *Request) { r.TimeText = "2026-03-05T10:00:00Z" }),
	} {
		calls := engineCalls(w)
		if d := w.Check(bg, r); !reflect.DeepEqual(d, want) || engineCalls(w) != calls+1 {
			t.Fatalf("%+v: %+v, %d engine calls", r, d, engineCalls(w)-calls)
		}
	}
	// A string that is not UTF-8 where no policy reads the context is no
	// more refused with kept decisions than without them.
	r := with(func(r *Request) { r.Context["note"] = "caf\xe9" })
	if d, engine := w.Check(bg, r), off.Check(bg, r); !reflect.DeepEqual(d, engine) || !reflect.DeepEqual(d, want) {
		t.Fatalf("%+v, without kept decisions %+v", d, engine)
	}
}

type failingMarshaler struct{}

func (failingMarshaler) MarshalJSON() ([]byte, error) { return nil, errors.New("no") }

func TestTextThatIsNotUTF8IsNeverKept(t *testing.T) {
	w := mustLoad(t, plain)
	for _, r := range []Request{
		{Action: "tool.call\xff", Resource: "tool/lookup_order"},
		{Action: "tool.call", Resource: "tool/lookup_\xff"},
		{Action: "tool.call", Resource: "tool/lookup_\xed\xa0\x80"}, // an encoded surrogate
		{Action: "\xc0\xaf"},
	} {
		for k := 0; k < 3; k++ {
			calls := engineCalls(w)
			expectInvalid(t, w.Check(bg, r), "UTF-8")
			if engineCalls(w) != calls+1 {
				t.Fatalf("%q %q: the engine was not asked", r.Action, r.Resource)
			}
		}
	}
	if n := keptCount(w); n != 0 {
		t.Fatalf("%d decisions kept", n)
	}
}

func TestLongActionsAndResourcesAreNeverKept(t *testing.T) {
	w := mustLoad(t, plain)
	long := "tool/lookup_" + strings.Repeat("x", maxKeptKey)
	for _, r := range []Request{
		{Action: "tool.call", Resource: long},
		{Action: "tool." + strings.Repeat("c", maxKeptKey), Resource: "tool/lookup_order"},
	} {
		for k := 0; k < 2; k++ {
			calls := engineCalls(w)
			w.Check(bg, r)
			if engineCalls(w) != calls+1 {
				t.Fatalf("%d-byte action, %d-byte resource: the engine was not asked", len(r.Action), len(r.Resource))
			}
		}
	}
	if d := w.Check(bg, Request{Action: "tool.call", Resource: long}); !d.Allowed {
		t.Fatalf("a long resource under tool/lookup_*: %+v", d)
	}
	if n := keptCount(w); n != 0 {
		t.Fatalf("%d decisions kept", n)
	}
	// At the bound, a decision is kept.
	atBound := Request{Action: "tool.call", Resource: long[:maxKeptKey]}
	w.Check(bg, atBound)
	if n := keptCount(w); n != 1 {
		t.Fatalf("a %d-byte resource: %d kept, want 1", maxKeptKey, n)
	}
}

func TestKeptDecisionsStayRightPastTheBound(t *testing.T) {
	w := mustLoad(t, `[{"rules": [
	  {"effect": "allow", "action": "tool.call", "resource": "tool/*"},
	  {"effect": "deny", "action": "tool.call", "resource": "tool/r1*"}]}]`)
	const resources = 10_000
	want := func(i int) int {
		if strings.HasPrefix(fmt.Sprint(i), "1") {
			return 1
		}
		return 0
	}
	for i := 0; i < resources; i++ {
		r := Request{Action: "tool.call", Resource: fmt.Sprintf("tool/r%d", i)}
		for k := 0; k < 2; k++ {
			if d := w.Check(bg, r); d.Rule != want(i) || d.Error != nil {
				t.Fatalf("%s, time %d: %+v", r.Resource, k, d)
			}
		}
		if n := keptCount(w); n > keptDecisionsSize || n != i%keptDecisionsSize+1 {
			t.Fatalf("after %d resources, %d kept", i+1, n)
		}
	}
	if calls := engineCalls(w); calls != resources {
		t.Fatalf("%d engine calls for %d resources asked twice", calls, resources)
	}
	// The last ones are kept; the first were forgotten, and are asked again, rightly.
	calls := engineCalls(w)
	for _, i := range []int{resources - 1, 0, 1, 1999} {
		if d := w.Check(bg, Request{Action: "tool.call", Resource: fmt.Sprintf("tool/r%d", i)}); d.Rule != want(i) {
			t.Fatalf("r%d again: %+v", i, d)
		}
	}
	if got := engineCalls(w) - calls; got != 3 {
		t.Fatalf("%d engine calls, want 3 (r%d is kept)", got, resources-1)
	}
}

func TestALoadForgetsKeptDecisions(t *testing.T) {
	w := mustLoad(t, plain)
	r := Request{Action: "tool.call", Resource: "tool/lookup_order"}
	w.Check(bg, r)
	w.Check(bg, r)
	if engineCalls(w) != 1 || keptCount(w) != 1 {
		t.Fatalf("%d engine calls, %d kept", engineCalls(w), keptCount(w))
	}
	// The same policies again: forgotten all the same.
	if _, err := w.Load([]byte(plain)); err != nil {
		t.Fatal(err)
	}
	if keptCount(w) != 0 {
		t.Fatalf("%d kept after a load", keptCount(w))
	}
	if d := w.Check(bg, r); !d.Allowed || engineCalls(w) != 2 {
		t.Fatalf("%+v, %d engine calls", d, engineCalls(w))
	}
	// Policies that decide otherwise.
	if _, err := w.Load([]byte(`[{"rules": [{"effect": "deny", "action": "tool.call", "resource": "tool/lookup_order", "reason": "closed"}]}]`)); err != nil {
		t.Fatal(err)
	}
	if d := w.Check(bg, r); d.Allowed || d.Reason != "closed" {
		t.Fatalf("after a load: %+v", d)
	}
	// Policies that decide by more keep nothing, and the engine decides.
	if _, err := w.Load([]byte(refunds)); err != nil {
		t.Fatal(err)
	}
	if keptCount(w) != -1 {
		t.Fatal("decisions kept under policies with conditions and rate limits")
	}
	if d := w.Check(bg, r); !d.Allowed || d.Rule != 0 || d.PolicyName != "refunds" {
		t.Fatalf("refunds: %+v", d)
	}
	// A refused load keeps the policies in force, and their kept decisions.
	if _, err := w.Load([]byte(plain)); err != nil {
		t.Fatal(err)
	}
	w.Check(bg, r)
	if _, err := w.Load([]byte(`[{"rules": [{"effect": "permit"}]}]`)); err == nil {
		t.Fatal("an invalid policy loaded")
	}
	if keptCount(w) != 1 {
		t.Fatalf("%d kept after a refused load", keptCount(w))
	}
}

// A bundle update forgets the decisions of the bundle before, whose version
// they carry.
func TestABundleUpdateForgetsKeptDecisions(t *testing.T) {
	w, err := New()
	if err != nil {
		t.Fatal(err)
	}
	trust := testTrust(t)
	v1 := Request{Action: "tool.call", Resource: "tool/v1"}
	if _, err := w.LoadBundle(testBundle(t, 1, bundleOverrides{}), trust); err != nil {
		t.Fatal(err)
	}
	for k := 0; k < 2; k++ {
		if d := w.Check(bg, v1); !d.Allowed || d.BundleVersion != 1 || d.PolicyName != "v1" {
			t.Fatalf("v1: %+v", d)
		}
	}
	if keptCount(w) != 1 {
		t.Fatalf("%d kept", keptCount(w))
	}
	if _, err := w.LoadBundle(testBundle(t, 2, bundleOverrides{}), trust); err != nil {
		t.Fatal(err)
	}
	if keptCount(w) != 0 {
		t.Fatalf("%d kept after the update", keptCount(w))
	}
	for k := 0; k < 2; k++ {
		if d := w.Check(bg, v1); d.Allowed || d.BundleVersion != 2 || d.Policy != -1 {
			t.Fatalf("v1 under bundle 2: %+v", d)
		}
		if d := w.Check(bg, Request{Action: "tool.call", Resource: "tool/v2"}); !d.Allowed || d.BundleVersion != 2 {
			t.Fatalf("v2: %+v", d)
		}
	}
	// Plain policies after a bundle: version 0.
	if _, err := w.Load([]byte(policiesFor(2))); err != nil {
		t.Fatal(err)
	}
	if d := w.Check(bg, Request{Action: "tool.call", Resource: "tool/v2"}); !d.Allowed || d.BundleVersion != 0 {
		t.Fatalf("after Load: %+v", d)
	}
}

func TestWithoutKeptDecisionsEveryCheckReachesTheEngine(t *testing.T) {
	w := mustLoad(t, plain, WithKeepDecisions(false))
	on := mustLoad(t, plain, WithKeepDecisions(false), WithKeepDecisions(true))
	const rounds = 5
	for k := 0; k < rounds; k++ {
		for _, r := range plainRequests {
			if d, kept := w.Check(bg, r), on.Check(bg, r); !reflect.DeepEqual(d, kept) {
				t.Fatalf("%+v, kept %+v", d, kept)
			}
		}
	}
	if calls := engineCalls(w); calls != rounds*len(plainRequests) {
		t.Fatalf("%d engine calls for %d checks", calls, rounds*len(plainRequests))
	}
	if calls := engineCalls(on); calls != len(plainRequests) {
		t.Fatalf("the last option wins: %d engine calls for %d checks", calls, rounds*len(plainRequests))
	}
	if keptCount(w) != -1 {
		t.Fatal("decisions kept")
	}
	// New and LoadBundle take the option too.
	n, _ := New(WithKeepDecisions(false))
	if _, err := n.LoadBundle(testBundle(t, 1, bundleOverrides{}), testTrust(t)); err != nil {
		t.Fatal(err)
	}
	n.Check(bg, Request{Action: "tool.call", Resource: "tool/v1"})
	n.Check(bg, Request{Action: "tool.call", Resource: "tool/v1"})
	if keptCount(n) != -1 || engineCalls(n) != 2 {
		t.Fatalf("%d kept, %d engine calls", keptCount(n), engineCalls(n))
	}
}

// Many goroutines check kept and new (action, resource) pairs, past the
// bound, with invalid contexts, then while policies load: every answer is
// the one the policies in force when it was made give. Run with -race.
func TestConcurrentChecksWithKeptDecisions(t *testing.T) {
	policies := func(v int) string {
		return fmt.Sprintf(`[{"name": "p%d", "rules": [
		  {"effect": "allow", "action": "tool.call", "resource": "tool/*"},
		  {"effect": "deny", "action": "tool.call", "resource": "tool/%d*"}]}]`, v, v)
	}
	w := mustLoad(t, policies(1))
	checks := func(round int) {
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := 0; i < 3000; i++ {
					// 5,000 resources in all, more than are kept.
					n := (i*7 + g*613 + round) % 5000
					r := Request{Action: "tool.call", Resource: fmt.Sprintf("tool/%d", n), Context: map[string]any{"i": i}}
					if i%50 == 0 {
						r.Context["c"] = make(chan int)
						if d := w.Check(bg, r); d.Error == nil || d.Error.Code != ErrRequestInvalid {
							t.Errorf("invalid context: %+v", d)
							return
						}
						continue
					}
					d := w.Check(bg, r)
					if d.Error != nil || d.Policy != 0 {
						t.Errorf("%s: %+v", r.Resource, d)
						return
					}
					// The policy that decided names its version: it denies tool/{v}*.
					var v int
					if _, err := fmt.Sscanf(d.PolicyName, "p%d", &v); err != nil {
						t.Errorf("%+v", d)
						return
					}
					denied := strings.HasPrefix(fmt.Sprint(n), fmt.Sprint(v))
					if d.Allowed == denied || d.Rule != map[bool]int{false: 0, true: 1}[denied] {
						t.Errorf("%s under p%d: %+v", r.Resource, v, d)
						return
					}
				}
			}(g)
		}
		if round > 0 {
			for v := 2; v <= 9; v++ {
				time.Sleep(2 * time.Millisecond)
				if _, err := w.Load([]byte(policies(v))); err != nil {
					t.Error(err)
				}
			}
		}
		wg.Wait()
	}
	checks(0)
	// Past the bound: more resources were decided than are kept.
	if n, calls := keptCount(w), engineCalls(w); n < 1 || n > keptDecisionsSize || calls <= keptDecisionsSize {
		t.Fatalf("%d kept after %d engine calls", n, calls)
	}
	checks(1)
	if n := keptCount(w); n < 0 || n > keptDecisionsSize {
		t.Fatalf("%d kept", n)
	}
}

// Every request of the shared conformance vectors that Check can send (a
// string action and resource, an object context or none, no agent, no time)
// is decided the same with and without kept decisions, the first time and
// when kept.
func TestConformanceRequestsDecideAlikeWithKeptDecisions(t *testing.T) {
	dir := os.Getenv("WARDEN_CONFORMANCE_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "conformance")
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no conformance vectors at %s: %v", dir, err)
	}
	groups, compared, kept := 0, 0, 0
	for _, file := range files {
		text, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := parseJSON(text)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		list, _ := doc.(map[string]any)["groups"].([]any)
		for _, g := range list {
			g := g.(map[string]any)
			policies, err := CanonicalJSON(g["policies"])
			if err != nil {
				t.Fatal(err)
			}
			w, err := Load(policies)
			if err != nil {
				continue // the runner reports it
			}
			if !w.Metadata().ActionResourceOnly {
				continue // rate limits count, so a second check differs
			}
			groups++
			off := mustLoad(t, string(policies), WithKeepDecisions(false))
			for _, c := range g["cases"].([]any) {
				request := c.(map[string]any)["request"].(map[string]any)
				r, ok := asRequest(request)
				if !ok {
					continue
				}
				compared++
				want := off.Check(bg, r)
				if raw, _ := CanonicalJSON(request); !reflect.DeepEqual(off.CheckJSON(bg, raw), want) {
					t.Errorf("%s: %s: Check and CheckJSON differ", filepath.Base(file), raw)
				}
				for k := 0; k < 2; k++ {
					if d := w.Check(bg, r); !reflect.DeepEqual(d, want) {
						t.Errorf("%s: %+v, time %d: %+v, want %+v", filepath.Base(file), r, k, d, want)
					}
				}
			}
			kept += max(0, keptCount(w))
		}
	}
	if groups < 10 || compared < 50 || kept < 40 {
		t.Fatalf("only %d groups, %d requests compared, %d kept", groups, compared, kept)
	}
	t.Logf("%d groups, %d requests, %d decisions kept", groups, compared, kept)
}

// asRequest is a JSON-form request as a Request, when it is one of the
// shape kept decisions answer.
func asRequest(m map[string]any) (Request, bool) {
	var r Request
	for k, v := range m {
		switch k {
		case "action":
			s, ok := v.(string)
			if !ok {
				return r, false
			}
			r.Action = s
		case "resource":
			s, ok := v.(string)
			if !ok {
				return r, false
			}
			r.Resource = s
		case "context":
			c, ok := v.(map[string]any)
			if !ok {
				return r, false
			}
			r.Context = c
		default: // an agent (even null), a time
			return r, false
		}
	}
	_, hasAction := m["action"]
	return r, hasAction
}
