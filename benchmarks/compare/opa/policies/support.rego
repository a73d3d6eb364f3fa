# The support-bot policy as a Rego author writes it: the allowed calls, the
# denied one (deny overrides), default deny.
package warden.support

default decision := "deny"

decision := "allow" if {
	allowed
	not denied
}

allowed if {
	input.action == "llm.generate"
	input.resource == "model/gpt-4"
}

allowed if {
	input.action == "tool.call"
	input.resource in {"tool/lookup_order", "tool/lookup_account", "tool/escalate_to_human"}
}

denied if {
	input.action == "tool.call"
	input.resource == "tool/issue_refund"
}
