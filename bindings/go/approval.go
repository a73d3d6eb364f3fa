package warden

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// Escalation (policy-language.md §8): a decision whose effect is escalate is
// not allowed, but a person may approve that one request. Authorize asks
// through the approval handler given with WithApprovals, or lets a request
// through on an approval granted out of band with GrantApproval; either
// allows the request with that digest once. The engine only decides;
// approvals live here, as in @warden/core (approval.ts).

// DefaultApprovalTimeout is how long Authorize waits for an approval handler
// when WithApprovals is given no timeout.
const DefaultApprovalTimeout = 5 * time.Minute

// ApprovalRequest is what an approval handler is asked.
type ApprovalRequest struct {
	// Request is the request as Authorize was given it.
	Request Request
	// Decision is the escalated decision.
	Decision Decision
	// Digest is the request's digest (RequestDigest): SHA-256, hex, of the
	// RFC 8785 canonical JSON of {action, resource, context, agent}.
	Digest string
}

// Approval is an approval handler's answer: Approved or not, and who
// approved (it goes into the decision as ApprovedBy, for the audit record).
type Approval struct {
	Approved bool
	Approver string
}

// ApprovalHandler asks a person (a ticket, a chat message, a web page)
// whether an escalated request may go ahead. ctx ends when the timeout given
// to WithApprovals runs out (or the caller's ctx ends): the request is then
// refused whatever the handler does, so a handler should give up on ctx.Done.
// An error, a panic or Approved false refuse the request too.
type ApprovalHandler func(ctx context.Context, req ApprovalRequest) (Approval, error)

// WithApprovals sets who approves escalated requests in Authorize, and how
// long an answer may take (zero or less: DefaultApprovalTimeout, 5 minutes).
func WithApprovals(handler ApprovalHandler, timeout time.Duration) Option {
	return func(s *settings) {
		if timeout <= 0 {
			timeout = DefaultApprovalTimeout
		}
		s.approvals, s.approvalTimeout = handler, timeout
	}
}

// Authorize decides a request like Enforce, but an escalation goes to a
// person (policy-language.md §8): a one-time approval granted with
// GrantApproval for the request's digest, or else the handler given with
// WithApprovals, called with a ctx that ends after its timeout. Approved, it
// returns the decision with Allowed true (Effect stays Escalate) and
// ApprovedBy and ApprovalDigest set. Denied, rejected, failed, unanswered in
// time or without a handler, it returns the decision and a
// *PolicyViolationError. A request whose context has no canonical JSON (a
// string that is not UTF-8 at a path no policy reads) cannot be approved: it
// returns an *Error with ERR_REQUEST_INVALID that wraps the
// *PolicyViolationError.
//
// With an audit sink or an alert handler, the decision is recorded as Check
// records it, and an approval is a second record: the escalation with
// Allowed true, ApprovedBy and ApprovalDigest.
func (w *Warden) Authorize(ctx context.Context, r Request) (Decision, error) {
	var d Decision
	var seen *input // the request as its audit records show it
	// The policies that escalated: an approval is recorded under them, whatever loads while a person decides.
	st := w.st.Load()
	if w.observing {
		seen = new(input)
		d = w.checkSeen(ctx, st, &r, seen)
		w.observed(ctx, st, &d, seen)
	} else {
		d = w.Check(ctx, r)
	}
	if d.Allowed {
		return d, nil
	}
	violation := &PolicyViolationError{Decision: d}
	if d.Effect != Escalate {
		return d, violation
	}
	digest, err := RequestDigest(r)
	if err != nil {
		return d, &Error{Code: ErrRequestInvalid, Message: "the escalated request has no digest to approve: " + err.Error(), Err: violation}
	}
	approver, ok := w.takeGrant(digest)
	if !ok && w.settings.approvals != nil {
		approver, ok = w.ask(ctx, ApprovalRequest{Request: r, Decision: d, Digest: digest})
	}
	if !ok {
		return d, violation
	}
	d.Allowed, d.ApprovedBy, d.ApprovalDigest = true, approver, digest
	if seen != nil {
		w.observed(ctx, st, &d, seen)
	}
	return d, nil
}

