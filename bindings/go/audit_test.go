package warden

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The policies of @warden/core's audit.test.ts, and two more: a policy that
// does not log denials and one whose redact paths protect every record.
const auditPolicies = `[
  {"name": "support", "audit": {"log_allowed": false, "redact": ["user.email", "card"]},
   "rules": [
    {"name": "lookups", "effect": "allow", "action": "tool.call", "resource": "tool/lookup_*"},
    {"name": "quiet", "effect": "deny", "action": "tool.call", "resource": "tool/ping", "log": false},
    {"name": "refunds", "effect": "escalate", "action": "tool.call", "resource": "tool/refund", "log_context": ["amount", "user.email", "order.id"]},
    {"name": "deletes", "effect": "deny", "action": "tool.call", "resource": "tool/delete_*", "alert": true, "reason": "never delete"},
    {"name": "wipe", "effect": "deny", "action": "tool.call", "resource": "tool/wipe", "log": false, "alert": true}]},
  {"name": "models", "rules": [{"effect": "allow", "action": "model.call", "alert": true}]},
  {"name": "db", "audit": {"log_denied": false}, "rules": [{"name": "drops", "effect": "escalate", "action": "db.drop"}]},
  {"name": "vault", "audit": {"redact": ["secret.key", "user.phone"]}, "rules": [{"effect": "allow", "action": "vault.read"}]}
]`

var auditClock = time.Date(2026, 3, 5, 10, 0, 0, 0, time.UTC)

// recorder is an audit sink and alert handler keeping what it is given.
type recorder struct {
	mu      sync.Mutex
	records []AuditRecord
	alerts  []AuditRecord
}

func (r *recorder) sink(rec AuditRecord) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec)
	return nil
}

func (r *recorder) alert(rec AuditRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.alerts = append(r.alerts, rec)
}

// audited loads the audit policies with a recorder, its clock at auditClock;
// each test runs with kept decisions and without, since a kept decision
// reaches the record by another way.
func audited(t *testing.T, opts ...Option) (*Warden, *recorder) {
	t.Helper()
	rec := &recorder{}
	opts = append([]Option{WithAudit(rec.sink), OnAlert(rec.alert), WithClock(func() time.Time { return auditClock })}, opts...)
	return mustLoad(t, auditPolicies, opts...), rec
}

func bothWays(t *testing.T, f func(t *testing.T, keep bool)) {
	t.Run("kept", func(t *testing.T) { f(t, true) })
	t.Run("engine", func(t *testing.T) { f(t, false) })
}

func str(s string) *string { return &s }
func num(i int) *int       { return &i }

func summary(records []AuditRecord) []string {
	out := []string{}
	for _, r := range records {
		name := func(p *string) string {
			if p == nil {
				return "<nil>"
			}
			return *p
		}
		out = append(out, fmt.Sprintf("%s %v %s/%s", r.Effect, r.Allowed, name(r.PolicyName), name(r.RuleName)))
	}
	return out
}

