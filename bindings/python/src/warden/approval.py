"""Escalation (policy-language.md §8): a decision whose effect is ``escalate``
is not allowed, but a person may approve that one request. ``Warden.authorize``
asks through the approval handler the client was given; an approval allows
the request with that digest once. The engine only decides; approvals live
here, as in ``@warden/core``'s ``approval.ts``.

The digest of a request is the SHA-256, in hex, of the RFC 8785 (JSON
Canonicalization Scheme) text of ``{action, resource, context, agent}``, the
same bytes in every host:

>>> canonical_json({"b": [1, 1e21, 0.1, -0.0, 900.0], "a": {"z": None, "é": True}})
'{"a":{"z":null,"é":true},"b":[1,1e+21,0.1,0,900]}'
>>> request_digest("a")
'44cb5c6b1e133466d226187045f4cdee8a4fcb9f05855d6ffd764528ccbb1eea'
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import inspect
import logging
import math
import re
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias, cast

from ._engine_host import InvalidRequest, json_name
from .decision import Agent, Decision

logger = logging.getLogger("warden")

#: How long a handler may take to answer when ``Approvals`` is not told: 5 minutes, as in the other hosts.
DEFAULT_TIMEOUT = 300.0

# ---------------------------------------------------------------------------
# RFC 8785 canonical JSON

# What ECMAScript's JSON.stringify escapes: the quote, the backslash, the
# controls, and surrogates (a Python str holds them only unpaired).
_ESCAPED = re.compile('["\\\\\x00-\x1f\ud800-\udfff]')
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    c = match.group()
    return _SHORT_ESCAPES.get(c) or f"\\u{ord(c):04x}"


def _string(s: str) -> str:
    return '"' + _ESCAPED.sub(_escape, s) + '"'


def es_number(x: float) -> str:
    """A finite double as ECMAScript's ``Number.prototype.toString`` writes it
    (RFC 8785 §3.2.2.3): the shortest digits that read back as ``x`` (which
    ``repr`` finds), placed as ECMA-262 §6.1.6.1.20 says. NaN and infinities
    are ``null``, as the json module's values are sent to the engine."""
    if not math.isfinite(x):
        return "null"
    if x == 0:
        return "0"
    if x < 0:
        return "-" + es_number(-x)
    mantissa, _, exponent = float.__repr__(x).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    # x is 0.digits × 10^n; then drop the zeros that carry no digit.
    n = len(whole) + (int(exponent) if exponent else 0)
    significant = digits.lstrip("0")
    n -= len(digits) - len(significant)
    digits = significant.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    e = n - 1
    return f"{digits[0]}{'.' + digits[1:] if k > 1 else ''}e{'+' if e >= 0 else '-'}{abs(e)}"


def _number(v: float) -> str:
    try:
        # An integer beyond 2^53 is the nearest double, as the engine sees it; beyond the doubles, null.
        f = float(v)
    except OverflowError:
        return "null"
    return es_number(f)


def _utf16(name: str) -> bytes:
    """The sort key of a member name: its UTF-16 code units (big-endian bytes compare as the units do)."""
    return name.encode("utf-16-be", "surrogatepass")


def _write(v: Any, out: list[str]) -> None:
    t = type(v)
    if t is str:
        out.append(_string(v))
    elif v is None:
        out.append("null")
    elif t is bool:
        out.append("true" if v else "false")
    elif t is int or t is float:
        out.append(_number(v))
    elif isinstance(v, dict):
        members: dict[str, Any] = {}
        for key, e in v.items():
            try:
                name = key if type(key) is str else json_name(key)
            except InvalidRequest as error:
                raise TypeError(str(error)) from None
            members[name] = e  # a later duplicate wins, as in a JSON reader and as the engine sees it
        out.append("{")
        for i, name in enumerate(sorted(members, key=_utf16)):
            if i:
                out.append(",")
            out.append(_string(name))
            out.append(":")
            _write(members[name], out)
        out.append("}")
    elif isinstance(v, (list, tuple)):
        out.append("[")
        for i, e in enumerate(v):
            if i:
                out.append(",")
            _write(e, out)
        out.append("]")
    elif isinstance(v, str):
        out.append(_string(str.__str__(v)))
    elif isinstance(v, (int, float)):
        out.append(_number(v))
    else:
        raise TypeError(f"a value of type `{t.__name__}` has no JSON form")


def canonical_json(value: Any) -> str:
    """The RFC 8785 (JSON Canonicalization Scheme) text of a JSON value, as
    the other hosts write it: object members sorted by the UTF-16 code units
    of their names, no whitespace, strings escaped as ECMAScript's
    ``JSON.stringify`` does (``"``, ``\\``, controls; the rest as it is),
    numbers as ECMAScript writes them (``900.0`` → ``900``, ``1e21`` →
    ``1e+21``).

    Values are read as the client reads requests (policy-language.md §1a):
    dict keys that are ``int``, ``float``, ``bool`` or ``None`` are their JSON
    text, tuples are arrays, NaN and infinities are ``null``, integers beyond
    2^53 the nearest double. Anything the json module cannot write raises
    ``TypeError``. A lone surrogate is written ``\\udXXX``, as ECMAScript does.
    """
    out: list[str] = []
    _write(value, out)
    return "".join(out)


def request_digest(action: str, resource: str | None = "", context: Mapping[str, Any] | None = None, agent: Agent | None = None) -> str:
    """The digest of a request (policy-language.md §8): SHA-256, hex, of the
    canonical JSON of ``{action, resource, context, agent}`` (``resource``
    ``""``, ``context`` ``{}`` and ``agent`` ``null`` when absent). The time
    is not part of it."""
    text = canonical_json({
        "action": action,
        "resource": "" if resource is None else resource,
        "context": {} if context is None else context,
        "agent": agent,
    })
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------
# Approvals


