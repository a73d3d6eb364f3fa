package warden

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// amount is a context value whose MarshalJSON counts its calls and, when
// given a Warden, asks it for a decision of its own (as logging or a lookup
// behind a custom type might).
type amount struct {
	calls  *int
	values []string // what each call marshals to, in turn
	w      *Warden
}

func (a amount) MarshalJSON() ([]byte, error) {
	i := *a.calls
	*a.calls++
	if a.w != nil {
		a.w.Check(context.Background(), Request{Action: "tool.call", Resource: "tool/lookup", Context: map[string]any{"amount": 1}})
	}
	return json.Marshal(json.RawMessage(a.values[min(i, len(a.values)-1)]))
}

// The context is made plain once, before the engine is held: a MarshalJSON
// runs once per check and may itself call the Warden (with rate limits in
// force, so the check goes through the instance lock), without a deadlock.
func TestContextValuesMarshalOnceOutsideTheEngineLock(t *testing.T) {
	w := mustLoad(t, `[{"rules": [
		{"effect": "allow", "action": "tool.call", "resource": "tool/lookup", "conditions": {"amount": {"lte": 100}}},
		{"effect": "allow", "action": "tool.call", "resource": "tool/refund", "conditions": {"amount": {"lte": 100}}}],
		"rate_limits": [{"action": "tool.call", "resource": "tool/lookup", "limit": 1000, "period": "1h"}]}]`)
	calls := 0
	done := make(chan Decision, 1)
	go func() {
		done <- w.Check(context.Background(), Request{Action: "tool.call", Resource: "tool/refund",
			Context: map[string]any{"amount": amount{calls: &calls, values: []string{"50"}, w: w}}})
	}()
	select {
	case d := <-done:
		if !d.Allowed || calls != 1 {
			t.Fatalf("decision %+v after %d MarshalJSON calls, want allowed after 1", d, calls)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a Check from inside MarshalJSON deadlocked")
	}

	// The value checked is the value decided on: a marshaler that would answer differently the second time is asked once.
	calls = 0
	nested := map[string]any{"amount": amount{calls: &calls, values: []string{"50", `"not a number"`}}}
	if d := w.Check(context.Background(), Request{Action: "tool.call", Resource: "tool/refund", Context: nested}); !d.Allowed || calls != 1 {
		t.Fatalf("decision %+v after %d MarshalJSON calls, want allowed after 1", d, calls)
	}
	// The caller's map is left as it was.
	if _, ok := nested["amount"].(amount); !ok {
		t.Fatalf("the caller's context was changed: %#v", nested)
	}
}
