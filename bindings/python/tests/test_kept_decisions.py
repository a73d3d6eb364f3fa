"""Kept decisions: while the engine says the policies in force decide by
action and resource alone (``action_resource_only``), ``check`` keeps their
decisions by (action, resource), bounded and forgotten at every load, and
still refuses every invalid request exactly as the engine path does — what
packages/core's "decisions by action and resource alone" tests pin, in Python."""

from __future__ import annotations

import enum
import json
import threading
import types
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from warden import PolicyInvalidError, Warden, build_bundle, signing_key_from_seed
from warden.warden import DECISION_CACHE_SIZE

from .conftest import conformance_dir

PLAIN: list[dict[str, Any]] = [{"name": "plain", "rules": [
    {"effect": "allow", "action": "tool.call", "resource": "tool/*"},
    {"effect": "deny", "action": "tool.call", "resource": "tool/delete_*", "reason": "no deleting"},
]}]
ALLOW_DELETE: list[dict[str, Any]] = [{"rules": [{"effect": "allow", "action": "tool.call", "resource": "tool/delete_x"}]}]
AT = "2026-03-05T10:00:00Z"


def count_decisions(w: Warden) -> list[int]:
    """Counts the requests that reach the engine of ``w`` from now on: ``[n]``."""
    calls = [0]
    engine = w._engine
    decide = engine.decide

    def counted(request: bytearray, explain: bool) -> tuple[int, ...]:
        calls[0] += 1
        return decide(request, explain)

    engine.decide = counted  # type: ignore[method-assign]
    return calls


class TestMetadata:
    def test_says_action_resource_only_for_plain_rules_and_not_for_agents_trust_conditions_or_rate_limits(self) -> None:
        w = Warden.from_policies(PLAIN)
        assert w.metadata is not None and w.metadata["action_resource_only"] is True
        assert w._kept == {}
        rule = {"effect": "allow", "action": "a"}
        others: list[Any] = [
            [{"rules": [{**rule, "conditions": "context.x == 1"}]}],
            [{"rules": [{**rule, "conditions": {"context.x": 1}}]}],
            [{"trust_levels": ["low", "high"], "rules": [{**rule, "trust_level": "high"}]}],
            [{"agent_match": {"ids": ["bot"]}, "rules": [rule]}],
            [{"rules": [rule], "rate_limits": [{"action": "a", "limit": 1, "period": "1m"}]}],
        ]
        for other in others:
            w.load(other)
            assert w.metadata is not None and w.metadata["action_resource_only"] is False, other
            assert w._kept is None, other
        w.load([{"rules": [rule]}])
        assert w.metadata is not None and w.metadata["action_resource_only"] is True
        assert w._kept == {}

    def test_a_client_told_not_to_keeps_nothing_whatever_the_metadata(self) -> None:
        w = Warden.from_policies(PLAIN, keep_decisions=False)
        assert w.metadata is not None and w.metadata["action_resource_only"] is True
        assert w._kept is None


