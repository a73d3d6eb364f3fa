package warden

import (
	"context"
	"encoding/binary"
	"math"
	"unicode/utf8"
)

// Writing a request record (engine/ABI.md §The request record) into
// engine.buf, which engine.decide copies into the engine's scratch area.

// Value tags (engine/ABI.md §Values).
const (
	tagMissing  = 0x00
	tagNull     = 0x01
	tagFalse    = 0x02
	tagTrue     = 0x03
	tagNumber   = 0x04
	tagString   = 0x05
	tagArray    = 0x06
	tagObject   = 0x07
	tagInterned = 0x08
	tagAgent    = 0x09
)

// The intern table the host keeps, as @warden/core does: a string is
// registered the second time it is sent, at most maxInterned at once (then
// the table starts over), and none longer than maxInternedLength bytes.
const (
	maxInterned       = 4096
	maxInternedLength = 256
	internedRefused   = -2
)

// beginRequest starts a record: the instant, each zone's UTC offset and the
// number of context slots.
func (e *engine) beginRequest(ctx context.Context, now instant, offsets []int32, slots int) error {
	// Start the table over between requests, never while one names ids in it.
	if len(e.interned) >= maxInterned {
		if err := e.forgetInterned(ctx); err != nil {
			return err
		}
	}
	b := e.buf[:0]
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(now.seconds))
	b = binary.LittleEndian.AppendUint32(b, now.nanos)
	b = binary.LittleEndian.AppendUint32(b, now.attos)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(offsets)))
	b = binary.LittleEndian.AppendUint32(b, uint32(slots))
	for _, o := range offsets {
		b = binary.LittleEndian.AppendUint32(b, uint32(o))
	}
	e.buf = b
	return nil
}

func (e *engine) writeTag(tag byte) {
	e.buf = append(e.buf, tag)
}

func (e *engine) writeString(s string) {
	e.buf = append(e.buf, tagString)
	e.buf = binary.LittleEndian.AppendUint32(e.buf, uint32(len(s)))
	e.buf = append(e.buf, s...)
}

func (e *engine) writeNumber(f float64) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		e.buf = append(e.buf, tagNull)
		return
	}
	e.buf = append(e.buf, tagNumber)
	e.buf = binary.LittleEndian.AppendUint64(e.buf, math.Float64bits(f))
}

// writeInternable writes an action, resource, agent id or trust level: by
// its interned id when it has one, else as text. A string seen a second time
// is interned (engine/ABI.md §Values), so one seen once costs a map entry.
func (e *engine) writeInternable(ctx context.Context, s string) error {
	if len(s) > maxInternedLength {
		e.writeString(s)
		return nil
	}
	id, seen := e.interned[s]
	switch {
	case !seen:
		id = -1
		e.interned[s] = -1
	case id == -1:
		id = internedRefused
		if utf8.ValidString(s) {
			var err error
			if id, err = e.internString(ctx, s); err != nil {
				return err
			}
			if id < 0 {
				id = internedRefused
			}
		}
		e.interned[s] = id
	}
	if id < 0 {
		e.writeString(s)
		return nil
	}
	e.buf = append(e.buf, tagInterned)
	e.buf = binary.LittleEndian.AppendUint32(e.buf, uint32(id))
	return nil
}

// openContainer writes a container's tag and room for its count and byte
// length, and returns where they go.
func (e *engine) openContainer(tag byte) int {
	at := len(e.buf)
	e.buf = append(e.buf, tag, 0, 0, 0, 0, 0, 0, 0, 0)
	return at
}

func (e *engine) closeContainer(at, count int) {
	binary.LittleEndian.PutUint32(e.buf[at+1:], uint32(count))
	binary.LittleEndian.PutUint32(e.buf[at+5:], uint32(len(e.buf)-at-9))
}

func (e *engine) writeName(name string) {
	e.buf = binary.LittleEndian.AppendUint32(e.buf, uint32(len(name)))
	e.buf = append(e.buf, name...)
}

