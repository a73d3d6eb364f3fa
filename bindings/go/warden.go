package warden

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Warden decides requests against the policies in force, with warden.wasm
// hosted by wazero. It is safe for concurrent use by many goroutines: while
// the policies have rate limits, every decision goes through one engine
// instance behind a mutex (counts live in an instance, so a pool would
// multiply every limit); without them, through a pool of instances, at most
// one per core (GOMAXPROCS), made as concurrent checks need them.
type Warden struct {
	mu   sync.Mutex // guards inst.primary and the bundle fields below
	inst *instances
	// st is the policies in force; it changes under mu and loadMu.
	st atomic.Pointer[policyState]
	// The highest bundle version ever loaded (nothing older loads again),
	// where the bundle in force came from and when it loaded.
	highest  int64
	source   Source
	loadedAt time.Time

	// loadMu serializes everything that changes the policies: a bundle's
	// version checks and its load are one step.
	loadMu sync.Mutex

	settings settings
	client   *bundleClient

	// grants are the one-time approvals (GrantApproval): digest → approver.
	grantsMu sync.Mutex
	grants   map[string]string

	// observing: decisions are observed (audit.go), as there is an audit
	// sink or an alert handler. Without, Check does no audit work.
	observing bool
}

// policyState is everything about the policies in force that a decision
// needs besides the engine, computed once at load.
type policyState struct {
	meta     *Metadata
	policies []byte // as loaded, for a fresh instance after a trap
	version  int64
	segments [][]string
	zones    []*time.Location
	// needsClock: decisions read the time (time.* conditions or rate limits).
	needsClock bool
	// limits: the policies have rate limits, so only the primary instance
	// decides.
	limits bool
	// kept: the decisions Check keeps by (action, resource) while these
	// policies are in force (kept.go); nil when they decide by more, or
	// when WithKeepDecisions(false).
	kept *keptDecisions
	// What a decision won by each rule carries, by policy and rule index.
	outcomes     [][]Decision
	defaultAllow Decision
	defaultDeny  Decision
	// redact: the audit.redact paths of every policy, each once, in
	// segments (audit.go).
	redact [][]string
}

// Option changes how a Warden behaves; pass it to Load, New or Connect.
type Option func(*settings)

type settings struct {
	clock       func() time.Time
	logger      *slog.Logger
	onRecovered func(RecoveredEvent)
	onUpdate    func(BundleUpdate)
	onError     func(BundleFailure)
	// approvals answers escalations in Authorize, within approvalTimeout.
	approvals       ApprovalHandler
	approvalTimeout time.Duration
	// noKeptDecisions: WithKeepDecisions(false).
	noKeptDecisions bool
	// Audit records and alerts (audit.go).
	auditSink    AuditSink
	onAlert      func(AuditRecord)
	onAuditError func(error, AuditRecord)
}

// WithClock sets the clock decisions read when a request carries no time
// (default time.Now).
func WithClock(clock func() time.Time) Option {
	return func(s *settings) { s.clock = clock }
}

// WithKeepDecisions says whether Check keeps decisions (default true), as
// `keepDecisions` of @warden/core: while the engine says the policies in
// force decide by the request's action and resource alone
// (Metadata.ActionResourceOnly), a request without an agent or a time whose
// (action, resource) the engine already decided is answered with that
// decision, its context still validated. At most 4,096 are kept (then they
// are forgotten and keeping starts over), and every load forgets them. With
// false, every check reaches the engine.
func WithKeepDecisions(keep bool) Option {
	return func(s *settings) { s.noKeptDecisions = !keep }
}

// WithLogger sets where warnings go: a recovered engine trap, a cached bundle
// that is ignored (default slog.Default()).
func WithLogger(logger *slog.Logger) Option {
	return func(s *settings) { s.logger = logger }
}

// OnRecovered is called after the engine trapped and a fresh instance took
// over (engine/ABI.md §Traps). It runs after the Warden's lock is released,
// on the goroutine whose call trapped.
func OnRecovered(f func(RecoveredEvent)) Option {
	return func(s *settings) { s.onRecovered = f }
}

