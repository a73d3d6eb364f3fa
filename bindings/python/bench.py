"""Decision latency of the Python binding, next to a peer engine in the same run.

Prints the median nanoseconds per ``check`` for the two workloads of
benchmarks/decide.bench.mjs — the support-bot policy over 8 rotating requests
(with kept decisions, the default, and with ``keep_decisions=False``: every
check through the engine), and the refund policy (conditions, trust, an
agent) over 8 — through the public API as an application calls it, and the
same workloads in Cedar
(``cedarpy``, the Python binding of the Rust engine) when it is installed
(``pip install -e '.[bench]'``). Before timing, every request is decided by
both engines and the decisions must agree.

Run: python bench.py [--quick]
"""

from __future__ import annotations

import platform
import statistics
import sys
import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

from warden import Warden, _engine_host

SUPPORT_BOT = [{
    "name": "support-bot-policy",
    "rules": [
        {"effect": "allow", "action": "llm.generate", "resource": "model/gpt-4"},
        {"effect": "allow", "action": "tool.call", "resource": "tool/lookup_order"},
        {"effect": "allow", "action": "tool.call", "resource": "tool/lookup_account"},
        {"effect": "deny", "action": "tool.call", "resource": "tool/issue_refund"},
        {"effect": "allow", "action": "tool.call", "resource": "tool/escalate_to_human"},
    ],
}]

# The support-bot conformance requests, and one more miss: a rotating mix of 8.
SUPPORT_MIX: list[tuple[str, str, dict[str, Any]]] = [
    ("llm.generate", "model/gpt-4", {"agent_id": "support-bot"}),
    ("tool.call", "tool/lookup_order", {"agent_id": "support-bot", "arguments": "{'order_id': 'ord_1001'}"}),
    ("tool.call", "tool/lookup_account", {"agent_id": "support-bot"}),
    ("tool.call", "tool/issue_refund", {"agent_id": "support-bot", "arguments": "{'order_id': 'ord_1001', 'amount': 20.0}"}),
    ("tool.call", "tool/escalate_to_human", {"agent_id": "support-bot"}),
    ("tool.call", "tool/delete_account", {"agent_id": "support-bot"}),
    ("llm.generate", "model/gpt-4o", {"agent_id": "support-bot"}),
    ("api.request", "https://example.com/", {"agent_id": "support-bot"}),
]
SUPPORT_EXPECTED = [True, True, True, False, True, False, False, False]

REFUNDS = [{
    "name": "refunds",
    "rules": [
        {"name": "small", "effect": "allow", "action": "tool.call", "resource": "tool/issue_refund", "conditions": "context.amount <= 50"},
        {"name": "elevated", "effect": "allow", "action": "tool.call", "resource": "tool/issue_refund", "trust_level": "elevated",
         "conditions": "context.amount <= 500"},
        {"name": "person", "effect": "escalate", "action": "tool.call", "resource": "tool/issue_refund", "conditions": "context.amount > 500"},
    ],
}]
REFUND_MIX: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"amount": amount}, agent)
    for amount in (20, 300, 900, 45)
    for agent in ({"id": "bot-1", "trust_level": "basic"}, {"id": "bot-2", "trust_level": "elevated"})
]
REFUND_EXPECTED = [True, True, False, True, False, False, True, True]

# The same policies in Cedar. Cedar has no escalate: a refund over $500 is a forbid (not allowed either way).
CEDAR_SUPPORT = """
permit(principal, action == Action::"llm.generate", resource == Resource::"model/gpt-4");
permit(principal, action == Action::"tool.call", resource == Resource::"tool/lookup_order");
permit(principal, action == Action::"tool.call", resource == Resource::"tool/lookup_account");
forbid(principal, action == Action::"tool.call", resource == Resource::"tool/issue_refund");
permit(principal, action == Action::"tool.call", resource == Resource::"tool/escalate_to_human");
"""
CEDAR_REFUNDS = """
permit(principal, action == Action::"tool.call", resource == Resource::"tool/issue_refund") when { context.amount <= 50 };
permit(principal, action == Action::"tool.call", resource == Resource::"tool/issue_refund") when { principal.trust >= 2 && context.amount <= 500 };
forbid(principal, action == Action::"tool.call", resource == Resource::"tool/issue_refund") when { context.amount > 500 };
"""
CEDAR_AGENTS = [
    {"uid": {"type": "Agent", "id": "support-bot"}, "attrs": {"trust": 1}, "parents": []},
    {"uid": {"type": "Agent", "id": "bot-1"}, "attrs": {"trust": 1}, "parents": []},
    {"uid": {"type": "Agent", "id": "bot-2"}, "attrs": {"trust": 2}, "parents": []},
]


def medians_ns(runs: list[tuple[Callable[[int], None], int]], rounds: int) -> list[float]:
    """For each (run, calls) the median over ``rounds`` of the mean time of ``calls`` calls, in ns.
    The runs take turns round by round, so a busy machine slows each of them alike."""
    for run, calls in runs:
        run(calls)  # warm up
    samples: list[list[float]] = [[] for _ in runs]
    for _ in range(rounds):
        for (run, calls), out in zip(runs, samples, strict=True):
            start = time.perf_counter_ns()
            run(calls)
            out.append((time.perf_counter_ns() - start) / calls)
    return [statistics.median(out) for out in samples]


