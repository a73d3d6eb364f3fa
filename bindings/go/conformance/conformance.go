// Package conformance is the Go conformance runner: it runs the shared
// vectors (shared/conformance/, read in place; conformance/README.md) through
// the public API of package warden. It counts the checks the files hold and
// reports a run that ran fewer, so a skipped file cannot pass unnoticed.
package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"

	warden "github.com/warden-policy/warden/bindings/go"
)

// Failure is one check that did not pass.
type Failure struct {
	File string
	// Check is the group name and case index, or the invalid document's or
	// bundle case's name.
	Check   string
	Message string
}

// Result counts a run.
type Result struct {
	// Checks is the number of checks the files hold: cases of decision files,
	// documents of invalid-policies.json, bundle cases (twice for a case that
	// needs plain bundles allowed).
	Checks int
	// Ran is the number of checks that ran; Passed of those that passed.
	Ran, Passed int
	Failures    []Failure
}

// Dir returns the conformance folder: WARDEN_CONFORMANCE_DIR, or
// shared/conformance beside the repository (../../../shared/conformance from
// bindings/go).
func Dir() string {
	if dir := os.Getenv("WARDEN_CONFORMANCE_DIR"); dir != "" {
		return dir
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return filepath.Join("..", "..", "..", "shared", "conformance")
	}
	// This file is bindings/go/conformance/conformance.go.
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "shared", "conformance")
}

// Run runs every decision file, invalid-policies.json and the bundle
// manifest of dir; newWarden gives a fresh Warden (no policies) for each
// group and case. It fails when dir is missing or holds no vectors.
func Run(dir string, newWarden func() (*warden.Warden, error)) (Result, error) {
	var result Result
	entries, err := os.ReadDir(dir)
	if err != nil {
		return result, fmt.Errorf("conformance vectors not found at %s (set WARDEN_CONFORMANCE_DIR): %w", dir, err)
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".json") {
			files = append(files, e.Name())
		}
	}
	sort.Strings(files)
	if len(files) == 0 {
		return result, fmt.Errorf("the conformance folder %s holds no vector files", dir)
	}
	for _, file := range files {
		text, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			return result, err
		}
		var doc struct {
			Groups  []group       `json:"groups"`
			Invalid []invalidItem `json:"invalid"`
		}
		if err := json.Unmarshal(text, &doc); err != nil {
			return result, fmt.Errorf("%s: %w", file, err)
		}
		switch {
		case doc.Invalid != nil:
			if err := runInvalid(file, doc.Invalid, newWarden, &result); err != nil {
				return result, err
			}
		case doc.Groups != nil:
			if err := runGroups(file, doc.Groups, newWarden, &result); err != nil {
				return result, err
			}
		default:
			return result, fmt.Errorf("%s has neither `groups` nor `invalid`", file)
		}
	}
	return result, runBundles(dir, newWarden, &result)
}

type group struct {
	Name     string          `json:"name"`
	Policies json.RawMessage `json:"policies"`
	Cases    []struct {
		Request json.RawMessage            `json:"request"`
		Expect  map[string]json.RawMessage `json:"expect"`
	} `json:"cases"`
}

type invalidItem struct {
	Name     string          `json:"name"`
	Policies json.RawMessage `json:"policies"`
	Error    struct {
		Policy  int    `json:"policy"`
		Pointer string `json:"pointer"`
	} `json:"error"`
}

func (r *Result) fail(file, check, format string, args ...any) {
	r.Failures = append(r.Failures, Failure{File: file, Check: check, Message: fmt.Sprintf(format, args...)})
}

func runGroups(file string, groups []group, newWarden func() (*warden.Warden, error), result *Result) error {
	for _, g := range groups {
		result.Checks += len(g.Cases)
	}
	for _, g := range groups {
		w, err := newWarden()
		if err != nil {
			return err
		}
		if _, err := w.Load(g.Policies); err != nil {
			result.fail(file, g.Name, "policies do not load: %v", err)
			result.Ran += len(g.Cases)
			continue
		}
		for i, c := range g.Cases {
			result.Ran++
			d := w.CheckJSON(context.Background(), c.Request)
			if problems := CompareDecision(d, c.Expect); len(problems) == 0 {
				result.Passed++
			} else {
				result.fail(file, fmt.Sprintf("%s #%d", g.Name, i), "%s: %s", c.Request, strings.Join(problems, "; "))
			}
		}
	}
	return nil
}

// CompareDecision lists the differences between a decision and what a
// vector's `expect` says (conformance/README.md); members absent from expect
// are not checked. It is empty when the decision conforms.
func CompareDecision(d warden.Decision, expect map[string]json.RawMessage) []string {
	var problems []string
	check := func(name string, actual any) {
		want, present := expect[name]
		if !present {
			if name == "allowed" || name == "policy" || name == "rule" {
				problems = append(problems, fmt.Sprintf("the vector has no `%s`", name))
			}
			return
		}
		var expected any
		if err := json.Unmarshal(want, &expected); err != nil {
			problems = append(problems, fmt.Sprintf("%s: unreadable expectation %s", name, want))
			return
		}
		got := roundTrip(actual)
		if !reflect.DeepEqual(got, expected) {
			problems = append(problems, fmt.Sprintf("%s: expected %s, got %s", name, want, mustJSON(actual)))
		}
	}
	index := func(i int) any {
		if i < 0 {
			return nil
		}
		return i
	}
	check("allowed", d.Allowed)
	check("policy", index(d.Policy))
	check("rule", index(d.Rule))
	check("effect", d.Effect)
	check("reason", d.Reason)
	check("indeterminate", d.Indeterminate)
	check("rate_limit", d.RateLimit)
	var code any
	if d.Error != nil {
		code = d.Error.Code
	}
	check("error", code)
	if _, expected := expect["error"]; d.Error != nil && !expected {
		problems = append(problems, "unexpected request error: "+d.Error.Message)
	}
	return problems
}

