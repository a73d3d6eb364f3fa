package warden

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// AuditLogFile is an audit sink that appends each record to a file as one
// line of JSON (JSON Lines), as auditLog of @warden/node does: the lines the
// `warden audit` command reads. Make one with AuditLog and pass its Write to
// WithAudit. It is safe for concurrent use.
//
// Records are buffered (4 KiB): they reach the file when the buffer fills,
// and on Flush and Close. Call Close before the process ends, and Flush when
// the records so far must be in the file now (for `warden audit`, or
// periodically). Every write to the file holds whole lines, never part of
// a record.
type AuditLogFile struct {
	path string

	mu     sync.Mutex // guards the fields below
	file   *os.File
	buf    *bufio.Writer
	closed bool
}

// AuditLog opens path for appending audit records (see AuditLogFile),
// creating it with mode 0600 (records hold request context) and its
// folders, with mode 0755, when they are missing. An existing file keeps
// its records and its mode.
//
//	log, err := warden.AuditLog("/var/log/warden/audit.jsonl")
//	if err != nil {
//		return err
//	}
//	defer log.Close()
//	w, err := warden.Load(policies, warden.WithAudit(log.Write))
func AuditLog(path string) (*AuditLogFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("warden: the audit log's folder cannot be made: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("warden: the audit log cannot be opened: %w", err)
	}
	return &AuditLogFile{path: path, file: f, buf: bufio.NewWriter(f)}, nil
}

// Path returns the file the records go to.
func (l *AuditLogFile) Path() string { return l.path }

// errAuditLogClosed is what Write returns after Close.
var errAuditLogClosed = errors.New("the audit log is closed")

// Write appends rec as one line of JSON: an AuditSink. Once a write to the
// file has failed, every later Write returns that error; after Close, an
// error too.
func (l *AuditLogFile) Write(rec AuditRecord) error {
	var line bytes.Buffer
	enc := json.NewEncoder(&line)
	enc.SetEscapeHTML(false)                // as JSON.stringify writes text
	if err := enc.Encode(rec); err != nil { // one line, with its "\n"
		return fmt.Errorf("warden: the audit record has no JSON form: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("warden: %s: %w", l.path, errAuditLogClosed)
	}
	// A line that does not fit what is left of the buffer goes after what
	// the buffer holds, not partly with it; one longer than the buffer
	// goes to the file in one write.
	if line.Len() > l.buf.Available() && l.buf.Buffered() > 0 {
		if err := l.buf.Flush(); err != nil {
			return l.failed(err)
		}
	}
	if _, err := l.buf.Write(line.Bytes()); err != nil {
		return l.failed(err)
	}
	return nil
}

func (l *AuditLogFile) failed(err error) error {
	return fmt.Errorf("warden: the audit log %s cannot be written: %w", l.path, err)
}

// Flush writes the records buffered so far to the file and puts them on
// disk (fsync).
func (l *AuditLogFile) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	if err := l.buf.Flush(); err != nil {
		return l.failed(err)
	}
	if err := l.file.Sync(); err != nil {
		return l.failed(err)
	}
	return nil
}

// Close flushes (as Flush does) and closes the file; later writes return
// an error. Closing again does nothing.
func (l *AuditLogFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	err := l.buf.Flush()
	if err == nil {
		err = l.file.Sync()
	}
	if cerr := l.file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return l.failed(err)
	}
	return nil
}
