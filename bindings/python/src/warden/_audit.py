"""Audit records (policy-language.md §1; docs/audit.md): whether a decision is
recorded, what of its request goes into the record, and a sink that appends
records to a file as JSON lines. Records are dicts with the same members as
the other hosts write, so one log reads the same whoever wrote it."""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, NamedTuple

from .approval import canonical_json
from .decision import Decision

#: What a redacted value is replaced with.
REDACTED = "[redacted]"

#: Where records go: called once per recorded decision; what it raises becomes an ``"audit_error"`` event.
AuditSink = Callable[[dict[str, Any]], None]


class AuditErrorEvent(NamedTuple):
    """An audit sink or an ``"alert"`` listener raised; the decision stands."""

    error: BaseException
    record: dict[str, Any]


def is_recorded(d: Decision, meta: Mapping[str, Any] | None) -> bool:
    """Whether a decision is recorded: its rule's ``log``, then its policy's
    ``audit.log_allowed`` for an allow or ``log_denied`` for a deny or an
    escalation (approved or not: the approval is what the record is for)."""
    if not d.log:
        return False
    policies = meta["policies"] if meta is not None else ()
    if d.policy is None or not 0 <= d.policy < len(policies):
        return True
    audit = policies[d.policy].get("audit")
    if not audit:
        return True
    return bool(audit["log_allowed"] if d.effect == "allow" else audit["log_denied"])


def redacted_paths(meta: Mapping[str, Any]) -> tuple[str, ...]:
    """The ``audit.redact`` paths of every policy in force, each once: a path one policy protects is kept out of every record."""
    paths: dict[str, None] = {}
    for p in meta["policies"]:
        for path in (p.get("audit") or {}).get("redact") or ():
            paths[path] = None
    return tuple(paths)


def _json_copy(value: Any) -> Any:
    """The JSON form of a value, as the client reads requests (a copy the caller can no longer change), or None."""
    try:
        return json.loads(canonical_json(value))
    except (TypeError, ValueError, RecursionError):
        return None


def _pick(source: dict[str, Any], paths: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in paths:
        segments = path.split(".")
        v: Any = source
        for s in segments:
            v = v.get(s, _NONE) if isinstance(v, dict) else _NONE
        if v is _NONE:
            continue
        at = out
        for s in segments[:-1]:
            nxt = at.get(s)
            if not isinstance(nxt, dict):
                nxt = at[s] = {}
            at = nxt
        at[segments[-1]] = v
    return out


_NONE: Any = object()


def _redact(context: dict[str, Any], paths: Sequence[str]) -> None:
    for path in paths:
        segments = path.split(".")
        at: Any = context
        for s in segments[:-1]:
            at = at.get(s) if isinstance(at, dict) else None
        if isinstance(at, dict) and segments[-1] in at:
            at[segments[-1]] = REDACTED


def _iso(instant: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, the year in four digits, as JavaScript's toISOString writes it."""
    u = instant.astimezone(timezone.utc)
    return f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}.{u.microsecond // 1000:03d}Z"


#: RFC 3339 date-time with an offset: only such a text is converted (Python reads looser ones as local time).
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def _at(time: Any, clock_ns: Callable[[], int]) -> str:
    """When: the request's time when it gave one, else the clock's, as ISO 8601 in UTC; a text that is not RFC 3339
    Python reads (a leap second) is kept as given."""
    try:
        if isinstance(time, datetime):
            return _iso(time if time.tzinfo is not None else time.replace(tzinfo=timezone.utc))
        if isinstance(time, (int, float)) and not isinstance(time, bool):
            return _iso(datetime.fromtimestamp(time, timezone.utc))
        if isinstance(time, str):
            return _iso(datetime.fromisoformat(time.replace("z", "Z").replace("t", "T"))) if _RFC3339.fullmatch(time) else time
    except (ValueError, OverflowError, OSError):
        if isinstance(time, str):
            return time
    ns = clock_ns()
    return _iso(datetime.fromtimestamp(ns // 1_000_000_000, timezone.utc).replace(microsecond=ns % 1_000_000_000 // 1000))


def audit_record(
    d: Decision, action: Any, resource: Any, context: Any, agent: Any, time: Any, clock_ns: Callable[[], int], redacted: Sequence[str],
) -> dict[str, Any]:
    """The record of a decision made for this request (docs/audit.md)."""
    copied = None if context is None else _json_copy(context)
    record_context: dict[str, Any] | None = copied if isinstance(copied, dict) else None
    if record_context is not None and d.log_context is not None:
        record_context = _pick(record_context, d.log_context)
    if record_context is not None:
        _redact(record_context, redacted)
    agent_copy = None if agent is None else _json_copy(agent)
    record_agent = {k: agent_copy[k] for k in ("id", "trust_level", "tags") if k in agent_copy} if isinstance(agent_copy, dict) else None
    record: dict[str, Any] = {
        "at": _at(time, clock_ns),
        # Copies, as JSON writes them (an action that is not a str comes from an invalid request).
        "action": action if type(action) is str else _json_copy(action),
        "resource": resource if resource is None or type(resource) is str else _json_copy(resource),
        "agent": record_agent,
        "context": record_context,
        "allowed": d.allowed,
        "effect": d.effect,
        "policy": d.policy,
        "policyName": d.policy_name,
        "rule": d.rule,
        "ruleName": d.rule_name,
        "reason": d.reason,
        "indeterminate": list(d.indeterminate),
        "rateLimit": None if d.rate_limit is None else {"policy": d.rate_limit.policy, "index": d.rate_limit.index},
        "bundleVersion": d.bundle_version,
        "alert": d.alert,
    }
    if d.approved_by is not None:
        record["approvedBy"] = d.approved_by
        record["approvalDigest"] = d.approval_digest
    if d.error is not None:
        record["error"] = {"code": d.error.code, "message": d.error.message}
    return record


class AuditLog:
    """An audit sink appending each record to a file as one line of JSON (JSON
    Lines); the file is created with mode 0600 (records hold request context)
    and its folder when missing. Safe to share between threads. ``flush()``
    puts what was written on disk; ``close()`` (or leaving a ``with`` block)
    flushes and closes, after which records are refused."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        folder = os.path.dirname(self.path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._file = os.fdopen(fd, "a", encoding="utf-8")
        self._lock = threading.Lock()

    def __call__(self, record: dict[str, Any]) -> None:
        # ASCII: a lone surrogate is escaped, never a write error; NaN has no JSON form (records never hold one).
        line = json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n"
        with self._lock:
            if self._file.closed:
                raise ValueError(f"the audit log {self.path} is closed")
            self._file.write(line)

    def flush(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.flush()
                os.fsync(self._file.fileno())

    def close(self) -> None:
        self.flush()
        with self._lock:
            self._file.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def audit_log(path: str | os.PathLike[str]) -> AuditLog:
    """An audit sink appending JSON lines to ``path`` (see ``AuditLog``)."""
    return AuditLog(path)
