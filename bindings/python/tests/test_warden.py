"""The Warden client through its public API: decisions, escalation, requests
as Python values, time, interning, loading, explaining, rate-limit state and
recovery from a trap — what packages/core's tests pin, in Python."""

from __future__ import annotations

import enum
import json
import math
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from warden import (
    Decision,
    PolicyInvalidError,
    PolicyViolationError,
    RateLimitRef,
    RecoveredEvent,
    Warden,
    WardenError,
    _engine_host,
)

REFUNDS: list[dict[str, Any]] = [
    {
        "name": "refunds",
        "rules": [
            {"name": "lookups", "effect": "allow", "action": "tool.call", "resource": "tool/lookup_*"},
            {"name": "small", "effect": "allow", "action": "tool.call", "resource": "tool/issue_refund", "conditions": "context.amount <= 50"},
            {"name": "large", "effect": "escalate", "action": "tool.call", "resource": "tool/issue_refund",
             "conditions": "context.amount > 500", "reason": "refunds over $500 need a person"},
            {"effect": "deny", "action": "tool.call", "resource": "tool/delete_*", "alert": True, "log_context": ["user.id"]},
        ],
        "rate_limits": [{"action": "tool.call", "resource": "tool/issue_refund", "limit": 2, "period": "1h", "scope": "agent"}],
    }
]
AT = "2026-03-05T10:00:00Z"


