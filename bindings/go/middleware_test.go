package warden

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

const apiPolicies = `[{"name": "api", "rules": [
  {"effect": "allow", "action": "http.request", "resource": "GET /public/*"},
  {"effect": "deny", "action": "http.request", "resource": "GET /public/secret", "reason": "not public"},
  {"effect": "allow", "action": "http.request", "resource": "POST /orders", "conditions": "context.headers.x_agent_team == 'support' AND context.query == 'dry_run=1'"},
  {"effect": "escalate", "action": "http.request", "resource": "DELETE /orders/*", "reason": "deleting an order needs a person"},
  {"effect": "allow", "action": "http.request", "resource": "GET /credentials", "conditions": {"headers.authorization": {"exists": true}}},
  {"effect": "allow", "action": "http.request", "resource": "GET /admin", "trust_level": "admin"}]}]`

func TestMiddlewareGuardsAHandler(t *testing.T) {
	w := mustLoad(t, apiPolicies)
	handler := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(rw, "served") })
	server := httptest.NewServer(w.Middleware(handler, AgentFrom(func(r *http.Request) *Agent {
		if r.Header.Get("X-Test-Admin") == "yes" { // a test stands in for a verified token
			return &Agent{ID: "ops", TrustLevel: "admin"}
		}
		return nil
	})))
	defer server.Close()

	do := func(method, path string, headers map[string]string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, server.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusOK {
			if string(body) != "served" {
				t.Fatalf("%s %s: %q", method, path, body)
			}
			return resp.StatusCode, nil
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("content type %q", ct)
		}
		var decoded map[string]any
		if err := json.Unmarshal(body, &decoded); err != nil {
			t.Fatalf("%s %s: %q is not JSON", method, path, body)
		}
		return resp.StatusCode, decoded
	}

	if status, _ := do("GET", "/public/docs", nil); status != http.StatusOK {
		t.Errorf("GET /public/docs: %d", status)
	}
	status, body := do("GET", "/public/secret", nil)
	if want := map[string]any{"error": "ERR_POLICY_VIOLATION", "effect": "deny", "reason": "not public", "policy": 0.0, "rule": 1.0}; status != 403 || !reflect.DeepEqual(body, want) {
		t.Errorf("GET /public/secret: %d %v", status, body)
	}
	if status, _ := do("POST", "/orders?dry_run=1", map[string]string{"X-Agent-Team": "support"}); status != http.StatusOK {
		t.Errorf("POST /orders from support: %d", status)
	}
	if status, body := do("POST", "/orders?dry_run=1", nil); status != 403 || body["effect"] != "deny" {
		t.Errorf("POST /orders without the header: %d %v", status, body)
	}
	status, body = do("DELETE", "/orders/17", nil)
	if status != 403 || body["effect"] != "escalate" || body["reason"] != "deleting an order needs a person" ||
		body["escalation"] != "a person must approve this request before it can proceed: deleting an order needs a person" {
		t.Errorf("DELETE /orders/17: %d %v", status, body)
	}
	// Credentials never reach the context.
	if status, _ := do("GET", "/credentials", map[string]string{"Authorization": "Bearer x"}); status != 403 {
		t.Errorf("the Authorization header was exposed: %d", status)
	}
	if status, _ := do("GET", "/admin", map[string]string{"X-Test-Admin": "yes"}); status != http.StatusOK {
		t.Errorf("GET /admin as an admin agent: %d", status)
	}
	if status, _ := do("GET", "/admin", nil); status != 403 {
		t.Errorf("GET /admin without an agent: %d", status)
	}
	// A path that is not UTF-8 is an invalid request, denied with its code.
	status, body = do("GET", "/public/%ff", nil)
	if status != 403 || body["error"] != "ERR_REQUEST_INVALID" {
		t.Errorf("GET /public/%%ff: %d %v", status, body)
	}
}
