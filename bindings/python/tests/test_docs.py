"""The examples in the package's docstrings run as written."""

from __future__ import annotations

import doctest

import pytest

import warden
from warden import _bundle_crypto, approval, errors
from warden import warden as client


@pytest.mark.parametrize("module", [warden, client, errors, _bundle_crypto, approval], ids=lambda m: m.__name__)
def test_docstring_examples_run(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert result.attempted > 0
    assert result.failed == 0
