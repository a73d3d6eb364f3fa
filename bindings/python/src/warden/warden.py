"""The Warden client: loads policies into warden.wasm and decides requests,
as ``@warden/core``'s ``Warden`` does, in Python."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import threading
import time as _time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Literal, NamedTuple, TypeVar

from ._audit import (
    AuditErrorEvent,
    AuditSink,
    audit_record,
    is_recorded,
    redacted_paths,
)
from ._bundle_client import (
    BundleClient,
    BundleErrorEvent,
    BundleSource,
    BundleStatus,
    BundleUpdate,
)
from ._bundle_loader import BundleTrust, open_bundle
from ._context import MISSING, NOT_OBJECT, check_context, context_problem, value_at
from ._disk_cache import DiskCache
from ._engine_host import (
    EPOCH,
    T_MISSING,
    TRAPS,
    EngineInstance,
    Instant,
    InvalidRequest,
    request_header,
    write_value,
)
from ._policy_files import read_policy_files
from ._policy_json import policies_json
from ._time import check_zone, instant_of, now_instant, zone_offset
from .approval import ApprovalRequest, Approvals, ask, ask_async, request_digest
from .decision import (
    Agent,
    Decision,
    Effect,
    Explanation,
    RateLimitRef,
    RecoveredEvent,
    RequestError,
)
from .errors import (
    BundleError,
    PolicyError,
    PolicyInvalidError,
    PolicyViolationError,
    WardenError,
)

logger = logging.getLogger("warden")

EventName = Literal["recovered", "update", "error", "alert", "audit_error"]
F = TypeVar("F", bound=Callable[..., Any])

_EFFECTS: tuple[Effect, ...] = ("deny", "allow", "escalate")
_ABSENT: Any = object()
_REQUEST_MEMBERS = frozenset({"action", "resource", "context", "agent", "time"})
_DIGEST = re.compile(r"[0-9a-fA-F]{64}")

DEFAULT_ALLOW_REASON = "no rule matched, and every applicable policy allows by default"
DEFAULT_DENY_REASON = "no rule matched, so the request is denied by default"
NOTHING_LOADED_REASON = "no policies have loaded yet, so every request is denied"

#: Decisions kept at most by (action, resource); when full, they start over (as @warden/core's).
DECISION_CACHE_SIZE = 4096
#: The longest action or resource (code points) whose decision is kept.
MAX_KEPT_KEY = 256


def _generated_reason(effect: Effect, policy: int, rule: int, policy_name: str | None, rule_name: str | None) -> str:
    verb = {"allow": "allowed", "deny": "denied", "escalate": "escalated for approval"}[effect]
    r = f"rule {rule} (`{rule_name}`)" if rule_name else f"rule {rule}"
    p = f"policy {policy} (`{policy_name}`)" if policy_name else f"policy {policy}"
    return f"{verb} by {r} of {p}"


def _outcome(
    effect: Effect, policy: int, rule: int, policy_name: str | None, rule_name: str | None, reason: str,
    reason_given: bool, log: bool, log_context: Sequence[str] | None, alert: bool, bundle_version: int | None,
) -> Decision:
    """The decision a rule (or the default) makes when nothing else is added: shared, immutable."""
    return Decision(
        allowed=effect == "allow", effect=effect, policy=policy if policy >= 0 else None, policy_name=policy_name,
        rule=rule if rule >= 0 else None, rule_name=rule_name, reason=reason, reason_given=reason_given,
        indeterminate=(), rate_limit=None, bundle_version=bundle_version, log=log,
        log_context=tuple(log_context) if log_context is not None else None, alert=alert,
    )


def _rule_metadata(rule: str | dict[str, Any]) -> dict[str, Any]:
    """A rule's metadata for callers, whole: a rule the engine wrote as its effect alone stands for the defaults."""
    if isinstance(rule, str):
        return {"name": None, "effect": rule, "reason": None, "log": True, "log_context": None, "alert": False}
    return {**rule, "log_context": list(rule["log_context"]) if rule["log_context"] is not None else None}


class _Audited(NamedTuple):
    """How an approval of an escalation is recorded: the policies that escalated, and the request as the caller gave it."""

    state: tuple[dict[str, Any] | None, tuple[str, ...]]
    action: Any
    resource: Any
    context: Any
    agent: Any
    time: Any


class LoadedBundle(NamedTuple):
    """What ``load_bundle`` did: the version in force, and whether it changed."""

    version: int
    changed: bool


def _shape_problem(request: Any) -> str | None:
    """What is wrong with the shape of a JSON-form request (spec §1a), or None; the engine checks the values."""
    if not isinstance(request, dict):
        return "a request must be a JSON object"
    for key in request:
        if key not in _REQUEST_MEMBERS:
            return f"unknown request member `{key}`: a request has `action`, `resource`, `context`, `agent` and `time`"
    if "action" not in request:
        return "a request needs `action`"
    if "context" in request and request["context"] is None:
        return NOT_OBJECT
    if "time" in request and not isinstance(request["time"], str):
        return "`time` must be an RFC 3339 string"
    return None


