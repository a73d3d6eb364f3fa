package warden

import "encoding/json"

// Effect is what a decision does: Allow, Deny or Escalate.
type Effect string

const (
	Allow Effect = "allow"
	Deny  Effect = "deny"
	// Escalate is not allowed now; a person may approve this one request
	// (policy-language.md §8).
	Escalate Effect = "escalate"
)

// RateLimitRef identifies a rate limit: its policy's index and its index in
// that policy's rate_limits.
type RateLimitRef struct {
	Policy int `json:"policy"`
	Index  int `json:"index"`
}

// DecisionError says why a request was not decided normally: ERR_REQUEST_INVALID
// (the request is not of the shape policy-language.md §1a gives) or ERR_ENGINE
// (the engine failed twice on it). The decision is then a deny.
type DecisionError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Decision is the answer to one request (policy-language.md §5). Check always
// returns one: an invalid request is a deny with Error set.
//
// The slices of a decision may be shared with other decisions: read them, do
// not modify them.
type Decision struct {
	Allowed bool   `json:"allowed"`
	Effect  Effect `json:"effect"`
	// Policy is the index of the policy of the winning rule, or -1 when no
	// rule won.
	Policy     int    `json:"policy"`
	PolicyName string `json:"policyName"`
	// Rule is the index of the winning rule in its policy, or -1.
	Rule     int    `json:"rule"`
	RuleName string `json:"ruleName"`
	// Reason is the rule's own reason, the rate limit's, or a generated text
	// (ReasonGiven false) whose wording is not part of any contract.
	Reason      string `json:"reason"`
	ReasonGiven bool   `json:"reasonGiven"`
	// Indeterminate lists the paths whose values made conditions
	// indeterminate, sorted by code point.
	Indeterminate []string `json:"indeterminate"`
	// RateLimit is the limit that denied the request, if one did.
	RateLimit *RateLimitRef `json:"rateLimit"`
	// BundleVersion is the version of the bundle in force, 0 when the
	// policies did not come from a bundle.
	BundleVersion int64 `json:"bundleVersion"`
	// Log says whether hosts write an audit record (the rule's `log`).
	Log bool `json:"log"`
	// LogContext lists the only context paths that go into the audit record,
	// when the rule names them.
	LogContext []string `json:"logContext"`
	// Alert says whether hosts raise an alert (the rule's `alert`).
	Alert bool           `json:"alert"`
	Error *DecisionError `json:"error,omitempty"`
	// ApprovedBy names who approved an escalated request in Authorize (for
	// the audit record); Allowed is then true and Effect still Escalate.
	ApprovedBy string `json:"approvedBy,omitempty"`
	// ApprovalDigest is the digest of the request approved (RequestDigest).
	ApprovalDigest string `json:"approvalDigest,omitempty"`
}

// PatternMatch is how a rule's action or resource patterns met the request:
// when Matched, the most specific pattern that matched and its specificity
// (literal characters, wildcards); when not, every pattern of the rule.
type PatternMatch struct {
	Matched     bool     `json:"matched"`
	Pattern     string   `json:"pattern,omitempty"`
	Specificity [2]int   `json:"specificity"`
	Patterns    []string `json:"patterns,omitempty"`
}

// TrustMatch is a rule's trust requirement met against the agent's level.
type TrustMatch struct {
	Required string `json:"required"`
	// Agent is the agent's trust level, nil when it has none.
	Agent   *string `json:"agent"`
	Matched bool    `json:"matched"`
}

// ConditionsMatch is how a rule's conditions came out: Result is "true",
// "false", "indeterminate" or "none" (no conditions).
type ConditionsMatch struct {
	Count         int      `json:"count"`
	Result        string   `json:"result"`
	Indeterminate []string `json:"indeterminate,omitempty"`
}

// ExplainedRule is a rule considered by Explain (engine/ABI.md §The
// explanation). Fields after the first pattern that did not match are nil.
type ExplainedRule struct {
	Policy     int              `json:"policy"`
	Rule       int              `json:"rule"`
	Name       *string          `json:"name"`
	Effect     Effect           `json:"effect"`
	Action     PatternMatch     `json:"action"`
	Resource   *PatternMatch    `json:"resource,omitempty"`
	Trust      *TrustMatch      `json:"trust,omitempty"`
	Conditions *ConditionsMatch `json:"conditions,omitempty"`
	Candidate  *bool            `json:"candidate,omitempty"`
}

