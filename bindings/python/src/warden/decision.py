"""What a check returns (policy-language.md §5, §6): frozen values, safe to
share between threads and requests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

Effect = Literal["allow", "deny", "escalate"]


class Agent(TypedDict, total=False):
    """The agent making a request (policy-language.md §4); each member optional."""

    id: str
    trust_level: str
    tags: Sequence[str]


@dataclass(frozen=True, slots=True)
class RateLimitRef:
    """A rate limit: its policy's index and its index in ``rate_limits``."""

    policy: int
    index: int


@dataclass(frozen=True, slots=True)
class RequestError:
    """Why a request could not be decided; the decision is then a deny."""

    code: Literal["ERR_REQUEST_INVALID", "ERR_ENGINE"]
    message: str


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to one request. ``check`` always returns one: an invalid
    request is a deny whose ``error`` says what is wrong.

    >>> d = warden.check("tool.call", "tool/issue_refund", {"amount": 600})  # doctest: +SKIP
    >>> d.allowed, d.effect, d.reason                                        # doctest: +SKIP
    (False, 'escalate', 'refunds over $500 need a person')
    """

    allowed: bool
    #: ``escalate``: not allowed now; a person may approve this one request.
    effect: Effect
    #: Index of the policy of the winning rule, or None when no rule won.
    policy: int | None
    policy_name: str | None
    #: Index of the winning rule in its policy, or None.
    rule: int | None
    rule_name: str | None
    #: The rule's own reason, the rate limit's, or a generated text (see ``reason_given``).
    reason: str
    #: Whether ``reason`` was written by the policy author (False: generated).
    reason_given: bool
    #: Paths whose values made conditions indeterminate, sorted by code point.
    indeterminate: tuple[str, ...]
    #: The rate limit that denied the request, if one did.
    rate_limit: RateLimitRef | None
    #: Version of the bundle in force, when the policies came from one.
    bundle_version: int | None
    #: Whether hosts write an audit record for this decision (the rule's ``log``).
    log: bool
    #: The only context paths that go into the audit record, when the rule names them.
    log_context: tuple[str, ...] | None
    #: Whether hosts raise an alert for this decision (the rule's ``alert``).
    alert: bool
    #: Set when the request was invalid (spec §1a) or the engine failed; the decision is then a deny.
    error: RequestError | None = None
    #: Who approved this escalated request (``Warden.authorize``, spec §8), when someone did; ``""`` when the approval named nobody.
    approved_by: str | None = None
    #: The request digest the approval was for.
    approval_digest: str | None = None


@dataclass(frozen=True)
class Explanation:
    """A decision and how it was reached (engine/ABI.md §The explanation):
    every policy, every rule of the applicable ones with what matched, the
    rate limits checked, and why the winner won, in words."""

    decision: Decision
    policies: list[dict[str, Any]]
    rules: list[dict[str, Any]]
    rate_limits: list[dict[str, Any]]
    why: str


@dataclass(frozen=True)
class RecoveredEvent:
    """Sent to ``on("recovered")`` listeners after the engine trapped and a
    fresh instance took over."""

    error: BaseException
    #: Whether the rate-limit counts were carried over to the new instance.
    counts_carried: bool