def warden_runs(fast: bool) -> tuple[Callable[[int], None], Callable[[int], None], Callable[[int], None]]:
    _engine_host.FAST_CALLS = fast
    support = Warden.from_policies(SUPPORT_BOT)
    unkept = Warden.from_policies(SUPPORT_BOT, keep_decisions=False)
    refunds = Warden.from_policies(REFUNDS)
    _engine_host.FAST_CALLS = True
    assert support.metadata is not None and support.metadata["action_resource_only"] is True
    assert [support.check(a, r, c) for a, r, c in SUPPORT_MIX] == [unkept.check(a, r, c) for a, r, c in SUPPORT_MIX]
    assert [support.check(a, r, c).allowed for a, r, c in SUPPORT_MIX] == SUPPORT_EXPECTED
    assert [refunds.check("tool.call", "tool/issue_refund", c, a).allowed for c, a in REFUND_MIX] == REFUND_EXPECTED
    assert [refunds.check("tool.call", "tool/issue_refund", c, a).effect for c, a in REFUND_MIX][4:6] == ["escalate", "escalate"]

    def support_run(w: Warden) -> Callable[[int], None]:
        def run_support(n: int) -> None:
            check = w.check
            mix = SUPPORT_MIX
            for i in range(n):
                a, r, c = mix[i & 7]
                check(a, r, c)

        return run_support

    def run_refunds(n: int) -> None:
        check = refunds.check
        mix = REFUND_MIX
        for i in range(n):
            c, a = mix[i & 7]
            check("tool.call", "tool/issue_refund", c, a)

    return support_run(support), support_run(unkept), run_refunds


def cedar_runs() -> tuple[Callable[[int], None], Callable[[int], None]] | str:
    try:
        import cedarpy
    except ImportError:
        return "not installed (pip install -e '.[bench]' installs cedarpy 4.12.2)"
    support_policies = cedarpy.PolicySet.from_str(CEDAR_SUPPORT)
    refund_policies = cedarpy.PolicySet.from_str(CEDAR_REFUNDS)
    entities = cedarpy.Entities.from_json_str(__import__("json").dumps(CEDAR_AGENTS))
    support_requests = [
        {"principal": 'Agent::"support-bot"', "action": f'Action::"{a}"', "resource": {"type": "Resource", "id": r}, "context": c}
        for a, r, c in SUPPORT_MIX
    ]
    refund_requests = [
        {"principal": f'Agent::"{agent["id"]}"', "action": 'Action::"tool.call"', "resource": 'Resource::"tool/issue_refund"', "context": c}
        for c, agent in REFUND_MIX
    ]
    allow = cedarpy.Decision.Allow
    decided = [cedarpy.is_authorized(q, support_policies, entities).decision == allow for q in support_requests]
    assert decided == SUPPORT_EXPECTED, f"Cedar decides the support-bot mix differently: {decided}"
    decided = [cedarpy.is_authorized(q, refund_policies, entities).decision == allow for q in refund_requests]
    assert decided == REFUND_EXPECTED, f"Cedar decides the refund mix differently: {decided}"
    is_authorized = cedarpy.is_authorized

    def run_support(n: int) -> None:
        for i in range(n):
            is_authorized(support_requests[i & 7], support_policies, entities)

    def run_refunds(n: int) -> None:
        for i in range(n):
            is_authorized(refund_requests[i & 7], refund_policies, entities)

    return run_support, run_refunds


def main() -> None:
    quick = "--quick" in sys.argv
    rounds, per_round = (5, 500) if quick else (31, 4000)
    wasmtime_version = metadata.version("wasmtime")
    print(f"Python {platform.python_version()}, wasmtime {wasmtime_version}; median of {rounds} rounds ({per_round} checks a round for warden, {per_round // 8} for the others)\n")
    fast = warden_runs(True)
    public = warden_runs(False)
    peer = cedar_runs()
    names = [
        "support-bot policy, 8 rotating requests",
        "support-bot policy, 8 rotating, keep_decisions=False",
        "refund policy: conditions, trust, 8 rotating requests",
    ]
    peer_workload = [0, 0, 1]
    peer_name = "cedarpy" if not isinstance(peer, str) else "peer"
    print(f"{'check':<56} {'warden':>10} {'warden*':>10} {peer_name + ' ' + (metadata.version('cedarpy') if not isinstance(peer, str) else ''):>16}")
    for i, name in enumerate(names):
        runs = [(fast[i], per_round), (public[i], per_round // 8)]
        if not isinstance(peer, str):
            runs.append((peer[peer_workload[i]], per_round // 8))
        figures = medians_ns(runs, rounds)
        theirs = f"{figures[2]:>13,.0f} ns" if len(figures) > 2 else "—"
        print(f"{name:<56} {figures[0]:>7,.0f} ns {figures[1]:>7,.0f} ns {theirs:>16}")
    print("\nwarden: through wasmtime's raw call entry point (the default); warden*: through wasmtime.Func.__call__")
    print("support-bot: its policy decides by action and resource alone, so check keeps its decisions (the default);")
    print("  keep_decisions=False sends every check through the engine")
    if isinstance(peer, str):
        print(f"peer: cedarpy {peer}")
    else:
        print("cedarpy: Cedar's Rust engine, policies and entities pre-parsed (PolicySet, Entities); the same decisions checked first")


if __name__ == "__main__":
    main()
