package warden

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// The Go host of warden.wasm: every engine call and every byte read back
// from the engine's memory is here (engine/ABI.md). The request record is
// written by encode.go into engine.buf and copied into the engine's request
// scratch area in one write.

const abiVersion = 2

// Decision record offsets (engine/ABI.md §The decision record).
const (
	recStatus      = 0
	recEffect      = 4
	recPolicy      = 12
	recRule        = 16
	recLimitPolicy = 20
	recLimitIndex  = 24
	recIndetCount  = 28
	recIndetPtr    = 32
	recErrorPtr    = 36
	recErrorLen    = 40
	recSize        = 44
)

// trapError is an engine call that did not return: the instance may be
// half-written and must be replaced (engine/ABI.md §Traps).
type trapError struct {
	fn  string
	err error
}

func (t *trapError) Error() string { return fmt.Sprintf("warden.wasm trapped in %s: %v", t.fn, t.err) }
func (t *trapError) Unwrap() error { return t.err }

// engine is one instance of warden.wasm. It is not safe for concurrent use:
// a Warden holds it under a mutex, and never calls it re-entrantly.
type engine struct {
	mod api.Module
	mem api.Memory
	fn  struct {
		alloc, free, load, outputPtr, outputLen, requestReserve, decide, explain,
		parseTime, intern, internReset, stateExport, stateImport api.Function
	}
	stack [2]uint64

	// The request record being written, and the engine's scratch area.
	buf     []byte
	reqBase uint32
	reqCap  uint32
	// Strings of this instance's intern table: id, or -1 for seen once.
	interned map[string]int32
	// decided counts the decide and explain calls, for tests.
	decided int
}

func newEngine(ctx context.Context) (*engine, error) {
	rt, compiled, err := compiledModule()
	if err != nil {
		return nil, err
	}
	mod, err := rt.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		return nil, newError(ErrWasm, "warden.wasm does not instantiate: %v", err)
	}
	e := &engine{mod: mod, mem: mod.Memory(), interned: map[string]int32{}}
	lookup := func(name string) api.Function {
		f := mod.ExportedFunction(name)
		if f == nil && err == nil {
			err = newError(ErrWasm, "warden.wasm has no export `%s`", name)
		}
		return f
	}
	e.fn.alloc = lookup("alloc")
	e.fn.free = lookup("free")
	e.fn.load = lookup("load")
	e.fn.outputPtr = lookup("output_ptr")
	e.fn.outputLen = lookup("output_len")
	e.fn.requestReserve = lookup("request_reserve")
	e.fn.decide = lookup("decide")
	e.fn.explain = lookup("explain")
	e.fn.parseTime = lookup("parse_time")
	e.fn.intern = lookup("intern")
	e.fn.internReset = lookup("intern_reset")
	e.fn.stateExport = lookup("state_export")
	e.fn.stateImport = lookup("state_import")
	version := lookup("abi_version")
	if err == nil && e.mem == nil {
		err = newError(ErrWasm, "warden.wasm exports no memory")
	}
	if err == nil {
		var v uint32
		if v, err = e.call(ctx, "abi_version", version); err == nil && v != abiVersion {
			err = newError(ErrWasm, "warden.wasm speaks ABI %d, this host speaks %d", v, abiVersion)
		}
	}
	if err != nil {
		_ = mod.Close(ctx)
		return nil, err
	}
	return e, nil
}

func (e *engine) close() {
	_ = e.mod.Close(context.Background())
}

// call runs an export of up to two i32 parameters and returns its i32 result
// (0 for a function without one). Any error is a trap.
func (e *engine) call(ctx context.Context, name string, f api.Function, args ...uint32) (uint32, error) {
	for i, a := range args {
		e.stack[i] = uint64(a)
	}
	if err := f.CallWithStack(ctx, e.stack[:]); err != nil {
		return 0, &trapError{name, err}
	}
	return uint32(e.stack[0]), nil
}

func (e *engine) call1(ctx context.Context, name string, f api.Function, a uint32) (uint32, error) {
	e.stack[0] = uint64(a)
	if err := f.CallWithStack(ctx, e.stack[:]); err != nil {
		return 0, &trapError{name, err}
	}
	return uint32(e.stack[0]), nil
}

