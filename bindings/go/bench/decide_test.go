// Decision latency of the Go binding beside OPA's Go API, on the workloads
// of benchmarks/decide.bench.mjs: the support-bot policy over 8 rotating
// requests, with kept decisions (the default: it decides by action and
// resource alone) and without (WithKeepDecisions(false), every check through
// warden.wasm), and the refund policy (conditions, trust, agent). A module
// of its own, so that OPA's dependencies stay out of the binding's go.mod.
//
//	go test -bench . -benchmem
package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	warden "github.com/warden-policy/warden/bindings/go"
)

const supportBotPolicy = `[{
  "name": "support-bot-policy",
  "rules": [
    {"effect": "allow", "action": "llm.generate", "resource": "model/gpt-4"},
    {"effect": "allow", "action": "tool.call", "resource": "tool/lookup_order"},
    {"effect": "allow", "action": "tool.call", "resource": "tool/lookup_account"},
    {"effect": "deny", "action": "tool.call", "resource": "tool/issue_refund"},
    {"effect": "allow", "action": "tool.call", "resource": "tool/escalate_to_human"}
  ]
}]`

// The same decisions in Rego: allowed exactly when Warden allows.
const supportBotRego = `package supportbot

default allow := false

allowed := {
	["llm.generate", "model/gpt-4"],
	["tool.call", "tool/lookup_order"],
	["tool.call", "tool/lookup_account"],
	["tool.call", "tool/escalate_to_human"],
}

denied := {["tool.call", "tool/issue_refund"]}

allow if {
	allowed[[input.action, input.resource]]
	not denied[[input.action, input.resource]]
}
`

// The support-bot conformance requests, and one more miss: a rotating mix of 8.
var supportMix = []struct {
	action, resource string
	context          map[string]any
}{
	{"llm.generate", "model/gpt-4", map[string]any{"agent_id": "support-bot"}},
	{"tool.call", "tool/lookup_order", map[string]any{"agent_id": "support-bot", "arguments": "{'order_id': 'ord_1001'}"}},
	{"tool.call", "tool/lookup_account", map[string]any{"agent_id": "support-bot"}},
	{"tool.call", "tool/issue_refund", map[string]any{"agent_id": "support-bot", "arguments": "{'order_id': 'ord_1001', 'amount': 20.0}"}},
	{"tool.call", "tool/escalate_to_human", map[string]any{"agent_id": "support-bot"}},
	{"tool.call", "tool/delete_account", map[string]any{"agent_id": "support-bot"}},
	{"llm.generate", "model/gpt-4o", map[string]any{"agent_id": "support-bot"}},
	{"api.request", "https://example.com/", map[string]any{"agent_id": "support-bot"}},
}

const refundsPolicy = `[{
  "name": "refunds",
  "rules": [
    {"name": "small", "effect": "allow", "action": "tool.call", "resource": "tool/issue_refund", "conditions": "context.amount <= 50"},
    {"name": "elevated", "effect": "allow", "action": "tool.call", "resource": "tool/issue_refund", "trust_level": "elevated", "conditions": "context.amount <= 500"},
    {"name": "person", "effect": "escalate", "action": "tool.call", "resource": "tool/issue_refund", "conditions": "context.amount > 500"}
  ]
}]`

const refundsRego = `package refunds

levels := {"basic": 0, "elevated": 1, "admin": 2}

refund if {
	input.action == "tool.call"
	input.resource == "tool/issue_refund"
}

default effect := "deny"

effect := "allow" if {
	refund
	input.context.amount <= 50
}

effect := "allow" if {
	refund
	levels[input.agent.trust_level] >= levels.elevated
	input.context.amount > 50
	input.context.amount <= 500
}

effect := "escalate" if {
	refund
	input.context.amount > 500
}
`

type refundCase struct {
	amount  float64
	agentID string
	trust   string
}