// RecoveredEvent reports a trap the Warden recovered from.
type RecoveredEvent struct {
	// Err is the trap.
	Err error
	// CountsCarried says whether the rate-limit counts were carried over to
	// the new instance.
	CountsCarried bool
}

const (
	defaultAllowReason = "no rule matched, and every applicable policy allows by default"
	defaultDenyReason  = "no rule matched, so the request is denied by default"
	nothingLoaded      = "no policies have loaded yet, so every request is denied"
	maxSafeInteger     = 1<<53 - 1
)

var effects = [...]Effect{Deny, Allow, Escalate}

// New returns a Warden with no policies: it denies every request until
// policies load (Load, LoadBundle).
func New(opts ...Option) (*Warden, error) {
	w := &Warden{}
	for _, o := range opts {
		o(&w.settings)
	}
	if w.settings.clock == nil {
		w.settings.clock = time.Now
	}
	if w.settings.logger == nil {
		w.settings.logger = slog.Default()
	}
	w.observing = w.settings.auditSink != nil || w.settings.onAlert != nil
	eng, err := newEngine(context.Background())
	if err != nil {
		return nil, err
	}
	w.st.Store(emptyState())
	w.inst = newInstances(eng)
	// The instances live in wazero's store until closed: close them once
	// the Warden is unreachable (the cleanup must not point back to it).
	runtime.AddCleanup(w, func(inst *instances) { inst.closeAll() }, w.inst)
	return w, nil
}

// Load returns a Warden with the policies of policyJSON: a JSON array of
// policy documents in bundle order (policy-language.md §1), passed to the
// engine as it is. A policy set that does not load returns a
// *PolicyInvalidError listing every problem.
//
//	w, err := warden.Load([]byte(`[{"name": "support-bot", "rules": [
//	  {"effect": "allow", "action": "tool.call", "resource": "tool/lookup_order"}]}]`))
//	d := w.Check(ctx, warden.Request{Action: "tool.call", Resource: "tool/lookup_order"})
//	// d.Allowed == true
func Load(policyJSON []byte, opts ...Option) (*Warden, error) {
	w, err := New(opts...)
	if err != nil {
		return nil, err
	}
	if _, err := w.Load(policyJSON); err != nil {
		return nil, err
	}
	return w, nil
}

func emptyState() *policyState {
	return &policyState{
		defaultAllow: outcome(Allow, -1, -1, nil, nil, defaultAllowReason, false, true, nil, false, 0),
		defaultDeny:  outcome(Deny, -1, -1, nil, nil, nothingLoaded, false, true, nil, false, 0),
	}
}

// Load replaces the policies in force with those of policyJSON, a JSON
// array of policy documents. When they do not load, it returns a
// *PolicyInvalidError and the policies in force stay. Rate-limit counts
// carry over to limits with the same identity (policy-language.md §7). The
// version of the bundle in force is then 0.
func (w *Warden) Load(policyJSON []byte) (*Metadata, error) {
	w.loadMu.Lock()
	defer w.loadMu.Unlock()
	return w.loadPolicies(context.Background(), policyJSON, 0, "")
}

// loadPolicies loads a policy array or a bundle payload; on success the
// state names the bundle version (0: none) and, for bundles, its source.
func (w *Warden) loadPolicies(ctx context.Context, policies []byte, version int64, source Source) (*Metadata, error) {
	policies = bytes.Clone(policies)
	var events []RecoveredEvent
	defer func() { w.report(ctx, events) }()
	w.mu.Lock()
	defer w.mu.Unlock()
	var res loadResult
	err := w.callLocked(ctx, &events, func(e *engine) (err error) {
		res, err = e.load(ctx, policies)
		return err
	})
	if err != nil {
		return nil, err
	}
	if res.meta == nil {
		return nil, &PolicyInvalidError{Errors: res.errors}
	}
	zones := make([]*time.Location, len(res.meta.Zones))
	for i, z := range res.meta.Zones {
		if zones[i], err = loadZone(z); err != nil {
			// The engine took the new set: give it back the one in force.
			previous := w.st.Load().policies
			if previous == nil {
				previous = []byte("[]")
			}
			if rerr := w.callLocked(ctx, &events, func(e *engine) error {
				_, err := e.load(ctx, previous)
				return err
			}); rerr != nil {
				return nil, rerr
			}
			return nil, err
		}
	}
	w.st.Store(newState(res.meta, policies, version, zones, !w.settings.noKeptDecisions))
	if source != "" {
		w.source = source
		w.loadedAt = time.Now()
		w.highest = max(w.highest, version)
	}
	return res.meta, nil
}