// writeValue writes a Go value as encoding/json sees it (see context.go);
// depth is how many more levels of containers it may open.
func (e *engine) writeValue(v any, depth int) error {
	switch x := v.(type) {
	case nil:
		e.writeTag(tagNull)
	case string:
		e.writeString(x)
	case bool:
		if x {
			e.writeTag(tagTrue)
		} else {
			e.writeTag(tagFalse)
		}
	case float64:
		e.writeNumber(x)
	case int:
		e.writeNumber(float64(x))
	case int64:
		e.writeNumber(float64(x))
	case int32:
		e.writeNumber(float64(x))
	case uint:
		e.writeNumber(float64(x))
	case uint64:
		e.writeNumber(float64(x))
	case float32:
		e.writeNumber(float64(x))
	case map[string]any:
		if x == nil {
			e.writeTag(tagNull)
			return nil
		}
		if depth <= 0 {
			return errDeep
		}
		at := e.openContainer(tagObject)
		for k, m := range x {
			e.writeName(k)
			if err := e.writeValue(m, depth-1); err != nil {
				return err
			}
		}
		e.closeContainer(at, len(x))
	case []any:
		if x == nil {
			e.writeTag(tagNull)
			return nil
		}
		if depth <= 0 {
			return errDeep
		}
		at := e.openContainer(tagArray)
		for _, m := range x {
			if err := e.writeValue(m, depth-1); err != nil {
				return err
			}
		}
		e.closeContainer(at, len(x))
	case []string:
		if x == nil {
			e.writeTag(tagNull)
			return nil
		}
		if depth <= 0 {
			return errDeep
		}
		e.writeStrings(x)
	default:
		w, err := jsonView(v)
		if err != nil {
			return err
		}
		return e.writeValue(w, depth)
	}
	return nil
}

func (e *engine) writeStrings(list []string) {
	at := e.openContainer(tagArray)
	for _, s := range list {
		e.writeString(s)
	}
	e.closeContainer(at, len(list))
}

// writeAgent writes an Agent as an agent record (engine/ABI.md §Values), its
// id and trust level internable. An empty ID or TrustLevel is absent, and so
// is a nil Tags.
func (e *engine) writeAgent(ctx context.Context, a *Agent) error {
	var fields byte
	if a.ID != "" {
		fields |= 1
	}
	if a.TrustLevel != "" {
		fields |= 2
	}
	if a.Tags != nil {
		fields |= 4
	}
	e.buf = append(e.buf, tagAgent, fields)
	if a.ID != "" {
		if err := e.writeInternable(ctx, a.ID); err != nil {
			return err
		}
	}
	if a.TrustLevel != "" {
		if err := e.writeInternable(ctx, a.TrustLevel); err != nil {
			return err
		}
	}
	if a.Tags != nil {
		e.writeStrings(a.Tags)
	}
	return nil
}

// writeAgentValue writes the agent of a JSON-form request: as an agent
// record when it is an object of string `id`, string `trust_level` and
// string-array `tags`; otherwise as the JSON value it is, which the engine
// checks and, when it is not an agent, reports.
func (e *engine) writeAgentValue(ctx context.Context, v any) error {
	obj, ok := v.(map[string]any)
	if !ok || obj == nil {
		return e.writeValue(v, maxContextDepth)
	}
	var fields byte
	for k, m := range obj {
		switch _, isString := m.(string); {
		case k == "id" && isString:
			fields |= 1
		case k == "trust_level" && isString:
			fields |= 2
		case k == "tags" && allStrings(m):
			fields |= 4
		default:
			return e.writeValue(v, maxContextDepth)
		}
	}
	e.buf = append(e.buf, tagAgent, fields)
	if fields&1 != 0 {
		if err := e.writeInternable(ctx, obj["id"].(string)); err != nil {
			return err
		}
	}
	if fields&2 != 0 {
		if err := e.writeInternable(ctx, obj["trust_level"].(string)); err != nil {
			return err
		}
	}
	if fields&4 != 0 {
		tags := obj["tags"].([]any)
		at := e.openContainer(tagArray)
		for _, t := range tags {
			e.writeString(t.(string))
		}
		e.closeContainer(at, len(tags))
	}
	return nil
}

func allStrings(v any) bool {
	list, ok := v.([]any)
	if !ok {
		return false
	}
	for _, x := range list {
		if _, ok := x.(string); !ok {
			return false
		}
	}
	return true
}