class Warden:
    """The Warden client: policies in warden.wasm, decisions in microseconds, offline.

    >>> from warden import Warden
    >>> w = Warden.from_policies([{"name": "support-bot", "rules": [
    ...     {"effect": "allow", "action": "tool.call", "resource": "tool/lookup_order"}]}])
    >>> w.check("tool.call", "tool/lookup_order").allowed
    True

    One client is safe to share between threads (calls into its engine take
    turns). ``check`` never raises: an invalid request is a deny whose
    ``error`` says what is wrong.
    """

    def __init__(
        self, *, clock: Callable[[], int] | None = None, approvals: Approvals | None = None, keep_decisions: bool = True,
        audit: AuditSink | None = None,
    ) -> None:
        """A client with no policies (every request is denied until some load).
        ``clock`` gives the time in epoch nanoseconds (default ``time.time_ns``);
        ``approvals`` says who approves escalated requests in ``authorize``;
        ``keep_decisions=False`` sends every check to the engine (by default,
        while the policies in force decide by action and resource alone,
        ``check`` keeps their decisions: see ``check``); ``audit`` is where
        audit records go (docs/audit.md: one dict per decision of ``check``,
        ``check_request``, ``enforce`` and ``authorize`` that the policies
        record, e.g. ``audit_log(path)``). Without it, and without an
        ``"alert"`` listener, checks do no audit work at all."""
        if approvals is not None and not isinstance(approvals, Approvals):
            raise TypeError("approvals must be an Approvals(handler, timeout=...), not " + type(approvals).__name__)
        self._approvals = approvals
        #: One-time approvals by request digest → approver (``grant_approval``).
        self._granted: dict[str, str] = {}
        self._granted_lock = threading.Lock()
        self._engine = EngineInstance()
        self._lock = threading.Lock()
        self._clock = clock or _time.time_ns
        self._meta: dict[str, Any] | None = None
        self._policies: bytes | None = None
        self._zones: tuple[str, ...] = ()
        self._segments: tuple[tuple[str, ...], ...] = ()
        #: Whether decisions read the time (``time.*`` conditions or rate limits).
        self._needs_clock = False
        #: The header of a request that does not read the clock (the instant 0, no zones).
        self._fixed_header = request_header(EPOCH, (), 0)
        self._outcomes: list[list[Decision | None]] = []
        self._rules: tuple[tuple[str | dict[str, Any], ...], ...] = ()
        self._policy_names: tuple[str | None, ...] = ()
        self._limit_reasons: tuple[tuple[str, ...], ...] = ()
        self._paths: tuple[str, ...] = ()
        self._default_allow = _outcome("allow", -1, -1, None, None, DEFAULT_ALLOW_REASON, False, True, None, False, None)
        self._default_deny = _outcome("deny", -1, -1, None, None, NOTHING_LOADED_REASON, False, True, None, False, None)
        self._version: int | None = None
        self._keep_decisions = bool(keep_decisions)
        #: Decisions by (action, resource) while the engine says the policies in force
        #: decide by those alone (``action_resource_only``), else None; a new dict at
        #: every load. Read without a lock; filled and emptied under ``_kept_lock``.
        self._kept: dict[tuple[str, str], Decision] | None = None
        self._kept_lock = threading.Lock()
        self._listeners: dict[EventName, list[Callable[[Any], None]]] = {
            "recovered": [], "update": [], "error": [], "alert": [], "audit_error": [],
        }
        #: Where audit records go, every policy's ``audit.redact`` paths, and whether decisions are observed.
        self._audit: AuditSink | None = audit
        #: What recording reads of the policies in force (their metadata, every policy's redact paths), replaced whole at load.
        self._audit_state: tuple[dict[str, Any] | None, tuple[str, ...]] = (None, ())
        self._observing = False
        if audit is not None:
            self._observe()
        self._pending: list[tuple[EventName, Any]] = []
        # Bundles: the highest version ever loaded (nothing older loads again), and where the one in force came from.
        self._bundle_lock = threading.RLock()
        self._highest = 0
        self._source: BundleSource | None = None
        self._loaded_at: datetime | None = None
        self._client: BundleClient | None = None
        #: Files the policies in force came from, when they came from files (one entry per policy).
        self.files: list[str] = []

    # -- making one -----------------------------------------------------------

    @classmethod
    def from_policies(
        cls,
        policies: Sequence[Mapping[str, Any]] | Mapping[str, Any] | str | bytes,
        *,
        clock: Callable[[], int] | None = None,
        approvals: Approvals | None = None,
        keep_decisions: bool = True,
        audit: AuditSink | None = None,
    ) -> Warden:
        """A client with ``policies`` loaded: a list of policy dicts (one dict is
        one policy) or their JSON array as text. Raises ``PolicyInvalidError``."""
        warden = cls(clock=clock, approvals=approvals, keep_decisions=keep_decisions, audit=audit)
        warden.load(policies)
        return warden

    @classmethod
    def from_file(
        cls,
        paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        *,
        clock: Callable[[], int] | None = None,
        approvals: Approvals | None = None,
        keep_decisions: bool = True,
        audit: AuditSink | None = None,
    ) -> Warden:
        """A client with the policies of one or more files (YAML or JSON; each
        holds a policy or a list of them; they concatenate in order). Raises
        ``PolicyInvalidError`` whose errors carry ``file``, ``line`` and ``column``."""
        warden = cls(clock=clock, approvals=approvals, keep_decisions=keep_decisions, audit=audit)
        warden.load_file(paths)
        return warden

    @classmethod
    def connect(
        cls,
        *,
        url: str,
        project: str,
        trusted_keys: Mapping[str, str],
        project_key: str | None = None,
        cache_dir: str | os.PathLike[str] | Literal[False] | None = None,
        poll_interval: float = 60.0,
        allow_plain: bool = False,
        max_backoff: float = 900.0,
        fetch_timeout: float = 10.0,
        clock: Callable[[], int] | None = None,
        approvals: Approvals | None = None,
        keep_decisions: bool = True,
        audit: AuditSink | None = None,
    ) -> Warden:
        """A client that enforces a project's signed bundles from ``url``: it
        loads its cache first (offline, the last good bundle), then the network,
        then polls every ``poll_interval`` seconds (±10 %, backing off on
        errors up to ``max_backoff``; 0 never polls: call ``refresh``) from a
        daemon thread. Until a bundle loads, every check denies.

        ``cache_dir`` defaults to ``~/.warden/cache``; ``False`` keeps no cache.

        >>> w = Warden.connect(url="https://cdn.example.com/proj_support.bundle.json",  # doctest: +SKIP
        ...     project="proj_support", project_key=os.environ["WARDEN_PROJECT_KEY"],
        ...     trusted_keys={"k1": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})
        """
        warden = cls(clock=clock, approvals=approvals, keep_decisions=keep_decisions, audit=audit)
        cache = None if cache_dir is False else DiskCache(cache_dir)
        trust = BundleTrust(project, dict(trusted_keys), project_key, allow_plain)
        client = BundleClient(
            warden, trust, url=url, cache=cache, poll_interval=poll_interval, max_backoff=max_backoff, fetch_timeout=fetch_timeout,
        )
        warden._client = client
        client.start()
        return warden

    # -- loading --------------------------------------------------------------

    @property
    def metadata(self) -> dict[str, Any] | None:
        """The engine's metadata of the policies in force (ABI.md §Loading), None before the first load."""
        return self._meta

    @property
    def bundle_version(self) -> int | None:
        """Version of the bundle in force."""
        return self._version

    @property
    def highest_version(self) -> int:
        """The highest bundle version ever loaded: nothing older loads again."""
        return self._highest

    def load(self, policies: Sequence[Mapping[str, Any]] | Mapping[str, Any] | str | bytes, *, bundle_version: int | None = None) -> dict[str, Any]:
        """Loads a policy set in place of the one in force. Raises
        ``PolicyInvalidError`` listing every error; the policies in force then
        stay. Rate-limit counts carry over to limits with the same identity
        (spec §7). Returns the metadata."""
        data = policies_json(policies)
        try:
            with self._lock:
                ok, result = self._call(lambda: self._engine.load(data))
                if not ok:
                    raise PolicyInvalidError([PolicyError(e["policy"], e["pointer"], e["message"], e.get("offset")) for e in result["errors"]])
                try:
                    for zone in result["zones"]:
                        check_zone(zone)
                except WardenError:
                    # The engine took the new set: give it back the one in force.
                    previous = self._policies or b"[]"
                    self._call(lambda: self._engine.load(previous))
                    raise
                self._install(result, data, bundle_version)
                self.files = []
                return self._meta  # type: ignore[return-value]
        finally:
            self._flush()

    def _install(self, meta: dict[str, Any], data: bytes, version: int | None) -> None:
        # What decisions read of the metadata, kept apart from the dicts handed out (which a caller may edit):
        # each rule as the engine wrote it, a string (its effect alone) or a dict no caller sees.
        self._rules = tuple(tuple(p["rules"]) for p in meta["policies"])
        self._policy_names = tuple(p["name"] for p in meta["policies"])
        self._limit_reasons = tuple(tuple(limit["reason"] for limit in p["rate_limits"]) for p in meta["policies"])
        self._paths = tuple(meta["paths"])
        self._audit_state = (meta, redacted_paths(meta))
        for p in meta["policies"]:
            p["rules"] = [_rule_metadata(r) for r in p["rules"]]
        self._meta = meta
        self._policies = data
        self._version = version
        self._zones = tuple(meta["zones"])
        self._needs_clock = meta["reads_time"] or any(p["rate_limits"] for p in meta["policies"])
        self._segments = tuple(tuple(p.split(".")[1:]) for p in meta["paths"][: meta["context_paths"]])
        self._fixed_header = request_header(EPOCH, (), len(self._segments))
        # Nothing but the action and resource decides (so no context is sent, and no clock read): keep decisions.
        keep = self._keep_decisions and meta.get("action_resource_only") is True and not self._segments and not self._needs_clock
        self._kept = {} if keep else None
        # Made the first time each rule decides (_rule_outcome), not here: a large set paid for rules that never do.
        self._outcomes = [[None] * len(rules) for rules in self._rules]
        self._default_allow = _outcome("allow", -1, -1, None, None, DEFAULT_ALLOW_REASON, False, True, None, False, version)
        self._default_deny = _outcome("deny", -1, -1, None, None, DEFAULT_DENY_REASON, False, True, None, False, version)

    def load_file(self, paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *, bundle_version: int | None = None) -> dict[str, Any]:
        """Loads the policies of files in place of the ones in force (which stay if these do not load)."""
        source = read_policy_files(paths)
        try:
            metadata = self.load(source.policies, bundle_version=bundle_version)
        except PolicyInvalidError as e:
            raise PolicyInvalidError([source.locate(x) for x in e.errors]) from None
        self.files = source.files
        return metadata

    # -- deciding -------------------------------------------------------------

    def check(
        self,
        action: str,
        resource: str = "",
        context: Mapping[str, Any] | None = None,
        agent: Agent | None = None,
        time: str | datetime | float | None = None,
    ) -> Decision:
        """Decides a request. Never raises: an invalid request is a deny whose
        ``error.code`` is ``ERR_REQUEST_INVALID``.

        ``context`` is a JSON object as the json module writes it (dict keys
        str, or int/float/bool/None written as text; tuples are arrays; NaN and
        infinities null). ``time`` is an RFC 3339 string, an aware datetime or
        epoch seconds; the clock's when absent.

        While the policies in force decide by action and resource alone (the
        metadata's ``action_resource_only``), a decision the engine made is
        kept by (action, resource), at most 4,096 (then they start over),
        until the next load, and given again to a request with no ``agent``
        and no ``time`` whose context is valid; ``keep_decisions=False`` on
        the client turns this off.
        """
        kept = self._kept
        if kept is not None and agent is None and time is None and type(action) is str:
            if resource is None:
                resource = ""
            if type(resource) is str:
                key = (action, resource)
                d = kept.get(key)
                if d is not None:
                    # This action and resource were valid, and there is no agent or time: what is left is
                    # the context, none of which is sent, refused exactly when the engine's path refuses it.
                    problem = context_problem(context)
                    return d if problem is None else self._invalid(problem)
                decided: Decision = self._run(action, resource or _ABSENT, context, _ABSENT, None, False)
                # Only a decision the engine made is kept, and only while these policies are in force.
                # Keys are short strings only (as long as an interned one): 4,096 megabyte keys would hold gigabytes.
                if decided.error is None and self._kept is kept and len(action) <= MAX_KEPT_KEY and len(resource) <= MAX_KEPT_KEY:
                    with self._kept_lock:
                        if len(kept) >= DECISION_CACHE_SIZE:
                            kept.clear()
                        kept[key] = decided
                return decided
        decision: Decision = self._run(action, _ABSENT if resource == "" or resource is None else resource, context,
                                       _ABSENT if agent is None else agent, time, False)
        return decision

    def enforce(
        self,
        action: str,
        resource: str = "",
        context: Mapping[str, Any] | None = None,
        agent: Agent | None = None,
        time: str | datetime | float | None = None,
    ) -> Decision:
        """Decides a request and raises ``PolicyViolationError`` unless it is
        allowed (an escalation too: ``e.decision.effect == "escalate"``)."""
        d = self.check(action, resource, context, agent, time)
        if not d.allowed:
            raise PolicyViolationError(d)
        return d

    def authorize(
        self,
        action: str,
        resource: str = "",
        context: Mapping[str, Any] | None = None,
        agent: Agent | None = None,
        time: str | datetime | float | None = None,
    ) -> Decision:
        """Decides a request like ``enforce``, but an escalation goes to a person
        (spec §8): a one-time approval granted with ``grant_approval`` for this
        request's digest, or else the ``approvals`` handler the client was
        given, which has its timeout to answer (it runs on a thread of its own;
        an ``async`` handler runs there in an event loop of its own). Approved,
        it returns the decision allowed, with ``approved_by`` and
        ``approval_digest`` set; rejected, raising, unanswered in time or
        without a handler, it raises ``PolicyViolationError`` with the
        escalated decision. A denial raises without asking anyone.

        >>> warden = Warden.from_policies([{"rules": [{"effect": "escalate", "action": "tool.call",
        ...     "resource": "tool/issue_refund"}]}])
        >>> warden.grant_approval(request_digest("tool.call", "tool/issue_refund", {"amount": 900}), "ana@example.com")
        >>> warden.authorize("tool.call", "tool/issue_refund", {"amount": 900}).approved_by
        'ana@example.com'
        """
        d, request, audited = self._escalation(action, resource, context, agent, time)
        if request is None:
            return d
        approver = self._take_grant(request.digest)
        if approver is None and self._approvals is not None:
            approver = ask(self._approvals, request)
        return self._approved(d, request, approver, audited)

    async def authorize_async(
        self,
        action: str,
        resource: str = "",
        context: Mapping[str, Any] | None = None,
        agent: Agent | None = None,
        time: str | datetime | float | None = None,
    ) -> Decision:
        """``authorize`` for async code: the event loop never waits on the
        handler. An ``async`` handler is awaited on the caller's loop (and
        cancelled when its timeout passes); a plain one runs on a thread."""
        d, request, audited = self._escalation(action, resource, context, agent, time)
        if request is None:
            return d
        approver = self._take_grant(request.digest)
        if approver is None and self._approvals is not None:
            approver = await ask_async(self._approvals, request)
        return self._approved(d, request, approver, audited)

    def grant_approval(self, digest: str, approver: str) -> None:
        """Lets the request with this digest (``request_digest``) through
        ``authorize`` once, approved by ``approver``: an approval given out of
        band. Granting a digest again replaces its approver."""
        if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
            raise ValueError(f"a request digest is 64 hex digits (request_digest), not {digest!r}")
        if not isinstance(approver, str):
            raise TypeError(f"the approver must be a str, not {type(approver).__name__}")
        with self._granted_lock:
            self._granted[digest.lower()] = approver

    def _escalation(
        self, action: str, resource: str | None, context: Mapping[str, Any] | None, agent: Agent | None, time: str | datetime | float | None,
    ) -> tuple[Decision, ApprovalRequest | None, _Audited | None]:
        """The decision, what to ask a person when it is an escalation, and how to record an approval of it
        (when decisions are observed); raises when it is a denial."""
        # An approval is recorded under the policies that escalated, whatever loads while a person decides.
        audit_state = self._audit_state
        d = self.check(action, resource or "", context, agent, time)
        if d.allowed:
            return d, None, None
        if d.effect != "escalate":
            raise PolicyViolationError(d)
        audited = _Audited(audit_state, action, resource or None, context, agent, time) if self._observing else None
        resource = resource or ""
        context = {} if context is None else context
        return d, ApprovalRequest(action, resource, context, agent, d, request_digest(action, resource, context, agent)), audited

    def _take_grant(self, digest: str) -> str | None:
        with self._granted_lock:
            return self._granted.pop(digest, None)

    def _approved(self, d: Decision, request: ApprovalRequest, approver: str | None, audited: _Audited | None) -> Decision:
        if approver is None:
            raise PolicyViolationError(d)
        approved = dataclasses.replace(d, allowed=True, approved_by=approver, approval_digest=request.digest)
        # The escalation was observed by ``check``; the approval is a decision of its own, naming the approver.
        if audited is not None:
            self._observed(approved, audited.action, audited.resource, audited.context, audited.agent, audited.time, audited.state)
        return approved

    def explain(
        self,
        action: str,
        resource: str = "",
        context: Mapping[str, Any] | None = None,
        agent: Agent | None = None,
        time: str | datetime | float | None = None,
    ) -> Explanation:
        """Explains the decision ``check`` would make now, without counting it against rate limits."""
        return self._explained(self._run(action, _ABSENT if resource == "" or resource is None else resource, context,
                                         _ABSENT if agent is None else agent, time, True))

    def check_request(self, request: Mapping[str, Any] | str | bytes) -> Decision:
        """Decides a request in its JSON form (policy-language.md §1a: ``action``,
        and optionally ``resource``, ``context``, ``agent``, ``time`` as an
        RFC 3339 string, no other members), as a dict or as JSON text, as
        conformance vectors and batch files write it. Any other shape is an
        invalid request."""
        r, problem = self._request_form(request)
        if problem is not None:
            return self._invalid(problem)
        decision: Decision = self._run(r["action"], r.get("resource", _ABSENT), r.get("context"), r.get("agent", _ABSENT), r.get("time"), False)
        return decision

    def explain_request(self, request: Mapping[str, Any] | str | bytes) -> Explanation:
        """Explains a request in its JSON form (see ``check_request``), without counting it."""
        r, problem = self._request_form(request)
        if problem is not None:
            return self._explained(self._invalid(problem))
        return self._explained(self._run(r["action"], r.get("resource", _ABSENT), r.get("context"), r.get("agent", _ABSENT), r.get("time"), True))

    @staticmethod
    def _request_form(request: Any) -> tuple[Any, str | None]:
        if isinstance(request, (str, bytes, bytearray)):
            try:
                request = json.loads(request)
            except (ValueError, RecursionError) as e:
                return None, f"the request is not JSON: {e}"
        return request, _shape_problem(request)

    @staticmethod
    def _explained(result: Decision | Explanation) -> Explanation:
        """An explanation, or the one of a request refused before the engine explained it."""
        if isinstance(result, Explanation):
            return result
        message = result.error.message if result.error is not None else result.reason
        return Explanation(result, [], [], [], f"the request is invalid: {message}")

    def _run(self, action: Any, resource: Any, context: Any, agent: Any, time: Any, explain: bool) -> Any:
        """The decision (or, with ``explain``, the explanation) of a request; never raises."""
        checked = check_context(context)
        if isinstance(checked, str):
            return self._invalid(checked)
        try:
            with self._lock:
                now: Instant | None
                if time is None:
                    now = now_instant(self._clock()) if self._needs_clock else None
                elif isinstance(time, str):
                    now = self._call(lambda: self._engine.parse_time(time))
                    if now is None:
                        return self._invalid("`time` must be an RFC 3339 time such as `2026-03-05T10:00:00Z`")
                else:
                    instant = instant_of(time)
                    if isinstance(instant, str):
                        return self._invalid(instant)
                    now = instant
                for attempt in (1, 2):
                    try:
                        return self._decide(action, resource, checked, agent, now, explain)
                    except InvalidRequest as e:
                        return self._invalid(str(e))
                    except TRAPS as e:
                        # A fresh instance takes over, and the request is tried once more on it.
                        self._recover(e)
                        if attempt == 2:
                            return self._failed(f"the engine trapped twice on this request: {e}")
        except WardenError as e:  # a fresh instance could not take over
            return self._failed(e.message)
        except Exception as e:  # a caller's value that fails while read (a dict subclass…), never an engine answer
            logger.warning("warden: a request could not be read, so it is denied", exc_info=True)
            return self._invalid(f"the request cannot be read: {type(e).__name__}: {e}")
        finally:
            if self._pending:
                self._flush()

    def _decide(self, action: Any, resource: Any, context: dict[str, Any], agent: Any, now: Instant | None, explain: bool) -> Any:
        engine = self._engine
        engine.begin_request()
        if now is None:
            out = bytearray(self._fixed_header)
        else:
            zones = self._zones
            out = bytearray(request_header(now, [zone_offset(z, now.seconds) for z in zones] if zones else (), len(self._segments)))
        if type(action) is str:
            engine.write_internable(out, action)
        else:
            write_value(out, action, 64)
        if resource is _ABSENT:
            out.append(T_MISSING)
        elif type(resource) is str:
            engine.write_internable(out, resource)
        else:
            write_value(out, resource, 64)
        if agent is _ABSENT:
            out.append(T_MISSING)
        else:
            engine.write_agent(out, agent)
        for segments in self._segments:
            v = value_at(context, segments)
            if v is MISSING:
                out.append(T_MISSING)
            else:
                write_value(out, v, 64 - len(segments))
        record = engine.decide(out, explain)
        if not explain:
            return self._read(engine, record)
        decision = self._read(engine, record)
        if decision.error is not None:
            return decision
        raw = json.loads(engine.output())
        return Explanation(decision, raw["policies"], raw["rules"], raw["rate_limits"], raw["why"])

    def _rule_outcome(self, policy: int, rule: int) -> Decision:
        """The outcome of a rule of the policies in force, made and kept the first time it decides."""
        kept = self._rules[policy][rule]
        r = _rule_metadata(kept) if isinstance(kept, str) else kept
        policy_name = self._policy_names[policy]
        reason = r["reason"] if r["reason"] is not None else _generated_reason(r["effect"], policy, rule, policy_name, r["name"])
        o = _outcome(r["effect"], policy, rule, policy_name, r["name"], reason, r["reason"] is not None,
                     r["log"], r["log_context"], r["alert"], self._version)
        self._outcomes[policy][rule] = o
        return o

    def _read(self, engine: EngineInstance, record: tuple[int, ...]) -> Decision:
        """The decision of a decision record (ABI.md §The decision record)."""
        status, effect, _allowed, policy, rule, limit_policy, limit_index, n, indeterminate_at, error_at, error_len = record
        if status != 0:
            return self._invalid(engine.text(error_at, error_len))
        if policy >= 0:
            o = self._outcomes[policy][rule]
            if o is None:
                o = self._rule_outcome(policy, rule)
        else:
            o = self._default_allow if effect == 1 else self._default_deny
        # Most decisions are exactly their rule's outcome: share it.
        if n == 0 and limit_policy < 0:
            return o
        indeterminate: tuple[str, ...] = ()
        if n > 0:
            paths = self._paths
            indeterminate = tuple(paths[i] for i in engine.u32_list(indeterminate_at, n))
        reason, reason_given, rate_limit = o.reason, o.reason_given, None
        if limit_policy >= 0:
            rate_limit = RateLimitRef(limit_policy, limit_index)
            reason = self._limit_reasons[limit_policy][limit_index]
            reason_given = True
        eff = _EFFECTS[effect]
        return Decision(
            allowed=eff == "allow", effect=eff, policy=o.policy, policy_name=o.policy_name, rule=o.rule,
            rule_name=o.rule_name, reason=reason, reason_given=reason_given, indeterminate=indeterminate,
            rate_limit=rate_limit, bundle_version=self._version, log=o.log, log_context=o.log_context, alert=o.alert,
        )

    def _invalid(self, message: str) -> Decision:
        return self._denial(RequestError("ERR_REQUEST_INVALID", message), f"invalid request: {message}")

    def _failed(self, message: str) -> Decision:
        return self._denial(RequestError("ERR_ENGINE", message), message)

    def _denial(self, error: RequestError, reason: str) -> Decision:
        return Decision(
            allowed=False, effect="deny", policy=None, policy_name=None, rule=None, rule_name=None, reason=reason,
            reason_given=False, indeterminate=(), rate_limit=None, bundle_version=self._version, log=True,
            log_context=None, alert=False, error=error,
        )

    # -- rate-limit state -------------------------------------------------------

    def export_state(self) -> str:
        """The rate-limit counts (JSON, ABI.md §Rate-limit state), to carry into another client with ``import_state``."""
        try:
            with self._lock:
                state: str = self._call(self._engine.export_state)
                return state
        finally:
            self._flush()

    def import_state(self, state: str | Mapping[str, Any]) -> None:
        """Adds exported counts to the limits in force with the same identity.
        Raises ``WardenError`` ``ERR_STATE_INVALID`` on malformed state (nothing changes)."""
        text = state if isinstance(state, str) else json.dumps(state)
        try:
            with self._lock:
                self._call(lambda: self._engine.import_state(text))
        finally:
            self._flush()

    # -- traps ------------------------------------------------------------------

    def _call(self, f: Callable[[], Any]) -> Any:
        """Runs an engine call; a trap makes a fresh instance, and the call is retried once."""
        try:
            return f()
        except TRAPS as e:
            self._recover(e)
            return f()

    def _recover(self, error: BaseException) -> None:
        """Replaces a trapped instance (ABI.md §Traps): a new one with the policies in
        force and, if the old one can still export them, the rate-limit counts."""
        try:
            state: str | None = self._engine.export_state()
        except Exception:
            state = None
        fresh = EngineInstance()
        if self._policies is not None:
            ok, result = fresh.load(self._policies)
            if not ok:
                raise WardenError("ERR_ENGINE", "the policies in force no longer load into a fresh engine", result.get("errors"))
        counts_carried = False
        if state is not None:
            try:
                fresh.import_state(state)
                counts_carried = True
            except WardenError:
                counts_carried = False
        self._engine = fresh
        logger.warning("warden: the engine trapped (%s); a fresh instance took over, rate-limit counts %s", error,
                       "carried over" if counts_carried else "lost")
        self._pending.append(("recovered", RecoveredEvent(error, counts_carried)))

    # -- events -------------------------------------------------------------------

    def on(self, event: EventName, listener: Callable[[Any], None]) -> Callable[[], None]:
        """Listens for ``"update"`` (a bundle loaded: ``BundleUpdate``), ``"error"``
        (a bundle refused or a fetch failed, the bundle in force stays:
        ``BundleErrorEvent``), ``"recovered"`` (the engine trapped and a fresh
        instance took over: ``RecoveredEvent``), ``"alert"`` (a decision whose
        rule has ``alert: true``: its audit record, a dict) or ``"audit_error"``
        (the audit sink or an alert listener raised: ``AuditErrorEvent``);
        returns a function that stops. Listeners run on the thread that caused
        the event (the poller's, for bundles); an exception in one is logged,
        never raised (in an alert listener, it is an ``"audit_error"`` event)."""
        if event not in self._listeners:
            raise ValueError(f"unknown event {event!r}: use 'recovered', 'update', 'error', 'alert' or 'audit_error'")
        listeners = self._listeners[event]
        listeners.append(listener)
        if event == "alert":
            self._observe()

        def stop() -> None:
            if listener in listeners:
                listeners.remove(listener)

        return stop

    def _observe(self) -> None:
        """From now on every decision of ``check`` and ``check_request`` (and so
        of ``enforce`` and ``authorize``) is observed: recorded and alerted as
        its policies say. The methods are wrapped on this instance only, so a
        client that never audits runs the very same ``check`` as before."""
        if self._observing:
            return
        self._observing = True
        check = self.check
        check_request = self.check_request

        def observed_check(
            action: str, resource: str = "", context: Mapping[str, Any] | None = None, agent: Agent | None = None,
            time: str | datetime | float | None = None,
        ) -> Decision:
            state = self._audit_state
            d = check(action, resource, context, agent, time)
            # A resource of "" (the default) is none.
            self._observed(d, action, resource or None, context, agent, time, state)
            return d

        def observed_check_request(request: Mapping[str, Any] | str | bytes) -> Decision:
            state = self._audit_state
            # JSON text is read once: check_request is handed the object it holds (the same decision).
            r, _ = self._request_form(request)
            d = check_request(r if isinstance(r, dict) else request)
            r = r if isinstance(r, dict) else {}
            self._observed(d, r.get("action"), r.get("resource"), r.get("context"), r.get("agent"), r.get("time"), state)
            return d

        self.check = observed_check  # type: ignore[method-assign]
        self.check_request = observed_check_request  # type: ignore[method-assign]

    def _observed(
        self, d: Decision, action: Any, resource: Any, context: Any, agent: Any, time: Any,
        state: tuple[dict[str, Any] | None, tuple[str, ...]],
    ) -> None:
        """Writes the decision's audit record and raises its alert, as the policies that decided it (``state``,
        taken before deciding) say; never raises."""
        meta, redacted = state
        try:
            sink = self._audit if self._audit is not None and is_recorded(d, meta) else None
            if sink is None and not d.alert:
                return
            record = audit_record(d, action, resource, context, agent, time, self._clock, redacted)
        except Exception:
            logger.exception("warden: an audit record could not be made")
            return
        if d.alert:
            for listener in list(self._listeners["alert"]):
                self._guarded(record, listener)
        if sink is not None:
            self._guarded(record, sink)

    def _guarded(self, record: dict[str, Any], f: Callable[[dict[str, Any]], None]) -> None:
        """Runs an audit sink or alert listener: what it raises is an ``"audit_error"`` event (logged when none listens)."""
        try:
            f(record)
        except Exception as error:
            if self._listeners["audit_error"]:
                self._emit("audit_error", AuditErrorEvent(error, record))
            else:
                logger.warning("warden: an audit record was not written: %s", error)

    def _emit(self, event: EventName, value: Any) -> None:
        for listener in list(self._listeners[event]):
            try:
                listener(value)
            except Exception:
                logger.exception("warden: a %r listener raised", event)

    def _flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for event, value in pending:
            self._emit(event, value)

    # -- bundles (bundle-format.md) --------------------------------------------------

    def load_bundle(
        self,
        text: str | bytes,
        *,
        project: str,
        trusted_keys: Mapping[str, str],
        project_key: str | None = None,
        allow_plain: bool = False,
    ) -> LoadedBundle:
        """Loads a bundle file's text through every step of bundle-format.md
        §Loading, in order; raises a ``BundleError`` whose ``code`` is the
        step's (``ERR_BUNDLE_FORMAT`` … ``ERR_POLICY_INVALID``), and then nothing
        changes. Returns the version in force and whether it changed (a bundle
        with the version in force changes nothing)."""
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError:
                raise BundleError("ERR_BUNDLE_FORMAT", "the bundle is not UTF-8 text") from None
        return self._accept_bundle(text, BundleTrust(project, dict(trusted_keys), project_key, allow_plain), "direct")

    def _accept_bundle(self, text: str, trust: BundleTrust, source: BundleSource) -> LoadedBundle:
        with self._bundle_lock:
            opened = open_bundle(text, trust, self._version, self._highest)
            if opened == "unchanged":
                assert self._version is not None
                return LoadedBundle(self._version, False)
            version = opened.bundle.version
            # Step 7: the payload is {"policies": [...]} (the engine checks the rest) and every policy loads.
            if opened.payload.lstrip(b" \t\r\n")[:1] != b"{":
                raise BundleError("ERR_POLICY_INVALID", 'the payload must be a JSON object {"policies": [...]}')
            try:
                self.load(opened.payload, bundle_version=version)
            except PolicyInvalidError as e:
                raise BundleError("ERR_POLICY_INVALID", f"the bundle's policies do not load: {e.message}", e.errors) from None
            self._highest = max(self._highest, version)
            self._source = source
            self._loaded_at = datetime.now(timezone.utc)
        self._emit("update", BundleUpdate(version, source))
        return LoadedBundle(version, True)

    def _bundle_error(self, error: WardenError, source: BundleSource) -> None:
        self._emit("error", BundleErrorEvent(error, source))

    def _raise_floor(self, version: int) -> None:
        with self._bundle_lock:
            self._highest = max(self._highest, version)

    def refresh(self) -> BundleStatus:
        """Fetches the bundle now (a connected client); returns once it is loaded, refused or unreachable."""
        if self._client is None:
            raise WardenError("ERR_NOT_CONNECTED", "refresh needs a client made by Warden.connect")
        self._client.refresh()
        return self.status()

    def status(self) -> BundleStatus:
        """The bundle in force, where it came from, the last fetch and the last error."""
        client = self._client
        return BundleStatus(
            version=self._version, source=self._source, loaded_at=self._loaded_at, highest_version=self._highest,
            last_fetch=client.last_fetch if client else None, last_error=client.last_error if client else None,
        )

    def close(self) -> None:
        """Stops polling (a connected client). The bundle in force stays."""
        if self._client is not None:
            self._client.close()

    def __enter__(self) -> Warden:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- guarding functions ------------------------------------------------------------

    def guard(
        self,
        action: str,
        resource: str = "{name}",
        *,
        context: Callable[[dict[str, Any]], Mapping[str, Any]] | None = None,
        agent: Agent | Callable[[], Agent | None] | None = None,
    ) -> Callable[[F], F]:
        """A decorator that enforces a check before each call of a function
        (sync or async); a decision that is not an allow raises
        ``PolicyViolationError`` and the function does not run.

        ``action`` and ``resource`` are ``str.format`` templates over the
        function's ``name``, ``qualname`` and ``module`` and its arguments by
        parameter name (defaults applied). The context is the arguments (a
        leading ``self`` or ``cls`` left out, ``**kwargs`` merged in), unless
        ``context`` maps them to another; ``agent`` is an agent or a function
        that returns the current one.

        >>> @warden.guard("tool.call", "tool/{name}")          # doctest: +SKIP
        ... def issue_refund(order_id: str, amount: float) -> None: ...
        >>> issue_refund("ord_1", amount=20)                    # doctest: +SKIP
        """
        from ._guard import guarded

        def decorate(f: F) -> F:
            wrapper: F = guarded(self, f, action, resource, context, agent)
            return wrapper

        return decorate

