package warden

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func sha256Hex(text string) string {
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:])
}

func canonical(t *testing.T, v any) string {
	t.Helper()
	b, err := CanonicalJSON(v)
	if err != nil {
		t.Fatalf("CanonicalJSON(%#v): %v", v, err)
	}
	return string(b)
}

// The vectors @warden/core's canonicalJson and requestDigest give (checked
// against packages/core/src/approval.ts under Node).
func TestRequestDigestMatchesTheTypeScriptHost(t *testing.T) {
	r := Request{
		Action: "tool.call", Resource: "tool/issue_refund", Agent: &Agent{ID: "bot", TrustLevel: "elevated"},
		Context: map[string]any{"ratio": 0.1, "note": "é€😀", "big": 1e21, "amount": 900,
			"nested": map[string]any{"z": []any{1, 2.5, "x"}, "a": nil}},
		TimeText: "2026-03-05T10:00:00Z", // not part of the digest
	}
	const text = `{"action":"tool.call","agent":{"id":"bot","trust_level":"elevated"},"context":{"amount":900,"big":1e+21,"nested":{"a":null,"z":[1,2.5,"x"]},"note":"é€😀","ratio":0.1},"resource":"tool/issue_refund"}`
	if got := canonical(t, map[string]any{"action": r.Action, "resource": r.Resource, "context": r.Context,
		"agent": map[string]any{"id": "bot", "trust_level": "elevated"}}); got != text {
		t.Errorf("canonical JSON\n got %s\nwant %s", got, text)
	}
	for _, c := range []struct {
		r    Request
		want string
	}{
		{r, "e27fe48a6ce392cbf91fc5d7c12adac5f120f6c2b817c9925087ce7ce8244ffc"},
		{Request{Action: "a"}, "44cb5c6b1e133466d226187045f4cdee8a4fcb9f05855d6ffd764528ccbb1eea"},
		{Request{Action: "a", Context: map[string]any{}}, "44cb5c6b1e133466d226187045f4cdee8a4fcb9f05855d6ffd764528ccbb1eea"},
	} {
		got, err := RequestDigest(c.r)
		if err != nil || got != c.want {
			t.Errorf("RequestDigest(%+v) = %s, %v; want %s", c.r, got, err, c.want)
		}
	}
	if sha256Hex(text) != "e27fe48a6ce392cbf91fc5d7c12adac5f120f6c2b817c9925087ce7ce8244ffc" ||
		sha256Hex(`{"action":"a","agent":null,"context":{},"resource":""}`) != "44cb5c6b1e133466d226187045f4cdee8a4fcb9f05855d6ffd764528ccbb1eea" {
		t.Error("the vectors are not the SHA-256 of their canonical text")
	}
}

// The agent holds only the fields the engine is sent; the time is not part of
// the digest.
func TestRequestDigestAgentHoldsOnlyTheFieldsPresent(t *testing.T) {
	for _, c := range []struct {
		agent *Agent
		text  string
	}{
		{nil, `null`},
		{&Agent{}, `{}`},
		{&Agent{ID: "bot"}, `{"id":"bot"}`},
		{&Agent{TrustLevel: "basic", Tags: []string{}}, `{"tags":[],"trust_level":"basic"}`},
		{&Agent{ID: "bot", TrustLevel: "basic", Tags: []string{"b", "a"}}, `{"id":"bot","tags":["b","a"],"trust_level":"basic"}`},
	} {
		want := sha256Hex(`{"action":"a","agent":` + c.text + `,"context":{},"resource":"r"}`)
		for _, r := range []Request{
			{Action: "a", Resource: "r", Agent: c.agent},
			{Action: "a", Resource: "r", Agent: c.agent, Time: time.Unix(1, 0)},
		} {
			if got, err := RequestDigest(r); err != nil || got != want {
				t.Errorf("agent %+v: %s, %v; want the digest of %s", c.agent, got, err, c.text)
			}
		}
	}
}

