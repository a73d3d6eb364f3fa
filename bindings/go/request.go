package warden

import (
	"fmt"
	"time"
)

// Request is one question to Warden (policy-language.md §1a): may Action be
// done on Resource, in Context, by Agent, at Time?
type Request struct {
	// Action is required (an empty one matches no rule pattern but `*`).
	Action string
	// Resource is "" when the request has none (the spec treats an absent
	// resource and "" the same).
	Resource string
	// Context is the caller's JSON object (nil: {}). Values are read as
	// encoding/json would write them, except that NaN and infinities are
	// null and strings that are not UTF-8 make the request invalid.
	Context map[string]any
	// Agent is the agent making the request; nil: no agent.
	Agent *Agent
	// Time is the time the decision reads; the zero Time means the clock
	// (see WithClock).
	Time time.Time
	// TimeText is the time as RFC 3339 text, exact to the attosecond (the
	// engine parses it: policy-language.md §1a). Set Time or TimeText, not
	// both.
	TimeText string
}

// Agent is the agent making a request (policy-language.md §4). An empty ID
// or TrustLevel is absent (the JSON form, CheckJSON, can send "" as a value);
// a nil Tags is absent, an empty non-nil one is [].
type Agent struct {
	ID         string
	TrustLevel string
	Tags       []string
}

// fields is the agent as the engine is sent it, a JSON object: "id",
// "trust_level" and "tags", each only when set.
func (a *Agent) fields() map[string]any {
	m := map[string]any{}
	if a.ID != "" {
		m["id"] = a.ID
	}
	if a.TrustLevel != "" {
		m["trust_level"] = a.TrustLevel
	}
	if a.Tags != nil {
		m["tags"] = a.Tags
	}
	return m
}

// input is a request on its way to the engine: a Request, or the JSON form,
// whose members may be of any JSON type (the engine says what is wrong with
// them).
type input struct {
	action   string
	resource string
	// hasResource: the request names a resource (a Request's "" does not).
	hasResource bool
	agent       *Agent
	context     map[string]any
	t           time.Time
	timeText    string
	hasText     bool

	// The JSON form: members that are not of the type a Request has.
	actionRaw   any
	rawAction   bool
	resourceRaw any
	rawResource bool
	agentRaw    any
	rawAgent    bool
}

func (r *Request) input() (input, error) {
	in := input{action: r.Action, resource: r.Resource, hasResource: r.Resource != "", agent: r.Agent, context: r.Context,
		t: r.Time, timeText: r.TimeText, hasText: r.TimeText != ""}
	if in.hasText && !r.Time.IsZero() {
		return in, invalidRequest("set `Time` or `TimeText`, not both")
	}
	return in, nil
}

var requestMembers = map[string]bool{"action": true, "resource": true, "context": true, "agent": true, "time": true}

// parseRequest reads a request in its JSON form: an object of `action`, and
// optionally `resource`, `context`, `agent` and `time` (RFC 3339 text), and no
// other members. The values of the members are checked on the way to the
// engine, as for a Request. A request it refuses still comes back with what
// could be read of it, for its audit record (an absent action a raw nil).
func parseRequest(data []byte) (input, error) {
	in := input{rawAction: true}
	doc, err := parseJSON(data)
	if err != nil {
		return in, invalidRequest(fmt.Sprintf("the request is not JSON: %v", err))
	}
	r, ok := doc.(map[string]any)
	if !ok {
		return in, invalidRequest("a request must be a JSON object")
	}
	action, hasAction := r["action"]
	if s, isString := action.(string); isString {
		in.action, in.rawAction = s, false
	} else {
		in.actionRaw = action
	}
	if resource, ok := r["resource"]; ok {
		if s, isString := resource.(string); isString {
			in.resource, in.hasResource = s, true
		} else {
			in.resourceRaw, in.rawResource = resource, true
		}
	}
	if agent, ok := r["agent"]; ok {
		in.agentRaw, in.rawAgent = agent, true
	}
	c, hasContext := r["context"]
	m, contextIsObject := c.(map[string]any)
	if contextIsObject {
		in.context = m
	}
	t, hasTime := r["time"]
	s, timeIsString := t.(string)
	if timeIsString {
		in.timeText, in.hasText = s, true
	}
	for k := range r {
		if !requestMembers[k] {
			return in, invalidRequest(fmt.Sprintf("unknown request member `%s`: a request has `action`, `resource`, `context`, `agent` and `time`", k))
		}
	}
	if !hasAction {
		return in, invalidRequest("a request needs `action`")
	}
	if hasContext && !contextIsObject {
		return in, invalidRequest("`context` must be a JSON object")
	}
	if hasTime && !timeIsString {
		return in, invalidRequest("`time` must be an RFC 3339 string")
	}
	return in, nil
}
