"""Audit records and alerts (docs/audit.md), as the TypeScript hosts write them."""

from __future__ import annotations

import json
import os
import stat
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from warden import REDACTED, Approval, Approvals, AuditErrorEvent, Warden, audit_log

POLICIES: list[dict[str, Any]] = [
    {
        "name": "support",
        "audit": {"log_allowed": False, "redact": ["user.email", "card"]},
        "rules": [
            {"name": "lookups", "effect": "allow", "action": "tool.call", "resource": "tool/lookup_*"},
            {"name": "quiet", "effect": "deny", "action": "tool.call", "resource": "tool/ping", "log": False},
            {"name": "refunds", "effect": "escalate", "action": "tool.call", "resource": "tool/refund", "log_context": ["amount", "user.email", "order.id"]},
            {"name": "deletes", "effect": "deny", "action": "tool.call", "resource": "tool/delete_*", "alert": True, "reason": "never delete"},
        ],
    },
    {"name": "models", "rules": [{"effect": "allow", "action": "model.call", "alert": True}]},
]

#: The members every host writes, in the TypeScript record's order.
MEMBERS = ["at", "action", "resource", "agent", "context", "allowed", "effect", "policy", "policyName", "rule", "ruleName",
           "reason", "indeterminate", "rateLimit", "bundleVersion", "alert"]

CLOCK = 1772704800 * 10**9  # 2026-03-05T10:00:00Z


def audited(**options: Any) -> tuple[Warden, list[dict[str, Any]]]:
    records: list[dict[str, Any]] = []
    return Warden.from_policies(POLICIES, audit=records.append, clock=lambda: CLOCK, **options), records


def test_records_are_written_as_the_rule_log_and_the_policy_audit_settings_say() -> None:
    w, records = audited()
    w.check("tool.call", "tool/lookup_order", {"user": {"email": "a@b.c"}}, {"id": "bot"})  # the policy does not log allowed
    w.check("tool.call", "tool/ping")  # the rule does not log
    w.check("model.call", "gpt")  # allowed by a policy that logs allowed decisions
    w.check("tool.call", "tool/nothing")  # no rule: the default deny is logged
    assert [(r["effect"], r["policyName"], r["ruleName"]) for r in records] == [("allow", "models", None), ("deny", None, None)]
    assert list(records[0]) == MEMBERS
    assert records[0] | {"reason": ""} == {
        "at": "2026-03-05T10:00:00.000Z", "action": "model.call", "resource": "gpt", "agent": None, "context": None, "allowed": True,
        "effect": "allow", "policy": 1, "policyName": "models", "rule": 0, "ruleName": None, "reason": "", "indeterminate": [],
        "rateLimit": None, "bundleVersion": None, "alert": True,
    }


def test_records_carry_the_log_context_alone_and_every_policys_redactions() -> None:
    w, records = audited()
    context: dict[str, Any] = {"amount": 900, "user": {"email": "a@b.c", "name": "Ann"}, "card": "4111", "note": "x"}
    w.check_request({"action": "tool.call", "resource": "tool/refund", "context": context, "agent": {"id": "bot", "tags": ["t"]},
                     "time": "2026-03-05T12:00:00+01:00"})
    w.check("tool.call", "tool/delete_account", {**context, "ratio": float("nan")})
    assert records[0]["at"] == "2026-03-05T11:00:00.000Z"
    assert records[0]["agent"] == {"id": "bot", "tags": ["t"]}
    assert records[0]["context"] == {"amount": 900, "user": {"email": REDACTED}}
    assert records[1]["context"] == {"amount": 900, "user": {"email": REDACTED, "name": "Ann"}, "card": REDACTED, "note": "x", "ratio": None}
    context["user"]["name"] = "Bob"  # the record is a copy
    assert records[1]["context"]["user"]["name"] == "Ann"


