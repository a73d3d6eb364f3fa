"""Bad input, each a clear exception or decision: the engine stays usable
and nothing in force is lost."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from warden import PolicyInvalidError, Warden

IN_FORCE = [{"name": "in-force", "rules": [
    {"effect": "allow", "action": "tool.call", "resource": "tool/lookup_*"},
    {"effect": "allow", "action": "*a*a*a*b", "resource": "*"},
]}]


@pytest.fixture
def warden() -> Warden:
    return Warden.from_policies(IN_FORCE)


def still_in_force(w: Warden) -> None:
    d = w.check("tool.call", "tool/lookup_order")
    assert d.allowed and d.policy_name == "in-force"
    assert not w.check("tool.call", "tool/delete_account").allowed
    assert w.metadata is not None and w.metadata["policies"][0]["name"] == "in-force"


def refused(w: Warden, policies: Any) -> PolicyInvalidError:
    with pytest.raises(PolicyInvalidError) as caught:
        w.load(policies)
    still_in_force(w)
    return caught.value


@pytest.mark.parametrize(
    ("name", "policies", "expect"),
    [
        ("malformed JSON", '[{"rules": [', (0, "/rules", "unexpected end of input offset")),
        ("not JSON at all", "policies: yes", (-1, "", "expected a JSON value offset")),
        ("duplicate members", '[{"rules": [], "rules": []}]', (0, "/rules", "duplicate")),
        ("an unknown field", [{"rules": [], "rulez": []}], (0, "/rulez", "unknown field `rulez`")),
        ("a lone backslash in a pattern", [{"rules": [{"effect": "allow", "action": "tool\\"}]}], (0, "/rules/0/action", "\\")),
        ("a bad expression", [{"rules": [{"effect": "allow", "action": "a", "conditions": "context.amount <== 5"}]}],
         (0, "/rules/0/conditions", "invalid expression")),
        ("invalid UTF-8", b'[{"name": "\xff", "rules": []}]', (-1, "", "not valid UTF-8 offset")),
        ("an escaped lone surrogate", '[{"name": "\\udc00", "rules": []}]', (0, "/name", "lone surrogate")),
        ("a lone surrogate", [{"name": "\udc00", "rules": []}], (0, "/name", "lone surrogate")),
        ("a lone surrogate in JSON text", '[{"name": "\udc00", "rules": []}]', (-1, "", "lone surrogate")),
        ("JSON nested 10,000 deep", '[{"rules": [], "description": ' + "[" * 10_000 + "]" * 10_000 + "}]", (0, "/description", "256")),
        ("a policy nested 10,000 deep", None, (0, "/description", "256")),
        ("not a list", 42, (-1, "", "list of policy documents")),
    ],
)
def test_a_bad_policy_set_is_refused_with_every_error_named(warden: Warden, name: str, policies: Any, expect: tuple[int, str, str]) -> None:
    if policies is None:
        deep: dict[str, Any] = {}
        cursor = deep
        for _ in range(10_000):
            cursor["x"] = {}
            cursor = cursor["x"]
        policies = [{"rules": [], "description": deep}]
    e = refused(warden, policies)
    policy, pointer, words = expect
    assert any(x.policy == policy and x.pointer.startswith(pointer) for x in e.errors), (name, e.errors)
    text = " ".join(f"{x.message}{' offset' if x.offset is not None else ''}" for x in e.errors)
    assert words in text, (name, text)


def deep_value(depth: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    cursor = root
    for _ in range(depth):
        cursor["x"] = {}
        cursor = cursor["x"]
    return root


@pytest.mark.parametrize(
    ("name", "run", "message"),
    [
        ("a context value 10,000 deep", lambda w: w.check("tool.call", "tool/lookup_order", {"v": deep_value(10_000)}), "nests more than 64"),
        ("an agent 10,000 deep", lambda w: w.check("tool.call", "tool/lookup_order", agent=deep_value(10_000)), "nests more than 64"),
        ("a JSON request 10,000 deep", lambda w: w.check_request('{"action": ' + "[" * 10_000 + "]" * 10_000 + "}"), "not JSON"),
        ("an action over 1 MiB", lambda w: w.check("a" * (1 << 20) + "b"), "longer than 1 MiB"),
        ("a lone surrogate", lambda w: w.check("tool.call", "tool/\udfff"), "lone surrogate"),
        ("a lone surrogate in the agent", lambda w: w.check("tool.call", "tool/lookup_order", agent={"id": "\ud800"}), "lone surrogate"),
        ("a surrogate in a JSON request", lambda w: w.check_request('{"action": "\\ud800"}'), "lone surrogate"),
        ("bytes that are not UTF-8", lambda w: w.check_request(b'{"action": "\xff"}'), "not JSON"),
    ],
)
def test_a_bad_request_is_a_denial_that_says_why(warden: Warden, name: str, run: Callable[[Warden], Any], message: str) -> None:
    d = run(warden)
    assert not d.allowed and d.error is not None and d.error.code == "ERR_REQUEST_INVALID", name
    assert message in d.error.message, (name, d.error.message)
    still_in_force(warden)


def test_a_1_mb_action_is_decided(warden: Warden) -> None:
    action = "a" * 1_000_000
    for _ in range(3):  # text, then seen twice: too long to intern, still text
        d = warden.check(action)
        assert d.error is None and not d.allowed
    assert warden.check("a" * 999_999 + "b").allowed
    still_in_force(warden)


def test_a_backtracking_pattern_against_1_mb_is_decided(warden: Warden) -> None:
    # `*a*a*a*b` against a megabyte of `a`: a matcher that backtracks would not come back.
    assert not warden.check("a" * 1_000_000, "x").allowed
    assert warden.check("a" * 1_000_000 + "b", "x").error is None
    w = Warden.from_policies([{"rules": [{"effect": "allow", "action": "t", "resource": "*a*a*a*b"}]}])
    assert not w.check("t", "a" * 1_000_000).allowed
    assert w.check("t", "a" * 999_999 + "b").allowed
    still_in_force(warden)


def test_a_context_dict_that_fails_while_read_is_an_invalid_request_not_an_exception() -> None:
    class Broken(dict):  # type: ignore[type-arg]
        def items(self):  # type: ignore[no-untyped-def]
            raise RuntimeError("cannot list")

    w = Warden.from_policies([{"rules": [{"effect": "allow", "action": "a", "conditions": "context.x == 1"}]}])
    for keep in (True, False):
        d = Warden.from_policies([{"rules": [{"effect": "allow", "action": "a"}]}], keep_decisions=keep).check("a", "r", Broken(x=1))
        assert d.error is not None and d.error.code == "ERR_REQUEST_INVALID" and "cannot list" in d.error.message
    d = w.check("a", "r", Broken(x=1))
    assert d.error is not None and d.error.code == "ERR_REQUEST_INVALID"
