package warden_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	warden "github.com/warden-policy/warden/bindings/go"
)

const supportBot = `[{
  "name": "support-bot",
  "rules": [
    {"effect": "allow", "action": "tool.call", "resource": ["tool/lookup_order", "tool/lookup_account"]},
    {"effect": "allow", "action": "tool.call", "resource": "tool/issue_refund", "conditions": "context.amount <= 50"},
    {"effect": "escalate", "action": "tool.call", "resource": "tool/issue_refund", "conditions": "context.amount > 500",
     "reason": "refunds over $500 need a person's approval"}
  ]
}]`

func Example() {
	w, err := warden.Load([]byte(supportBot))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()

	d := w.Check(ctx, warden.Request{Action: "tool.call", Resource: "tool/issue_refund", Context: map[string]any{"amount": 20}})
	fmt.Println(d.Allowed, d.Effect, d.Rule)

	d = w.Check(ctx, warden.Request{Action: "tool.call", Resource: "tool/issue_refund", Context: map[string]any{"amount": 600}})
	fmt.Println(d.Allowed, d.Effect, d.Reason)

	_, err = w.Enforce(ctx, warden.Request{Action: "tool.call", Resource: "tool/delete_account"})
	var violation *warden.PolicyViolationError
	fmt.Println(errors.As(err, &violation), warden.Code(err), violation.Decision.Effect)

	x, _ := w.Explain(ctx, warden.Request{Action: "tool.call", Resource: "tool/issue_refund", Context: map[string]any{"amount": 600}})
	fmt.Println(x.Why)
	// Output:
	// true allow 1
	// false escalate refunds over $500 need a person's approval
	// true ERR_POLICY_VIOLATION deny
	// rule 2 of policy 0 is the only candidate
}

func ExampleWarden_Check_invalidRequest() {
	w, _ := warden.Load([]byte(supportBot))
	d := w.Check(context.Background(), warden.Request{Action: "tool.call", TimeText: "yesterday"})
	fmt.Println(d.Allowed, d.Error.Code)
	// Output: false ERR_REQUEST_INVALID
}

func ExampleWarden_CheckJSON() {
	w, _ := warden.Load([]byte(supportBot))
	d := w.CheckJSON(context.Background(), []byte(`{"action": "tool.call", "resource": "tool/lookup_order",
	  "agent": {"id": "support-bot", "tags": ["support"]}, "time": "2026-03-05T10:00:00Z"}`))
	fmt.Println(d.Allowed, d.Rule)
	// Output: true 0
}

func ExampleWarden_Middleware() {
	w, _ := warden.Load([]byte(`[{"rules": [{"effect": "allow", "action": "http.request", "resource": "GET /orders/*"}]}]`))
	orders := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { fmt.Fprint(rw, "order 17") })
	guarded := w.Middleware(orders)

	for _, target := range []string{"/orders/17", "/admin"} {
		rec := httptest.NewRecorder()
		guarded.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
		fmt.Println(rec.Code, rec.Body.String())
	}
	// Output:
	// 200 order 17
	// 403 {"effect":"deny","error":"ERR_POLICY_VIOLATION","reason":"no rule matched, so the request is denied by default"}
}

func ExampleConnect() {
	ctx := context.Background()
	w, err := warden.Connect(ctx, warden.Options{
		URL:          "https://cdn.example.com/proj_support.bundle.json",
		Project:      "proj_support",
		ProjectKey:   os.Getenv("WARDEN_PROJECT_KEY"),
		TrustedKeys:  map[string]string{"k1": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
		PollInterval: time.Minute,
	}, warden.OnError(func(f warden.BundleFailure) { fmt.Println("bundle refused:", f.Err) }))
	if err != nil {
		panic(err)
	}
	defer w.Close()
	fmt.Println(w.Status().Version)
}

func ExampleWarden_Authorize() {
	w, _ := warden.Load([]byte(supportBot), warden.WithApprovals(func(ctx context.Context, req warden.ApprovalRequest) (warden.Approval, error) {
		// Ask a person here (a ticket, a chat message), giving up when ctx ends.
		return warden.Approval{Approved: true, Approver: "ana@example.com"}, nil
	}, 10*time.Minute))
	d, err := w.Authorize(context.Background(), warden.Request{Action: "tool.call", Resource: "tool/issue_refund", Context: map[string]any{"amount": 600}})
	fmt.Println(d.Allowed, d.Effect, d.ApprovedBy, err)
	// Output: true escalate ana@example.com <nil>
}

func ExampleRequestDigest() {
	digest, _ := warden.RequestDigest(warden.Request{Action: "a"})
	fmt.Println(digest) // SHA-256 of {"action":"a","agent":null,"context":{},"resource":""}
	// Output: 44cb5c6b1e133466d226187045f4cdee8a4fcb9f05855d6ffd764528ccbb1eea
}
