"""The shared conformance vectors through the public API, with the one
Python runner (warden.conformance), through both ways of calling wasmtime."""

from __future__ import annotations

import pytest

from warden import Warden, _engine_host
from warden.conformance import run_conformance

from .conftest import conformance_dir


def test_every_vector_passes(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_conformance(conformance_dir())
    with capsys.disabled():
        print(f"\nconformance: {result.passed}/{result.checks} checks passed ({result.ran} ran)")
    assert result.failures == []
    assert result.checks > 0
    assert result.ran == result.checks
    assert result.passed == result.checks


def test_every_vector_passes_through_wasmtimes_public_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_engine_host, "FAST_CALLS", False)
    assert Warden()._engine.fast is False
    result = run_conformance(conformance_dir())
    assert result.failures == []
    assert result.ran == result.checks == result.passed


def test_a_missing_folder_fails(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FileNotFoundError, match="WARDEN_CONFORMANCE_DIR"):
        run_conformance(tmp_path / "nowhere")


def test_a_failing_vector_is_reported(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # A copy of the vectors with one expectation turned around must fail exactly there.
    import shutil

    copy = tmp_path / "conformance"
    shutil.copytree(conformance_dir(), copy)
    support = copy / "support-bot.json"
    text = support.read_text("utf-8")
    assert '"allowed": true' in text
    support.write_text(text.replace('"allowed": true', '"allowed": false', 1), "utf-8")
    result = run_conformance(copy)
    assert result.ran == result.checks
    assert [f.file for f in result.failures] == ["support-bot.json"]
    assert result.passed == result.checks - 1
