package warden

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
)

// Policy files in JSON: each holds one policy document or an array of them;
// several files concatenate in order into one policy set. (YAML is read by
// @warden/node and the CLI; this binding reads JSON only.)

// LoadFiles returns a Warden with the policies of one or more JSON files.
// A set that does not load returns a *PolicyInvalidError whose errors name
// the file each policy came from.
func LoadFiles(paths []string, opts ...Option) (*Warden, error) {
	w, err := New(opts...)
	if err != nil {
		return nil, err
	}
	if _, err := w.LoadFiles(paths...); err != nil {
		return nil, err
	}
	return w, nil
}

// LoadFiles replaces the policies in force with those of one or more JSON
// files (see the package function LoadFiles); the policies in force stay
// when they do not load.
func (w *Warden) LoadFiles(paths ...string) (*Metadata, error) {
	var policies []json.RawMessage
	var files []string // the file of each policy, by index
	for _, path := range paths {
		text, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		var items []json.RawMessage
		if trimmed := bytes.TrimLeft(text, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '{' {
			items = []json.RawMessage{text}
		} else if err := json.Unmarshal(text, &items); err != nil {
			// Not an array of JSON values: the engine says where, in this file alone.
			return nil, fileErrors(path, text)
		}
		for _, item := range items {
			policies = append(policies, item)
			files = append(files, path)
		}
	}
	set := []byte{'['}
	for i, p := range policies {
		if i > 0 {
			set = append(set, ",\n"...)
		}
		set = append(set, p...)
	}
	set = append(set, ']')
	meta, err := w.Load(set)
	if invalid, ok := err.(*PolicyInvalidError); ok {
		for i := range invalid.Errors {
			e := &invalid.Errors[i]
			if e.Policy >= 0 && e.Policy < len(files) {
				e.File = files[e.Policy]
			}
			// Offsets are into the concatenation, not into any one file.
			e.Offset = -1
		}
	}
	return meta, err
}

// fileErrors loads one file's text alone into a throwaway engine instance,
// to report the engine's errors for it with offsets in that file.
func fileErrors(path string, text []byte) error {
	ctx := context.Background()
	e, err := newEngine(ctx)
	if err != nil {
		return err
	}
	defer e.close()
	res, err := e.load(ctx, text)
	if err != nil {
		return err
	}
	if res.meta != nil {
		res.errors = []PolicyError{{Policy: -1, Message: "the file holds neither a policy nor an array of policies", Offset: -1}}
	}
	for i := range res.errors {
		res.errors[i].File = path
	}
	return &PolicyInvalidError{Errors: res.errors}
}