func TestAuditRecordsFollowTheRulesLogAndThePolicysAuditSettings(t *testing.T) {
	bothWays(t, func(t *testing.T, keep bool) {
		w, rec := audited(t, WithKeepDecisions(keep))
		agent := &Agent{ID: "bot", TrustLevel: "basic"}
		for range 2 { // the second time from the kept decisions, when kept
			rec.records = nil
			// Not recorded: the policy's log_allowed is false.
			w.Check(bg, Request{Action: "tool.call", Resource: "tool/lookup_order", Context: map[string]any{"user": map[string]any{"email": "a@b.c"}}})
			// Not recorded: the rule's log is false.
			w.Check(bg, Request{Action: "tool.call", Resource: "tool/ping"})
			// Recorded: a policy without audit settings records everything.
			w.Check(bg, Request{Action: "model.call", Resource: "gpt"})
			// Recorded: the default deny (no policy).
			w.Check(bg, Request{Action: "tool.call", Resource: "tool/nothing"})
			// Not recorded: log_denied false covers escalations too.
			w.Check(bg, Request{Action: "db.drop", Agent: agent})
			// Never recorded.
			w.Explain(bg, Request{Action: "model.call", Resource: "gpt"})
			want := []string{"allow true models/<nil>", "deny false <nil>/<nil>"}
			if got := summary(rec.records); !slices.Equal(got, want) {
				t.Fatalf("recorded %q, want %q", got, want)
			}
		}
		want := AuditRecord{
			At: "2026-03-05T10:00:00.000Z", Action: "model.call", Resource: "gpt", Allowed: true, Effect: Allow,
			Policy: num(1), PolicyName: str("models"), Rule: num(0), Reason: rec.records[0].Reason, Indeterminate: []string{}, Alert: true,
		}
		if !reflect.DeepEqual(rec.records[0], want) {
			t.Errorf("record\n%+v, want\n%+v", rec.records[0], want)
		}
		if r := rec.records[1]; r.Policy != nil || r.Rule != nil || r.RateLimit != nil || r.BundleVersion != nil || r.Error != nil || r.Resource != "tool/nothing" {
			t.Errorf("the default deny's record: %+v", r)
		}
	})
}

func TestInvalidRequestsAreRecordedWithTheirError(t *testing.T) {
	bothWays(t, func(t *testing.T, keep bool) {
		w, rec := audited(t, WithKeepDecisions(keep))
		d := w.Check(bg, Request{Action: "tool.call", Resource: "tool/x", Context: map[string]any{"f": func() {}}})
		expectInvalid(t, d, "func")
		d = w.Check(bg, Request{Action: "tool.call", Context: map[string]any{"card": "4111"}, Time: auditClock, TimeText: "2026-03-05T10:00:00Z"})
		expectInvalid(t, d, "not both")
		d = w.CheckJSON(bg, []byte(`{"action": "tool.call", "resource": "tool/y", "agent": {"id": "bot", "x": 1}, "context": {"user": {"email": "a@b.c"}}, "extra": 1}`))
		expectInvalid(t, d, "extra")
		d = w.CheckJSON(bg, []byte(`[1]`))
		expectInvalid(t, d, "object")
		if len(rec.records) != 4 {
			t.Fatalf("want 4 records, got %d: %+v", len(rec.records), rec.records)
		}
		for i, r := range rec.records {
			if r.Error == nil || r.Error.Code != ErrRequestInvalid || r.Allowed || r.Effect != Deny || r.Policy != nil {
				t.Errorf("record %d: want an invalid request's deny, got %+v", i, r)
			}
		}
		// A context that made the request invalid is not shown; one that did not is, redacted.
		if rec.records[0].Context != nil || rec.records[0].Resource != "tool/x" {
			t.Errorf("record 0: %+v", rec.records[0])
		}
		if got := rec.records[1].Context; !reflect.DeepEqual(got, map[string]any{"card": Redacted}) || rec.records[1].At != "2026-03-05T10:00:00.000Z" {
			t.Errorf("record 1: %+v", rec.records[1])
		}
		r := rec.records[2]
		if r.Action != "tool.call" || r.Resource != "tool/y" || !reflect.DeepEqual(r.Agent, map[string]any{"id": "bot"}) ||
			!reflect.DeepEqual(r.Context, map[string]any{"user": map[string]any{"email": Redacted}}) {
			t.Errorf("a refused JSON request is recorded as far as it was read: %+v", r)
		}
		if r := rec.records[3]; r.Action != nil || r.Resource != nil || r.Agent != nil || r.Context != nil {
			t.Errorf("a request that is not an object has nothing to show: %+v", r)
		}
	})
}

type marshalCounter struct{ n *int }

func (m marshalCounter) MarshalJSON() ([]byte, error) {
	*m.n++
	return []byte(`{"id": 7, "note": "x"}`), nil
}

type shipment struct {
	ID    int    `json:"id"`
	Carry string `json:"carrier,omitempty"`
	skip  int
}

