"""Warden.guard: a check before every call of a plain function."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from warden import PolicyViolationError, Warden

POLICIES = [{
    "name": "tools",
    "rules": [
        {"effect": "allow", "action": "tool.call", "resource": "tool/lookup_order"},
        {"effect": "allow", "action": "tool.call", "resource": "tool/issue_refund", "conditions": "context.amount <= 50"},
        {"effect": "escalate", "action": "tool.call", "resource": "tool/issue_refund", "conditions": "context.amount > 500"},
        {"effect": "allow", "action": "db.read", "resource": "table/*", "conditions": "agent.id == 'bot'"},
        {"effect": "allow", "action": "tool.call", "resource": "tool/*.Orders.cancel", "conditions": "context.order_id == 'o1'"},
    ],
}]


@pytest.fixture
def warden() -> Warden:
    return Warden.from_policies(POLICIES)


def test_fills_the_resource_from_the_functions_name_and_sends_the_arguments_as_context(warden: Warden) -> None:
    calls: list[Any] = []

    @warden.guard("tool.call", "tool/{name}")
    def issue_refund(order_id: str, amount: float = 10, **extra: Any) -> str:
        calls.append((order_id, amount, extra))
        return "refunded"

    assert issue_refund("o1") == "refunded"
    assert issue_refund("o1", amount=50, note="x") == "refunded"
    with pytest.raises(PolicyViolationError) as denied:
        issue_refund("o1", amount=100)
    assert denied.value.decision.effect == "deny"
    with pytest.raises(PolicyViolationError) as escalated:
        issue_refund("o1", 900)
    assert escalated.value.decision.effect == "escalate"
    assert calls == [("o1", 10, {}), ("o1", 50, {"note": "x"})]
    assert issue_refund.__name__ == "issue_refund"


def test_fills_templates_from_arguments_and_takes_the_agent(warden: Warden) -> None:
    current = {"id": "bot"}

    @warden.guard("db.read", "table/{table}", agent=lambda: current)
    def read(table: str) -> str:
        return table

    assert read("orders") == "orders"
    current = {"id": "someone"}
    with pytest.raises(PolicyViolationError):
        read("orders")


def test_leaves_self_out_of_the_context_and_can_map_the_arguments(warden: Warden) -> None:
    class Orders:
        @warden.guard("tool.call", "tool/{qualname}")
        def cancel(self, order_id: str) -> str:
            return order_id

        @warden.guard("tool.call", "tool/issue_refund", context=lambda args: {"amount": args["cents"] / 100})
        def refund(self, cents: int) -> int:
            return cents

    assert Orders().cancel("o1") == "o1"
    with pytest.raises(PolicyViolationError):
        Orders().cancel("o2")
    assert Orders().refund(2000) == 2000
    with pytest.raises(PolicyViolationError):
        Orders().refund(20000)


def test_guards_coroutines(warden: Warden) -> None:
    @warden.guard("tool.call", "tool/{name}")
    async def lookup_order(order_id: str) -> str:
        return order_id

    @warden.guard("tool.call", "tool/{name}")
    async def delete_account(user: str) -> None:
        raise AssertionError("must not run")

    assert asyncio.run(lookup_order("o1")) == "o1"
    with pytest.raises(PolicyViolationError):
        asyncio.run(delete_account("u"))


def test_arguments_json_cannot_carry_are_a_denial_that_says_so(warden: Warden) -> None:
    @warden.guard("tool.call", "tool/{name}")
    def lookup_order(connection: object) -> None:
        raise AssertionError("must not run")

    with pytest.raises(PolicyViolationError) as caught:
        lookup_order(object())
    assert caught.value.decision.error is not None
    assert caught.value.decision.error.code == "ERR_REQUEST_INVALID"


def test_a_template_naming_what_the_function_does_not_have_fails_when_decorated(warden: Warden) -> None:
    with pytest.raises(ValueError, match="order"):
        @warden.guard("tool.call", "tool/{order}")
        def f(order_id: str) -> None: ...

    with pytest.raises(ValueError, match="both a field of the function and an argument"):
        @warden.guard("tool.call", "tool/{name}")
        def g(name: str) -> None: ...

    with pytest.raises(ValueError, match="name its fields"):
        @warden.guard("tool.call", "tool/{0}")
        def h(x: str) -> None: ...