// GrantApproval lets the request with this digest (RequestDigest) through
// Authorize once, approved by approver: an approval given out of band. A
// second grant for the same digest replaces the first.
func (w *Warden) GrantApproval(digest, approver string) {
	w.grantsMu.Lock()
	defer w.grantsMu.Unlock()
	if w.grants == nil {
		w.grants = map[string]string{}
	}
	w.grants[digest] = approver
}

// takeGrant consumes the grant for digest, if there is one.
func (w *Warden) takeGrant(digest string) (string, bool) {
	w.grantsMu.Lock()
	defer w.grantsMu.Unlock()
	approver, ok := w.grants[digest]
	if ok {
		delete(w.grants, digest)
	}
	return approver, ok
}

type approvalAnswer struct {
	approval Approval
	err      error
}

// ask calls the approval handler on a goroutine of its own, so that a handler
// that never answers is a rejection when the timeout runs out.
func (w *Warden) ask(ctx context.Context, req ApprovalRequest) (string, bool) {
	hctx, cancel := context.WithTimeout(ctx, w.settings.approvalTimeout)
	defer cancel()
	answers := make(chan approvalAnswer, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				w.settings.logger.WarnContext(ctx, "warden: the approval handler panicked; the request is refused", "panic", p)
				answers <- approvalAnswer{err: fmt.Errorf("the approval handler panicked: %v", p)}
			}
		}()
		a, err := w.settings.approvals(hctx, req)
		answers <- approvalAnswer{a, err}
	}()
	var answer approvalAnswer
	select {
	case answer = <-answers:
	case <-hctx.Done():
		// An answer that came with the deadline still counts; none is a
		// rejection.
		select {
		case answer = <-answers:
		default:
			return "", false
		}
	}
	if answer.err != nil || !answer.approval.Approved {
		return "", false
	}
	return answer.approval.Approver, true
}

// RequestDigest returns the digest of a request (policy-language.md §8):
// SHA-256, hex, of the RFC 8785 canonical JSON of {action, resource, context,
// agent}, where resource is "" when the request has none, context is {} when
// nil and agent is null when nil, or else holds only the fields the engine is
// sent ("id", "trust_level", "tags"). Time is not part of it. It matches
// requestDigest of @warden/core byte for byte.
func RequestDigest(r Request) (string, error) {
	var agent any
	if a := r.Agent; a != nil {
		agent = a.fields()
	}
	reqContext := r.Context
	if reqContext == nil {
		reqContext = map[string]any{}
	}
	text, err := CanonicalJSON(map[string]any{"action": r.Action, "resource": r.Resource, "context": reqContext, "agent": agent})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(text)
	return hex.EncodeToString(sum[:]), nil
}

// CanonicalJSON returns the RFC 8785 (JSON Canonicalization Scheme) text of
// v: object members sorted by the UTF-16 code units of their names, no
// whitespace, strings escaped and numbers written as ECMAScript's
// JSON.stringify writes them. v is read as a request's context is (see
// Request.Context): as encoding/json would write it, every number as a
// float64, NaN and infinities as null. A string or member name that is not
// UTF-8, a value without a JSON form or nesting past 10,000 levels (a cycle)
// is an error.
func CanonicalJSON(v any) ([]byte, error) {
	return appendCanonical(nil, v, maxJSONDepth)
}