class TestKept:
    def test_a_kept_decision_is_given_again_without_the_engine_and_equals_the_engines(self) -> None:
        w = Warden.from_policies(PLAIN)
        engine_only = Warden.from_policies(PLAIN, keep_decisions=False)
        calls = count_decisions(w)
        first = w.check("tool.call", "tool/delete_x", {"user": 1})
        assert (first.effect, first.rule, first.reason, first.error) == ("deny", 1, "no deleting", None)
        assert calls[0] == 1
        # Any valid context, none, or another one: the same decision, and the engine is not asked.
        contexts: list[Any] = [None, {}, {"user": 2}, {"deep": {"er": [1, 2.5, None, True]}}, {1: "x", None: 2}]
        for context in contexts:
            assert w.check("tool.call", "tool/delete_x", context) is first
        assert w.enforce("tool.call", "tool/lookup_order").allowed
        assert w.check("tool.call", "tool/lookup_order").allowed
        assert calls[0] == 2
        # Every one equals what the engine answers.
        assert first == engine_only.check("tool.call", "tool/delete_x", {"user": 1})
        assert w.check("tool.call", "tool/lookup_order") == engine_only.check("tool.call", "tool/lookup_order")
        # No resource is the resource "" (None too), kept once.
        assert w.check("tool.call") == w.check("tool.call", None) == w.check("tool.call", "") == engine_only.check("tool.call")  # type: ignore[arg-type]
        assert calls[0] == 3
        assert set(w._kept or {}) == {("tool.call", "tool/delete_x"), ("tool.call", "tool/lookup_order"), ("tool.call", "")}

    def test_an_agent_or_a_time_always_reaches_the_engine(self) -> None:
        w = Warden.from_policies(PLAIN)
        calls = count_decisions(w)
        w.check("tool.call", "tool/x")
        w.check("tool.call", "tool/x", agent={"id": "bot"})
        w.check("tool.call", "tool/x", time=AT)
        w.check("tool.call", "tool/x", agent={"id": "bot"}, time=AT)
        assert calls[0] == 4
        w.check("tool.call", "tool/x")
        assert calls[0] == 4

    def test_explain_and_check_request_are_not_served_from_kept_decisions(self) -> None:
        w = Warden.from_policies(PLAIN)
        calls = count_decisions(w)
        w.check("tool.call", "tool/x")
        assert w.explain("tool.call", "tool/x").decision.allowed
        assert w.check_request({"action": "tool.call", "resource": "tool/x"}).allowed
        assert calls[0] == 3


class Color(enum.IntEnum):
    RED = 1


def _deep(levels: int) -> dict[str, Any]:
    """A dict and ``levels`` more nested in it."""
    root: dict[str, Any] = {}
    at = root
    for _ in range(levels):
        at["x"] = {}
        at = at["x"]
    return root


_cyclic: dict[str, Any] = {}
_cyclic["self"] = _cyclic

# (name, context, agent, time, valid): each asked of a kept (action, resource); both clients must answer alike.
REQUESTS: list[tuple[str, Any, Any, Any, bool]] = [
    ("a list context", [1], None, None, False),
    ("a str context", "x", None, None, False),
    ("a mapping that is not a dict", types.MappingProxyType({"a": 1}), None, None, False),
    ("a value with no JSON form", {"n": object()}, None, None, False),
    ("a nested value with no JSON form", {"n": [{"m": {1, 2}}]}, None, None, False),
    ("a member name with no JSON form", {(1, 2): 1}, None, None, False),
    ("a nested member name with no JSON form", {"n": {b"k": 1}}, None, None, False),
    ("nested 65 deep", {"x": _deep(63)}, None, None, False),
    ("cyclic", {"c": _cyclic}, None, None, False),
    ("a string over 1 MiB", {"note": "é" * 600_000}, None, None, False),
    ("a member name over 1 MiB", {"é" * 600_000: 1}, None, None, False),
    ("an agent that is a number", {}, 7, None, False),
    ("an agent with an unknown field", {}, {"id": "bot", "name": "x"}, None, False),
    ("an agent whose id is a number", {}, {"id": 5}, None, False),
    ("a time that is not RFC 3339", {}, None, "2026-03-05 10:00:00Z", False),
    ("a time that is a word", {}, None, "yesterday", False),
    ("a naive datetime", {}, None, datetime(2026, 3, 5, 10), False),
    ("a NaN time", {}, None, float("nan"), False),
    # Valid: none of the context is sent, so a lone surrogate in it is no problem on either path.
    ("a lone surrogate in the context", {"s": "\ud800", "\udc00": 1}, None, None, True),
    ("nested 64 deep", {"x": _deep(62)}, None, None, True),
    ("int, float, bool and None member names", {1: "a", 2.5: "b", False: "c", None: "d"}, None, None, True),
    ("tuples, an IntEnum, huge and NaN numbers", {"t": (1, 2), "e": Color.RED, "big": 10**400, "nan": float("nan")}, None, None, True),
    ("a string of exactly 1 MiB", {"note": "a" * (1 << 20)}, None, None, True),
    ("a valid agent", {}, {"id": "bot", "trust_level": "x", "tags": ["a"]}, None, True),
    ("a valid time", {}, None, AT, True),
]


