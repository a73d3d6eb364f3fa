package warden

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// The committed warden.wasm must be the engine's build: the binding hosts
// exactly the file every other runtime hosts.
func TestWasmIsTheEnginesBuild(t *testing.T) {
	built := filepath.Join("..", "..", "engine", "build", "warden.wasm")
	engineBuild, err := os.ReadFile(built)
	if errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s is missing: build the engine (cd engine && npx asc assembly/index.ts --config asconfig.json --target release), then copy it to bindings/go/warden.wasm", built)
	}
	if err != nil {
		t.Fatal(err)
	}
	committed := sha256.Sum256(wardenWasm)
	want := sha256.Sum256(engineBuild)
	if committed != want {
		t.Fatalf("bindings/go/warden.wasm (sha256 %s) differs from %s (sha256 %s): copy the engine's build here",
			hex.EncodeToString(committed[:]), built, hex.EncodeToString(want[:]))
	}
	if !bytes.Equal(WasmBytes(), engineBuild) {
		t.Fatal("WasmBytes does not return the embedded module")
	}
}