@pytest.fixture(params=["raw calls", "public calls"])
def calls(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a test through both ways of calling wasmtime's exports."""
    monkeypatch.setattr(_engine_host, "FAST_CALLS", request.param == "raw calls")
    return str(request.param)


class TestCheck:
    def test_returns_the_winning_rule_its_names_reason_and_flags(self) -> None:
        w = Warden.from_policies(REFUNDS)
        d = w.check("tool.call", "tool/delete_account", {"user": {"id": 7}})
        assert d == Decision(
            allowed=False, effect="deny", policy=0, policy_name="refunds", rule=3, rule_name=None,
            reason="denied by rule 3 of policy 0 (`refunds`)", reason_given=False, indeterminate=(), rate_limit=None,
            bundle_version=None, log=True, log_context=("user.id",), alert=True, error=None,
        )

    def test_tells_an_escalation_from_a_denial(self) -> None:
        w = Warden.from_policies(REFUNDS)
        agent = {"id": "bot"}
        d = w.check("tool.call", "tool/issue_refund", {"amount": 900}, agent)
        assert (d.allowed, d.effect, d.rule, d.reason, d.reason_given) == (False, "escalate", 2, "refunds over $500 need a person", True)
        with pytest.raises(PolicyViolationError) as caught:
            w.enforce("tool.call", "tool/issue_refund", {"amount": 900}, agent)
        assert caught.value.code == "ERR_POLICY_VIOLATION"
        assert caught.value.decision.effect == "escalate"
        assert str(caught.value) == "escalation required: refunds over $500 need a person"
        with pytest.raises(PolicyViolationError) as denied:
            w.enforce("tool.call", "tool/delete_account")
        assert denied.value.decision.effect == "deny"
        assert str(denied.value).startswith("denied: ")
        assert w.enforce("tool.call", "tool/lookup_order").allowed

    def test_denies_everything_before_policies_load(self) -> None:
        d = Warden().check("tool.call", "tool/lookup_order")
        assert (d.allowed, d.effect, d.policy, d.rule) == (False, "deny", None, None)
        assert d.reason == "no policies have loaded yet, so every request is denied"

    def test_decisions_are_frozen(self) -> None:
        d = Warden.from_policies(REFUNDS).check("tool.call", "tool/lookup_order")
        with pytest.raises(AttributeError):
            d.allowed = False  # type: ignore[misc]

    def test_decide_the_same_through_both_calling_paths(self, calls: str) -> None:
        w = Warden.from_policies(REFUNDS)
        assert w._engine.fast is (calls == "raw calls")
        assert w.check("tool.call", "tool/issue_refund", {"amount": 20}, {"id": "a"}, AT).allowed
        d = w.check("tool.call", "tool/issue_refund", {}, {"id": "a"}, AT)
        assert (d.effect, d.indeterminate) == ("escalate", ("context.amount",))


class TestValues:
    """Python values reach the engine as json.dumps would write them (policy-language.md §1a)."""

    def policies(self) -> Warden:
        return Warden.from_policies([{
            "rules": [
                {"effect": "allow", "action": "tuple", "conditions": "context.v == [1, 'a', true]"},
                {"effect": "allow", "action": "nan", "conditions": {"v": None}},
                {"effect": "allow", "action": "number", "conditions": "context.v == 5"},
                {"effect": "allow", "action": "big", "conditions": "context.v == 9007199254740992"},
                {"effect": "allow", "action": "bool", "conditions": "context.v == true"},
                {"effect": "allow", "action": "key", "conditions": {"m.7": "seven", "m.true": "t", "m.null": "n"}},
                {"effect": "allow", "action": "glob", "conditions": {"v": "1e+21"}},
            ],
        }])

    def test_tuples_are_arrays_and_nan_and_infinities_null(self) -> None:
        w = self.policies()
        assert w.check("tuple", context={"v": (1, "a", True)}).allowed
        assert w.check("nan", context={"v": math.nan}).allowed
        assert w.check("nan", context={"v": math.inf}).allowed
        assert w.check("nan", context={"v": -math.inf}).allowed
        assert not w.check("nan", context={"v": 0}).allowed

    def test_integers_are_numbers_and_bool_is_not(self) -> None:
        class Five(enum.IntEnum):
            FIVE = 5

        w = self.policies()
        assert w.check("number", context={"v": 5}).allowed
        assert w.check("number", context={"v": 5.0}).allowed
        assert w.check("number", context={"v": Five.FIVE}).allowed
        assert not w.check("number", context={"v": "5"}).allowed
        assert w.check("bool", context={"v": True}).allowed
        assert not w.check("bool", context={"v": 1}).allowed
        # 2^53 + 1 has no double: it becomes the nearest one, 2^53.
        assert w.check("big", context={"v": 2**53 + 1}).allowed
        # Beyond the doubles an integer is infinite, so null.
        assert w.check("nan", context={"v": 10**400}).allowed

    def test_member_names_are_written_as_json_writes_dict_keys(self) -> None:
        w = self.policies()
        assert w.check("key", context={"m": {7: "seven", True: "t", None: "n"}}).allowed

    def test_numbers_match_globs_through_their_json_text(self) -> None:
        assert self.policies().check("glob", context={"v": 1e21}).allowed

    def test_values_json_cannot_write_make_the_request_invalid(self) -> None:
        w = self.policies()
        for value in ({1, 2}, object(), b"bytes", datetime.now(timezone.utc)):
            d = w.check("number", context={"v": value})
            assert d.error is not None and d.error.code == "ERR_REQUEST_INVALID", value
            assert "no JSON form" in d.error.message
        d = w.check("key", context={"m": {(1, 2): "x"}})
        assert d.error is not None and "member name of type `tuple`" in d.error.message

    def test_a_context_that_is_not_a_dict_is_invalid(self) -> None:
        w = self.policies()
        for context in ([1], "x", 5):
            d = w.check("number", context=context)  # type: ignore[arg-type]
            assert d.error is not None and d.error.message == "`context` must be a JSON object (a dict)"

    def test_only_the_referenced_paths_are_sent(self) -> None:
        # An unreferenced value the engine could not read (a lone surrogate) is never sent.
        w = Warden.from_policies([{"rules": [{"effect": "allow", "action": "a", "conditions": "context.x == 1"}]}])
        assert w.check("a", context={"x": 1, "other": "\ud800"}).allowed
        d = w.check("a", context={"x": "\ud800"})
        assert d.error is not None and "lone surrogate" in d.error.message


class TestTime:
    ZONED = [{"timezone": "America/New_York", "rules": [{"effect": "allow", "action": "a", "conditions": "time.hour == 9 AND time.weekday == 4"}]}]

    def test_reads_zone_offsets_from_zoneinfo(self) -> None:
        w = Warden.from_policies(self.ZONED)
        assert w.check("a", time="2026-03-05T14:30:00Z").allowed  # EST, UTC-5
        assert w.check("a", time="2026-07-02T13:30:00Z").allowed  # EDT, UTC-4
        assert not w.check("a", time=datetime(2026, 7, 2, 14, 30, tzinfo=timezone.utc)).allowed
        assert w.check("a", time=datetime(2026, 3, 5, 14, 59, tzinfo=timezone.utc)).allowed
        assert w.check("a", time=datetime(2026, 3, 5, 9, 59, tzinfo=timezone(timedelta(hours=-5)))).allowed
        assert w.check("a", time=datetime(2026, 3, 5, 14, 30, tzinfo=timezone.utc).timestamp()).allowed
        assert w.check("a", time=int(datetime(2026, 3, 5, 14, 30, tzinfo=timezone.utc).timestamp())).allowed

    def test_the_clock_is_read_when_no_time_is_given(self) -> None:
        at = int(datetime(2026, 3, 5, 14, 30, tzinfo=timezone.utc).timestamp()) * 10**9
        w = Warden.from_policies(self.ZONED, clock=lambda: at)
        assert w.check("a").allowed
        w2 = Warden.from_policies(self.ZONED, clock=lambda: at + 3600 * 10**9)
        assert not w2.check("a").allowed

    def test_times_that_are_no_instant_are_invalid_requests(self) -> None:
        w = Warden.from_policies(self.ZONED)
        for time, message in [
            ("2026-03-05 10:00:00Z", "RFC 3339"),
            ("2026-02-30T10:00:00Z", "RFC 3339"),
            (datetime(2026, 3, 5, 14, 30), "naive datetime"),
            (math.nan, "not a valid instant"),
            (True, "must be an RFC 3339 string"),
            ([2026], "must be an RFC 3339 string"),
        ]:
            d = w.check("a", time=time)  # type: ignore[arg-type]
            assert d.error is not None and d.error.code == "ERR_REQUEST_INVALID", time
            assert message in d.error.message, time

    def test_is_exact_below_the_millisecond(self) -> None:
        w = Warden.from_policies([{
            "rules": [
                {"effect": "allow", "action": "hour", "conditions": "time.hour == 23 AND time.epoch == 1772755199"},
                {"effect": "allow", "action": "count"},
            ],
            "rate_limits": [{"action": "count", "limit": 1, "period": "1s", "scope": "global"}],
        }])
        assert w.check("hour", time="2026-03-05T23:59:59.9999999Z").allowed
        assert w.check("count", time="2026-03-05T10:00:00Z").allowed
        assert w.check("count", time="2026-03-05T10:00:00.999999999Z").rate_limit == RateLimitRef(0, 0)
        assert w.check("count", time="2026-03-05T10:00:01Z").allowed

    def test_a_zone_outside_zoneinfo_is_refused_and_the_policies_in_force_stay(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from warden import _time

        w = Warden.from_policies(REFUNDS)
        monkeypatch.setattr(_time, "_zones", {})
        monkeypatch.setattr(_time, "ZoneInfo", lambda zone: (_ for _ in ()).throw(_time.ZoneInfoNotFoundError(zone)))
        with pytest.raises(WardenError) as caught:
            w.load([{"timezone": "Asia/Calcutta", "rules": [{"effect": "allow", "action": "a", "conditions": "time.hour > 1"}]}])
        assert caught.value.code == "ERR_TIMEZONE_UNSUPPORTED"
        assert w.check("tool.call", "tool/lookup_order").allowed
        assert w.metadata is not None and w.metadata["policies"][0]["name"] == "refunds"


class TestInterning:
    def test_interned_strings_decide_as_text_across_a_reset_of_the_table(self) -> None:
        w = Warden.from_policies([{"rules": [
            {"effect": "allow", "action": "tool.call", "resource": "tool/*"},
            {"effect": "deny", "action": "tool.call", "resource": "tool/r1*"},
        ]}])
        # Each resource three times (text, then interned twice), over more than the 4,096 the host keeps.
        for i in range(5000):
            resource = f"tool/r{i}"
            expected = 1 if resource.startswith("tool/r1") else 0
            for _ in range(3):
                assert w.check("tool.call", resource).rule == expected
        for _ in range(2):
            d = w.check("tool.call", "tool/\ud800")
            assert d.error is not None and d.error.code == "ERR_REQUEST_INVALID"

    def test_agents_go_as_agent_records_or_as_json(self) -> None:
        w = Warden.from_policies([{
            "trust_levels": ["basic", "elevated"],
            "rules": [
                {"effect": "allow", "action": "a", "trust_level": "elevated"},
                {"effect": "allow", "action": "b", "conditions": "'vip' IN agent.tags AND agent.id == 'bot'"},
            ],
        }])
        agent = {"id": "bot", "trust_level": "elevated", "tags": ("vip",)}
        for _ in range(3):
            assert w.check("a", agent=agent).allowed
            assert w.check("b", agent=agent).allowed
        assert not w.check("a", agent={"id": "bot", "trust_level": "basic"}).allowed
        # Not the record's shape: sent as JSON, and the engine says what is wrong.
        for agent_value, message in [
            ({"id": "bot", "name": "x"}, "unknown agent field `name`"),
            ({"id": 5}, "agent `id` must be a string"),
            ({"tags": ["a", 1]}, "tags"),
            ("bot", "`agent` must be an object"),
        ]:
            d = w.check("a", agent=agent_value)  # type: ignore[arg-type]
            assert d.error is not None and message in d.error.message, agent_value


class TestInvalidRequests:
    def test_are_denials_that_leave_the_engine_and_its_counts_untouched(self) -> None:
        w = Warden.from_policies(REFUNDS)
        agent = {"id": "bot"}

        def refund() -> Decision:
            return w.check("tool.call", "tool/issue_refund", {"amount": 10}, agent, AT)

        assert refund().allowed
        deep: dict[str, Any] = {}
        cursor = deep
        for _ in range(70):
            cursor["x"] = {}
            cursor = cursor["x"]
        cyclic: dict[str, Any] = {}
        cyclic["self"] = cyclic
        cases: list[tuple[str, Any]] = [
            ("`action` must be a string", lambda: w.check(7, "tool/issue_refund", {"amount": 10}, agent)),  # type: ignore[arg-type]
            ("`context` must be a JSON object", lambda: w.check("tool.call", "tool/issue_refund", [1], agent)),  # type: ignore[arg-type]
            ("nests more than 64", lambda: w.check("tool.call", "tool/issue_refund", {"amount": 10, "unread": deep}, agent)),
            ("nests more than 64", lambda: w.check("tool.call", "tool/issue_refund", {"amount": 10, "cyclic": cyclic}, agent)),
            ("lone surrogate", lambda: w.check("tool.call\ud800", "tool/issue_refund", {"amount": 10}, agent)),
            ("1 MiB", lambda: w.check("tool.call", "tool/issue_refund", {"amount": 10, "note": "é" * 600_000}, agent)),
            ("1 MiB", lambda: w.check("tool.call", "tool/issue_refund", {"amount": 10, "é" * 600_000: 1}, agent)),
            ("RFC 3339", lambda: w.check("tool.call", "tool/issue_refund", {"amount": 10}, agent, "2026-03-05 10:00:00Z")),
            ("unknown agent field `name`", lambda: w.check("tool.call", "tool/issue_refund", {"amount": 10}, {"id": "bot", "name": "x"})),  # type: ignore[typeddict-unknown-key]
        ]
        for message, run in cases:
            d = run()
            assert (d.allowed, d.effect, d.policy, d.rule) == (False, "deny", None, None), message
            assert d.error is not None and d.error.code == "ERR_REQUEST_INVALID", message
            assert message in d.error.message, message
        # The invalid requests did not count: one more refund fits under the limit of 2.
        assert refund().allowed
        d = refund()
        assert (d.allowed, d.rate_limit, d.reason, d.reason_given) == (False, RateLimitRef(0, 0), "rate limit exceeded", True)

    def test_a_mapping_that_fails_while_read_is_an_invalid_request(self) -> None:
        class Broken(dict):  # type: ignore[type-arg]
            def items(self):  # type: ignore[no-untyped-def]
                raise RuntimeError("no")

        w = Warden.from_policies(REFUNDS)
        d = w.check("tool.call", "tool/lookup_order", {"a": Broken(x=1)})
        assert d.error is not None and d.error.code == "ERR_REQUEST_INVALID"
        assert w.check("tool.call", "tool/lookup_order").allowed


class TestCheckRequest:
    def test_decides_the_json_form_and_refuses_any_other_shape(self) -> None:
        w = Warden.from_policies(REFUNDS)
        assert w.check_request({"action": "tool.call", "resource": "tool/lookup_order", "context": {}, "agent": None, "time": AT}).allowed
        assert w.check_request('{"action": "tool.call", "resource": "tool/lookup_order"}').allowed
        for request, message in [
            (None, "a request must be a JSON object"),
            (["tool.call"], "a request must be a JSON object"),
            ({"resource": "tool/x"}, "a request needs `action`"),
            ({"action": "tool.call", "actor": "x"}, "unknown request member `actor`"),
            ({"action": "tool.call", "time": 1772704800000}, "`time` must be an RFC 3339 string"),
            ({"action": "tool.call", "time": None}, "`time` must be an RFC 3339 string"),
            ({"action": "tool.call", "context": "x"}, "`context` must be a JSON object"),
            ({"action": "tool.call", "context": None}, "`context` must be a JSON object"),
            ({"action": "tool.call", "resource": 5}, "`resource` must be a string"),
            ({"action": "tool.call", "resource": None}, "`resource` must be a string"),
            ('{"action": "tool.call",', "the request is not JSON"),
        ]:
            d = w.check_request(request)  # type: ignore[arg-type]
            assert d.error is not None and d.error.code == "ERR_REQUEST_INVALID", request
            assert message in d.error.message, request
            assert not d.allowed


class TestLoad:
    def test_raises_every_error_and_keeps_the_policies_in_force(self) -> None:
        w = Warden.from_policies(REFUNDS)
        with pytest.raises(PolicyInvalidError) as caught:
            w.load([{"rules": [{"efect": "allow", "action": "a"}]}, {"rules": [], "timezone": "Mars/Olympus"}])
        e = caught.value
        assert e.code == "ERR_POLICY_INVALID"
        assert sorted(f"{x.policy}{x.pointer}" for x in e.errors) == ["0/rules/0/efect", "0/rules/0/effect", "1/timezone"]
        assert str(e).startswith("policies do not load: policy ")
        assert w.check("tool.call", "tool/lookup_order").allowed
        assert w.metadata is not None and w.metadata["policies"][0]["name"] == "refunds"

    def test_accepts_json_text_and_one_policy_dict(self) -> None:
        assert Warden.from_policies(json.dumps(REFUNDS)).check("tool.call", "tool/lookup_order").allowed
        assert Warden.from_policies(json.dumps(REFUNDS).encode()).check("tool.call", "tool/lookup_order").allowed
        assert Warden.from_policies(REFUNDS[0]).check("tool.call", "tool/lookup_order").allowed

    def test_refuses_values_json_cannot_carry_at_their_pointer(self) -> None:
        with pytest.raises(PolicyInvalidError) as caught:
            Warden.from_policies([{"rules": [{"effect": "allow", "action": "a", "conditions": {"n": {"lt": math.inf}, "s": {"x"}}}]}])
        found = {(x.policy, x.pointer): x.message for x in caught.value.errors}
        assert "infinite" in found[(0, "/rules/0/conditions/n/lt")]
        assert "no JSON form" in found[(0, "/rules/0/conditions/s")]

    def test_keeps_rate_limit_counts_across_a_reload_of_the_same_limit(self) -> None:
        w = Warden.from_policies(REFUNDS)
        args = ("tool.call", "tool/issue_refund", {"amount": 1}, {"id": "bot"}, AT)
        w.check(*args)
        w.check(*args)
        w.load(REFUNDS, bundle_version=8)
        d = w.check(*args)
        assert (d.allowed, d.rate_limit, d.bundle_version) == (False, RateLimitRef(0, 0), 8)
        # A different period is a different limit: its counts start empty.
        changed = json.loads(json.dumps(REFUNDS))
        changed[0]["rate_limits"][0]["period"] = "2h"
        w.load(changed)
        assert w.check(*args).allowed

    def test_keeps_counts_exact_when_a_reload_raises_a_limit_and_time_goes_backwards(self) -> None:
        def limit(n: int) -> list[dict[str, Any]]:
            return [{"rules": [{"effect": "allow", "action": "*"}], "rate_limits": [{"action": "*", "limit": n, "period": "1h", "scope": "global"}]}]

        w = Warden.from_policies(limit(1))
        assert w.check("a", time="2026-03-05T10:00:00Z").allowed
        assert w.check("a", time="2026-03-05T11:00:00Z").allowed
        w.load(limit(2))
        assert w.check("a", time="2026-03-05T10:30:00Z").rate_limit == RateLimitRef(0, 0)


class TestExplain:
    def test_shows_every_rule_what_matched_and_why_without_counting(self) -> None:
        w = Warden.from_policies(REFUNDS)
        agent = {"id": "bot"}
        e = w.explain("tool.call", "tool/issue_refund", {}, agent, AT)
        assert (e.decision.allowed, e.decision.effect, e.decision.rule, e.decision.indeterminate) == (False, "escalate", 2, ("context.amount",))
        assert len(e.rules) == 4
        assert e.rules[0]["resource"] == {"matched": False, "patterns": ["tool/lookup_*"]}
        assert e.rules[1]["conditions"] == {"count": 1, "result": "indeterminate", "indeterminate": ["context.amount"]}
        assert e.rules[1]["candidate"] is False
        assert e.rules[2]["action"]["specificity"] == [9, 0] and e.rules[2]["resource"]["specificity"] == [17, 0]
        assert e.why == "rule 2 of policy 0 is the only candidate"
        for _ in range(5):
            assert w.explain("tool.call", "tool/issue_refund", {"amount": 5}, agent, AT).decision.allowed
        assert w.check("tool.call", "tool/issue_refund", {"amount": 5}, agent, AT).allowed
        assert w.check("tool.call", "tool/issue_refund", {"amount": 5}, agent, AT).allowed

    def test_says_which_criterion_decided_between_candidates(self) -> None:
        w = Warden.from_policies([{"rules": [
            {"effect": "allow", "action": "tool.call", "resource": "tool/*"},
            {"effect": "deny", "action": "*", "resource": "tool/issue_refund"},
        ]}])
        assert w.explain("tool.call", "tool/issue_refund").why == (
            "rule 1 of policy 0 wins over rule 0 of policy 0: its resource pattern is more specific "
            "(17 literal characters, 0 wildcards against 5 literal characters, 1 wildcard)"
        )

    def test_explains_an_invalid_request_without_the_engine(self) -> None:
        e = Warden.from_policies(REFUNDS).explain_request({"action": "tool.call", "actor": "x"})
        assert e.decision.error is not None and e.rules == [] and e.why.startswith("the request is invalid: unknown request member")


class TestRateLimitState:
    def test_exports_and_imports_into_a_fresh_client(self) -> None:
        a = Warden.from_policies(REFUNDS)
        args = ("tool.call", "tool/issue_refund", {"amount": 1}, {"id": "bot"}, AT)
        a.check(*args)
        a.check(*args)
        state = a.export_state()
        assert json.loads(state) == {
            "format": "warden-rate-limits-1",
            "limits": [{
                "policy": "refunds", "action": ["tool.call"], "resource": ["tool/issue_refund"], "period_seconds": 3600,
                "scope": "agent", "counts": [{"key": "bot", "times": ["1772704800", "1772704800"]}],
            }],
        }
        b = Warden.from_policies(REFUNDS)
        b.import_state(state)
        assert b.check(*args).rate_limit == RateLimitRef(0, 0)
        with pytest.raises(WardenError) as caught:
            b.import_state("{}")
        assert caught.value.code == "ERR_STATE_INVALID"
        c = Warden.from_policies(REFUNDS)
        c.import_state(json.loads(state))
        assert not c.check(*args).allowed


class TestTrap:
    def test_is_recovered_from_with_the_policies_and_counts_and_an_event(self, calls: str, caplog: pytest.LogCaptureFixture) -> None:
        w = Warden.from_policies(REFUNDS)
        args = ("tool.call", "tool/issue_refund", {"amount": 1}, {"id": "bot"}, AT)
        w.check(*args)
        w.check(*args)
        events: list[RecoveredEvent] = []
        w.on("recovered", events.append)
        # Make the next decision trap for real: the engine reads far outside its memory.
        engine = w._engine
        load = engine.calls["load"]
        engine._decide = lambda n: load(0xFFFFFFF0, 64)
        d = w.check(*args)
        assert len(events) == 1
        assert isinstance(events[0].error, _engine_host.TRAPS)
        assert events[0].counts_carried is True
        assert w._engine is not engine
        assert "the engine trapped" in caplog.text
        # The retried decision ran on the new instance, which still counts the two refunds.
        assert (d.allowed, d.rate_limit) == (False, RateLimitRef(0, 0))
        assert w.check("tool.call", "tool/lookup_order").allowed

    def test_twice_on_one_request_is_a_denial_with_err_engine(self) -> None:
        w = Warden.from_policies(REFUNDS)
        original = _engine_host.EngineInstance.decide

        def trap(self: _engine_host.EngineInstance, request: bytearray, explain: bool) -> tuple[int, ...]:
            self.calls["load"](0xFFFFFFF0, 64)
            raise AssertionError("unreachable")

        try:
            _engine_host.EngineInstance.decide = trap  # type: ignore[method-assign]
            d = w.check("tool.call", "tool/lookup_order")
        finally:
            _engine_host.EngineInstance.decide = original  # type: ignore[method-assign]
        assert d.error is not None and d.error.code == "ERR_ENGINE" and not d.allowed
        assert w.check("tool.call", "tool/lookup_order").allowed


class TestThreads:
    def test_checks_from_many_threads_while_policies_reload(self) -> None:
        w = Warden.from_policies(REFUNDS)
        wrong: list[Any] = []

        def checker(k: int) -> None:
            for i in range(400):
                resource = f"tool/lookup_{k}_{i % 7}"
                d = w.check("tool.call", resource, {"amount": i})
                if not d.allowed or d.rule != 0:
                    wrong.append(d)
                if w.check("tool.call", "tool/delete_x").allowed:
                    wrong.append("delete allowed")

        def loader() -> None:
            for _ in range(40):
                w.load(REFUNDS)

        threads = [threading.Thread(target=checker, args=(k,)) for k in range(4)] + [threading.Thread(target=loader)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert wrong == []


def test_rule_metadata_written_as_its_effect_alone_is_whole_in_the_metadata() -> None:
    w = Warden.from_policies([{"rules": [
        {"effect": "escalate", "action": "a"},
        {"effect": "deny", "action": "b", "name": "no-b", "log": False, "log_context": ["context.x"]},
    ]}])
    assert w.metadata is not None
    assert w.metadata["policies"][0]["rules"] == [
        {"name": None, "effect": "escalate", "reason": None, "log": True, "log_context": None, "alert": False},
        {"name": "no-b", "effect": "deny", "reason": None, "log": False, "log_context": ["context.x"], "alert": False},
    ]
    d = w.check("a", "x")
    assert (d.effect, d.log, d.reason) == ("escalate", True, "escalated for approval by rule 0 of policy 0")


def test_an_edit_to_the_metadata_handed_out_does_not_reach_decisions() -> None:
    w = Warden.from_policies([{"name": "p", "rules": [
        {"effect": "allow", "action": "a"},
        {"effect": "deny", "action": "b", "name": "no-b", "reason": "b is off", "log_context": ["context.x"]},
    ], "rate_limits": [{"action": "a", "limit": 1, "period": "1h", "reason": "once an hour"}]}])
    meta = w.metadata
    assert meta is not None
    meta["policies"][0]["name"] = "edited"
    meta["policies"][0]["rules"][0]["reason"] = "edited"
    meta["policies"][0]["rules"][1]["reason"] = "edited"
    meta["policies"][0]["rules"][1]["log_context"].append("context.y")
    meta["policies"][0]["rate_limits"][0]["reason"] = "edited"
    first = w.check("a", "x")
    assert (first.allowed, first.policy_name, first.reason) == (True, "p", "allowed by rule 0 of policy 0 (`p`)")
    assert w.check("a", "x").reason == "once an hour"
    d = w.check("b", "x")
    assert (d.reason, d.log_context) == ("b is off", ("context.x",))