def test_invalid_requests_and_approvals_are_recorded() -> None:
    w, records = audited(approvals=Approvals(lambda request: Approval(True, "lead@shop")))
    w.check("tool.call", "tool/x", {"bad": object()})
    approved = w.authorize("tool.call", "tool/refund", {"amount": 900})
    assert [(r["effect"], r["allowed"], r.get("approvedBy"), r.get("error", {}).get("code")) for r in records] == [
        ("deny", False, None, "ERR_REQUEST_INVALID"), ("escalate", False, None, None), ("escalate", True, "lead@shop", None),
    ]
    assert records[2]["approvalDigest"] == approved.approval_digest


def test_alerts_are_raised_and_a_raising_sink_or_listener_never_stops_a_decision() -> None:
    def failing(record: dict[str, Any]) -> None:
        raise OSError("disk full")

    w = Warden.from_policies(POLICIES, audit=failing)
    alerts: list[str] = []
    errors: list[str] = []
    w.on("alert", lambda r: alerts.append(r["ruleName"] or r["policyName"]))
    def broken(record: dict[str, Any]) -> None:
        raise ZeroDivisionError("pager down")

    w.on("alert", broken)
    w.on("audit_error", lambda e: errors.append(type(e.error).__name__) if isinstance(e, AuditErrorEvent) else None)
    assert w.check("tool.call", "tool/delete_account").reason == "never delete"
    assert w.enforce("model.call", "gpt").allowed
    assert alerts == ["deletes", "models"]
    assert errors == ["ZeroDivisionError", "OSError", "ZeroDivisionError", "OSError"]


def test_a_client_without_a_sink_or_alert_listener_checks_on_its_class_method() -> None:
    plain = Warden.from_policies(POLICIES)
    assert "check" not in vars(plain)
    plain.on("alert", lambda r: None)
    assert "check" in vars(plain)


def test_audit_log_appends_json_lines_to_a_file_only_its_owner_reads(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "audit.jsonl"
    with audit_log(path) as log:
        w = Warden.from_policies(POLICIES, audit=log)
        threads = [threading.Thread(target=lambda: [w.check("tool.call", "tool/delete_x", {"user": {"email": "é"}}) for _ in range(50)]) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    lines = path.read_text("utf-8").splitlines()
    assert len(lines) == 200
    record = json.loads(lines[0])
    assert list(record) == MEMBERS
    assert record["context"] == {"user": {"email": REDACTED}}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    try:
        log({"at": "x"})
    except ValueError as e:
        assert "closed" in str(e)
    else:
        raise AssertionError("a closed log took a record")


def test_an_approval_is_recorded_under_the_policies_that_escalated_with_the_request_as_given() -> None:
    records: list[dict[str, Any]] = []
    escalating = [{"name": "e", "audit": {"redact": ["card"]}, "rules": [{"effect": "escalate", "action": "pay"}]}]
    w: Warden

    def handler(request: Any) -> Approval:
        w.load([{"name": "other", "rules": []}])  # a new bundle while a person decides
        return Approval(True, "ann")

    w = Warden.from_policies(escalating, audit=records.append, approvals=Approvals(handler))
    w.authorize("pay", "", {"card": "4111"})
    w.load(escalating)
    w.authorize("pay")
    assert [(r["allowed"], r["resource"], r["context"]) for r in records] == [
        (False, None, {"card": REDACTED}), (True, None, {"card": REDACTED}), (False, None, None), (True, None, None),
    ]


def test_records_hold_what_json_writes_of_odd_requests_and_times_as_javascript_writes_them() -> None:
    w, records = audited()
    w.check_request({"action": float("nan"), "resource": ""})
    w.check_request('{"action": "a", "resource": "", "time": "2026-03-05 10:00"}')
    w.check("a", "r", time=datetime(1, 1, 1, tzinfo=timezone.utc))
    Warden.from_policies([], audit=records.append, clock=lambda: CLOCK + 999_999_700).check("a")
    assert [(r["action"], r["resource"], r["at"]) for r in records] == [
        (None, "", "2026-03-05T10:00:00.000Z"), ("a", "", "2026-03-05 10:00"), ("a", "r", "0001-01-01T00:00:00.000Z"),
        ("a", None, "2026-03-05T10:00:00.999Z"),
    ]