// roundTrip is v as JSON would read it back (numbers as float64).
func roundTrip(v any) any {
	var out any
	_ = json.Unmarshal(mustJSON(v), &out)
	return out
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(fmt.Sprintf("%q", err.Error()))
	}
	return b
}

func runInvalid(file string, items []invalidItem, newWarden func() (*warden.Warden, error), result *Result) error {
	result.Checks += len(items)
	for _, item := range items {
		w, err := newWarden()
		if err != nil {
			return err
		}
		result.Ran++
		_, err = w.Load(item.Policies)
		var invalid *warden.PolicyInvalidError
		switch {
		case err == nil:
			result.fail(file, item.Name, "loaded, but must be refused")
		case !errors.As(err, &invalid):
			result.fail(file, item.Name, "returned %v instead of ERR_POLICY_INVALID", err)
		default:
			named := false
			for _, e := range invalid.Errors {
				named = named || (e.Policy == item.Error.Policy && e.Pointer == item.Error.Pointer)
			}
			if named {
				result.Passed++
			} else {
				result.fail(file, item.Name, "no error names policy %d at %q; got %s", item.Error.Policy, item.Error.Pointer, mustJSON(invalid.Errors))
			}
		}
	}
	return nil
}

type bundleManifest struct {
	Project     string            `json:"project"`
	ProjectKey  string            `json:"project_key"`
	TrustedKeys map[string]string `json:"trusted_keys"`
	Cases       []struct {
		File   string `json:"file"`
		Note   string `json:"note"`
		Expect struct {
			OK       bool   `json:"ok"`
			Version  int64  `json:"version"`
			Policies int    `json:"policies"`
			Error    string `json:"error"`
			After    string `json:"after"`
			Needs    string `json:"needs"`
		} `json:"expect"`
	} `json:"cases"`
}

// bundleOutcome is what loading a bundle case came to: a version and a
// number of policies, or an error code.
type bundleOutcome struct {
	Version  int64  `json:"version,omitempty"`
	Policies int    `json:"policies,omitempty"`
	Error    string `json:"error,omitempty"`
}

// runBundles runs the bundle vectors (bundles/manifest.json): each case in a
// fresh Warden that trusts the manifest's keys and serves its project;
// `after` loads first; a case that needs plain bundles counts twice, loading
// with plain bundles allowed and failing with ERR_BUNDLE_DECRYPT without.
func runBundles(dir string, newWarden func() (*warden.Warden, error), result *Result) error {
	text, err := os.ReadFile(filepath.Join(dir, "bundles", "manifest.json"))
	if err != nil {
		return fmt.Errorf("the bundle vectors: %w", err)
	}
	var m bundleManifest
	if err := json.Unmarshal(text, &m); err != nil {
		return fmt.Errorf("bundles/manifest.json: %w", err)
	}
	for _, c := range m.Cases {
		if c.Expect.Needs == "allow_plain" {
			result.Checks += 2
		} else {
			result.Checks++
		}
	}
	read := func(name string) ([]byte, error) {
		return os.ReadFile(filepath.Join(dir, "bundles", name))
	}
	outcome := func(file, after string, allowPlain bool) (bundleOutcome, error) {
		w, err := newWarden()
		if err != nil {
			return bundleOutcome{}, err
		}
		trust := warden.Trust{Project: m.Project, ProjectKey: m.ProjectKey, TrustedKeys: m.TrustedKeys, AllowPlain: allowPlain}
		refused := func(err error) bundleOutcome {
			if code := warden.Code(err); code != "" {
				return bundleOutcome{Error: code}
			}
			return bundleOutcome{Error: "returned " + err.Error()}
		}
		if after != "" {
			first, err := read(after)
			if err != nil {
				return bundleOutcome{}, err
			}
			if _, err := w.LoadBundle(first, trust); err != nil {
				return refused(err), nil
			}
		}
		bundle, err := read(file)
		if err != nil {
			return bundleOutcome{}, err
		}
		loaded, err := w.LoadBundle(bundle, trust)
		if err != nil {
			return refused(err), nil
		}
		policies := 0
		if meta := w.Metadata(); meta != nil {
			policies = len(meta.Policies)
		}
		return bundleOutcome{Version: loaded.Version, Policies: policies}, nil
	}
	for _, c := range m.Cases {
		name := c.Note
		if name == "" {
			name = c.File
		}
		e := c.Expect
		expected := bundleOutcome{Error: e.Error}
		if e.OK {
			expected = bundleOutcome{Version: e.Version, Policies: e.Policies}
		}
		type run struct {
			allowPlain bool
			expected   bundleOutcome
			label      string
		}
		runs := []run{{false, expected, name}}
		if e.Needs == "allow_plain" {
			runs = []run{
				{true, expected, name + " (plain bundles allowed)"},
				{false, bundleOutcome{Error: warden.ErrBundleDecrypt}, name + " (plain bundles not allowed)"},
			}
		}
		for _, r := range runs {
			result.Ran++
			got, err := outcome(c.File, e.After, r.allowPlain)
			if err != nil {
				return err
			}
			if got == r.expected {
				result.Passed++
			} else {
				result.fail("bundles/"+c.File, r.label, "expected %s, got %s", mustJSON(r.expected), mustJSON(got))
			}
		}
	}
	return nil
}