@dataclass(frozen=True, slots=True)
class Approval:
    """A handler's answer: approved or not, and who decided."""

    approved: bool
    #: Who approved (an e-mail, a user name); the decision's ``approved_by`` (``""`` when None).
    approver: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.approved, bool):
            raise TypeError(f"Approval.approved must be a bool, not {type(self.approved).__name__}")
        if self.approver is not None and not isinstance(self.approver, str):
            raise TypeError(f"Approval.approver must be a str or None, not {type(self.approver).__name__}")


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """What an approval handler is asked (policy-language.md §8)."""

    action: str
    resource: str
    context: Mapping[str, Any]
    agent: Agent | None
    #: The escalated decision.
    decision: Decision
    #: SHA-256, hex, of the canonical JSON of {action, resource, context, agent}.
    digest: str


#: Asks a person (a ticket, a chat message, a web page) and answers with an
#: ``Approval``; a plain function or an ``async`` one.
ApprovalHandler: TypeAlias = Callable[[ApprovalRequest], "Approval | Awaitable[Approval]"]


@dataclass(frozen=True, slots=True)
class Approvals:
    """Who approves escalated requests in ``Warden.authorize``, and how many
    seconds an answer may take (default 300). An answer that does not come in
    time, an exception, or anything but an ``Approval`` is a rejection."""

    handler: ApprovalHandler
    timeout: float = DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        if not callable(self.handler):
            raise TypeError("Approvals.handler must be callable: it is given an ApprovalRequest and answers an Approval")
        t = self.timeout
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not (0 < t < math.inf):
            raise ValueError(f"Approvals.timeout must be a positive, finite number of seconds, not {t!r}")


def _is_async(handler: Any) -> bool:
    """Whether calling the handler makes a coroutine (an ``async def``, or an object whose ``__call__`` is one)."""
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(type(handler).__call__)


def _answer(handler: ApprovalHandler, request: ApprovalRequest, timeout: float) -> Any:
    """The handler's answer, awaited (within ``timeout``) when it is awaitable."""
    answer = handler(request)
    if inspect.isawaitable(answer):
        awaitable = answer

        async def bounded() -> Any:
            return await asyncio.wait_for(awaitable, timeout)

        answer = asyncio.run(bounded())
    return answer


def _in_thread(approvals: Approvals, request: ApprovalRequest, settle: Callable[[Any, BaseException | None], None]) -> None:
    """Runs the handler on a daemon thread of its own (with the caller's context
    variables); ``settle`` gets its answer or its exception. A handler that
    never returns leaves that thread waiting; its answer is then ignored."""
    context = contextvars.copy_context()

    def run() -> None:
        try:
            answer = context.run(_answer, approvals.handler, request, approvals.timeout)
        except BaseException as e:  # noqa: BLE001 — any failure of the handler is a rejection
            settle(None, e)
        else:
            settle(answer, None)

    threading.Thread(target=run, name="warden-approval", daemon=True).start()


def _approver(answer: Any, error: BaseException | None, timeout: float | None) -> str | None:
    """Who approved, or None for a rejection (logged unless it was an answer)."""
    if timeout is not None:
        logger.warning("warden: the approval handler did not answer within %g s, so the request is rejected", timeout)
        return None
    if error is not None:
        if isinstance(error, (TimeoutError, asyncio.TimeoutError)):
            logger.warning("warden: the approval handler did not answer in time, so the request is rejected")
        else:
            logger.warning("warden: the approval handler raised, so the request is rejected", exc_info=error)
        return None
    if not isinstance(answer, Approval):
        logger.warning("warden: the approval handler answered %r, not an Approval, so the request is rejected", answer)
        return None
    if not answer.approved:
        return None
    return answer.approver if answer.approver is not None else ""


def ask(approvals: Approvals, request: ApprovalRequest) -> str | None:
    """Asks the handler and waits at most its timeout; who approved, or None."""
    done = threading.Event()
    result: list[tuple[Any, BaseException | None]] = []

    def settle(answer: Any, error: BaseException | None) -> None:
        result.append((answer, error))
        done.set()

    _in_thread(approvals, request, settle)
    if not done.wait(min(approvals.timeout, threading.TIMEOUT_MAX)):
        return _approver(None, None, approvals.timeout)
    answer, error = result[0]
    return _approver(answer, error, None)


async def ask_async(approvals: Approvals, request: ApprovalRequest) -> str | None:
    """``ask`` for a running event loop: an ``async`` handler is awaited on it
    (cancelled when the timeout passes); a plain one runs on a thread of its
    own, so the loop never waits on it."""
    timeout = approvals.timeout
    error: BaseException | None = None
    try:
        if _is_async(approvals.handler):
            answer = await asyncio.wait_for(cast("Awaitable[Any]", approvals.handler(request)), timeout)
        else:
            loop = asyncio.get_running_loop()
            future: asyncio.Future[tuple[Any, BaseException | None]] = loop.create_future()

            def settled(outcome: tuple[Any, BaseException | None]) -> None:
                if not future.done():
                    future.set_result(outcome)

            def settle(answer: Any, error: BaseException | None) -> None:
                try:
                    loop.call_soon_threadsafe(settled, (answer, error))
                except RuntimeError:  # the loop has closed: nobody waits for this answer
                    pass

            _in_thread(approvals, request, settle)
            answer, error = await asyncio.wait_for(future, timeout)
    except asyncio.TimeoutError:
        return _approver(None, None, timeout)
    except Exception as e:  # noqa: BLE001 — any failure of the handler is a rejection
        return _approver(None, e, None)
    return _approver(answer, error, None)