// read copies n bytes at p out of the engine's memory.
func (e *engine) read(name string, p, n uint32) ([]byte, error) {
	b, ok := e.mem.Read(p, n)
	if !ok {
		return nil, &trapError{name, fmt.Errorf("the engine pointed outside its memory (%d bytes at %d)", n, p)}
	}
	return append([]byte(nil), b...), nil
}

// withBytes copies data into a block of the engine's and calls f on it.
func (e *engine) withBytes(ctx context.Context, name string, data []byte, f func(ptr, n uint32) (uint32, error)) (uint32, error) {
	ptr, err := e.call(ctx, "alloc", e.fn.alloc, uint32(len(data)))
	if err != nil {
		return 0, err
	}
	if !e.mem.Write(ptr, data) {
		return 0, &trapError{name, fmt.Errorf("alloc gave a block outside memory")}
	}
	r, err := f(ptr, uint32(len(data)))
	if err != nil {
		return 0, err
	}
	if _, err := e.call(ctx, "free", e.fn.free, ptr); err != nil {
		return 0, err
	}
	return r, nil
}

func (e *engine) output(ctx context.Context) ([]byte, error) {
	p, err := e.call(ctx, "output_ptr", e.fn.outputPtr)
	if err != nil {
		return nil, err
	}
	n, err := e.call(ctx, "output_len", e.fn.outputLen)
	if err != nil {
		return nil, err
	}
	return e.read("output", p, n)
}

// loadResult is the engine's answer to `load`: metadata, or every error.
type loadResult struct {
	meta   *Metadata
	errors []PolicyError
}

