package conformance

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	warden "github.com/warden-policy/warden/bindings/go"
)

// TestConformance runs every shared vector through package warden: decision
// files, invalid documents and bundles. A missing folder fails.
func TestConformance(t *testing.T) {
	dir := Dir()
	result, err := Run(dir, func() (*warden.Warden, error) { return warden.New() })
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("conformance: %d/%d checks passed (%s)\n", result.Passed, result.Checks, dir)
	for _, f := range result.Failures {
		t.Errorf("%s: %s: %s", f.File, f.Check, f.Message)
	}
	if result.Checks == 0 {
		t.Fatal("the vectors hold no checks")
	}
	if result.Ran != result.Checks {
		t.Errorf("ran %d checks of the %d the files hold", result.Ran, result.Checks)
	}
	if result.Passed != result.Checks {
		t.Errorf("passed %d checks of %d", result.Passed, result.Checks)
	}
}

// The runner itself: a missing folder fails, and a vector that a Warden does
// not meet is a failure, not a pass.
func TestRunnerFailsWhatItMust(t *testing.T) {
	newWarden := func() (*warden.Warden, error) { return warden.New() }
	if _, err := Run(filepath.Join(t.TempDir(), "absent"), newWarden); err == nil {
		t.Fatal("a missing folder must fail")
	}
	if _, err := Run(t.TempDir(), newWarden); err == nil {
		t.Fatal("an empty folder must fail")
	}
	// A copy of the vectors with one expectation changed.
	src, dir := Dir(), t.TempDir()
	copyFile := func(rel string, change func(string) string) {
		text, err := os.ReadFile(filepath.Join(src, rel))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(change(string(text))), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	same := func(s string) string { return s }
	copyFile("support-bot.json", func(s string) string {
		return strings.Replace(s, `"expect": {"allowed": true, "policy": 0, "rule": 0}`, `"expect": {"allowed": false, "policy": 0, "rule": 0}`, 1)
	})
	entries, _ := os.ReadDir(filepath.Join(src, "bundles"))
	for _, e := range entries {
		copyFile(filepath.Join("bundles", e.Name()), same)
	}
	result, err := Run(dir, newWarden)
	if err != nil {
		t.Fatal(err)
	}
	if len(result.Failures) != 1 || result.Passed != result.Checks-1 || result.Ran != result.Checks || result.Failures[0].File != "support-bot.json" {
		t.Fatalf("%+v", result)
	}
}