func appendCanonical(b []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case string:
		return appendCanonicalString(b, x)
	case float64:
		return appendESNumber(b, x), nil
	case int:
		return appendESNumber(b, float64(x)), nil
	case int64:
		return appendESNumber(b, float64(x)), nil
	case int32:
		return appendESNumber(b, float64(x)), nil
	case uint:
		return appendESNumber(b, float64(x)), nil
	case uint64:
		return appendESNumber(b, float64(x)), nil
	case float32:
		// As the engine is sent it: the float64 of the float32.
		return appendESNumber(b, float64(x)), nil
	case map[string]any:
		if x == nil {
			return append(b, "null"...), nil
		}
		if depth <= 0 {
			return nil, errCanonicalDepth
		}
		names := make([]string, 0, len(x))
		for k := range x {
			names = append(names, k)
		}
		slices.SortFunc(names, compareUTF16)
		b = append(b, '{')
		for i, k := range names {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendCanonicalString(b, k); err != nil {
				return nil, err
			}
			b = append(b, ':')
			if b, err = appendCanonical(b, x[k], depth-1); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case []any:
		if x == nil {
			return append(b, "null"...), nil
		}
		if depth <= 0 {
			return nil, errCanonicalDepth
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendCanonical(b, e, depth-1); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case []string:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, s := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendCanonicalString(b, s); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	}
	w, err := jsonView(v)
	if err != nil {
		return nil, err
	}
	return appendCanonical(b, w, depth)
}

var errNotUTF8 = invalidRequest("a string or member name is not UTF-8")

var errCanonicalDepth = invalidRequest(fmt.Sprintf("the value nests more than %d objects or arrays deep", maxJSONDepth))

// compareUTF16 orders strings by their UTF-16 code units (RFC 8785 §3.2.3),
// which differs from the order of their UTF-8 bytes only where a character
// past U+FFFF (a surrogate pair, 0xD800–0xDBFF first) meets one in
// U+E000–U+FFFF.
func compareUTF16(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			if ua, ub := firstUnit(ra), firstUnit(rb); ua != ub {
				return int(ua) - int(ub)
			}
			// Both past U+FFFF with the same high surrogate: the low ones
			// are in the order of the code points.
			return int(ra) - int(rb)
		}
		a, b = a[na:], b[nb:]
	}
	return len(a) - len(b)
}

func firstUnit(r rune) rune {
	if r >= 0x10000 {
		return 0xD800 + (r-0x10000)>>10
	}
	return r
}

const hexDigits = "0123456789abcdef"

// appendCanonicalString writes s as JSON.stringify does: only `"`, `\` and
// control characters are escaped (\b \t \n \f \r, the others \u00xx).
func appendCanonicalString(b []byte, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return nil, errNotUTF8
	}
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\f':
			b = append(b, '\\', 'f')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"'), nil
}

// appendESNumber writes f as ECMAScript's Number.prototype.toString does
// (ECMA-262 §6.1.6.1.20), which JSON.stringify and RFC 8785 use: the
// shortest digits that read back as f, in plain notation for exponents from
// -7 to 20 and as d.ddde±n outside them; -0 is 0; NaN and infinities are
// null, as the request rules say.
func appendESNumber(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	if f == 0 {
		return append(b, '0')
	}
	if f < 0 {
		b = append(b, '-')
		f = -f
	}
	// Shortest round-trip digits d.ddd and the exponent e: f = 0.ddd × 10^n
	// with n = e+1 in ECMA-262's terms.
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, 64)
	mark := 0
	for e[mark] != 'e' {
		mark++
	}
	exp, _ := strconv.Atoi(string(e[mark+1:]))
	digits := make([]byte, 0, 17)
	for _, c := range e[:mark] {
		if c != '.' {
			digits = append(digits, c)
		}
	}
	k, n := len(digits), exp+1
	switch {
	case k <= n && n <= 21:
		b = append(b, digits...)
		for range n - k {
			b = append(b, '0')
		}
	case 0 < n && n <= 21:
		b = append(b, digits[:n]...)
		b = append(b, '.')
		b = append(b, digits[n:]...)
	case -6 < n && n <= 0:
		b = append(b, '0', '.')
		for range -n {
			b = append(b, '0')
		}
		b = append(b, digits...)
	default:
		b = append(b, digits[0])
		if k > 1 {
			b = append(b, '.')
			b = append(b, digits[1:]...)
		}
		b = append(b, 'e')
		if n-1 >= 0 {
			b = append(b, '+')
		}
		b = strconv.AppendInt(b, int64(n-1), 10)
	}
	return b
}
