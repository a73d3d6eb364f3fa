package warden

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
)

// HTTPAction is the action the middleware checks for every request.
const HTTPAction = "http.request"

// unexposedHeaders are never put into the context: credentials must not
// reach decisions, explanations or audit records.
var unexposedHeaders = map[string]bool{
	"Authorization":       true,
	"Proxy-Authorization": true,
	"Cookie":              true,
	"Set-Cookie":          true,
}

// MiddlewareOption changes what Middleware sends.
type MiddlewareOption func(*middleware)

type middleware struct {
	agent func(*http.Request) *Agent
}

// AgentFrom tells Middleware which agent makes a request (for example from
// a verified token); without it, requests carry no agent.
func AgentFrom(f func(*http.Request) *Agent) MiddlewareOption {
	return func(m *middleware) { m.agent = f }
}

// Middleware guards an http.Handler: each request is checked as action
// "http.request" on resource "METHOD /path" (r.URL.Path, decoded), with the
// context
//
//	method   the request method ("GET")
//	path     r.URL.Path
//	query    the raw query string, without "?"
//	host     r.Host
//	headers  every header but Authorization, Proxy-Authorization, Cookie and
//	         Set-Cookie, by lower-case name with "-" as "_" (so conditions can
//	         name it: context.headers.x_request_id), the values joined by ", "
//
// An allowed request goes on to next. Any other decision is answered 403
// with a JSON body:
//
//	{"error": "ERR_POLICY_VIOLATION", "effect": "deny", "reason": "...", "policy": 0, "rule": 3}
//
// and for an escalation also "escalation": a note that a person must
// approve the request. An invalid request (a path that is not UTF-8) is
// denied the same way, with its code in "error".
func (w *Warden) Middleware(next http.Handler, opts ...MiddlewareOption) http.Handler {
	m := &middleware{}
	for _, o := range opts {
		o(m)
	}
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		req := Request{Action: HTTPAction, Resource: r.Method + " " + r.URL.Path, Context: httpContext(r)}
		if m.agent != nil {
			req.Agent = m.agent(r)
		}
		d := w.Check(r.Context(), req)
		if d.Allowed {
			next.ServeHTTP(rw, r)
			return
		}
		body := map[string]any{"error": ErrPolicyViolation, "effect": d.Effect, "reason": d.Reason}
		if d.Error != nil {
			body["error"] = d.Error.Code
		}
		if d.Policy >= 0 {
			body["policy"], body["rule"] = d.Policy, d.Rule
		}
		if d.Effect == Escalate {
			body["escalation"] = "a person must approve this request before it can proceed: " + d.Reason
		}
		rw.Header().Set("Content-Type", "application/json; charset=utf-8")
		rw.Header().Set("X-Content-Type-Options", "nosniff")
		rw.WriteHeader(http.StatusForbidden)
		_ = json.NewEncoder(rw).Encode(body)
	})
}

func httpContext(r *http.Request) map[string]any {
	// Sorted, so that two names that read the same ("X-A" and "X_A") join in
	// one order every time.
	names := make([]string, 0, len(r.Header))
	for name := range r.Header {
		if !unexposedHeaders[http.CanonicalHeaderKey(name)] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	headers := make(map[string]any, len(names))
	for _, name := range names {
		key := strings.ReplaceAll(strings.ToLower(name), "-", "_")
		value := strings.Join(r.Header[name], ", ")
		if before, ok := headers[key]; ok {
			value = before.(string) + ", " + value
		}
		headers[key] = value
	}
	return map[string]any{
		"method":  r.Method,
		"path":    r.URL.Path,
		"query":   r.URL.RawQuery,
		"host":    r.Host,
		"headers": headers,
	}
}
