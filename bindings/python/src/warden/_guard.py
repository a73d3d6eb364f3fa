"""``Warden.guard``: a check before every call of a plain function.

The action and resource are ``str.format`` templates over the function's
``name``, ``qualname`` and ``module`` and its arguments by parameter name;
the context is the arguments themselves (or what ``context`` makes of them).
A template that names anything else is an error when the function is
decorated, not when it is first called."""

from __future__ import annotations

import functools
import inspect
import string
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .decision import Agent

if TYPE_CHECKING:
    from .warden import Warden

_FUNCTION_FIELDS = ("name", "qualname", "module")


def _fields(template: str) -> set[str]:
    """The root names a template reads (``{amount}``, ``{order.id}`` → ``order``)."""
    names = set()
    for _, field, _, _ in string.Formatter().parse(template):
        if field is None:
            continue
        root = field.split(".", 1)[0].split("[", 1)[0]
        if root == "" or root.isdigit():
            raise ValueError(f"the template {template!r} must name its fields (`{{name}}`, `{{order_id}}`), not number them")
        names.add(root)
    return names


def guarded(
    warden: Warden,
    f: Callable[..., Any],
    action: str,
    resource: str,
    context: Callable[[dict[str, Any]], Mapping[str, Any]] | None,
    agent: Agent | Callable[[], Agent | None] | None,
) -> Any:
    signature = inspect.signature(f)
    parameters = list(signature.parameters.values())
    known = set(_FUNCTION_FIELDS) | {p.name for p in parameters}
    for template in (action, resource):
        used = _fields(template)
        ambiguous = used & set(_FUNCTION_FIELDS) & {p.name for p in parameters}
        if ambiguous:
            raise ValueError(
                f"the template {template!r} names {', '.join(sorted(ambiguous))}, which is both a field of the "
                f"function and an argument of {f.__qualname__}: rename the argument or leave it to the context"
            )
        unknown = used - known
        if unknown:
            raise ValueError(
                f"the template {template!r} names {', '.join(sorted(unknown))}, which is neither an argument of "
                f"{f.__qualname__} nor one of {', '.join(_FUNCTION_FIELDS)}"
            )
    skip_first = bool(parameters) and parameters[0].name in ("self", "cls") and parameters[0].kind in (
        inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD,
    )
    names = {"name": f.__name__, "qualname": f.__qualname__, "module": f.__module__}

    def arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        out: dict[str, Any] = {}
        for i, p in enumerate(parameters):
            if i == 0 and skip_first:
                continue
            value = bound.arguments.get(p.name)
            if p.kind is inspect.Parameter.VAR_KEYWORD:
                out.update(value or {})
            elif p.kind is inspect.Parameter.VAR_POSITIONAL:
                out[p.name] = list(value or ())
            else:
                out[p.name] = value
        return out

    def enforce(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        values = arguments(args, kwargs)
        fields = {**values, **names}
        if skip_first:
            fields[parameters[0].name] = args[0] if args else kwargs.get(parameters[0].name)
        who = agent() if callable(agent) else agent
        warden.enforce(
            action.format_map(fields),
            resource.format_map(fields),
            context(values) if context is not None else values,
            who,
        )

    if inspect.iscoroutinefunction(f):
        @functools.wraps(f)
        async def guarded_async(*args: Any, **kwargs: Any) -> Any:
            enforce(args, kwargs)
            return await f(*args, **kwargs)

        return guarded_async

    @functools.wraps(f)
    def guarded_sync(*args: Any, **kwargs: Any) -> Any:
        enforce(args, kwargs)
        return f(*args, **kwargs)

    return guarded_sync
