# Rules as data, as OPA users keep large rule sets: data.literals maps a
# resource to its rules, data.prefixes lists the `prefix*` patterns and
# data.globs any other pattern. Deny overrides allow; default deny.
package warden.scaled

matched contains rule.effect if {
	some rule in data.literals[input.resource]
	rule.action == input.action
}

matched contains rule.effect if {
	some rule in data.prefixes
	rule.action == input.action
	startswith(input.resource, rule.prefix)
}

matched contains rule.effect if {
	some rule in data.globs
	rule.action == input.action
	glob.match(rule.pattern, null, input.resource)
}

default decision := "deny"

decision := "deny" if {
	"deny" in matched
} else := "allow" if {
	"allow" in matched
}