// load loads a JSON array of policies (or a bundle payload); the engine keeps
// its policies when it refuses them.
func (e *engine) load(ctx context.Context, policies []byte) (loadResult, error) {
	status, err := e.withBytes(ctx, "load", policies, func(p, n uint32) (uint32, error) {
		return e.call(ctx, "load", e.fn.load, p, n)
	})
	if err != nil {
		return loadResult{}, err
	}
	out, err := e.output(ctx)
	if err != nil {
		return loadResult{}, err
	}
	if status == 0 {
		var meta Metadata
		if err := json.Unmarshal(out, &meta); err != nil {
			return loadResult{}, newError(ErrEngine, "the engine's load metadata is not readable: %v", err)
		}
		return loadResult{meta: &meta}, nil
	}
	var refused struct {
		Errors []struct {
			Policy  int    `json:"policy"`
			Pointer string `json:"pointer"`
			Message string `json:"message"`
			Offset  *int   `json:"offset"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(out, &refused); err != nil {
		return loadResult{}, newError(ErrEngine, "the engine's load errors are not readable: %v", err)
	}
	errs := make([]PolicyError, len(refused.Errors))
	for i, x := range refused.Errors {
		errs[i] = PolicyError{Policy: x.Policy, Pointer: x.Pointer, Message: x.Message, Offset: -1}
		if x.Offset != nil {
			errs[i].Offset = *x.Offset
		}
	}
	return loadResult{errors: errs}, nil
}

// instant is a time as the engine holds it: whole epoch seconds, then the
// fraction in nanoseconds and attoseconds (engine/ABI.md §Times).
type instant struct {
	seconds float64
	nanos   uint32
	attos   uint32
}

// parseTime asks the engine for the instant of an RFC 3339 text; ok is false
// when the text is not one.
func (e *engine) parseTime(ctx context.Context, text string) (t instant, ok bool, err error) {
	r, err := e.withBytes(ctx, "parse_time", []byte(text), func(p, n uint32) (uint32, error) {
		return e.call(ctx, "parse_time", e.fn.parseTime, p, n)
	})
	if err != nil || r == 0 {
		return instant{}, false, err
	}
	b, err := e.read("parse_time", r, 16)
	if err != nil {
		return instant{}, false, err
	}
	return instant{
		seconds: math.Float64frombits(binary.LittleEndian.Uint64(b)),
		nanos:   binary.LittleEndian.Uint32(b[8:]),
		attos:   binary.LittleEndian.Uint32(b[12:]),
	}, true, nil
}

func (e *engine) exportState(ctx context.Context) ([]byte, error) {
	if _, err := e.call(ctx, "state_export", e.fn.stateExport); err != nil {
		return nil, err
	}
	return e.output(ctx)
}

// importState merges exported counts; a refusal is an *Error
// (ERR_STATE_INVALID), a trap a *trapError.
func (e *engine) importState(ctx context.Context, state []byte) error {
	status, err := e.withBytes(ctx, "state_import", state, func(p, n uint32) (uint32, error) {
		return e.call(ctx, "state_import", e.fn.stateImport, p, n)
	})
	if err != nil {
		return err
	}
	if status == 0 {
		return nil
	}
	out, err := e.output(ctx)
	if err != nil {
		return err
	}
	var refused struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(out, &refused) != nil || refused.Message == "" {
		refused.Message = string(out)
	}
	return newError(ErrStateInvalid, "%s", refused.Message)
}

// internString registers s and returns its id, or -1 when the engine refuses.
func (e *engine) internString(ctx context.Context, s string) (int32, error) {
	id, err := e.withBytes(ctx, "intern", []byte(s), func(p, n uint32) (uint32, error) {
		return e.call(ctx, "intern", e.fn.intern, p, n)
	})
	return int32(id), err
}

func (e *engine) forgetInterned(ctx context.Context) error {
	if _, err := e.call(ctx, "intern_reset", e.fn.internReset); err != nil {
		return err
	}
	clear(e.interned)
	return nil
}

// rawDecision is a decision record (engine/ABI.md §The decision record).
type rawDecision struct {
	invalid       bool
	effect        uint32
	policy, rule  int32
	limitPolicy   int32
	limitIndex    int32
	indeterminate []uint32
	message       string
}

// decide sends the record in e.buf to `decide` (or `explain`) and reads the
// decision record back.
func (e *engine) decide(ctx context.Context, explain bool) (rawDecision, error) {
	n := uint32(len(e.buf))
	if n > e.reqCap || e.reqCap == 0 {
		size := max(n, 2*e.reqCap, 1024)
		base, err := e.call1(ctx, "request_reserve", e.fn.requestReserve, size)
		if err != nil {
			return rawDecision{}, err
		}
		e.reqBase, e.reqCap = base, size
	}
	if !e.mem.Write(e.reqBase, e.buf) {
		return rawDecision{}, &trapError{"request_reserve", fmt.Errorf("the request scratch area lies outside memory")}
	}
	e.decided++
	name, f := "decide", e.fn.decide
	if explain {
		name, f = "explain", e.fn.explain
	}
	p, err := e.call1(ctx, name, f, n)
	if err != nil {
		return rawDecision{}, err
	}
	rec, ok := e.mem.Read(p, recSize)
	if !ok {
		return rawDecision{}, &trapError{name, fmt.Errorf("the decision record lies outside memory")}
	}
	le := binary.LittleEndian
	d := rawDecision{
		invalid:     le.Uint32(rec[recStatus:]) != 0,
		effect:      le.Uint32(rec[recEffect:]),
		policy:      int32(le.Uint32(rec[recPolicy:])),
		rule:        int32(le.Uint32(rec[recRule:])),
		limitPolicy: int32(le.Uint32(rec[recLimitPolicy:])),
		limitIndex:  int32(le.Uint32(rec[recLimitIndex:])),
	}
	if d.invalid {
		msg, err := e.read(name, le.Uint32(rec[recErrorPtr:]), le.Uint32(rec[recErrorLen:]))
		if err != nil {
			return rawDecision{}, err
		}
		d.message = string(msg)
		return d, nil
	}
	if count := le.Uint32(rec[recIndetCount:]); count > 0 {
		list, ok := e.mem.Read(le.Uint32(rec[recIndetPtr:]), 4*count)
		if !ok {
			return rawDecision{}, &trapError{name, fmt.Errorf("the indeterminate list lies outside memory")}
		}
		d.indeterminate = make([]uint32, count)
		for i := range d.indeterminate {
			d.indeterminate[i] = le.Uint32(list[4*i:])
		}
	}
	return d, nil
}