func newState(meta *Metadata, policies []byte, version int64, zones []*time.Location, keep bool) *policyState {
	st := &policyState{meta: meta, policies: policies, version: version, zones: zones, needsClock: meta.ReadsTime}
	for _, p := range meta.Policies {
		if len(p.RateLimits) > 0 {
			st.needsClock, st.limits = true, true
		}
	}
	for _, path := range meta.Paths[:meta.ContextPaths] {
		st.segments = append(st.segments, splitPath(path)[1:])
	}
	// The engine's word, and what it implies: nothing read but the action
	// and resource, so no clock, no counts and no context slots.
	if keep && meta.ActionResourceOnly && !st.needsClock && len(st.segments) == 0 {
		st.kept = &keptDecisions{}
	}
	st.outcomes = make([][]Decision, len(meta.Policies))
	for pi, p := range meta.Policies {
		st.outcomes[pi] = make([]Decision, len(p.Rules))
		for ri, r := range p.Rules {
			reason, given := "", r.Reason != nil
			if given {
				reason = *r.Reason
			} else {
				reason = generatedReason(r.Effect, pi, ri, p.Name, r.Name)
			}
			st.outcomes[pi][ri] = outcome(r.Effect, pi, ri, p.Name, r.Name, reason, given, r.Log, r.LogContext, r.Alert, version)
		}
	}
	st.defaultAllow = outcome(Allow, -1, -1, nil, nil, defaultAllowReason, false, true, nil, false, version)
	st.defaultDeny = outcome(Deny, -1, -1, nil, nil, defaultDenyReason, false, true, nil, false, version)
	st.redact = redactedPaths(meta)
	return st
}

func splitPath(path string) []string {
	var out []string
	start := 0
	for i := 0; i < len(path); i++ {
		if path[i] == '.' {
			out = append(out, path[start:i])
			start = i + 1
		}
	}
	return append(out, path[start:])
}

func outcome(effect Effect, policy, rule int, policyName, ruleName *string, reason string, given, log bool, logContext []string, alert bool, version int64) Decision {
	d := Decision{
		Allowed: effect == Allow, Effect: effect, Policy: policy, Rule: rule, Reason: reason, ReasonGiven: given,
		Indeterminate: []string{}, BundleVersion: version, Log: log, LogContext: logContext, Alert: alert,
	}
	if policyName != nil {
		d.PolicyName = *policyName
	}
	if ruleName != nil {
		d.RuleName = *ruleName
	}
	return d
}

func generatedReason(effect Effect, policy, rule int, policyName, ruleName *string) string {
	verb := "allowed"
	switch effect {
	case Deny:
		verb = "denied"
	case Escalate:
		verb = "escalated for approval"
	}
	r := fmt.Sprintf("rule %d", rule)
	if ruleName != nil && *ruleName != "" {
		r = fmt.Sprintf("rule %d (`%s`)", rule, *ruleName)
	}
	p := fmt.Sprintf("policy %d", policy)
	if policyName != nil && *policyName != "" {
		p = fmt.Sprintf("policy %d (`%s`)", policy, *policyName)
	}
	return verb + " by " + r + " of " + p
}

// Metadata returns the metadata of the policies in force (nil before any
// have loaded). It is shared with the Warden: read it, do not modify it.
func (w *Warden) Metadata() *Metadata {
	return w.st.Load().meta
}

// BundleVersion returns the version of the bundle in force (0: none).
func (w *Warden) BundleVersion() int64 {
	return w.st.Load().version
}