func TestAuditContextIsTheLogContextPathsWithEveryPolicysRedactPaths(t *testing.T) {
	bothWays(t, func(t *testing.T, keep bool) {
		w, rec := audited(t, WithKeepDecisions(keep))
		context := map[string]any{
			"amount": 900, "user": map[string]any{"email": "a@b.c", "name": "Ann", "phone": "555"}, "card": "4111",
			"secret": map[string]any{"key": "k", "hint": "h"}, "note": "x",
		}
		w.Check(bg, Request{Action: "tool.call", Resource: "tool/refund", Context: context,
			Agent: &Agent{ID: "bot", Tags: []string{"t"}}, TimeText: "2026-03-05T12:00:00.1239+01:00"})
		context["when"] = time.Unix(0, 0).UTC()
		context["ship"] = shipment{ID: 3, skip: 1}
		context["nan"] = []any{float32(1.5), int64(1) << 60}
		w.Check(bg, Request{Action: "tool.call", Resource: "tool/delete_account", Context: context})
		if len(rec.records) != 2 {
			t.Fatalf("want 2 records, got %d", len(rec.records))
		}
		r := rec.records[0]
		if r.At != "2026-03-05T11:00:00.123Z" || r.Effect != Escalate || !reflect.DeepEqual(r.Agent, map[string]any{"id": "bot", "tags": []any{"t"}}) {
			t.Errorf("record 0: %+v", r)
		}
		// Only log_context's paths (order.id is not in the context), then redacted.
		if want := map[string]any{"amount": 900.0, "user": map[string]any{"email": Redacted}}; !reflect.DeepEqual(r.Context, want) {
			t.Errorf("log_context: got %#v, want %#v", r.Context, want)
		}
		// No log_context: all of it as JSON writes it; every policy's redact paths
		// (support's and vault's), not only the deciding one's.
		want := map[string]any{
			"amount": 900.0, "user": map[string]any{"email": Redacted, "name": "Ann", "phone": Redacted}, "card": Redacted,
			"secret": map[string]any{"key": Redacted, "hint": "h"}, "note": "x",
			"when": "1970-01-01T00:00:00Z", "ship": map[string]any{"id": 3.0}, "nan": []any{1.5, float64(int64(1) << 60)},
		}
		if !reflect.DeepEqual(rec.records[1].Context, want) {
			t.Errorf("context:\n got %#v\nwant %#v", rec.records[1].Context, want)
		}
	})
}

func TestTheRecordIsACopyAndMarshalJSONRunsOnce(t *testing.T) {
	bothWays(t, func(t *testing.T, keep bool) {
		w, rec := audited(t, WithKeepDecisions(keep))
		marshals := 0
		user := map[string]any{"name": "Ann"}
		tags := []string{"a", "b"}
		list := []any{"x", map[string]any{"y": 1}}
		ctx := map[string]any{"user": user, "list": list, "tags": tags, "order": marshalCounter{&marshals}}
		for i := range 2 {
			r := Request{Action: "model.call", Resource: "gpt", Context: ctx}
			if i == 1 { // the engine's way, also with kept decisions
				r.Agent = &Agent{ID: "bot", Tags: tags}
			}
			w.Check(bg, r)
		}
		if marshals != 2 {
			t.Errorf("MarshalJSON ran %d times for 2 checks, want 2", marshals)
		}
		user["name"] = "Bob"
		tags[0] = "z"
		list[0] = "changed"
		list[1].(map[string]any)["y"] = 2
		ctx["new"] = true
		for _, r := range rec.records {
			want := map[string]any{"user": map[string]any{"name": "Ann"}, "list": []any{"x", map[string]any{"y": 1.0}},
				"tags": []any{"a", "b"}, "order": map[string]any{"id": 7.0, "note": "x"}}
			if !reflect.DeepEqual(r.Context, want) {
				t.Errorf("changing the request changed its record:\n got %#v\nwant %#v", r.Context, want)
			}
		}
		if got := rec.records[1].Agent["tags"]; !reflect.DeepEqual(got, []any{"a", "b"}) {
			t.Errorf("agent tags %v", got)
		}
	})
}