func TestCanonicalJSONSortsMembersByUTF16CodeUnits(t *testing.T) {
	// Go's byte order puts U+FB33 before U+1F600; UTF-16 puts the surrogate
	// pair (0xD83D…) first.
	if got := canonical(t, map[string]any{"\uFB33": 2, "\U0001F600": 1}); got != "{\"\U0001F600\":1,\"\uFB33\":2}" {
		t.Errorf("got %s", got)
	}
	// @warden/core's own test (undefined members and Dates aside).
	got := canonical(t, map[string]any{
		"b": []any{1, 1e21, 0.1, math.Copysign(0, -1), "é\u2028"},
		"a": map[string]any{"z": nil, "\u20ac": true, "\U0001F600": 1, "\uFB33": 2},
	})
	if want := "{\"a\":{\"z\":null,\"\u20ac\":true,\"\U0001F600\":1,\"\uFB33\":2},\"b\":[1,1e+21,0.1,0,\"é\u2028\"]}"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// Prefixes first; past U+FFFF by code point among themselves.
	got = canonical(t, map[string]any{"ab": 1, "a": 2, "": 3, "\U0001F601": 4, "\U0001F600": 5, "\U00010000": 6, "\uFFFF": 7, "\uE000": 8, "\uD7FF": 9})
	if want := "{\"\":3,\"a\":2,\"ab\":1,\"\uD7FF\":9,\"\U00010000\":6,\"\U0001F600\":5,\"\U0001F601\":4,\"\uE000\":8,\"\uFFFF\":7}"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestCanonicalJSONWritesNumbersAsECMAScript(t *testing.T) {
	tenth, fifth := 0.1, 0.2 // variables: constants would add exactly
	for _, c := range []struct {
		f    float64
		want string
	}{
		{900.0, "900"}, {1e21, "1e+21"}, {1e20, "100000000000000000000"}, {123456789012345680000, "123456789012345680000"},
		{1e-7, "1e-7"}, {1.5e-7, "1.5e-7"}, {1e-6, "0.000001"}, {0.000001234, "0.000001234"},
		{5e-324, "5e-324"}, {1.7976931348623157e308, "1.7976931348623157e+308"}, {1e300, "1e+300"}, {1e-100, "1e-100"},
		{0.1, "0.1"}, {tenth + fifth, "0.30000000000000004"}, {4.35, "4.35"}, {12345.678e10, "123456780000000"},
		{1 << 53, "9007199254740992"}, {-1e21, "-1e+21"}, {-0.5, "-0.5"}, {-1.5e-7, "-1.5e-7"},
		{0, "0"}, {math.Copysign(0, -1), "0"}, {math.NaN(), "null"}, {math.Inf(1), "null"}, {math.Inf(-1), "null"},
	} {
		if got := canonical(t, c.f); got != c.want {
			t.Errorf("%v: got %s, want %s", c.f, got, c.want)
		}
	}
	// Integer types as the float64 the engine is sent.
	if got := canonical(t, []any{int64(1<<53 + 1), uint8(7), int32(-3), float32(2.5)}); got != "[9007199254740992,7,-3,2.5]" {
		t.Errorf("got %s", got)
	}
}

func TestCanonicalJSONEscapesStringsAsJSONStringify(t *testing.T) {
	got := canonical(t, "\x00\x01\b\t\n\f\r\x1f\"\\/<>&\u2028\u2029\x7fé😀")
	if want := `"\u0000\u0001\b\t\n\f\r\u001f\"\\/<>&` + "\u2028\u2029\x7fé😀\""; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	for _, v := range []any{"\xff", map[string]any{"\xc3": 1}, []string{"ok", "\xed\xa0\x80"}} {
		if _, err := CanonicalJSON(v); err == nil || !strings.Contains(err.Error(), "not UTF-8") {
			t.Errorf("%q: want a UTF-8 error, got %v", v, err)
		}
	}
}

// Values are read as the context is: as encoding/json writes them.
func TestCanonicalJSONReadsValuesAsTheContextIs(t *testing.T) {
	five := 5
	got := canonical(t, map[string]any{
		"struct": account{Tier: "gold", Balance: 2.5, Secret: "x"}, "ptr": &five, "nilptr": (*int)(nil),
		"number": json.Number("5e0"), "bytes": []byte("hi"), "tier": tier("gold"), "keys": map[int]bool{7: true},
		"time": time.Date(2026, 3, 5, 10, 0, 0, 0, time.UTC), "list": [2]tier{"a", "b"}, "nilmap": map[string]any(nil),
		"nilslice": []any(nil),
	})
	want := `{"bytes":"aGk=","keys":{"7":true},"list":["a","b"],"nilmap":null,"nilptr":null,"nilslice":null,"number":5,"ptr":5,` +
		`"struct":{"balance":2.5,"tier":"gold"},"tier":"gold","time":"2026-03-05T10:00:00Z"}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if _, err := CanonicalJSON(map[string]any{"ch": make(chan int)}); err == nil || !strings.Contains(err.Error(), "no JSON form") {
		t.Errorf("a channel: %v", err)
	}
	cycle := map[string]any{}
	cycle["self"] = cycle
	if _, err := CanonicalJSON(cycle); err == nil || !strings.Contains(err.Error(), "deep") {
		t.Errorf("a cycle: %v", err)
	}
}

func expectViolation(t *testing.T, d Decision, err error, effect Effect) {
	t.Helper()
	var violation *PolicyViolationError
	if !errors.As(err, &violation) || Code(err) != ErrPolicyViolation || violation.Decision.Effect != effect || d.Allowed || d.Effect != effect {
		t.Fatalf("want a PolicyViolationError for %s, got %+v, %v", effect, d, err)
	}
	if d.ApprovedBy != "" || d.ApprovalDigest != "" {
		t.Errorf("an unapproved decision names an approval: %+v", d)
	}
}

func TestAuthorizeAsksTheHandlerAndNamesTheApprover(t *testing.T) {
	var mu sync.Mutex
	var asked []ApprovalRequest
	var deadline time.Duration
	w := mustLoad(t, refunds, WithApprovals(func(ctx context.Context, req ApprovalRequest) (Approval, error) {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, req)
		if dl, ok := ctx.Deadline(); ok {
			deadline = time.Until(dl)
		}
		return Approval{Approved: true, Approver: "ana@example.com"}, nil
	}, 0))
	r := refund(900)
	d, err := w.Authorize(bg, r)
	if err != nil || !d.Allowed || d.Effect != Escalate || d.Rule != 2 || d.ApprovedBy != "ana@example.com" {
		t.Fatalf("got %+v, %v", d, err)
	}
	digest, _ := RequestDigest(r)
	if d.ApprovalDigest != digest {
		t.Errorf("approval digest %s, want %s", d.ApprovalDigest, digest)
	}
	if len(asked) != 1 || asked[0].Digest != digest || asked[0].Decision.Effect != Escalate || asked[0].Decision.Allowed ||
		asked[0].Request.Resource != "tool/issue_refund" || asked[0].Request.Agent.ID != "bot" {
		t.Fatalf("asked %+v", asked)
	}
	if deadline < 4*time.Minute || deadline > 5*time.Minute {
		t.Errorf("the handler's ctx ends in %s, want the default 5 minutes", deadline)
	}
	b, _ := json.Marshal(d)
	if !strings.Contains(string(b), `"approvedBy":"ana@example.com","approvalDigest":"`+digest+`"`) {
		t.Errorf("JSON: %s", b)
	}
	if b, _ := json.Marshal(w.Check(bg, r)); strings.Contains(string(b), "approv") {
		t.Errorf("an unapproved decision's JSON: %s", b)
	}
	// An allowed request is not escalated; a denied one is not asked about.
	if d, err := w.Authorize(bg, Request{Action: "tool.call", Resource: "tool/lookup_order"}); err != nil || !d.Allowed || d.ApprovedBy != "" {
		t.Errorf("an allowed request: %+v, %v", d, err)
	}
	d, err = w.Authorize(bg, Request{Action: "tool.call", Resource: "tool/delete_account"})
	expectViolation(t, d, err, Deny)
	if len(asked) != 1 {
		t.Errorf("the handler was asked %d times", len(asked))
	}
	// Enforce still refuses the escalation: only Authorize asks.
	_, err = w.Enforce(bg, r)
	expectViolation(t, w.Check(bg, r), err, Escalate)
}

func TestAuthorizeRefusesWithoutAnApproval(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	handlers := map[string]ApprovalHandler{
		"rejection": func(context.Context, ApprovalRequest) (Approval, error) {
			return Approval{Approved: false, Approver: "ana"}, nil
		},
		"error": func(context.Context, ApprovalRequest) (Approval, error) {
			return Approval{Approved: true, Approver: "ana"}, errors.New("chat is down")
		},
		"panic": func(context.Context, ApprovalRequest) (Approval, error) { panic("chat is down") },
		"no answer, ctx ignored": func(context.Context, ApprovalRequest) (Approval, error) {
			<-release
			return Approval{Approved: true}, nil
		},
		"no answer, ctx honoured": func(ctx context.Context, _ ApprovalRequest) (Approval, error) {
			<-ctx.Done()
			return Approval{}, ctx.Err()
		},
	}
	for name, h := range handlers {
		t.Run(name, func(t *testing.T) {
			w := mustLoad(t, refunds, WithApprovals(h, 20*time.Millisecond), WithLogger(slog.New(slog.DiscardHandler)))
			start := time.Now()
			d, err := w.Authorize(bg, refund(900))
			expectViolation(t, d, err, Escalate)
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Errorf("took %s", elapsed)
			}
		})
	}
	t.Run("no handler", func(t *testing.T) {
		w := mustLoad(t, refunds)
		d, err := w.Authorize(bg, refund(900))
		expectViolation(t, d, err, Escalate)
		_, err = w.Enforce(bg, refund(900))
		expectViolation(t, w.Check(bg, refund(900)), err, Escalate)
	})
	t.Run("caller's ctx ends", func(t *testing.T) {
		w := mustLoad(t, refunds, WithApprovals(handlers["no answer, ctx honoured"], time.Hour))
		ctx, cancel := context.WithTimeout(bg, 20*time.Millisecond)
		defer cancel()
		d, err := w.Authorize(ctx, refund(900))
		expectViolation(t, d, err, Escalate)
	})
}

func TestGrantApprovalLetsThatDigestThroughOnce(t *testing.T) {
	var calls atomic.Int32
	for _, opts := range [][]Option{nil, {WithApprovals(func(context.Context, ApprovalRequest) (Approval, error) {
		calls.Add(1)
		return Approval{}, nil
	}, 0)}} {
		w := mustLoad(t, refunds, opts...)
		digest, err := RequestDigest(Request{Action: "tool.call", Resource: "tool/issue_refund", Context: map[string]any{"amount": 900}, Agent: &Agent{ID: "bot"}})
		if err != nil {
			t.Fatal(err)
		}
		w.GrantApproval(digest, "ops")
		d, err := w.Authorize(bg, refund(901))
		expectViolation(t, d, err, Escalate)
		// The same request at another time has the same digest.
		d, err = w.Authorize(bg, refund(900))
		if err != nil || !d.Allowed || d.Effect != Escalate || d.ApprovedBy != "ops" || d.ApprovalDigest != digest {
			t.Fatalf("the granted request: %+v, %v", d, err)
		}
		d, err = w.Authorize(bg, refund(900))
		expectViolation(t, d, err, Escalate)
	}
	if calls.Load() != 2 {
		t.Errorf("the handler was asked %d times, want 2 (the grant answers without it)", calls.Load())
	}
}

func TestAGrantIsTakenOnceUnderConcurrentAuthorize(t *testing.T) {
	w := mustLoad(t, refunds)
	digest, _ := RequestDigest(refund(900))
	w.GrantApproval(digest, "ops")
	var allowed atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if d, err := w.Authorize(bg, refund(900)); err == nil && d.Allowed {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	if allowed.Load() != 1 {
		t.Errorf("%d requests went through on one grant", allowed.Load())
	}
}

// The engine is sent only the paths the policies read, so a string that is
// not UTF-8 elsewhere decides, but has no digest: it cannot be approved.
func TestAnEscalationWithoutADigestIsAnInvalidRequest(t *testing.T) {
	w := mustLoad(t, refunds, WithApprovals(func(context.Context, ApprovalRequest) (Approval, error) {
		t.Error("the handler was asked")
		return Approval{Approved: true}, nil
	}, 0))
	r := refund(900)
	r.Context = map[string]any{"amount": 900, "note": "\xff"}
	d, err := w.Authorize(bg, r)
	var violation *PolicyViolationError
	if Code(err) != ErrRequestInvalid || !errors.As(err, &violation) || violation.Decision.Effect != Escalate || d.Allowed {
		t.Fatalf("got %+v, %v", d, err)
	}
}