var refundMix = func() []refundCase {
	var mix []refundCase
	for _, amount := range []float64{20, 300, 900, 45} {
		mix = append(mix, refundCase{amount, "bot-1", "basic"}, refundCase{amount, "bot-2", "elevated"})
	}
	return mix
}()

var ctx = context.Background()

func supportRequests() []warden.Request {
	out := make([]warden.Request, len(supportMix))
	for i, r := range supportMix {
		out[i] = warden.Request{Action: r.action, Resource: r.resource, Context: r.context}
	}
	return out
}

func refundRequests() []warden.Request {
	out := make([]warden.Request, len(refundMix))
	for i, r := range refundMix {
		out[i] = warden.Request{Action: "tool.call", Resource: "tool/issue_refund", Context: map[string]any{"amount": r.amount},
			Agent: &warden.Agent{ID: r.agentID, TrustLevel: r.trust}}
	}
	return out
}

func supportInputs() []map[string]any {
	out := make([]map[string]any, len(supportMix))
	for i, r := range supportMix {
		out[i] = map[string]any{"action": r.action, "resource": r.resource, "context": r.context}
	}
	return out
}

func refundInputs() []map[string]any {
	out := make([]map[string]any, len(refundMix))
	for i, r := range refundMix {
		out[i] = map[string]any{"action": "tool.call", "resource": "tool/issue_refund", "context": map[string]any{"amount": r.amount},
			"agent": map[string]any{"id": r.agentID, "trust_level": r.trust}}
	}
	return out
}

func load(tb testing.TB, policy string, opts ...warden.Option) *warden.Warden {
	tb.Helper()
	w, err := warden.Load([]byte(policy), opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

func prepare(tb testing.TB, query, module string) rego.PreparedEvalQuery {
	tb.Helper()
	q, err := rego.New(rego.Query(query), rego.Module("policy.rego", module)).PrepareForEval(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	return q
}

func parsed(tb testing.TB, inputs []map[string]any) []ast.Value {
	tb.Helper()
	out := make([]ast.Value, len(inputs))
	for i, in := range inputs {
		v, err := ast.InterfaceToValue(in)
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = v
	}
	return out
}

func opaResult(tb testing.TB, q rego.PreparedEvalQuery, opt rego.EvalOption) any {
	rs, err := q.Eval(ctx, opt)
	if err != nil || len(rs) != 1 {
		tb.Fatalf("OPA: %v %v", rs, err)
	}
	return rs[0].Expressions[0].Value
}

// Both engines decide the workloads alike, so the benchmarks compare the
// same work.
func TestWardenAndOPAAgree(t *testing.T) {
	w := load(t, supportBotPolicy)
	q := prepare(t, "data.supportbot.allow", supportBotRego)
	for i, r := range supportRequests() {
		d := w.Check(ctx, r)
		if got := opaResult(t, q, rego.EvalInput(supportInputs()[i])); got != d.Allowed {
			t.Errorf("%s %s: Warden %v, OPA %v", r.Action, r.Resource, d.Allowed, got)
		}
	}
	w = load(t, refundsPolicy)
	q = prepare(t, "data.refunds.effect", refundsRego)
	for i, r := range refundRequests() {
		d := w.Check(ctx, r)
		if got := opaResult(t, q, rego.EvalInput(refundInputs()[i])); got != string(d.Effect) {
			t.Errorf("%v: Warden %s, OPA %v", refundMix[i], d.Effect, got)
		}
	}
}

func benchWarden(b *testing.B, policy string, requests []warden.Request, opts ...warden.Option) {
	w := load(b, policy, opts...)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if d := w.Check(ctx, requests[i&7]); d.Error != nil {
			b.Fatal(d.Error)
		}
	}
}

func benchOPA(b *testing.B, query, module string, inputs []map[string]any) {
	q := prepare(b, query, module)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := q.Eval(ctx, rego.EvalInput(inputs[i&7])); err != nil {
			b.Fatal(err)
		}
	}
}

func benchOPAParsed(b *testing.B, query, module string, inputs []map[string]any) {
	q := prepare(b, query, module)
	values := parsed(b, inputs)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := q.Eval(ctx, rego.EvalParsedInput(values[i&7])); err != nil {
			b.Fatal(err)
		}
	}
}