class TestInvalidRequests:
    @pytest.mark.parametrize(("name", "context", "agent", "time", "valid"), REQUESTS, ids=[r[0] for r in REQUESTS])
    def test_are_refused_on_a_kept_action_and_resource_exactly_as_without_kept_decisions(
        self, name: str, context: Any, agent: Any, time: Any, valid: bool,
    ) -> None:
        w = Warden.from_policies(PLAIN)
        engine_only = Warden.from_policies(PLAIN, keep_decisions=False)
        kept = w.check("tool.call", "tool/delete_x")
        assert kept.error is None and ("tool.call", "tool/delete_x") in (w._kept or {})
        got = w.check("tool.call", "tool/delete_x", context, agent, time)
        want = engine_only.check("tool.call", "tool/delete_x", context, agent, time)
        assert got == want
        if valid:
            assert got.error is None and got.rule == 1
        else:
            assert got.error is not None and got.error.code == "ERR_REQUEST_INVALID", got
            assert not got.allowed
        # What was kept stays, and is still given.
        assert w.check("tool.call", "tool/delete_x") is kept

    def test_a_refusal_is_never_kept(self) -> None:
        w = Warden.from_policies(PLAIN)
        for _ in range(2):
            for action, resource in [("tool.call", "tool/\ud800"), ("tool.call\udc00", "tool/x"), ("tool.call", "tool/" + "x" * (1 << 20))]:
                d = w.check(action, resource)
                assert d.error is not None and d.error.code == "ERR_REQUEST_INVALID", (action[:12], resource[:12])
        # A request refused for its context on a first asking is not kept either.
        assert w.check("tool.call", "tool/x", [1]).error is not None  # type: ignore[arg-type]
        assert w._kept == {}
        calls = count_decisions(w)
        assert w.check("tool.call", "tool/x").allowed
        assert calls[0] == 1

    def test_a_request_of_another_shape_goes_the_engines_way(self) -> None:
        w = Warden.from_policies(PLAIN)
        engine_only = Warden.from_policies(PLAIN, keep_decisions=False)
        for action, resource in [(7, "tool/x"), ("tool.call", 7), (["tool.call"], "tool/x"), ("tool.call", ["tool/x"])]:
            for _ in range(2):
                d = w.check(action, resource)  # type: ignore[arg-type]
                assert d == engine_only.check(action, resource)  # type: ignore[arg-type]
                assert d.error is not None and d.error.code == "ERR_REQUEST_INVALID"
        assert w._kept == {}