func TestAlertsAreRaisedWhetherOrNotTheDecisionIsRecorded(t *testing.T) {
	rec := &recorder{}
	w := mustLoad(t, auditPolicies, OnAlert(rec.alert)) // no sink
	if d := w.Check(bg, Request{Action: "tool.call", Resource: "tool/wipe"}); d.Allowed || !d.Alert {
		t.Fatalf("%+v", d)
	}
	w.Check(bg, Request{Action: "tool.call", Resource: "tool/delete_account", Context: map[string]any{"card": "4111"}})
	w.Check(bg, Request{Action: "tool.call", Resource: "tool/lookup_order"}) // no alert
	w.Check(bg, Request{Action: "model.call"})
	if got, want := summary(rec.alerts), []string{"deny false support/wipe", "deny false support/deletes", "allow true models/<nil>"}; !slices.Equal(got, want) {
		t.Fatalf("alerts %q, want %q", got, want)
	}
	if r := rec.alerts[1]; !r.Alert || r.Reason != "never delete" || !reflect.DeepEqual(r.Context, map[string]any{"card": Redacted}) {
		t.Errorf("an alert carries its record: %+v", r)
	}

	// With a sink too: the sink has only what is recorded.
	w, rec = audited(t)
	w.Check(bg, Request{Action: "tool.call", Resource: "tool/wipe"})
	if len(rec.alerts) != 1 || len(rec.records) != 0 {
		t.Errorf("a rule with log false and alert: %d alerts, %d records", len(rec.alerts), len(rec.records))
	}
}

func TestSinkAndAlertFailuresReachOnAuditErrorAndTheDecisionStands(t *testing.T) {
	var logged bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logged, nil))
	type failure struct {
		err    string
		record string
	}
	var failures []failure
	onError := OnAuditError(func(err error, r AuditRecord) {
		failures = append(failures, failure{err.Error(), r.Action.(string)})
	})
	diskFull := errors.New("disk full")
	calls := 0
	sink := WithAudit(func(r AuditRecord) error {
		calls++
		if calls%2 == 1 {
			return diskFull
		}
		panic("sink down")
	})
	alert := OnAlert(func(AuditRecord) { panic(errors.New("pager down")) })
	w := mustLoad(t, auditPolicies, sink, alert, onError, WithLogger(logger))

	if d := w.Check(bg, Request{Action: "tool.call", Resource: "tool/delete_account"}); d.Reason != "never delete" || d.Allowed {
		t.Errorf("%+v", d)
	}
	if d, err := w.Enforce(bg, Request{Action: "model.call", Resource: "gpt"}); err != nil || !d.Allowed {
		t.Errorf("%+v %v", d, err)
	}
	want := []failure{
		{"the alert handler panicked: pager down", "tool.call"}, {"disk full", "tool.call"},
		{"the alert handler panicked: pager down", "model.call"}, {"the audit sink panicked: sink down", "model.call"},
	}
	if !slices.Equal(failures, want) {
		t.Errorf("failures %q, want %q", failures, want)
	}
	if n := strings.Count(logged.String(), "the decision stands"); n != 4 {
		t.Errorf("logged %d failures, want 4:\n%s", n, logged.String())
	}

	// A panicking OnAuditError handler, or none, does not escape either.
	panicky := OnAuditError(func(error, AuditRecord) { panic("handler down") })
	for _, opts := range [][]Option{{sink, alert, panicky, WithLogger(logger)}, {sink, alert, WithLogger(logger)}} {
		w := mustLoad(t, auditPolicies, opts...)
		for range 2 {
			if d := w.Check(bg, Request{Action: "tool.call", Resource: "tool/delete_account"}); d.Reason != "never delete" {
				t.Errorf("%+v", d)
			}
		}
	}
	if !strings.Contains(logged.String(), "handler down") {
		t.Errorf("the handler's panic is not logged:\n%s", logged.String())
	}
}

