"""Escalation approvals (policy-language.md §8): the request digest every
host computes byte for byte (RFC 8785 canonical JSON, then SHA-256), and
``authorize`` with an approval handler or a granted approval — what
packages/core's "escalation (§8)" tests pin, in Python."""

from __future__ import annotations

import asyncio
import contextvars
import enum
import hashlib
import json
import logging
import math
import random
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, cast

import pytest

from warden import (
    Agent,
    Approval,
    ApprovalRequest,
    Approvals,
    PolicyViolationError,
    Warden,
    canonical_json,
    request_digest,
)
from warden.approval import es_number

HERE = Path(__file__).resolve().parent

# No rate limit here, so that every refusal below is the escalation itself.
REFUNDS: list[dict[str, Any]] = [
    {
        "name": "refunds",
        "rules": [
            {"name": "lookups", "effect": "allow", "action": "tool.call", "resource": "tool/lookup_*"},
            {"name": "small", "effect": "allow", "action": "tool.call", "resource": "tool/issue_refund", "conditions": "context.amount <= 50"},
            {"name": "large", "effect": "escalate", "action": "tool.call", "resource": "tool/issue_refund",
             "conditions": "context.amount > 500", "reason": "refunds over $500 need a person"},
            {"effect": "deny", "action": "tool.call", "resource": "tool/delete_*"},
        ],
    }
]
REFUND = ("tool.call", "tool/issue_refund")
AT = "2026-03-05T10:00:00Z"
SHORT = 0.05


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Lets handlers that never answer finish once the test is over."""
    event = threading.Event()
    yield event
    event.set()


class TestCanonicalJson:
    def test_matches_the_typescript_host_byte_for_byte(self) -> None:
        request: dict[str, Any] = {
            "action": "tool.call", "resource": "tool/issue_refund",
            "context": {"ratio": 0.1, "note": "é€😀", "big": 1e21, "amount": 900, "nested": {"z": [1, 2.5, "x"], "a": None}},
            "agent": {"trust_level": "elevated", "id": "bot"},
        }
        assert canonical_json(request) == (
            '{"action":"tool.call","agent":{"id":"bot","trust_level":"elevated"},"context":{"amount":900,"big":1e+21,'
            '"nested":{"a":null,"z":[1,2.5,"x"]},"note":"é€😀","ratio":0.1},"resource":"tool/issue_refund"}'
        )
        digest = request_digest(request["action"], request["resource"], request["context"], request["agent"])
        assert digest == "e27fe48a6ce392cbf91fc5d7c12adac5f120f6c2b817c9925087ce7ce8244ffc"
        assert request_digest("a") == "44cb5c6b1e133466d226187045f4cdee8a4fcb9f05855d6ffd764528ccbb1eea"
        assert request_digest("a") == sha256('{"action":"a","agent":null,"context":{},"resource":""}')

    def test_canonicalises_as_packages_core_does(self) -> None:
        # packages/core/src/warden.test.ts, "canonicalises requests as RFC 8785 does".
        value = {"b": [1, 1e21, 0.1, -0.0, "é\u2028"], "a": {"z": None, "\u20ac": True, "\U0001F600": 1, "\ufb33": 2}}
        assert canonical_json(value) == '{"a":{"z":null,"\u20ac":true,"\U0001F600":1,"\ufb33":2},"b":[1,1e+21,0.1,0,"é\u2028"]}'
        agent = cast(Agent, {"trust": 2, "id": "bot"})
        assert request_digest(*REFUND, {"amount": 900}, agent) == sha256(
            '{"action":"tool.call","agent":{"id":"bot","trust":2},"context":{"amount":900},"resource":"tool/issue_refund"}'
        )

    def test_sorts_member_names_by_utf16_code_units_not_code_points(self) -> None:
        # U+1F600 is the surrogates D83D DE00 in UTF-16, below U+FB33 there; by code point it is above.
        assert canonical_json({"\ufb33": 1, "\U0001F600": 2}) == '{"\U0001F600":2,"\ufb33":1}'
        assert sorted(["\ufb33", "\U0001F600"]) == ["\ufb33", "\U0001F600"]
        names = ["", "a", "aa", "b", "A", "\x7f", "\u00e9", "\u20ac", "\ue000", "\uffff", "\U00010000", "\U0001F600", "\U0010FFFF"]

        def code_units(name: str) -> list[int]:
            b = name.encode("utf-16-be")
            return [int.from_bytes(b[i:i + 2], "big") for i in range(0, len(b), 2)]

        shuffled = names[:]
        random.Random(3).shuffle(shuffled)
        order = list(json.loads(canonical_json(dict.fromkeys(shuffled, 0))))
        assert order == sorted(names, key=code_units)
        assert order.index("\U0010FFFF") < order.index("\ue000") < order.index("\uffff")

    def test_escapes_strings_as_json_stringify_does(self) -> None:
        # node: JSON.stringify of each string.
        assert canonical_json(["\u2028\u007f\u0000\u001f\b\t\n\f\r\"\\/", "\ud800"]) == (
            '["\u2028\u007f\\u0000\\u001f\\b\\t\\n\\f\\r\\"\\\\/","\\ud800"]'
        )
        controls = "".join(map(chr, range(0x20)))
        assert canonical_json(controls) == '"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r' + "".join(
            f"\\u{c:04x}" for c in range(0x0e, 0x20)
        ) + '"'
        # Without lone surrogates, the same as the json module's text without ASCII escapes.
        rnd = random.Random(8785)
        alphabet = [chr(c) for c in (*range(0x80), 0xe9, 0x2028, 0x20ac, 0xfeff, 0xffff, 0x1f600, 0x10ffff)]
        for _ in range(200):
            s = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 12)))
            assert canonical_json(s) == json.dumps(s, ensure_ascii=False)
            text = json.dumps(s, ensure_ascii=False)
            assert canonical_json({s: [s]}) == "{" + text + ":[" + text + "]}"

    def test_writes_numbers_as_ecmascript_does(self) -> None:
        vectors = json.loads((HERE / "es_numbers.json").read_text(encoding="utf-8"))["vectors"]
        assert len(vectors) > 400
        for source, expected in vectors:
            assert es_number(float(source)) == expected, source
            assert canonical_json(float(source)) == expected
        # The boundaries where ECMAScript switches to exponents.
        assert [canonical_json(x) for x in (1e21, 1e20, 999999999999999900000.0, 1e-7, 1e-6, 1.5e-7, 0.0000015)] == [
            "1e+21", "100000000000000000000", "999999999999999900000", "1e-7", "0.000001", "1.5e-7", "0.0000015",
        ]
        assert [canonical_json(x) for x in (900.0, 0.1, -0.0, 5e-324, -1.7976931348623157e308, 2.5e-8, 1.25e30)] == [
            "900", "0.1", "0", "5e-324", "-1.7976931348623157e+308", "2.5e-8", "1.25e+30",
        ]

    def test_reads_python_values_as_requests_are_read(self) -> None:
        # Integers are doubles: beyond 2^53 the nearest one, beyond the doubles null; NaN and infinities null.
        assert canonical_json([900, 2**53 + 1, 123456789012345678901, 10**400, -(10**400)]) == (
            "[900,9007199254740992,123456789012345680000,null,null]"
        )
        assert canonical_json([math.nan, math.inf, -math.inf, True, False, None]) == "[null,null,null,true,false,null]"
        assert canonical_json((1, (2, "x"), [])) == '[1,[2,"x"],[]]'
        assert canonical_json({}) == "{}"
        # Member names as json.dumps writes dict keys; a later duplicate wins, as the engine sees it.
        assert canonical_json({2: "a", 2.5: "b", True: "c", None: "d", "x": {}}) == '{"2":"a","2.5":"b","null":"d","true":"c","x":{}}'
        assert canonical_json({1: "a", "1": "b"}) == '{"1":"b"}'

        class Level(enum.IntEnum):
            HIGH = 3

        class Color(str, enum.Enum):
            RED = "red"

        assert canonical_json({"level": Level.HIGH, "color": Color.RED, Color.RED: 1.5}) == '{"color":"red","level":3,"red":1.5}'
        for bad in ({1, 2}, b"bytes", object(), datetime(2026, 1, 1, tzinfo=timezone.utc), {(1, 2): "tuple key"}):
            with pytest.raises(TypeError):
                canonical_json(bad)

    def test_digests_the_request_with_its_defaults(self) -> None:
        bare = sha256('{"action":"tool.call","agent":null,"context":{},"resource":""}')
        assert request_digest("tool.call") == request_digest("tool.call", "", None, None) == request_digest("tool.call", None, {}) == bare
        assert request_digest(*REFUND, {"amount": 900}) != request_digest(*REFUND, {"amount": 900.5})
        assert request_digest(*REFUND, {"amount": 900}) == request_digest(*REFUND, {"amount": 900.0})
        assert request_digest(*REFUND, {"a": 1, "b": 2}) == request_digest(*REFUND, {"b": 2, "a": 1})
        assert request_digest(*REFUND, agent={"id": "bot"}) != request_digest(*REFUND)


def approving(asked: list[ApprovalRequest], approver: str | None = "ana@example.com") -> Callable[[ApprovalRequest], Approval]:
    def handler(request: ApprovalRequest) -> Approval:
        asked.append(request)
        return Approval(approved=True, approver=approver)

    return handler


class TestAuthorize:
    def test_asks_the_handler_allows_an_approved_request_and_names_the_approver(self) -> None:
        asked: list[ApprovalRequest] = []
        w = Warden.from_policies(REFUNDS, approvals=Approvals(approving(asked)))
        d = w.authorize(*REFUND, {"amount": 900}, {"id": "bot"}, AT)
        digest = request_digest(*REFUND, {"amount": 900}, {"id": "bot"})
        assert (d.allowed, d.effect, d.rule, d.rule_name, d.reason) == (True, "escalate", 2, "large", "refunds over $500 need a person")
        assert (d.approved_by, d.approval_digest) == ("ana@example.com", digest)
        assert len(asked) == 1
        r = asked[0]
        assert (r.action, r.resource, r.context, r.agent, r.digest) == (*REFUND, {"amount": 900}, {"id": "bot"}, digest)
        assert (r.decision.allowed, r.decision.effect, r.decision.approved_by) == (False, "escalate", None)
        # An allowed request is not escalated; a denied one is not asked about.
        allowed = w.authorize("tool.call", "tool/lookup_order")
        assert (allowed.allowed, allowed.approved_by, allowed.approval_digest) == (True, None, None)
        with pytest.raises(PolicyViolationError) as denied:
            w.authorize("tool.call", "tool/delete_account")
        assert denied.value.decision.effect == "deny"
        assert len(asked) == 1
        # Each escalation is asked about again: an approval is for one request, once.
        w.authorize(*REFUND, {"amount": 900}, {"id": "bot"})
        assert len(asked) == 2
        # check and enforce are as they were: an escalation is not allowed.
        assert w.check(*REFUND, {"amount": 900}).allowed is False
        with pytest.raises(PolicyViolationError):
            w.enforce(*REFUND, {"amount": 900})
        assert len(asked) == 2

    def test_the_digest_leaves_out_the_time_and_the_defaults(self) -> None:
        asked: list[ApprovalRequest] = []
        w = Warden.from_policies(REFUNDS, approvals=Approvals(approving(asked, approver=None)))
        d = w.authorize(*REFUND, {"amount": 600}, time=datetime(2026, 3, 5, tzinfo=timezone.utc))
        assert (d.approved_by, d.approval_digest) == ("", request_digest(*REFUND, {"amount": 600}))
        assert (asked[0].context, asked[0].agent) == ({"amount": 600}, None)

    def test_runs_the_handler_on_a_thread_with_the_callers_context_variables(self) -> None:
        user: contextvars.ContextVar[str] = contextvars.ContextVar("user", default="nobody")
        seen: list[tuple[str, bool]] = []

        def handler(request: ApprovalRequest) -> Approval:
            seen.append((user.get(), threading.current_thread() is threading.main_thread()))
            return Approval(True, user.get())

        w = Warden.from_policies(REFUNDS, approvals=Approvals(handler))
        user.set("ops@example.com")
        assert w.authorize(*REFUND, {"amount": 900}).approved_by == "ops@example.com"
        assert seen == [("ops@example.com", False)]

    def test_takes_an_async_handler(self) -> None:
        async def handler(request: ApprovalRequest) -> Approval:
            await asyncio.sleep(0)
            return Approval(True, "bot-approver")

        w = Warden.from_policies(REFUNDS, approvals=Approvals(handler))
        assert w.authorize(*REFUND, {"amount": 900}).approved_by == "bot-approver"

    @pytest.mark.parametrize("answer", ["rejects", "raises", "never answers", "answers True", "answers a dict", "async, never answers"])
    def test_treats_anything_but_an_approval_in_time_as_a_refusal(self, answer: str, release: threading.Event, caplog: pytest.LogCaptureFixture) -> None:
        def handler(request: ApprovalRequest) -> Any:
            if answer == "rejects":
                return Approval(approved=False, approver="ana@example.com")
            if answer == "raises":
                raise ConnectionError("chat is down")
            if answer == "never answers":
                release.wait(10)
                return Approval(True, "too late")
            if answer == "answers True":
                return True
            return {"approved": True, "approver": "ana@example.com"}

        async def never(request: ApprovalRequest) -> Approval:
            await asyncio.Event().wait()
            return Approval(True, "never")

        w = Warden.from_policies(REFUNDS, approvals=Approvals(never if answer.startswith("async") else handler, timeout=SHORT))
        with caplog.at_level(logging.WARNING, logger="warden"), pytest.raises(PolicyViolationError) as refused:
            w.authorize(*REFUND, {"amount": 900})
        d = refused.value.decision
        assert (d.allowed, d.effect, d.rule, d.approved_by, d.approval_digest) == (False, "escalate", 2, None, None)
        assert str(refused.value) == "escalation required: refunds over $500 need a person"
        if answer != "rejects":
            assert "so the request is rejected" in caplog.text

    def test_ignores_an_answer_that_comes_too_late(self, release: threading.Event) -> None:
        answered = threading.Event()
        calls: list[int] = []

        def handler(request: ApprovalRequest) -> Approval:
            calls.append(1)
            if len(calls) == 1:
                release.wait(10)
                answered.set()
                return Approval(True, "too late")
            return Approval(False)

        w = Warden.from_policies(REFUNDS, approvals=Approvals(handler, timeout=SHORT))
        with pytest.raises(PolicyViolationError):
            w.authorize(*REFUND, {"amount": 900})
        release.set()
        assert answered.wait(5)
        # The late approval is not kept for the next request with that digest.
        with pytest.raises(PolicyViolationError):
            w.authorize(*REFUND, {"amount": 900})
        assert len(calls) == 2

    def test_refuses_without_a_handler(self) -> None:
        w = Warden.from_policies(REFUNDS)
        with pytest.raises(PolicyViolationError) as refused:
            w.authorize(*REFUND, {"amount": 900})
        assert refused.value.decision.effect == "escalate"
        with pytest.raises(PolicyViolationError):
            w.enforce(*REFUND, {"amount": 900})

    def test_lets_a_granted_approval_through_once_for_that_digest_only(self) -> None:
        w = Warden.from_policies(REFUNDS)
        digest = request_digest(*REFUND, {"amount": 900})
        w.grant_approval(digest, "ops")
        with pytest.raises(PolicyViolationError):
            w.authorize(*REFUND, {"amount": 901})
        with pytest.raises(PolicyViolationError):
            w.authorize(*REFUND, {"amount": 900}, {"id": "bot"})
        d = w.authorize(*REFUND, {"amount": 900})
        assert (d.allowed, d.effect, d.approved_by, d.approval_digest) == (True, "escalate", "ops", digest)
        with pytest.raises(PolicyViolationError) as again:
            w.authorize(*REFUND, {"amount": 900})
        assert again.value.decision.effect == "escalate"

    def test_a_grant_comes_before_the_handler(self) -> None:
        asked: list[ApprovalRequest] = []
        w = Warden.from_policies(REFUNDS, approvals=Approvals(approving(asked)))
        w.grant_approval(request_digest(*REFUND, {"amount": 900}).upper(), "ops")
        assert w.authorize(*REFUND, {"amount": 900}).approved_by == "ops"
        assert asked == []
        assert w.authorize(*REFUND, {"amount": 900}).approved_by == "ana@example.com"
        assert len(asked) == 1

    def test_a_grant_does_not_allow_a_denial(self) -> None:
        w = Warden.from_policies(REFUNDS)
        w.grant_approval(request_digest("tool.call", "tool/delete_account"), "ops")
        with pytest.raises(PolicyViolationError) as denied:
            w.authorize("tool.call", "tool/delete_account")
        assert denied.value.decision.effect == "deny"

    def test_checks_its_options(self) -> None:
        with pytest.raises(ValueError, match="64 hex digits"):
            Warden().grant_approval("abc", "ops")
        with pytest.raises(TypeError):
            Warden().grant_approval("0" * 64, None)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="Approvals"):
            Warden(approvals=lambda r: Approval(True))  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            Approvals(42)  # type: ignore[arg-type]
        for timeout in (0, -1, math.inf, math.nan, True):
            with pytest.raises(ValueError):
                Approvals(lambda r: Approval(True), timeout=timeout)
        with pytest.raises(TypeError):
            Approval("yes")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            Approval(True, 7)  # type: ignore[arg-type]
        assert Approvals(lambda r: Approval(True)).timeout == 300.0

    def test_every_way_of_making_a_client_takes_approvals(self, tmp_path: Path) -> None:
        path = tmp_path / "refunds.json"
        path.write_text(json.dumps(REFUNDS), encoding="utf-8")
        approvals = Approvals(lambda r: Approval(True, "file"))
        assert Warden.from_file(path, approvals=approvals).authorize(*REFUND, {"amount": 900}).approved_by == "file"
        w = Warden(approvals=approvals)
        w.load(REFUNDS)
        assert w.authorize(*REFUND, {"amount": 900}).approved_by == "file"


class TestAuthorizeAsync:
    def test_awaits_an_async_handler_on_the_loop(self) -> None:
        async def handler(request: ApprovalRequest) -> Approval:
            loops.append(asyncio.get_running_loop())
            return Approval(True, "async")

        loops: list[asyncio.AbstractEventLoop] = []
        w = Warden.from_policies(REFUNDS, approvals=Approvals(handler))

        async def main() -> None:
            d = await w.authorize_async(*REFUND, {"amount": 900})
            assert (d.allowed, d.approved_by, d.approval_digest) == (True, "async", request_digest(*REFUND, {"amount": 900}))
            assert loops == [asyncio.get_running_loop()]
            assert (await w.authorize_async("tool.call", "tool/lookup_order")).approved_by is None
            with pytest.raises(PolicyViolationError):
                await w.authorize_async("tool.call", "tool/delete_account")
            assert len(loops) == 1

        asyncio.run(main())

    def test_runs_a_plain_handler_on_a_thread(self) -> None:
        threads: list[threading.Thread] = []

        def handler(request: ApprovalRequest) -> Approval:
            threads.append(threading.current_thread())
            return Approval(True, "plain")

        w = Warden.from_policies(REFUNDS, approvals=Approvals(handler))
        assert asyncio.run(w.authorize_async(*REFUND, {"amount": 900})).approved_by == "plain"
        assert threads[0] is not threading.main_thread()

    def test_takes_an_object_whose_call_is_async(self) -> None:
        class Desk:
            async def __call__(self, request: ApprovalRequest) -> Approval:
                return Approval(True, "desk")

        w = Warden.from_policies(REFUNDS, approvals=Approvals(Desk()))
        assert asyncio.run(w.authorize_async(*REFUND, {"amount": 900})).approved_by == "desk"
        assert w.authorize(*REFUND, {"amount": 900}).approved_by == "desk"

    @pytest.mark.parametrize("kind", ["async", "plain"])
    def test_refuses_when_no_answer_comes_in_time(self, kind: str, release: threading.Event) -> None:
        cancelled: list[bool] = []

        async def never_async(request: ApprovalRequest) -> Approval:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append(True)
                raise
            return Approval(True, "never")

        def never_plain(request: ApprovalRequest) -> Approval:
            release.wait(10)
            return Approval(True, "too late")

        w = Warden.from_policies(REFUNDS, approvals=Approvals(never_async if kind == "async" else never_plain, timeout=SHORT))

        async def main() -> None:
            with pytest.raises(PolicyViolationError) as refused:
                await w.authorize_async(*REFUND, {"amount": 900})
            assert refused.value.decision.effect == "escalate"

        asyncio.run(main())
        assert cancelled == ([True] if kind == "async" else [])

    def test_refuses_a_failing_handler_and_honours_grants(self) -> None:
        async def failing(request: ApprovalRequest) -> Approval:
            raise ConnectionError("chat is down")

        w = Warden.from_policies(REFUNDS, approvals=Approvals(failing))

        async def main() -> None:
            with pytest.raises(PolicyViolationError):
                await w.authorize_async(*REFUND, {"amount": 900})
            w.grant_approval(request_digest(*REFUND, {"amount": 900}), "ops")
            assert (await w.authorize_async(*REFUND, {"amount": 900})).approved_by == "ops"

        asyncio.run(main())
