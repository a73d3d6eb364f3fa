// Command opa-wasm compiles the comparison's Rego policies (policies/*.rego)
// to one WebAssembly module with an entrypoint per workload, through OPA's
// own Go API (the compiler `opa build -t wasm` runs), and writes policy.wasm.
//
//	go run . -policies policies -out /tmp/policy.wasm
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/open-policy-agent/opa/v1/compile"
	"github.com/open-policy-agent/opa/v1/version"
)

func main() {
	out := flag.String("out", "policy.wasm", "where to write the compiled module")
	dir := flag.String("policies", "policies", "the folder of .rego files")
	printVersion := flag.Bool("version", false, "print the OPA version and exit")
	flag.Parse()
	if *printVersion {
		fmt.Println(version.Version)
		return
	}
	var bundle bytes.Buffer
	c := compile.New().
		WithTarget(compile.TargetWasm).
		WithEntrypoints("warden/support/decision", "warden/refund/decision", "warden/scaled/decision").
		WithPaths(*dir).
		WithOutput(&bundle)
	if err := c.Build(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "opa compile:", err)
		os.Exit(1)
	}
	modules := c.Bundle().WasmModules
	if len(modules) != 1 {
		fmt.Fprintf(os.Stderr, "opa compile: expected one wasm module, got %d\n", len(modules))
		os.Exit(1)
	}
	if err := os.WriteFile(*out, modules[0].Raw, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(version.Version)
}
