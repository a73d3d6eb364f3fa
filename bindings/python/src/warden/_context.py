"""The request's context as the engine sees it (policy-language.md §1a, §3):
a JSON object as Python's json module would write it, checked as a whole for
the limits only the host can see, and sent as the values at the paths the
policies read."""

from __future__ import annotations

from typing import Any

from ._engine_host import TOO_DEEP, InvalidRequest, json_name

MAX_DEPTH = 64
MAX_STRING_BYTES = 1 << 20
#: Strings this short cannot exceed 1 MiB of UTF-8 (4 bytes per code point at most).
SAFE_LENGTH = MAX_STRING_BYTES // 4

#: Marks a path with no value.
MISSING: Any = object()

EMPTY: dict[str, Any] = {}

NOT_OBJECT = "`context` must be a JSON object (a dict)"
LONG_STRING = "the context holds a string longer than 1 MiB of UTF-8"
LONG_NAME = "the context holds a member name longer than 1 MiB of UTF-8"


def _too_long(s: str) -> bool:
    return len(s) > MAX_STRING_BYTES or len(s.encode("utf-8", "surrogatepass")) > MAX_STRING_BYTES


class _Walk:
    """One pass over a context: the first problem, and whether a member name is not a str."""

    __slots__ = ("renamed",)

    def __init__(self) -> None:
        self.renamed = False

    def value(self, v: Any, level: int) -> str | None:
        """``level`` is the nesting level ``v`` would have as a container (the context is 1)."""
        t = type(v)
        if t is str:
            return LONG_STRING if len(v) > SAFE_LENGTH and _too_long(v) else None
        if t is int or t is float or t is bool or v is None:
            return None
        if isinstance(v, dict):
            return TOO_DEEP if level > MAX_DEPTH else self.members(v, level)
        if isinstance(v, (list, tuple)):
            if level > MAX_DEPTH:
                return TOO_DEEP
            for e in v:
                problem = self.value(e, level + 1)
                if problem is not None:
                    return problem
            return None
        if isinstance(v, str):
            return LONG_STRING if len(v) > SAFE_LENGTH and _too_long(v) else None
        if isinstance(v, (int, float)):
            return None
        return f"the context holds a value of type `{t.__name__}`, which has no JSON form"

    def members(self, obj: dict[Any, Any], level: int) -> str | None:
        for key, v in obj.items():
            if type(key) is not str:
                self.renamed = True
                try:
                    key = json_name(key)
                except InvalidRequest as e:
                    return str(e)
            if len(key) > SAFE_LENGTH and _too_long(key):
                return LONG_NAME
            t = type(v)
            if t is str:
                if len(v) > SAFE_LENGTH and _too_long(v):
                    return LONG_STRING
            elif t is not int and t is not float and t is not bool and v is not None:
                problem = self.value(v, level + 1)
                if problem is not None:
                    return problem
        return None


def check_context(context: Any) -> dict[str, Any] | str:
    """The context as a dict of str member names, or (a str) the reason it is
    not a valid one: not a dict, nested more than 64 deep (the context itself
    is level 1), a string or member name over 1 MiB of UTF-8, or a value the
    json module cannot write."""
    if context is None:
        return EMPTY
    if not isinstance(context, dict):
        return NOT_OBJECT
    if _all_plain(context):
        return context
    walk = _Walk()
    problem = _walked(context, walk)
    if problem is not None:
        return problem
    return _renamed(context) if walk.renamed else context


def context_problem(context: Any) -> str | None:
    """What ``check_context`` refuses in the context (the same message), or None:
    the same validity answer without building the dict that would be sent. For
    a request none of whose context is sent (no context paths): a lone
    surrogate in it is then no problem, as on the full path."""
    if context is None:
        return None
    if not isinstance(context, dict):
        return NOT_OBJECT
    if _all_plain(context):
        return None
    return _walked(context, _Walk())


def _all_plain(context: dict[Any, Any]) -> bool:
    """Whether the context is the common one, with nothing to check further:
    str names and short strings, numbers, booleans, nulls. (A dict subclass
    that fails while read is not: the full walk then says why.)"""
    try:
        for key, v in context.items():
            t = type(v)
            if type(key) is not str or len(key) > SAFE_LENGTH or not (
                (t is str and len(v) <= SAFE_LENGTH) or t is int or t is float or t is bool or v is None
            ):
                return False
    except Exception:
        return False
    return True


def _walked(context: dict[Any, Any], walk: _Walk) -> str | None:
    """The first problem of a context that is not all plain members, or None."""
    try:
        return walk.members(context, 1)
    except Exception as e:  # a dict or list subclass of the caller's that fails while read
        return f"the context cannot be read as JSON: {e}"


def _renamed(v: Any) -> Any:
    """A copy whose member names are all str, as json.dumps writes them (a later duplicate wins, as in a JSON reader)."""
    if isinstance(v, dict):
        return {json_name(k): _renamed(e) for k, e in v.items()}
    if isinstance(v, (list, tuple)):
        return [_renamed(e) for e in v]
    return v


def value_at(context: dict[str, Any], segments: tuple[str, ...]) -> Any:
    """The value at a context path (its segments after ``context.``), or MISSING."""
    v: Any = context
    for segment in segments:
        if not isinstance(v, dict):
            return MISSING
        v = v.get(segment, MISSING)
        if v is MISSING:
            return MISSING
    return v