// ExplainedPolicy says whether a policy applied to the request.
type ExplainedPolicy struct {
	Policy        int     `json:"policy"`
	Name          *string `json:"name"`
	Applicable    bool    `json:"applicable"`
	DefaultEffect Effect  `json:"default_effect"`
}

// ExplainedRateLimit is a rate limit of an applicable policy, checked only
// when the decision was an allow before the limits.
type ExplainedRateLimit struct {
	Policy  int     `json:"policy"`
	Index   int     `json:"index"`
	Matched bool    `json:"matched"`
	Key     *string `json:"key,omitempty"`
	Count   *int    `json:"count,omitempty"`
	Limit   *int    `json:"limit,omitempty"`
	Full    *bool   `json:"full,omitempty"`
}

// Explanation is a decision with every rule considered and why the winner
// won (policy-language.md §6).
type Explanation struct {
	Decision   Decision             `json:"decision"`
	Policies   []ExplainedPolicy    `json:"policies"`
	Rules      []ExplainedRule      `json:"rules"`
	RateLimits []ExplainedRateLimit `json:"rate_limits"`
	// Why says in words why the winner won.
	Why string `json:"why"`
}

// Metadata describes the policies in force, as the engine reports them once
// at load (engine/ABI.md §Loading).
type Metadata struct {
	Policies []PolicyInfo `json:"policies"`
	// Paths lists every path a condition or rate-limit scope reads, context
	// paths first.
	Paths        []string `json:"paths"`
	ContextPaths int      `json:"context_paths"`
	// Zones lists the IANA zones whose UTC offsets decisions need.
	Zones     []string `json:"zones"`
	ReadsTime bool     `json:"reads_time"`
	// Rules is the total number of rules.
	Rules int `json:"rules"`
	// ActionResourceOnly says every decision depends on the request's action
	// and resource alone: no policy has agent_match, no rule a trust level
	// or conditions, and there are no rate limits. Check then keeps
	// decisions (WithKeepDecisions).
	ActionResourceOnly bool `json:"action_resource_only"`
}

// PolicyInfo is one policy of the set in force. Name, reasons and
// log_context are nil where the policy leaves them out.
type PolicyInfo struct {
	Name          *string         `json:"name"`
	DefaultEffect Effect          `json:"default_effect"`
	Audit         AuditInfo       `json:"audit"`
	Rules         []RuleInfo      `json:"rules"`
	RateLimits    []RateLimitInfo `json:"rate_limits"`
}

// AuditInfo is a policy's `audit` settings, with their defaults: which
// decisions of the policy are recorded (WithAudit), and which context paths
// no record shows.
type AuditInfo struct {
	LogAllowed bool     `json:"log_allowed"`
	LogDenied  bool     `json:"log_denied"`
	Redact     []string `json:"redact"`
}

// UnmarshalJSON reads a policy's audit settings; null, or a member left out,
// stands for its default (log_allowed and log_denied true, no redact).
func (a *AuditInfo) UnmarshalJSON(data []byte) error {
	type plain AuditInfo // without this method
	p := plain{LogAllowed: true, LogDenied: true}
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	*a = AuditInfo(p)
	return nil
}

// RuleInfo is what a decision won by a rule carries besides its indexes.
type RuleInfo struct {
	Name       *string  `json:"name"`
	Effect     Effect   `json:"effect"`
	Reason     *string  `json:"reason"`
	Log        bool     `json:"log"`
	LogContext []string `json:"log_context"`
	Alert      bool     `json:"alert"`
}

// UnmarshalJSON reads a rule's metadata as the engine writes it: an object,
// or for a rule that leaves out name, reason, log, log_context and alert, its
// effect alone (ABI.md §Loading), which stands for those defaults.
func (r *RuleInfo) UnmarshalJSON(data []byte) error {
	if len(data) > 0 && data[0] == '"' {
		var effect Effect
		if err := json.Unmarshal(data, &effect); err != nil {
			return err
		}
		*r = RuleInfo{Effect: effect, Log: true}
		return nil
	}
	type plain RuleInfo // without this method
	return json.Unmarshal(data, (*plain)(r))
}

// RateLimitInfo is what a decision denied by a rate limit carries.
type RateLimitInfo struct {
	Reason string `json:"reason"`
}
