package warden

import (
	"context"
	_ "embed"
	"sync"

	"github.com/tetratelabs/wazero"
)

// wardenWasm is engine/build/warden.wasm, committed beside this file; a test
// fails when the two differ.
//
//go:embed warden.wasm
var wardenWasm []byte

// One wazero runtime and one compiled module per process: compiling takes
// far longer than instantiating, and every Warden hosts the same file.
var (
	compileOnce sync.Once
	wasmRuntime wazero.Runtime
	wasmModule  wazero.CompiledModule
	compileErr  error
)

func compiledModule() (wazero.Runtime, wazero.CompiledModule, error) {
	compileOnce.Do(func() {
		ctx := context.Background()
		rt := wazero.NewRuntime(ctx)
		mod, err := rt.CompileModule(ctx, wardenWasm)
		if err != nil {
			compileErr = newError(ErrWasm, "warden.wasm does not compile: %v", err)
			_ = rt.Close(ctx)
			return
		}
		wasmRuntime, wasmModule = rt, mod
	})
	return wasmRuntime, wasmModule, compileErr
}

// WasmBytes returns the warden.wasm this package hosts (a copy).
func WasmBytes() []byte {
	return append([]byte(nil), wardenWasm...)
}
