package warden

import (
	"context"
	"fmt"
	"math"
	"time"
)

// Audit records (docs/audit.md, policy-language.md §1: a policy's `audit`, a
// rule's `log`, `log_context` and `alert`), as @warden/core writes them
// (audit.ts): whether a decision is recorded, what of its request goes into
// the record, and the alert. The engine only decides; a sink says where
// records go (WithAudit, AuditLog).

// Redacted is what a record holds at a context path a policy's audit.redact
// names.
const Redacted = "[redacted]"

// AuditRecord is what a Warden hands its audit sink for a decision it
// records, and its alert handler for a decision whose rule has alert: the
// decision, and the request as far as the policies allow. Its JSON is the
// AuditRecord of @warden/core member for member, so the `warden audit`
// command reads logs written from Go.
//
// Values of the request (Action, Resource, Agent, Context) are held as
// encoding/json decodes JSON (nil, bool, float64, string, []any,
// map[string]any): a record read back from a log equals the one written.
// They are copies; the request can change afterwards without changing them.
// The alert handler and the sink are handed the same record, and
// Indeterminate may be shared with the decision: read them, do not modify
// them.
type AuditRecord struct {
	// At is when: the request's own time when it gave one, else the
	// Warden's clock (WithClock), as ISO 8601 in UTC with milliseconds
	// ("2026-03-05T10:00:00.000Z"). A time text Go does not read as RFC 3339
	// (a leap second) is kept as given.
	At string `json:"at"`
	// Action is the request's action: a string, or for a request in its JSON
	// form (CheckJSON) whatever JSON value it gave (nil when it gave none).
	Action any `json:"action"`
	// Resource is the request's resource, nil when it has none (a Request's
	// empty Resource).
	Resource any `json:"resource"`
	// Agent holds the agent's "id", "trust_level" and "tags" as given (a
	// member the agent leaves out is absent: an empty ID or TrustLevel, nil
	// Tags); nil when the request has no agent.
	Agent map[string]any `json:"agent"`
	// Context is the request's context as JSON writes it: only the paths of
	// the rule's log_context when it names them (a path the context does not
	// have is left out), then every path any policy in force names in
	// audit.redact replaced by Redacted. Paths are read from the context
	// ("user.email" is context["user"]["email"]). Nil when the request has
	// none, or when the context itself made the request invalid.
	Context map[string]any `json:"context"`

	Allowed bool   `json:"allowed"`
	Effect  Effect `json:"effect"`
	// Policy and Rule are the indexes of the deciding rule, and PolicyName
	// and RuleName their names; nil when there is none.
	Policy     *int    `json:"policy"`
	PolicyName *string `json:"policyName"`
	Rule       *int    `json:"rule"`
	RuleName   *string `json:"ruleName"`
	Reason     string  `json:"reason"`
	// Indeterminate is never nil: [] when no condition was indeterminate.
	Indeterminate []string      `json:"indeterminate"`
	RateLimit     *RateLimitRef `json:"rateLimit"`
	// BundleVersion is nil when the policies did not come from a bundle.
	BundleVersion *int64 `json:"bundleVersion"`
	Alert         bool   `json:"alert"`
	// ApprovedBy and ApprovalDigest are set for an escalation approved in
	// Authorize (ApprovedBy non-nil even when the approver gave no name).
	ApprovedBy     *string `json:"approvedBy,omitempty"`
	ApprovalDigest string  `json:"approvalDigest,omitempty"`
	// Error is the decision's error: a request that is invalid
	// (ERR_REQUEST_INVALID) or that the engine failed on (ERR_ENGINE).
	Error *DecisionError `json:"error,omitempty"`
}

// AuditSink receives the record of each decision a Warden records
// (WithAudit), synchronously, on the goroutine that made the decision and
// with no lock of the Warden held. It may be called from many goroutines at
// once. An error it returns, or a panic, goes to the OnAuditError handler;
// the decision stands.
type AuditSink func(AuditRecord) error

// WithAudit sets where audit records go (docs/audit.md): Check, CheckJSON,
// Enforce and Authorize hand sink the record of every decision whose rule
// has log (the default) and whose policy's audit settings record its effect
// (log_allowed for an allow; log_denied for a deny or an escalation,
// approved or not); a decision of no policy (the default one, an invalid
// request) is always recorded. Explain is never recorded. An approval in
// Authorize is a second record, with Allowed true and ApprovedBy set.
//
//	log, err := warden.AuditLog("/var/log/warden/audit.jsonl")
//	w, err := warden.Load(policies, warden.WithAudit(log.Write))
//	defer log.Close()
//
// A Warden without a sink or an alert handler does no audit work.
func WithAudit(sink AuditSink) Option {
	return func(s *settings) { s.auditSink = sink }
}

// OnAlert sets what is called for a decision whose rule has `alert: true`,
// with its record, whether or not the decision is recorded; it is called
// before the sink, as an AuditSink is (synchronously, never under a lock).
// A panic goes to the OnAuditError handler.
func OnAlert(f func(AuditRecord)) Option {
	return func(s *settings) { s.onAlert = f }
}