// noKept: every check through warden.wasm, as before kept decisions.
var noKept = warden.WithKeepDecisions(false)

// BenchmarkSupportBot: the support-bot policy, 8 rotating requests: warden
// with kept decisions, warden-no-kept without (warden-one-instance: see
// BenchmarkSupportBotParallel).
func BenchmarkSupportBot(b *testing.B) {
	b.Run("warden", func(b *testing.B) { benchWarden(b, supportBotPolicy, supportRequests()) })
	b.Run("warden-no-kept", func(b *testing.B) { benchWarden(b, supportBotPolicy, supportRequests(), noKept) })
	b.Run("warden-one-instance", func(b *testing.B) { benchWarden(b, supportBotWithALimit, timed(supportRequests())) })
	b.Run("opa", func(b *testing.B) { benchOPA(b, "data.supportbot.allow", supportBotRego, supportInputs()) })
	b.Run("opa-parsed-input", func(b *testing.B) {
		benchOPAParsed(b, "data.supportbot.allow", supportBotRego, supportInputs())
	})
}

// BenchmarkRefunds: the refund policy (conditions, trust, agent), 8 rotating
// requests.
func BenchmarkRefunds(b *testing.B) {
	b.Run("warden", func(b *testing.B) { benchWarden(b, refundsPolicy, refundRequests()) })
	b.Run("opa", func(b *testing.B) { benchOPA(b, "data.refunds.effect", refundsRego, refundInputs()) })
	b.Run("opa-parsed-input", func(b *testing.B) { benchOPAParsed(b, "data.refunds.effect", refundsRego, refundInputs()) })
}

// supportBotWithALimit is the support-bot policy with a rate limit on an
// action no request names: it decides the same, but a Warden whose policies
// have rate limits decides on one instance behind a mutex.
var supportBotWithALimit = strings.Replace(supportBotPolicy, `"rules": [`,
	`"rate_limits": [{"action": "never.requested", "limit": 1, "period": "1s"}], "rules": [`, 1)

// timed gives requests a time, so that no decision reads the clock.
func timed(requests []warden.Request) []warden.Request {
	for i := range requests {
		requests[i].Time = time.Date(2026, 3, 5, 10, 0, 0, 0, time.UTC)
	}
	return requests
}

// BenchmarkSupportBotParallel: one Warden (or one prepared query) shared by
// GOMAXPROCS goroutines. warden answers from its kept decisions (lock-free
// reads); warden-no-kept decides on the pool of instances a Warden uses for
// policies without rate limits; warden-one-instance on the one instance
// behind a mutex it uses for policies with them, its requests carrying their
// time so that it does not read the clock (the others do not read it).
func BenchmarkSupportBotParallel(b *testing.B) {
	parallel := func(policy string, requests []warden.Request, opts ...warden.Option) func(b *testing.B) {
		return func(b *testing.B) {
			w := load(b, policy, opts...)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if d := w.Check(ctx, requests[i&7]); d.Error != nil {
						b.Error(d.Error)
					}
					i++
				}
			})
		}
	}
	b.Run("warden", parallel(supportBotPolicy, supportRequests()))
	b.Run("warden-no-kept", parallel(supportBotPolicy, supportRequests(), noKept))
	b.Run("warden-one-instance", parallel(supportBotWithALimit, timed(supportRequests())))
	b.Run("opa", func(b *testing.B) {
		q := prepare(b, "data.supportbot.allow", supportBotRego)
		inputs := supportInputs()
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := q.Eval(ctx, rego.EvalInput(inputs[i&7])); err != nil {
					b.Error(err)
				}
				i++
			}
		})
	})
}
