"""Every error Warden raises: one hierarchy, each with a stable ``code`` to
switch on; messages are for people (STYLE.md, as in ``@warden/core``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .decision import Decision

ErrorCode = Literal[
    "ERR_BUNDLE_FORMAT",
    "ERR_BUNDLE_PROJECT",
    "ERR_BUNDLE_UNKNOWN_KEY",
    "ERR_BUNDLE_SIGNATURE",
    "ERR_BUNDLE_STALE",
    "ERR_BUNDLE_DECRYPT",
    "ERR_BUNDLE_FETCH",
    "ERR_NOT_CONNECTED",
    "ERR_POLICY_INVALID",
    "ERR_POLICY_VIOLATION",
    "ERR_REQUEST_INVALID",
    "ERR_ENGINE",
    "ERR_STATE_INVALID",
    "ERR_TIMEZONE_UNSUPPORTED",
    "ERR_WASM",
]


class WardenError(Exception):
    """The base of every Warden error.

    >>> try:
    ...     raise WardenError("ERR_STATE_INVALID", "not rate-limit state")
    ... except WardenError as e:
    ...     e.code
    'ERR_STATE_INVALID'
    """

    code: ErrorCode
    detail: Any

    def __init__(self, code: ErrorCode, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail


@dataclass(frozen=True)
class PolicyError:
    """One problem found in a policy set (engine/ABI.md §Loading).

    ``policy`` is the index of the policy in the set (-1 outside any policy),
    ``pointer`` an RFC 6901 JSON pointer inside it; ``offset`` is the byte
    offset in JSON text for syntax and encoding errors; ``file``, ``line`` and
    ``column`` (1-based) are set when the policies came from files.
    """

    policy: int
    pointer: str
    message: str
    offset: int | None = None
    file: str | None = None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        return format_error(self)


def format_error(e: PolicyError) -> str:
    """``file:line:col pointer message``, as ``warden validate`` prints it."""
    if e.file is not None:
        where = f"{e.file}:{e.line}:{e.column}" if e.line is not None else e.file
    else:
        where = f"policy {e.policy}"
    return f"{where} {e.pointer or '/'} {e.message}"


def _summarize(errors: Sequence[PolicyError]) -> str:
    if not errors:
        return "policies do not load: unknown error"
    first = errors[0]
    if first.file is not None:
        where = format_error(first)
    else:
        where = f"policy {first.policy}{f' at {first.pointer}' if first.pointer else ''}: {first.message}"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"policies do not load: {where}{more}"


class PolicyInvalidError(WardenError):
    """Raised when policies do not load; ``errors`` lists every problem, and
    the policies in force stay."""

    errors: list[PolicyError]

    def __init__(self, errors: Sequence[PolicyError]) -> None:
        self.errors = list(errors)
        super().__init__("ERR_POLICY_INVALID", _summarize(self.errors), self.errors)


class BundleError(WardenError):
    """A bundle refused at one of the loading steps (bundle-format.md
    §Loading); ``code`` is the step's. When the bundle's policies do not load
    (``ERR_POLICY_INVALID``), ``errors`` lists them."""

    errors: list[PolicyError]

    def __init__(self, code: ErrorCode, message: str, errors: Sequence[PolicyError] = ()) -> None:
        self.errors = list(errors)
        super().__init__(code, message, self.errors or None)


class PolicyViolationError(WardenError):
    """Raised by ``enforce`` (and guarded functions) when a decision is not an
    allow. ``decision.effect`` tells an escalation (a person may approve) from
    a denial."""

    decision: Decision

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        verb = "escalation required" if decision.effect == "escalate" else "denied"
        super().__init__("ERR_POLICY_VIOLATION", f"{verb}: {decision.reason}", decision)


class BundleCacheWarning(UserWarning):
    """A cached bundle or version file that cannot be used (it is ignored)."""
