# The refund policy: allow up to 50; up to 500 for an agent trusted at least
# `elevated`; over 500 a person decides (escalate). A missing amount fails
# closed: no allow, and escalate.
package warden.refund

levels := {"basic": 0, "elevated": 1, "admin": 2}

refund if {
	input.action == "tool.call"
	input.resource == "tool/issue_refund"
}

default decision := "deny"

decision := "escalate" if {
	refund
	not input.context.amount <= 500
} else := "allow" if {
	refund
	input.context.amount <= 50
} else := "allow" if {
	refund
	levels[input.agent.trust_level] >= levels.elevated
	input.context.amount <= 500
}