// Check decides a request. It never fails: an invalid request is a deny
// whose Error is ERR_REQUEST_INVALID and says what is wrong; the engine and
// its rate-limit counts are then untouched. ctx goes to the logger and the
// engine calls; a decision is not cancelled. While the policies in force
// decide by action and resource alone, a request without an agent or a
// time may be answered with a decision kept from the engine (see
// WithKeepDecisions). With an audit sink (WithAudit) or an alert handler
// (OnAlert), the decision is recorded and alerted as its policies say.
func (w *Warden) Check(ctx context.Context, r Request) Decision {
	if w.observing {
		return w.checkObserved(ctx, &r)
	}
	if st := w.st.Load(); st.keptRequest(&r) {
		return w.checkKept(ctx, st, &r)
	}
	in, err := r.input()
	if err != nil {
		return w.invalid(err.Error())
	}
	d, _ := w.run(ctx, &in, false)
	return d
}

// checkObserved is Check with an audit sink or an alert handler. Check
// without them stays as it was, and as fast.
func (w *Warden) checkObserved(ctx context.Context, r *Request) Decision {
	var in input
	st := w.st.Load()
	d := w.checkSeen(ctx, st, r, &in)
	w.observed(ctx, st, &d, &in)
	return d
}

// checkSeen decides r as Check does, and leaves seen holding the request as
// its audit record shows it: its context made plain (nil when it has none or
// it made the request invalid), so that no MarshalJSON is called twice.
//
// st is the policies in force as it starts (its records follow them).
func (w *Warden) checkSeen(ctx context.Context, st *policyState, r *Request, seen *input) Decision {
	if st.keptRequest(r) {
		plain, err := plainContext(r.Context)
		*seen = input{action: r.Action, resource: r.Resource, hasResource: r.Resource != "", context: plain}
		if err != nil {
			return w.invalid(err.Error())
		}
		// checkKept checks the plain context again, calling no MarshalJSON.
		plainRequest := *r
		plainRequest.Context = plain
		return w.checkKept(ctx, st, &plainRequest)
	}
	in, err := r.input()
	if err != nil {
		in.context, _ = plainContext(in.context)
		*seen = in
		return w.invalid(err.Error())
	}
	d, _ := w.run(ctx, &in, false)
	*seen = in
	return d
}

// CheckJSON decides a request in its JSON form (policy-language.md §1a:
// `action`, and optionally `resource`, `context`, `agent`, `time` as RFC
// 3339 text, and no other members), as conformance vectors and batch files
// write it. Member names match exactly; any other shape, duplicate members
// or text that is not UTF-8 make an invalid request. It is recorded as
// Check is.
func (w *Warden) CheckJSON(ctx context.Context, request []byte) Decision {
	st := w.st.Load() // the policies its record follows
	in, err := parseRequest(request)
	var d Decision
	if err != nil {
		d = w.invalid(err.Error())
	} else {
		d, _ = w.run(ctx, &in, false)
	}
	if w.observing {
		w.observed(ctx, st, &d, &in)
	}
	return d
}

// Enforce decides a request and returns a *PolicyViolationError
// (ERR_POLICY_VIOLATION) unless it is allowed; the error's Decision tells a
// denial from an escalation. It never asks for approval: Authorize does.
func (w *Warden) Enforce(ctx context.Context, r Request) (Decision, error) {
	d := w.Check(ctx, r)
	if !d.Allowed {
		return d, &PolicyViolationError{Decision: d}
	}
	return d, nil
}

// Explain explains the decision Check would make now, without counting it
// against rate limits. An invalid request gives an explanation of its
// denial; an error means the engine failed.
func (w *Warden) Explain(ctx context.Context, r Request) (Explanation, error) {
	in, err := r.input()
	if err != nil {
		return w.explainInvalid(w.invalid(err.Error())), nil
	}
	return w.explain(ctx, &in)
}

// ExplainJSON explains a request in its JSON form (see CheckJSON), without
// counting it.
func (w *Warden) ExplainJSON(ctx context.Context, request []byte) (Explanation, error) {
	in, err := parseRequest(request)
	if err != nil {
		return w.explainInvalid(w.invalid(err.Error())), nil
	}
	return w.explain(ctx, &in)
}

