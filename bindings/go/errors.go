package warden

import (
	"errors"
	"fmt"
)

// Error codes, stable for callers to switch on (messages are for people).
// They are the codes of @warden/core.
const (
	ErrBundleFormat        = "ERR_BUNDLE_FORMAT"
	ErrBundleProject       = "ERR_BUNDLE_PROJECT"
	ErrBundleUnknownKey    = "ERR_BUNDLE_UNKNOWN_KEY"
	ErrBundleSignature     = "ERR_BUNDLE_SIGNATURE"
	ErrBundleStale         = "ERR_BUNDLE_STALE"
	ErrBundleDecrypt       = "ERR_BUNDLE_DECRYPT"
	ErrBundleFetch         = "ERR_BUNDLE_FETCH"
	ErrNotConnected        = "ERR_NOT_CONNECTED"
	ErrPolicyInvalid       = "ERR_POLICY_INVALID"
	ErrPolicyViolation     = "ERR_POLICY_VIOLATION"
	ErrRequestInvalid      = "ERR_REQUEST_INVALID"
	ErrEngine              = "ERR_ENGINE"
	ErrStateInvalid        = "ERR_STATE_INVALID"
	ErrTimezoneUnsupported = "ERR_TIMEZONE_UNSUPPORTED"
	ErrWasm                = "ERR_WASM"
	// ErrOptionsInvalid is this binding's own: Connect was given options it
	// cannot work with (no URL, a trusted key that is not 32 bytes).
	ErrOptionsInvalid = "ERR_OPTIONS_INVALID"
)

// Error is an error with a stable Code (one of the Err* constants). Bundle
// loading, state import and the engine report failures as *Error; loading
// policies reports *PolicyInvalidError and Enforce *PolicyViolationError,
// which carry a code too. Use [Code] to read the code of any of them.
type Error struct {
	Code    string
	Message string
	// Err is the error underneath, when there is one (a *PolicyInvalidError
	// for a bundle whose policies do not load).
	Err error
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Unwrap returns the error underneath, if any.
func (e *Error) Unwrap() error { return e.Err }

// ErrorCode returns e.Code.
func (e *Error) ErrorCode() string { return e.Code }

func newError(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Code returns the Warden error code of err or of an error it wraps, or ""
// when there is none.
//
//	if warden.Code(err) == warden.ErrBundleStale { ... }
func Code(err error) string {
	var coded interface{ ErrorCode() string }
	if errors.As(err, &coded) {
		return coded.ErrorCode()
	}
	return ""
}

// PolicyError is one problem the engine found in a policy set
// (engine/ABI.md §Loading).
type PolicyError struct {
	// Policy is the index of the policy in the set, or -1 outside any policy.
	Policy int `json:"policy"`
	// Pointer is the RFC 6901 JSON pointer inside that policy.
	Pointer string `json:"pointer"`
	Message string `json:"message"`
	// Offset is the byte offset in the JSON text, for syntax and encoding
	// errors (-1 otherwise).
	Offset int `json:"offset"`
	// File is the policy file the policy came from (LoadFiles).
	File string `json:"file,omitempty"`
}

// PolicyInvalidError is returned when policies do not load
// (ERR_POLICY_INVALID). Errors lists every problem; the policies in force
// stay.
type PolicyInvalidError struct {
	Errors []PolicyError
}

func (e *PolicyInvalidError) Error() string {
	if len(e.Errors) == 0 {
		return ErrPolicyInvalid + ": policies do not load: unknown error"
	}
	first := e.Errors[0]
	where := fmt.Sprintf("policy %d", first.Policy)
	if first.File != "" {
		where = first.File + ": " + where
	}
	if first.Pointer != "" {
		where += " at " + first.Pointer
	}
	more := ""
	if len(e.Errors) > 1 {
		more = fmt.Sprintf(" (and %d more)", len(e.Errors)-1)
	}
	return fmt.Sprintf("%s: policies do not load: %s: %s%s", ErrPolicyInvalid, where, first.Message, more)
}

// ErrorCode returns ERR_POLICY_INVALID.
func (e *PolicyInvalidError) ErrorCode() string { return ErrPolicyInvalid }

// PolicyViolationError is returned by Enforce and Authorize when a decision
// is not an allow (ERR_POLICY_VIOLATION). Decision.Effect tells a denial
// ("deny") from an escalation ("escalate"), which a person may approve
// (Authorize, WithApprovals, GrantApproval).
type PolicyViolationError struct {
	Decision Decision
}

func (e *PolicyViolationError) Error() string {
	if e.Decision.Effect == Escalate {
		return ErrPolicyViolation + ": escalation required: " + e.Decision.Reason
	}
	return ErrPolicyViolation + ": denied: " + e.Decision.Reason
}

// ErrorCode returns ERR_POLICY_VIOLATION.
func (e *PolicyViolationError) ErrorCode() string { return ErrPolicyViolation }