// OnAuditError sets what is called when the audit sink returns an error or
// panics, or the alert handler panics, with the record concerned (the error
// is also logged, see WithLogger). The decision stands and is returned as
// ever. A panic in f itself is logged and dropped.
func OnAuditError(f func(error, AuditRecord)) Option {
	return func(s *settings) { s.onAuditError = f }
}

// observed writes the audit record of d, decided for in, and raises its
// alert, as the policies st say: those in force when the decision began
// (a load while a check runs or a person approves changes nothing of its
// records). It is only called when the Warden has a sink or an alert
// handler, after the decision is made and every lock released; nothing it
// calls escapes it.
func (w *Warden) observed(ctx context.Context, st *policyState, d *Decision, in *input) {
	sink := w.settings.auditSink
	if sink != nil && !st.records(d) {
		sink = nil
	}
	alert := w.settings.onAlert
	if !d.Alert {
		alert = nil
	}
	if sink == nil && alert == nil {
		return
	}
	defer func() {
		// Only the clock can panic here: the decision stands.
		if p := recover(); p != nil {
			w.settings.logger.WarnContext(ctx, "warden: the audit record could not be made; the decision stands", "panic", p)
		}
	}()
	rec := st.auditRecord(d, in, w.settings.clock)
	if alert != nil {
		w.guarded(ctx, rec, "alert handler", func() error {
			alert(rec)
			return nil
		})
	}
	if sink != nil {
		w.guarded(ctx, rec, "audit sink", func() error { return sink(rec) })
	}
}

// guarded runs a sink or an alert handler: what it returns or panics with
// is logged and goes to the OnAuditError handler, whose own panic is logged.
func (w *Warden) guarded(ctx context.Context, rec AuditRecord, what string, f func() error) {
	err := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				if e, ok := p.(error); ok {
					err = fmt.Errorf("the %s panicked: %w", what, e)
				} else {
					err = fmt.Errorf("the %s panicked: %v", what, p)
				}
			}
		}()
		return f()
	}()
	if err == nil {
		return
	}
	w.settings.logger.WarnContext(ctx, "warden: the "+what+" failed; the decision stands", "error", err)
	if w.settings.onAuditError == nil {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			w.settings.logger.WarnContext(ctx, "warden: the audit error handler panicked", "panic", p)
		}
	}()
	w.settings.onAuditError(err, rec)
}

// records reports whether d is recorded: its rule's log, then its policy's
// audit.log_allowed for an allow or log_denied for a deny or an escalation.
// A decision of no policy is recorded.
func (st *policyState) records(d *Decision) bool {
	if !d.Log {
		return false
	}
	if d.Policy < 0 || st.meta == nil || d.Policy >= len(st.meta.Policies) {
		return true
	}
	a := &st.meta.Policies[d.Policy].Audit
	if d.Effect == Allow {
		return a.LogAllowed
	}
	return a.LogDenied
}

// redactedPaths returns the audit.redact paths of every policy, each once,
// split into segments.
func redactedPaths(meta *Metadata) [][]string {
	var out [][]string
	seen := map[string]bool{}
	for _, p := range meta.Policies {
		for _, path := range p.Audit.Redact {
			if !seen[path] {
				seen[path] = true
				out = append(out, splitPath(path))
			}
		}
	}
	return out
}

// auditRecord makes the record of d, decided for in (whose context is
// plain, see plainContext, or nil).
func (st *policyState) auditRecord(d *Decision, in *input, clock func() time.Time) AuditRecord {
	rec := AuditRecord{
		At:            recordTime(in, clock),
		Action:        in.recordAction(),
		Resource:      in.recordResource(),
		Agent:         in.recordAgent(),
		Context:       recordContext(in.context, d.LogContext, st.redact),
		Allowed:       d.Allowed,
		Effect:        d.Effect,
		Reason:        d.Reason,
		Indeterminate: d.Indeterminate,
		Alert:         d.Alert,
	}
	if rec.Indeterminate == nil {
		rec.Indeterminate = []string{}
	}
	if d.Policy >= 0 {
		rec.Policy = ptr(d.Policy)
		var meta *PolicyInfo
		if st.meta != nil && d.Policy < len(st.meta.Policies) {
			meta = &st.meta.Policies[d.Policy]
		}
		rec.PolicyName = recordName(d.PolicyName, meta != nil && meta.Name != nil)
		if d.Rule >= 0 {
			rec.Rule = ptr(d.Rule)
			named := meta != nil && d.Rule < len(meta.Rules) && meta.Rules[d.Rule].Name != nil
			rec.RuleName = recordName(d.RuleName, named)
		}
	}
	if d.RateLimit != nil {
		rec.RateLimit = ptr(*d.RateLimit)
	}
	if d.BundleVersion != 0 {
		rec.BundleVersion = ptr(d.BundleVersion)
	}
	if d.ApprovalDigest != "" {
		rec.ApprovedBy, rec.ApprovalDigest = ptr(d.ApprovedBy), d.ApprovalDigest
	}
	if d.Error != nil {
		rec.Error = ptr(*d.Error)
	}
	return rec
}

