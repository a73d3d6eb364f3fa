"""Shared pieces of the binding's tests: where the conformance vectors and
the engine's build stand, and a folder of policy files."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PACKAGE = HERE.parent
REPOSITORY = PACKAGE.parent.parent


def conformance_dir() -> Path:
    """WARDEN_CONFORMANCE_DIR, else ../../../shared/conformance from bindings/python."""
    return Path(os.environ.get("WARDEN_CONFORMANCE_DIR") or PACKAGE / "../../../shared/conformance").resolve()


@pytest.fixture
def write_files(tmp_path: Path) -> Callable[[dict[str, str]], Callable[[str], str]]:
    """Writes files into a fresh folder; returns a function giving each one's path."""

    def write(entries: dict[str, str]) -> Callable[[str], str]:
        for name, text in entries.items():
            (tmp_path / name).write_text(text, encoding="utf-8")
        return lambda name: str(tmp_path / name)

    return write