func TestAnApprovalIsASecondRecord(t *testing.T) {
	w, rec := audited(t, WithApprovals(func(context.Context, ApprovalRequest) (Approval, error) {
		return Approval{Approved: true, Approver: "lead@shop"}, nil
	}, 0))
	r := Request{Action: "tool.call", Resource: "tool/refund", Context: map[string]any{"amount": 900, "user": map[string]any{"email": "a@b.c"}}}
	d, err := w.Authorize(bg, r)
	if err != nil || !d.Allowed {
		t.Fatal(d, err)
	}
	if got, want := summary(rec.records), []string{"escalate false support/refunds", "escalate true support/refunds"}; !slices.Equal(got, want) {
		t.Fatalf("records %q, want %q", got, want)
	}
	first, approved := rec.records[0], rec.records[1]
	if first.ApprovedBy != nil || first.ApprovalDigest != "" {
		t.Errorf("the escalation names no approver: %+v", first)
	}
	if approved.ApprovedBy == nil || *approved.ApprovedBy != "lead@shop" || approved.ApprovalDigest != d.ApprovalDigest || d.ApprovalDigest == "" {
		t.Errorf("the approval: %+v (decision %+v)", approved, d)
	}
	if !reflect.DeepEqual(approved.Context, first.Context) || approved.Context["user"].(map[string]any)["email"] != Redacted {
		t.Errorf("the approval's context %v, the escalation's %v", approved.Context, first.Context)
	}

	// An approval granted to nobody by name is still an approval.
	w, rec = audited(t)
	w.GrantApproval(d.ApprovalDigest, "")
	if _, err := w.Authorize(bg, r); err != nil {
		t.Fatal(err)
	}
	line, _ := json.Marshal(rec.records[1])
	if !bytes.Contains(line, []byte(`"approvedBy":""`)) {
		t.Errorf("the approval's record: %s", line)
	}
	// A denial through Authorize is recorded once.
	rec.records = nil
	if _, err := w.Authorize(bg, Request{Action: "tool.call", Resource: "tool/delete_x"}); err == nil || len(rec.records) != 1 {
		t.Errorf("%v, %d records", err, len(rec.records))
	}
}

func TestTheRecordCarriesTheBundleVersion(t *testing.T) {
	rec := &recorder{}
	w, err := New(WithAudit(rec.sink))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.LoadBundle(testBundle(t, 5, bundleOverrides{}), testTrust(t)); err != nil {
		t.Fatal(err)
	}
	w.Check(bg, Request{Action: "tool.call", Resource: "tool/v5"})
	if len(rec.records) != 1 || rec.records[0].BundleVersion == nil || *rec.records[0].BundleVersion != 5 {
		t.Fatalf("%+v", rec.records)
	}
}

func TestAuditInfoLeftOutMeansItsDefaults(t *testing.T) {
	var p PolicyInfo
	if err := json.Unmarshal([]byte(`{"audit": null, "rules": []}`), &p); err != nil {
		t.Fatal(err)
	}
	if !p.Audit.LogAllowed || !p.Audit.LogDenied || p.Audit.Redact != nil {
		t.Errorf("audit null: %+v", p.Audit)
	}
	if err := json.Unmarshal([]byte(`{"audit": {"log_allowed": false}}`), &p); err != nil {
		t.Fatal(err)
	}
	if p.Audit.LogAllowed || !p.Audit.LogDenied {
		t.Errorf("audit with log_allowed false: %+v", p.Audit)
	}
	st := &policyState{meta: &Metadata{Policies: []PolicyInfo{{}}}}
	if err := json.Unmarshal([]byte(`{"audit": null}`), &st.meta.Policies[0]); err != nil {
		t.Fatal(err)
	}
	for _, e := range []Effect{Allow, Deny, Escalate} {
		if !st.records(&Decision{Effect: e, Policy: 0, Log: true}) {
			t.Errorf("a policy without audit settings does not record %s", e)
		}
	}
	// The engine writes a policy without audit as the defaults.
	w := mustLoad(t, `[{"rules": [{"effect": "allow", "action": "a"}]}]`)
	if a := w.Metadata().Policies[0].Audit; !a.LogAllowed || !a.LogDenied {
		t.Errorf("%+v", a)
	}
}