func ptr[T any](v T) *T { return &v }

// recordName is a decision's policy or rule name as a record holds it: nil
// for none. A Decision holds none as "", so an empty name is told from none
// by the metadata (named: the metadata gives the policy or rule a name).
func recordName(name string, named bool) *string {
	if name == "" && !named {
		return nil
	}
	return &name
}

// isoMillis is the layout of a record's time, as JavaScript's toISOString
// writes it.
const isoMillis = "2006-01-02T15:04:05.000Z"

func recordTime(in *input, clock func() time.Time) string {
	switch {
	case in.hasText:
		t, err := time.Parse(time.RFC3339Nano, in.timeText)
		if err != nil {
			return in.timeText
		}
		return t.UTC().Format(isoMillis)
	case !in.t.IsZero():
		return in.t.UTC().Format(isoMillis)
	}
	return clock().UTC().Format(isoMillis)
}

func (in *input) recordAction() any {
	if in.rawAction {
		return jsonCopy(in.actionRaw)
	}
	return in.action
}

func (in *input) recordResource() any {
	switch {
	case in.rawResource:
		return jsonCopy(in.resourceRaw)
	case in.hasResource:
		return in.resource
	}
	return nil
}

func (in *input) recordAgent() map[string]any {
	if in.rawAgent {
		m, ok := in.agentRaw.(map[string]any)
		if !ok {
			return nil
		}
		out := map[string]any{}
		for _, k := range [...]string{"id", "trust_level", "tags"} {
			if v, ok := m[k]; ok {
				out[k] = jsonCopy(v)
			}
		}
		return out
	}
	if in.agent == nil {
		return nil
	}
	out, _ := jsonCopy(in.agent.fields()).(map[string]any)
	return out
}

// recordContext is the context of a record: a copy of plain (a context made
// plain, or nil), only the logContext paths when they are given, with the
// redacted paths replaced.
func recordContext(plain map[string]any, logContext []string, redacted [][]string) map[string]any {
	if plain == nil {
		return nil
	}
	var out map[string]any
	if logContext == nil {
		out = jsonCopy(plain).(map[string]any)
	} else {
		out = pick(plain, logContext)
	}
	for _, segments := range redacted {
		redact(out, segments)
	}
	return out
}

// pick copies the values at paths of ctx into a new object, at the same
// paths; a path ctx does not have is left out.
func pick(ctx map[string]any, paths []string) map[string]any {
	out := map[string]any{}
	for _, path := range paths {
		segments := splitPath(path)
		v, ok := plainAt(ctx, segments)
		if !ok {
			continue
		}
		at := out
		for _, s := range segments[:len(segments)-1] {
			next, ok := at[s].(map[string]any)
			if !ok {
				next = map[string]any{}
				at[s] = next
			}
			at = next
		}
		at[segments[len(segments)-1]] = jsonCopy(v)
	}
	return out
}

// plainAt returns the value at a path of a plain context (whose objects are
// all map[string]any), or false when it has none.
func plainAt(ctx map[string]any, segments []string) (any, bool) {
	var v any = ctx
	for _, s := range segments {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[s]; !ok {
			return nil, false
		}
	}
	return v, true
}

// redact replaces the value at a path of a record's context by Redacted,
// where the context has one.
func redact(ctx map[string]any, segments []string) {
	var at any = ctx
	for _, s := range segments[:len(segments)-1] {
		m, ok := at.(map[string]any)
		if !ok {
			return
		}
		at = m[s]
	}
	last := segments[len(segments)-1]
	if m, ok := at.(map[string]any); ok {
		if _, ok := m[last]; ok {
			m[last] = Redacted
		}
	}
}

// jsonCopy returns a plain value (see plainValue; values of a request in its
// JSON form are plain) as encoding/json decodes the JSON written for it: a
// deep copy, every number a float64, NaN and infinities nil, as the engine
// reads them.
func jsonCopy(v any) any {
	switch x := v.(type) {
	case nil, bool, string:
		return v
	case float64:
		return jsonNumber(x)
	case float32:
		return jsonNumber(float64(x))
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case int32:
		return float64(x)
	case uint:
		return float64(x)
	case uint64:
		return float64(x)
	case map[string]any:
		if x == nil {
			return nil
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonCopy(e)
		}
		return out
	case []any:
		if x == nil {
			return nil
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonCopy(e)
		}
		return out
	case []string:
		if x == nil {
			return nil
		}
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	}
	// Plain values have no other types.
	return nil
}

func jsonNumber(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	if f == 0 {
		return 0.0 // -0 too, as JSON.stringify writes it
	}
	return f
}