class TestBound:
    def test_past_4096_every_answer_is_still_right_and_they_start_over(self) -> None:
        assert DECISION_CACHE_SIZE == 4096
        w = Warden.from_policies(PLAIN)
        calls = count_decisions(w)
        for round in range(2):
            for i in range(10_000):
                d = w.check("tool.call", f"tool/r{i}" if i % 3 else f"tool/delete_{i}")
                assert (d.allowed, d.rule) == ((True, 0) if i % 3 else (False, 1)), (round, i)
                assert len(w._kept or {}) <= DECISION_CACHE_SIZE
            if round == 0:
                # Every one reached the engine; emptied at 4,096 and at 8,192, the last 10,000 % 4,096 are kept.
                assert calls[0] == 10_000
                assert len(w._kept or {}) == 10_000 % DECISION_CACHE_SIZE
                assert w.check("tool.call", "tool/r9998").allowed and w.check("tool.call", "tool/delete_8193").allowed is False
                assert w.check("tool.call", "tool/r8191").allowed
                assert calls[0] == 10_001
        # The second time, those kept were forgotten (full, started over) before their turn came.
        assert calls[0] == 20_001

    def test_a_long_action_or_resource_is_decided_but_never_kept(self) -> None:
        w = Warden.from_policies(PLAIN)
        long = "tool/" + "x" * 300
        assert w.check("tool.call", long).allowed
        assert w.check("tool.call", long).allowed
        assert w._kept == {}

    def test_stays_bounded_when_threads_fill_it_at_once(self) -> None:
        w = Warden.from_policies(PLAIN)
        wrong: list[Any] = []
        sizes: list[int] = []

        def checker(k: int) -> None:
            for i in range(2500):
                d = w.check("tool.call", f"tool/{k}_{i}" if i % 2 else f"tool/delete_{k}_{i}")
                if d.rule != (0 if i % 2 else 1):
                    wrong.append(d)
                sizes.append(len(w._kept or {}))

        threads = [threading.Thread(target=checker, args=(k,)) for k in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert wrong == []
        assert max(sizes) <= DECISION_CACHE_SIZE


class TestLoads:
    def test_a_load_forgets_them_and_the_bundle_version_is_the_one_in_force(self) -> None:
        w = Warden.from_policies(PLAIN)
        assert w.check("tool.call", "tool/delete_x").reason == "no deleting"
        d = w.check("tool.call", "tool/delete_x")
        assert (d.allowed, d.bundle_version) == (False, None)
        w.load(ALLOW_DELETE, bundle_version=2)
        d = w.check("tool.call", "tool/delete_x")
        assert (d.allowed, d.bundle_version) == (True, 2)
        # The same policies as a new version: the same answer, with the new version.
        w.load(ALLOW_DELETE, bundle_version=3)
        assert w.check("tool.call", "tool/delete_x").bundle_version == 3
        # Policies that read the context: nothing is kept, and the context decides.
        w.load([{"rules": [{"effect": "allow", "action": "tool.call", "resource": "tool/*", "conditions": "context.ok == true"}]}])
        assert not w.check("tool.call", "tool/delete_x", {"ok": False}).allowed
        assert w.check("tool.call", "tool/delete_x", {"ok": True}).allowed
        assert not w.check("tool.call", "tool/delete_x", {"ok": False}).allowed

    def test_a_load_that_fails_keeps_them_with_the_policies_in_force(self) -> None:
        w = Warden.from_policies(PLAIN)
        w.check("tool.call", "tool/delete_x")
        kept = w._kept
        with pytest.raises(PolicyInvalidError, match="permit"):
            w.load([{"rules": [{"effect": "permit", "action": "a"}]}])
        assert w._kept is kept and w.check("tool.call", "tool/delete_x").reason == "no deleting"

    def test_a_bundle_update_forgets_them(self) -> None:
        manifest = json.loads((conformance_dir() / "bundles" / "manifest.json").read_text("utf-8"))
        key = signing_key_from_seed(manifest["test_signing_seeds"]["k1"])
        trust = {"project": manifest["project"], "project_key": manifest["project_key"], "trusted_keys": manifest["trusted_keys"]}

        def bundle(policies: list[dict[str, Any]], version: int) -> str:
            return build_bundle(policies, project=manifest["project"], version=version, key_id="k1", signing_key=key,
                                project_key=manifest["project_key"])

        w = Warden()
        w.load_bundle(bundle(PLAIN, 1), **trust)
        d = w.check("tool.call", "tool/delete_x")
        assert (d.allowed, d.bundle_version) == (False, 1)
        assert w.check("tool.call", "tool/delete_x") is d
        w.load_bundle(bundle(PLAIN, 2), **trust)
        d = w.check("tool.call", "tool/delete_x")
        assert (d.allowed, d.bundle_version) == (False, 2)
        w.load_bundle(bundle(ALLOW_DELETE, 3), **trust)
        d = w.check("tool.call", "tool/delete_x")
        assert (d.allowed, d.bundle_version) == (True, 3)

    def test_a_decision_made_before_a_load_is_not_kept_after_it(self) -> None:
        # A load that lands between the engine's decision and its keeping (another thread's).
        w = Warden.from_policies(PLAIN)
        run = w._run

        def run_then_load(*args: Any) -> Any:
            d = run(*args)
            w._run = run  # type: ignore[method-assign]
            w.load(ALLOW_DELETE, bundle_version=2)
            return d

        w._run = run_then_load  # type: ignore[method-assign,assignment]
        assert not w.check("tool.call", "tool/delete_x").allowed  # decided by the policies before the load
        assert w._kept == {}
        d = w.check("tool.call", "tool/delete_x")
        assert (d.allowed, d.bundle_version) == (True, 2)

    def test_checks_from_threads_while_versions_load(self) -> None:
        w = Warden.from_policies(PLAIN)
        wrong: list[Any] = []
        done = threading.Event()

        def checker(k: int) -> None:
            i = 0
            while not done.is_set() or i < 300:
                i += 1
                d = w.check("tool.call", f"tool/delete_{i % 50}")
                if d.allowed or d.rule != 1 or d.error is not None:
                    wrong.append(d)

        def loader() -> None:
            for v in range(1, 60):
                w.load(PLAIN, bundle_version=v)
            done.set()

        threads = [threading.Thread(target=checker, args=(k,)) for k in range(4)] + [threading.Thread(target=loader)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert wrong == []
        # Whatever was kept meanwhile, what is given now is the last version's.
        assert all(w.check("tool.call", f"tool/delete_{i}").bundle_version == 59 for i in range(50))


class TestTurnedOff:
    def test_every_check_reaches_the_engine(self, write_files: Any, tmp_path: Path) -> None:
        path = write_files({"plain.json": json.dumps(PLAIN)})
        made = [
            Warden.from_policies(PLAIN, keep_decisions=False),
            Warden.from_file(path("plain.json"), keep_decisions=False),
            Warden(keep_decisions=False),
        ]
        made[2].load(PLAIN)
        kept = Warden.from_policies(PLAIN)
        for w, reaches in [*[(m, True) for m in made], (kept, False)]:
            calls = count_decisions(w)
            for _ in range(5):
                assert w.check("tool.call", "tool/delete_x").reason == "no deleting"
                assert w.check("tool.call", "tool/lookup_order").allowed
            assert calls[0] == (10 if reaches else 2)
            assert (w._kept is None) is reaches


class TestConformanceVectors:
    def test_asked_twice_through_check_the_kept_answers_equal_the_engines(self) -> None:
        # Every vector group whose policies decide by action and resource alone, each request
        # asked twice (the second from kept decisions) and compared with a client that keeps none.
        groups = served = 0
        for file in sorted(conformance_dir().glob("*.json")):
            for group in json.loads(file.read_text("utf-8")).get("groups", []):
                w = Warden.from_policies(group["policies"])
                assert w.metadata is not None
                if not w.metadata["action_resource_only"]:
                    continue
                groups += 1
                engine_only = Warden.from_policies(group["policies"], keep_decisions=False)
                calls = count_decisions(w)
                for case in group["cases"]:
                    r = case["request"]
                    if r.get("context", {}) is None or r.get("resource", "") is None:
                        continue  # null means something else to check than to check_request
                    args = (r["action"], r.get("resource", ""), r.get("context"))
                    want = engine_only.check(*args)
                    assert want.allowed == case["expect"]["allowed"], (file.name, r)
                    assert w.check(*args) == want, (file.name, r)
                    before = calls[0]
                    assert w.check(*args) == want, (file.name, r)
                    if want.error is None and type(args[0]) is str and type(args[1]) is str:
                        assert calls[0] == before, (file.name, r)
                        served += 1
        assert groups > 0 and served > 0