func TestWithoutASinkOrAnAlertHandlerChecksDoNoAuditWork(t *testing.T) {
	marshals := 0
	for _, keep := range []bool{true, false} {
		w := mustLoad(t, auditPolicies, WithKeepDecisions(keep))
		if w.observing {
			t.Fatal("observing without a sink or an alert handler")
		}
		r := Request{Action: "tool.call", Resource: "tool/delete_account", Context: map[string]any{"amount": 1, "user": map[string]any{"email": "a"}}}
		w.Check(bg, r)
		if n := testing.AllocsPerRun(100, func() { w.Check(bg, r) }); n != 0 {
			t.Errorf("keep %v: %v allocations per Check", keep, n)
		}
		marshals = 0
		w.Check(bg, Request{Action: "model.call", Context: map[string]any{"o": marshalCounter{&marshals}}})
		if marshals != 1 {
			t.Errorf("MarshalJSON ran %d times", marshals)
		}
	}
	w := mustLoad(t, auditPolicies, OnAuditError(func(error, AuditRecord) {}))
	if w.observing {
		t.Error("an error handler alone is not a reason to observe")
	}
}

// recordMembers are the members of @warden/core's AuditRecord a record
// always has.
var recordMembers = strings.Fields("at action resource agent context allowed effect policy policyName rule ruleName reason indeterminate rateLimit bundleVersion alert")

func readLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) == 0 || data[len(data)-1] != '\n' {
		t.Fatalf("the log does not end with a whole line: %q", data)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

func TestAuditLogWritesOneJSONLinePerRecordWithTheMembersOfTheTypeScriptRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "warden", "audit.jsonl")
	log, err := AuditLog(path)
	if err != nil {
		t.Fatal(err)
	}
	if log.Path() != path {
		t.Errorf("path %q", log.Path())
	}
	rec := &recorder{}
	both := func(r AuditRecord) error {
		rec.sink(r)
		return log.Write(r)
	}
	w := mustLoad(t, auditPolicies, WithAudit(both), WithApprovals(func(context.Context, ApprovalRequest) (Approval, error) {
		return Approval{Approved: true, Approver: "lead@shop"}, nil
	}, 0))
	w.Check(bg, Request{Action: "model.call", Resource: "<gpt & co>", Agent: &Agent{ID: "bot", TrustLevel: "basic", Tags: []string{}}})
	w.Check(bg, Request{Action: "tool.call", Resource: "tool/x", Context: map[string]any{"bad": make(chan int)}})
	w.Authorize(bg, Request{Action: "tool.call", Resource: "tool/refund", Context: map[string]any{"amount": 900}})
	w.CheckJSON(bg, []byte(`{"action": "tool.call", "resource": "tool/delete_x", "context": {"n": 1.5e300}, "time": "2026-03-05T10:00:60Z"}`))
	if err := log.Flush(); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", info.Mode().Perm())
	}
	lines := readLines(t, path)
	if len(lines) != 5 || len(rec.records) != 5 {
		t.Fatalf("%d lines, %d records:\n%s", len(lines), len(rec.records), strings.Join(lines, "\n"))
	}
	optional := [][]string{nil, {"error"}, nil, {"approvedBy", "approvalDigest"}, nil}
	for i, line := range lines {
		var members map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &members); err != nil {
			t.Fatalf("line %d: %v: %s", i, err, line)
		}
		want := append(slices.Clone(recordMembers), optional[i]...)
		slices.Sort(want)
		if got := slices.Sorted(maps.Keys(members)); !slices.Equal(got, want) {
			t.Errorf("line %d has members\n%q, want\n%q", i, got, want)
		}
		var back AuditRecord
		if err := json.Unmarshal([]byte(line), &back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, rec.records[i]) {
			t.Errorf("line %d reads back as\n%+v, the sink had\n%+v", i, back, rec.records[i])
		}
	}
	for _, s := range []string{`"resource":"<gpt & co>"`, `"agent":{"id":"bot","tags":[],"trust_level":"basic"}`, `"context":null`,
		`"policy":null,"policyName":null,"rule":null,"ruleName":null`, `"bundleVersion":null`, `"indeterminate":[]`, `"rateLimit":null`,
		`"error":{"code":"ERR_REQUEST_INVALID"`, `"at":"2026-03-05T10:00:60Z"`, `"approvedBy":"lead@shop"`} {
		if !strings.Contains(strings.Join(lines, "\n"), s) {
			t.Errorf("no line has %s", s)
		}
	}

	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	if err := log.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}
	if err := log.Write(rec.records[0]); !errors.Is(err, errAuditLogClosed) {
		t.Errorf("a write after Close: %v", err)
	}
	// Opened again, the log appends.
	log, err = AuditLog(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := log.Write(rec.records[0]); err != nil {
		t.Fatal(err)
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	if lines := readLines(t, path); len(lines) != 6 || lines[5] != lines[0] {
		t.Errorf("after reopening: %d lines", len(lines))
	}
}

func TestAuditLogKeepsLinesWholeUnderConcurrentWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	log, err := AuditLog(path)
	if err != nil {
		t.Fatal(err)
	}
	w := mustLoad(t, auditPolicies, WithAudit(log.Write))
	const goroutines, each = 8, 150
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				// Lines of about 100 bytes to past the buffer's size, so that
				// some fill the buffer and some go to the file directly.
				pad := strings.Repeat("x", (g*each+i)*7%6000)
				w.Check(bg, Request{Action: "model.call", Resource: fmt.Sprintf("g%d/%d", g, i), Context: map[string]any{"pad": pad}})
				if i%50 == 0 {
					if err := log.Flush(); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]bool{}
	scanner := bufio.NewScanner(f)
	scanner.Buffer(nil, 1<<20)
	for scanner.Scan() {
		var r AuditRecord
		if err := json.Unmarshal(scanner.Bytes(), &r); err != nil {
			t.Fatalf("a line that is not a whole record: %v: %.200s", err, scanner.Text())
		}
		id := r.Resource.(string)
		if seen[id] {
			t.Fatalf("%s written twice", id)
		}
		seen[id] = true
	}
	if err := scanner.Err(); err != nil {
		t.Fatal(err)
	}
	if len(seen) != goroutines*each {
		t.Errorf("%d records, want %d", len(seen), goroutines*each)
	}
}

