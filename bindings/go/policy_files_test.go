package warden

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestPolicyFilesConcatenateInOrderAndNameTheirFileInErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	one := write("one.json", `{"name": "one", "rules": [{"effect": "allow", "action": "a"}]}`)
	two := write("two.json", `[{"name": "two", "rules": []}, {"name": "three", "rules": [{"effect": "deny", "action": "b"}]}]`)
	w, err := LoadFiles([]string{one, two})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(w.Metadata().Policies); n != 3 {
		t.Fatalf("%d policies", n)
	}
	if d := w.Check(bg, Request{Action: "b"}); d.Policy != 2 || d.PolicyName != "three" {
		t.Fatalf("%+v", d)
	}

	bad := write("bad.json", `[{"rules": [{"effect": "permit", "action": "a"}]}]`)
	_, err = w.LoadFiles(one, bad)
	var invalid *PolicyInvalidError
	if !errors.As(err, &invalid) || invalid.Errors[0].File != bad || invalid.Errors[0].Policy != 1 || invalid.Errors[0].Pointer != "/rules/0/effect" {
		t.Fatalf("%+v", err)
	}
	broken := write("broken.json", `[{"rules": [}]`)
	_, err = w.LoadFiles(one, broken)
	if !errors.As(err, &invalid) || invalid.Errors[0].File != broken || invalid.Errors[0].Offset != 12 {
		t.Fatalf("%+v", err)
	}
	if _, err := w.LoadFiles(filepath.Join(dir, "absent.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%v", err)
	}
	if d := w.Check(bg, Request{Action: "b"}); d.Policy != 2 {
		t.Fatalf("the policies in force changed: %+v", d)
	}
}
