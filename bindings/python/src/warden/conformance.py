"""The Python conformance runner: every Python runtime runs the shared
vectors (``shared/conformance/``, read in place) through the public
``Warden`` API with this one runner, as ``@warden/core``'s runner does in
TypeScript. It counts the checks the files hold and reports a run that ran
fewer, so a skipped file cannot pass unnoticed; a missing folder fails.

Run it alone with ``python -m warden.conformance [FOLDER]``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .decision import Decision
from .errors import BundleError, PolicyInvalidError
from .warden import Warden


def default_directory() -> Path:
    """``WARDEN_CONFORMANCE_DIR``, else ``shared/conformance`` beside the
    repository this file stands in (``../../../shared/conformance`` from
    ``bindings/python``)."""
    env = os.environ.get("WARDEN_CONFORMANCE_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[5] / "shared" / "conformance"


@dataclass(frozen=True)
class ConformanceFailure:
    file: str
    #: Group name and case index, or the invalid document's name.
    check: str
    message: str


@dataclass
class ConformanceResult:
    #: Checks the files hold (cases of decision files, documents of
    #: invalid-policies.json, bundle cases, twice for `needs: allow_plain`).
    checks: int = 0
    #: Checks that ran.
    ran: int = 0
    passed: int = 0
    failures: list[ConformanceFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and self.ran == self.checks == self.passed and self.checks > 0


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a) == json.dumps(b)


def compare_decision(d: Decision, expect: dict[str, Any]) -> list[str]:
    """Differences between a decision and what a vector expects (empty when it conforms)."""
    problems: list[str] = []

    def check(name: str, actual: Any, expected: Any) -> None:
        if not _same(actual, expected):
            problems.append(f"{name}: expected {json.dumps(expected)}, got {json.dumps(actual)}")

    check("allowed", d.allowed, expect["allowed"])
    check("policy", d.policy, expect["policy"])
    check("rule", d.rule, expect["rule"])
    if "effect" in expect:
        check("effect", d.effect, expect["effect"])
    if "reason" in expect:
        check("reason", d.reason, expect["reason"])
    if "indeterminate" in expect:
        check("indeterminate", list(d.indeterminate), expect["indeterminate"])
    if "rate_limit" in expect:
        limit = None if d.rate_limit is None else {"policy": d.rate_limit.policy, "index": d.rate_limit.index}
        check("rate_limit", limit, expect["rate_limit"])
    if "error" in expect:
        check("error", d.error.code if d.error else None, expect["error"])
    elif d.error is not None:
        problems.append(f"unexpected request error: {d.error.message}")
    return problems


def run_conformance(directory: str | os.PathLike[str] | None = None, create: Callable[[], Warden] = Warden) -> ConformanceResult:
    """Runs every decision file, ``invalid-policies.json`` and the bundle
    manifest of the folder; ``create`` gives a fresh client (no policies) for
    each group and case. Raises ``FileNotFoundError`` when the folder is missing."""
    folder = Path(directory) if directory is not None else default_directory()
    if not folder.is_dir():
        raise FileNotFoundError(f"conformance vectors not found at {folder}: set WARDEN_CONFORMANCE_DIR")
    files = sorted(p.name for p in folder.iterdir() if p.name.endswith(".json") and p.is_file())
    if not files:
        raise FileNotFoundError(f"the conformance folder {folder} holds no vector files")
    result = ConformanceResult()

    def fail(file: str, check: str, message: str) -> None:
        result.failures.append(ConformanceFailure(file, check, message))

    for file in files:
        doc = json.loads((folder / file).read_text("utf-8"))
        if "invalid" in doc:
            result.checks += len(doc["invalid"])
            for item in doc["invalid"]:
                warden = create()
                result.ran += 1
                try:
                    warden.load(item["policies"])
                    fail(file, item["name"], "loaded, but must be refused")
                except PolicyInvalidError as e:
                    want = item["error"]
                    if any(x.policy == want["policy"] and x.pointer == want["pointer"] for x in e.errors):
                        result.passed += 1
                    else:
                        got = [{"policy": x.policy, "pointer": x.pointer, "message": x.message} for x in e.errors]
                        fail(file, item["name"], f"no error names policy {want['policy']} at {json.dumps(want['pointer'])}; got {json.dumps(got)}")
                except Exception as e:
                    fail(file, item["name"], f"raised {e!r} instead of ERR_POLICY_INVALID")
            continue
        if "groups" not in doc:
            raise ValueError(f"{file} has neither `groups` nor `invalid`")
        for group in doc["groups"]:
            result.checks += len(group["cases"])
        for group in doc["groups"]:
            warden = create()
            try:
                warden.load(group["policies"])
            except PolicyInvalidError as e:
                fail(file, group["name"], f"policies do not load: {e}")
                result.ran += len(group["cases"])
                continue
            for i, case in enumerate(group["cases"]):
                result.ran += 1
                d = warden.check_request(case["request"])
                problems = compare_decision(d, case["expect"])
                if problems:
                    fail(file, f"{group['name']} #{i}", f"{json.dumps(case['request'])}: {'; '.join(problems)}")
                else:
                    result.passed += 1
    _run_bundles(folder, create, result)
    return result


def _run_bundles(folder: Path, create: Callable[[], Warden], result: ConformanceResult) -> None:
    """The bundle vectors (bundles/manifest.json): each case in a fresh client
    that trusts the manifest's keys and serves its project; ``after`` loads
    first; a case that ``needs: allow_plain`` counts twice, loading with plain
    bundles allowed and failing with ERR_BUNDLE_DECRYPT without."""
    manifest = json.loads((folder / "bundles" / "manifest.json").read_text("utf-8"))
    cases = manifest["cases"]
    for case in cases:
        result.checks += 2 if case["expect"].get("needs") == "allow_plain" else 1

    def outcome(case: dict[str, Any], allow_plain: bool) -> dict[str, Any]:
        warden = create()
        trust = dict(
            project=manifest["project"], project_key=manifest["project_key"],
            trusted_keys=manifest["trusted_keys"], allow_plain=allow_plain,
        )
        try:
            after = case["expect"].get("after")
            if after:
                warden.load_bundle((folder / "bundles" / after).read_text("utf-8"), **trust)
            version, _ = warden.load_bundle((folder / "bundles" / case["file"]).read_text("utf-8"), **trust)
            return {"version": version, "policies": len(warden.metadata["policies"]) if warden.metadata else 0}
        except (BundleError, PolicyInvalidError) as e:
            return {"error": e.code}
        except Exception as e:
            return {"error": f"raised {e!r}"}

    for case in cases:
        e = case["expect"]
        success = {"version": e["version"], "policies": e["policies"]} if e.get("ok") else {"error": e["error"]}
        label = case.get("note", case["file"])
        runs = [(True, success, f"{label} (plain bundles allowed)"), (False, {"error": "ERR_BUNDLE_DECRYPT"}, f"{label} (plain bundles not allowed)")] \
            if e.get("needs") == "allow_plain" else [(False, success, label)]
        for allow_plain, expected, name in runs:
            result.ran += 1
            got = outcome(case, allow_plain)
            if _same(got, expected):
                result.passed += 1
            else:
                result.failures.append(ConformanceFailure(f"bundles/{case['file']}", name, f"expected {json.dumps(expected)}, got {json.dumps(got)}"))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    result = run_conformance(args[0] if args else None)
    for f in result.failures:
        print(f"FAIL {f.file} {f.check}: {f.message}")
    print(f"conformance: {result.passed}/{result.checks} checks passed ({result.ran} ran)")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
