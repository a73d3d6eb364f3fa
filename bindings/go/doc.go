// Package warden is the Go binding of Warden, the policy engine for AI
// agents. Before an agent calls a model, a tool or an API, an application
// asks Warden whether the action is allowed, and gets allow, deny or
// escalate with the rule that decided and a reason.
//
// The policy language is implemented once, in warden.wasm (built from the
// repository's engine/ and embedded in this package), which this package
// hosts with wazero: pure Go, no cgo. Every Warden runtime hosts the same
// file, so a policy decides the same everywhere; the shared conformance
// vectors prove it (package conformance runs them).
//
// Load policies from JSON and check requests:
//
//	w, err := warden.Load(policyJSON) // a JSON array of policy documents
//	if err != nil {
//		return err // a *PolicyInvalidError lists every problem, with JSON pointers
//	}
//	d := w.Check(ctx, warden.Request{
//		Action:   "tool.call",
//		Resource: "tool/issue_refund",
//		Context:  map[string]any{"amount": 600},
//		Agent:    &warden.Agent{ID: "support-bot", TrustLevel: "basic"},
//	})
//	if !d.Allowed {
//		// d.Effect is "deny" or "escalate" (a person may approve); d.Reason says why.
//	}
//
// Check never fails: an invalid request is a deny whose Error is
// ERR_REQUEST_INVALID. Enforce returns a *PolicyViolationError unless the
// request is allowed; Authorize does too, but first asks a person to approve
// an escalation (WithApprovals, GrantApproval; policy-language.md §8).
// Explain says why a decision came out as it did.
//
// Policies ship as signed (Ed25519), encrypted (AES-256-GCM), versioned
// bundles (shared/spec/bundle-format.md): Connect fetches, verifies, caches
// and polls them, and never rolls back; LoadBundle loads one bundle file.
// Middleware guards a net/http handler. WithAudit hands an audit sink (such
// as AuditLog, JSON lines) a record of every decision the policies record,
// and OnAlert is told of decisions whose rule has alert (docs/audit.md).
//
// A Warden is safe for concurrent use. Errors carry stable codes (the Err*
// constants; see Code).
package warden
