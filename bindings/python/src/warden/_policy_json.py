"""Policies given as Python values, written as the JSON the engine loads. A
value JSON cannot carry (NaN, an infinity, a set, a lone surrogate) is a load
error at its pointer, never quietly changed: in a policy it would change
what a rule means."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from ._engine_host import InvalidRequest, json_name
from .errors import PolicyError, PolicyInvalidError


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


#: The engine's own bound on nesting (ABI.md §Loading); deeper values are reported here, where
#: the json module would run out of stack.
MAX_NESTING = 256


def _problems(v: Any, pointer: str, out: list[tuple[str, str]], stack: set[int], depth: int = 1) -> None:
    if isinstance(v, str):
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            out.append((pointer, "a string holds a lone surrogate, which is not Unicode text"))
    elif v is None or isinstance(v, (bool, int)):
        return
    elif isinstance(v, float):
        if not math.isfinite(v):
            out.append((pointer, "a number JSON cannot carry (infinite or not a number)"))
    elif isinstance(v, (dict, list, tuple)):
        if depth > MAX_NESTING:
            out.append((pointer, f"JSON nests deeper than {MAX_NESTING} levels"))
            return
        if id(v) in stack:
            out.append((pointer, "a value that contains itself has no JSON form"))
            return
        stack.add(id(v))
        if isinstance(v, dict):
            for key, e in v.items():
                if isinstance(key, float) and not math.isfinite(key):
                    out.append((pointer, "a member name that is an infinite or not-a-number float has no JSON form"))
                    continue
                try:
                    name = json_name(key)
                except InvalidRequest as problem:
                    out.append((pointer, str(problem)))
                    continue
                _problems(name, f"{pointer}/{_escape(name)}", out, stack, depth)
                _problems(e, f"{pointer}/{_escape(name)}", out, stack, depth + 1)
        else:
            for i, e in enumerate(v):
                _problems(e, f"{pointer}/{i}", out, stack, depth + 1)
        stack.discard(id(v))
    else:
        out.append((pointer, f"a value of type `{type(v).__name__}` has no JSON form"))


def policies_json(policies: Any) -> bytes:
    """The UTF-8 JSON array of ``policies``: a list of policy dicts, one dict,
    or JSON text (str or bytes), which is passed through for the engine to read."""
    if isinstance(policies, (bytes, bytearray, memoryview)):
        return bytes(policies)
    if isinstance(policies, str):
        try:
            return policies.encode("utf-8")
        except UnicodeEncodeError:
            raise PolicyInvalidError([PolicyError(-1, "", "the policies' text holds a lone surrogate, which is not Unicode text")]) from None
    documents = [policies] if isinstance(policies, Mapping) else policies
    if isinstance(documents, Mapping) or not isinstance(documents, (list, tuple)):
        raise PolicyInvalidError([PolicyError(-1, "", "policies must be a list of policy documents (dicts), one dict, or JSON text")])
    documents = [dict(d) if isinstance(d, Mapping) and not isinstance(d, dict) else d for d in documents]
    try:
        return json.dumps(documents, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
    except (ValueError, TypeError, UnicodeEncodeError, RecursionError) as e:
        found: list[tuple[str, str]] = []
        errors: list[PolicyError] = []
        for index, document in enumerate(documents):
            found.clear()
            _problems(document, "", found, set())
            errors.extend(PolicyError(index, pointer, message) for pointer, message in found)
        raise PolicyInvalidError(errors or [PolicyError(-1, "", f"the policies have no JSON form: {e}")]) from None