func TestAuditLogMakesItsFolderAndRefusesAPathItCannotOpen(t *testing.T) {
	dir := t.TempDir()
	if _, err := AuditLog(dir); err == nil {
		t.Error("a folder opened as a log")
	}
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := AuditLog(filepath.Join(blocker, "audit.jsonl")); err == nil {
		t.Error("a log under a file")
	}
}

// An approval is recorded under the policies that escalated, whatever loads
// while a person decides; a record follows the policies its check began with.
func TestAnApprovalIsRecordedUnderThePoliciesThatEscalated(t *testing.T) {
	const escalating = `[{"name": "e", "audit": {"redact": ["card"]}, "rules": [{"effect": "escalate", "action": "pay"}]}]`
	rec := &recorder{}
	var w *Warden
	w = mustLoad(t, escalating, WithAudit(rec.sink), WithApprovals(func(context.Context, ApprovalRequest) (Approval, error) {
		if _, err := w.Load([]byte(`[{"name": "other", "rules": []}]`)); err != nil {
			t.Error(err)
		}
		return Approval{Approved: true, Approver: "ann"}, nil
	}, time.Second))
	if _, err := w.Authorize(context.Background(), Request{Action: "pay", Context: map[string]any{"card": "4111"}}); err != nil {
		t.Fatal(err)
	}
	if len(rec.records) != 2 {
		t.Fatalf("%d records, want 2", len(rec.records))
	}
	for _, r := range rec.records {
		if r.Context["card"] != Redacted {
			t.Errorf("record (allowed %v) holds the card: %v", r.Allowed, r.Context)
		}
	}
}