func (w *Warden) explain(ctx context.Context, in *input) (Explanation, error) {
	d, out := w.run(ctx, in, true)
	if d.Error != nil {
		if d.Error.Code == ErrEngine {
			return Explanation{Decision: d}, &Error{Code: ErrEngine, Message: d.Error.Message}
		}
		return w.explainInvalid(d), nil
	}
	// The engine's decision is the record already read; its reason and names
	// are the host's to add (engine/ABI.md §The explanation).
	var raw struct {
		Policies   []ExplainedPolicy    `json:"policies"`
		Rules      []ExplainedRule      `json:"rules"`
		RateLimits []ExplainedRateLimit `json:"rate_limits"`
		Why        string               `json:"why"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		return Explanation{Decision: d}, newError(ErrEngine, "the engine's explanation is not readable: %v", err)
	}
	return Explanation{Decision: d, Policies: raw.Policies, Rules: raw.Rules, RateLimits: raw.RateLimits, Why: raw.Why}, nil
}

func (w *Warden) explainInvalid(d Decision) Explanation {
	return Explanation{
		Decision: d, Policies: []ExplainedPolicy{}, Rules: []ExplainedRule{}, RateLimits: []ExplainedRateLimit{},
		Why: "the request is invalid: " + d.Error.Message,
	}
}

// ExportState returns the rate-limit counts (JSON, engine/ABI.md §Rate-limit
// state), to carry into another Warden with ImportState.
func (w *Warden) ExportState() ([]byte, error) {
	ctx := context.Background()
	var events []RecoveredEvent
	defer func() { w.report(ctx, events) }()
	w.mu.Lock()
	defer w.mu.Unlock()
	var state []byte
	err := w.callLocked(ctx, &events, func(e *engine) (err error) {
		state, err = e.exportState(ctx)
		return err
	})
	return state, err
}

// ImportState adds exported counts to the limits in force with the same
// identity. Malformed state returns ERR_STATE_INVALID and changes nothing.
func (w *Warden) ImportState(state []byte) error {
	ctx := context.Background()
	var events []RecoveredEvent
	defer func() { w.report(ctx, events) }()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.callLocked(ctx, &events, func(e *engine) error {
		return e.importState(ctx, state)
	})
}

// run decides (or explains) one request; for an explanation it also returns
// the engine's JSON.
func (w *Warden) run(ctx context.Context, in *input, explain bool) (Decision, []byte) {
	if in.context != nil {
		// Checked and made plain here, before any lock: no user code runs while the engine is held.
		// An audit record reads the plain context too (checkSeen).
		plain, err := plainContext(in.context)
		if err != nil {
			in.context = nil // the audit record shows none
			return w.invalid(err.Error()), nil
		}
		in.context = plain
	}
	if !in.hasText && !in.t.IsZero() {
		if s := in.t.Unix(); s > maxSafeInteger || s < -maxSafeInteger {
			return w.invalid("`time` is outside the range of instants (2^53 seconds either way of 1970)"), nil
		}
	}
	var events []RecoveredEvent
	defer func() { w.report(ctx, events) }()
	if st := w.st.Load(); !explain && !st.limits {
		return w.runPooled(ctx, st, in, &events), nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	// The policies in force with the primary instance: they change under mu.
	return w.decideRetrying(ctx, &w.inst.primary, w.st.Load(), in, explain, &events)
}

// runPooled decides with a pooled instance, which first loads the policies
// in force if it holds others.
func (w *Warden) runPooled(ctx context.Context, st *policyState, in *input, events *[]RecoveredEvent) Decision {
	slot, err := w.inst.acquire(ctx)
	if err != nil {
		if slot != nil {
			slot.mu.Unlock()
		}
		return w.failed(fmt.Sprintf("no engine instance to decide with: %v", err))
	}
	defer slot.mu.Unlock()
	if slot.st != st {
		if err := slot.load(ctx, st, events); err != nil {
			return w.failed(fmt.Sprintf("an engine instance could not load the policies in force: %v", err))
		}
	}
	d, _ := w.decideRetrying(ctx, &slot.eng, st, in, false, events)
	return d
}

// load gives a locked slot the policies of st (which the primary instance
// already loaded, so they load).
func (s *poolSlot) load(ctx context.Context, st *policyState, events *[]RecoveredEvent) error {
	s.st = nil
	if st.policies != nil {
		res, err := s.eng.load(ctx, st.policies)
		var trap *trapError
		if errors.As(err, &trap) {
			fresh, event, rerr := replaceEngine(ctx, s.eng, st.policies, trap)
			if rerr != nil {
				return rerr
			}
			s.eng, s.st = fresh, st
			*events = append(*events, event)
			return nil
		}
		if err != nil {
			return err
		}
		if res.meta == nil {
			return newError(ErrEngine, "the policies in force do not load into another instance")
		}
	}
	s.st = st
	return nil
}

// decideRetrying decides on *e; when the engine traps, a fresh instance
// with st's policies replaces *e and decides again (once).
func (w *Warden) decideRetrying(ctx context.Context, e **engine, st *policyState, in *input, explain bool, events *[]RecoveredEvent) (Decision, []byte) {
	d, out, err := w.decideOn(ctx, *e, st, in, explain)
	for attempt := 0; err != nil; attempt++ {
		var trap *trapError
		if !errors.As(err, &trap) {
			return w.invalid(err.Error()), nil
		}
		fresh, event, rerr := replaceEngine(ctx, *e, st.policies, trap)
		if rerr != nil {
			return w.failed(fmt.Sprintf("the engine trapped and could not be replaced: %v", rerr)), nil
		}
		*e = fresh
		*events = append(*events, event)
		if attempt == 1 {
			return w.failed(fmt.Sprintf("the engine trapped twice on this request: %v", trap)), nil
		}
		d, out, err = w.decideOn(ctx, *e, st, in, explain)
	}
	return d, out
}

// decideOn writes the request, decides it on e and reads the decision. An
// invalidRequest error is the request's fault, a *trapError the engine's.
func (w *Warden) decideOn(ctx context.Context, e *engine, st *policyState, in *input, explain bool) (Decision, []byte, error) {
	now := instant{}
	switch {
	case in.hasText:
		t, ok, err := e.parseTime(ctx, in.timeText)
		if err != nil {
			return Decision{}, nil, err
		}
		if !ok {
			return Decision{}, nil, invalidRequest("`time` must be an RFC 3339 time such as `2026-03-05T10:00:00Z`")
		}
		now = t
	case !in.t.IsZero():
		now = instant{seconds: float64(in.t.Unix()), nanos: uint32(in.t.Nanosecond())}
	case st.needsClock:
		t := w.settings.clock()
		now = instant{seconds: float64(t.Unix()), nanos: uint32(t.Nanosecond())}
	}
	var offsets []int32
	if len(st.zones) > 0 {
		var fixed [8]int32
		offsets = fixed[:0]
		for _, loc := range st.zones {
			offsets = append(offsets, zoneOffset(loc, int64(now.seconds)))
		}
	}
	if err := e.beginRequest(ctx, now, offsets, len(st.segments)); err != nil {
		return Decision{}, nil, err
	}
	if err := w.writeRequest(ctx, e, st, in); err != nil {
		return Decision{}, nil, err
	}
	raw, err := e.decide(ctx, explain)
	if err != nil {
		return Decision{}, nil, err
	}
	if raw.invalid {
		return w.invalid(raw.message), nil, nil
	}
	d := st.read(raw)
	if !explain {
		return d, nil, nil
	}
	out, err := e.output(ctx)
	return d, out, err
}

func (w *Warden) writeRequest(ctx context.Context, e *engine, st *policyState, in *input) error {
	var err error
	if in.rawAction {
		err = e.writeValue(in.actionRaw, maxContextDepth)
	} else {
		err = e.writeInternable(ctx, in.action)
	}
	if err != nil {
		return err
	}
	switch {
	case in.rawResource:
		err = e.writeValue(in.resourceRaw, maxContextDepth)
	case !in.hasResource:
		e.writeTag(tagMissing)
	default:
		err = e.writeInternable(ctx, in.resource)
	}
	if err != nil {
		return err
	}
	switch {
	case in.rawAgent:
		err = e.writeAgentValue(ctx, in.agentRaw)
	case in.agent != nil:
		err = e.writeAgent(ctx, in.agent)
	default:
		e.writeTag(tagMissing)
	}
	if err != nil {
		return err
	}
	for _, segments := range st.segments {
		v, ok := valueAt(in.context, segments)
		if !ok {
			e.writeTag(tagMissing)
			continue
		}
		if err := e.writeValue(v, maxContextDepth-len(segments)); err != nil {
			return err
		}
	}
	return nil
}

// read turns a decision record into a Decision. Most decisions are exactly
// their rule's outcome, computed at load.
func (st *policyState) read(raw rawDecision) Decision {
	effect := Deny
	if raw.effect < uint32(len(effects)) {
		effect = effects[raw.effect]
	}
	var d Decision
	switch {
	case raw.policy >= 0:
		d = st.outcomes[raw.policy][raw.rule]
	case effect == Allow:
		d = st.defaultAllow
	default:
		d = st.defaultDeny
	}
	if len(raw.indeterminate) == 0 && raw.limitPolicy < 0 {
		return d
	}
	d.Allowed, d.Effect = effect == Allow, effect
	if len(raw.indeterminate) > 0 {
		d.Indeterminate = make([]string, len(raw.indeterminate))
		for i, p := range raw.indeterminate {
			d.Indeterminate[i] = st.meta.Paths[p]
		}
	}
	if raw.limitPolicy >= 0 {
		d.RateLimit = &RateLimitRef{Policy: int(raw.limitPolicy), Index: int(raw.limitIndex)}
		d.Reason = st.meta.Policies[raw.limitPolicy].RateLimits[raw.limitIndex].Reason
		d.ReasonGiven = true
	}
	return d
}

func (w *Warden) invalid(message string) Decision {
	return w.denial(&DecisionError{Code: ErrRequestInvalid, Message: message}, "invalid request: "+message)
}

func (w *Warden) failed(message string) Decision {
	return w.denial(&DecisionError{Code: ErrEngine, Message: message}, message)
}

func (w *Warden) denial(err *DecisionError, reason string) Decision {
	return Decision{
		Effect: Deny, Policy: -1, Rule: -1, Reason: reason, Indeterminate: []string{},
		BundleVersion: w.st.Load().version, Log: true, Error: err,
	}
}

// callLocked runs a call on the primary instance; a trap makes a fresh
// instance, and the call is tried once more.
func (w *Warden) callLocked(ctx context.Context, events *[]RecoveredEvent, f func(*engine) error) error {
	for attempt := 0; ; attempt++ {
		err := f(w.inst.primary)
		var trap *trapError
		if !errors.As(err, &trap) {
			return err
		}
		fresh, event, rerr := replaceEngine(ctx, w.inst.primary, w.st.Load().policies, trap)
		if rerr != nil {
			return rerr
		}
		w.inst.primary = fresh
		*events = append(*events, event)
		if attempt == 1 {
			return &Error{Code: ErrEngine, Message: "the engine trapped twice: " + trap.Error(), Err: trap}
		}
	}
}

// replaceEngine makes a fresh instance for a trapped one (engine/ABI.md
// §Traps): the policies in force and, if the old instance can still export
// them, the rate-limit counts. The old instance is closed.
func replaceEngine(ctx context.Context, old *engine, policies []byte, trap *trapError) (*engine, RecoveredEvent, error) {
	state, err := old.exportState(ctx)
	if err != nil {
		state = nil
	}
	fresh, err := newEngine(ctx)
	if err != nil {
		return nil, RecoveredEvent{}, &Error{Code: ErrEngine, Message: "a fresh engine instance could not be made", Err: err}
	}
	if policies != nil {
		res, err := fresh.load(ctx, policies)
		if err != nil || res.meta == nil {
			fresh.close()
			return nil, RecoveredEvent{}, &Error{Code: ErrEngine, Message: "the policies in force no longer load into a fresh engine", Err: err}
		}
	}
	carried := false
	if state != nil {
		carried = fresh.importState(ctx, state) == nil
	}
	old.close()
	return fresh, RecoveredEvent{Err: trap, CountsCarried: carried}, nil
}

// report logs and hands on recovered traps, outside the lock.
func (w *Warden) report(ctx context.Context, events []RecoveredEvent) {
	for _, ev := range events {
		w.settings.logger.WarnContext(ctx, "warden: the engine trapped; a fresh instance took over",
			"error", ev.Err, "counts_carried", ev.CountsCarried)
		if w.settings.onRecovered != nil {
			w.settings.onRecovered(ev)
		}
	}
}
