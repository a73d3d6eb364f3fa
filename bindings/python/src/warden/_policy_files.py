"""Policy files: YAML 1.2 (core schema, so ``on``, ``no`` and ``010`` stay a
string, a string and the number 10) or JSON — which the same parser reads,
JSON being YAML 1.2. A file holds one policy document or an array of them (a
YAML stream may also hold several documents); several files concatenate in
order. Every error the engine reports by JSON pointer is mapped back to
``file:line:col`` here, as in ``@warden/node``.

Scalars are resolved by the core schema's own rules (YAML 1.2.2 §10.3.2), not
by ruamel's wider set: ruamel's 1.2 mode also reads ``1_000`` as a number and
``2026-03-05`` as a date, where the core schema (and ``@warden/node``) keeps
strings.
"""

from __future__ import annotations

import io
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.tag import Tag

from ._policy_json import MAX_NESTING
from .errors import PolicyError, PolicyInvalidError

_PLAIN = "tag:warden,plain-scalar"
_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"

_INT10 = re.compile(r"[-+]?[0-9]+")
_INT8 = re.compile(r"0o[0-7]+")
_INT16 = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT_RE = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INF = re.compile(r"[-+]?(\.inf|\.Inf|\.INF)")
_NAN = re.compile(r"\.nan|\.NaN|\.NAN")

#: How many values a document may copy through aliases (a "billion laughs" guard).
MAX_ALIASED = 100_000

DUPLICATE = "duplicate member: a name may appear only once in a mapping"
NOT_JSON_NUMBER = "a number JSON cannot carry (infinite, not a number, or too large for a double)"


class _CoreSchemaResolver(VersionedResolver):
    """Leaves every plain scalar to be resolved by the core schema here (see the module's note)."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode and implicit[0]:
            return Tag(suffix=_PLAIN)
        return super().resolve(kind, value, implicit)


def _core_scalar(text: str) -> Any:
    """A plain scalar by the YAML 1.2 core schema."""
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if _INT10.fullmatch(text):
        return int(text)
    if _INT8.fullmatch(text):
        return int(text[2:], 8)
    if _INT16.fullmatch(text):
        return int(text[2:], 16)
    if _FLOAT_RE.fullmatch(text):
        return float(text)
    if _INF.fullmatch(text):
        return -math.inf if text.startswith("-") else math.inf
    if _NAN.fullmatch(text):
        return math.nan
    return text


def _name(key: Any) -> str:
    """A scalar key as the JSON member name it becomes."""
    if isinstance(key, str):
        return key
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    return repr(key)


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


class _Converter:
    """Turns one document's nodes into JSON values, noting every problem at its node."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, Node, str]] = []
        self.seen: set[int] = set()
        self.aliased = 0
        self.open: set[int] = set()

    def scalar(self, node: ScalarNode, pointer: str) -> Any:
        tag = str(node.tag)
        text: str = node.value
        if tag == _STR:
            value: Any = text
        elif tag == _PLAIN:
            value = _core_scalar(text)
        elif tag in (_NULL, _BOOL, _INT, _FLOAT):
            value = _core_scalar(text)
            expected: dict[str, type | tuple[type, ...]] = {_NULL: type(None), _BOOL: bool, _INT: int, _FLOAT: (int, float)}
            if not isinstance(value, expected[tag]) or (tag == _INT and isinstance(value, bool)):
                self.problems.append((pointer, node, f"`{text}` is not a valid `{tag.rsplit(':', 1)[-1]}`"))
                return None
            if tag == _FLOAT and isinstance(value, int):
                value = float(value)
        else:
            self.problems.append((pointer, node, f"unsupported tag `{tag}`: policy files hold JSON values only"))
            return None
        if isinstance(value, str) and any("\ud800" <= c <= "\udfff" for c in value):
            # \u escapes of a surrogate pair spell one character, as in JSON.
            try:
                value = value.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
            except UnicodeDecodeError:
                self.problems.append((pointer, node, "a string holds a lone surrogate (an unpaired \\u escape), which is not Unicode text"))
                return None
        elif isinstance(value, float) and not math.isfinite(value):
            self.problems.append((pointer, node, NOT_JSON_NUMBER))
            return None
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**1024:
            self.problems.append((pointer, node, NOT_JSON_NUMBER))
            return None
        return value

    def value(self, node: Node, pointer: str, depth: int = 1, aliased: bool = False) -> Any:
        if id(node) in self.seen:
            aliased = True
        else:
            self.seen.add(id(node))
        if aliased:
            self.aliased += 1
            if self.aliased > MAX_ALIASED:
                raise _TooLarge
        if isinstance(node, ScalarNode):
            return self.scalar(node, pointer)
        if depth > MAX_NESTING:
            self.problems.append((pointer, node, f"JSON nests deeper than {MAX_NESTING} levels"))
            return None
        tag = str(node.tag)
        if id(node) in self.open:
            self.problems.append((pointer, node, "an alias refers to a value that contains it"))
            return None
        self.open.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                if tag != _SEQ:
                    self.problems.append((pointer, node, f"unsupported tag `{tag}`: policy files hold JSON values only"))
                return [self.value(item, f"{pointer}/{i}", depth + 1, aliased) for i, item in enumerate(node.value)]
            if tag != _MAP:
                self.problems.append((pointer, node, f"unsupported tag `{tag}`: policy files hold JSON values only"))
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode):
                    self.problems.append((pointer, key_node, "a member name must be a scalar"))
                    continue
                name = _name(self.scalar(key_node, pointer))
                at = f"{pointer}/{_escape(name)}"
                if name in result:
                    self.problems.append((at, key_node, DUPLICATE))
                result[name] = self.value(value_node, at, depth + 1, aliased)
            return result
        finally:
            self.open.discard(id(node))


class _TooLarge(Exception):
    pass


def _node_at(root: Node | None, pointer: str) -> Node | None:
    """The node a pointer names — for a member, its key, where a misspelt or
    misplaced field shows — or the deepest node on its way (a missing member
    is named by the pointer it would have)."""
    if pointer == "" or root is None:
        return root
    segments = [s.replace("~1", "/").replace("~0", "~") for s in pointer[1:].split("/")]
    node: Node = root
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if isinstance(node, MappingNode):
            pair = next(
                ((k, v) for k, v in node.value if isinstance(k, ScalarNode) and _name(_Converter().scalar(k, "")) == segment),
                None,
            )
            if pair is None:
                return node
            node = pair[0] if last else pair[1]
        elif isinstance(node, SequenceNode):
            if not segment.isdigit() or int(segment) >= len(node.value):
                return node
            node = node.value[int(segment)]
        else:
            return node
    return node


def _position(node: Node | None) -> tuple[int, int]:
    if node is None:
        return 1, 1
    mark = node.start_mark
    return mark.line + 1, mark.column + 1


@dataclass
class PolicyFiles:
    """Policies read from files, and how to find each error's place in them."""

    #: The policy documents, in order.
    policies: list[Any]
    #: The file of each policy, by index.
    files: list[str]
    _nodes: list[Node | None]

    def locate(self, error: PolicyError) -> PolicyError:
        """Adds ``file``, ``line`` and ``column`` to an error the engine reported."""
        if not 0 <= error.policy < len(self._nodes):
            return error
        line, column = _position(_node_at(self._nodes[error.policy], error.pointer))
        return replace(error, file=self.files[error.policy], line=line, column=column)


def _yaml() -> YAML:
    yaml = YAML(typ="safe", pure=True)
    yaml.version = (1, 2)
    yaml.Resolver = _CoreSchemaResolver
    return yaml


def _syntax_error(file: str, e: YAMLError, text: str) -> PolicyError:
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    if mark is not None:
        line, column = mark.line + 1, mark.column + 1
    else:
        at = getattr(e, "position", 0) or 0
        line = text.count("\n", 0, at) + 1
        column = at - (text.rfind("\n", 0, at) + 1) + 1
    message = (getattr(e, "problem", None) if isinstance(e, MarkedYAMLError) else None) or str(e).split("\n")[0]
    message = message[:1].lower() + message[1:]
    return PolicyError(-1, "", message, file=file, line=line, column=column)


def read_policy_files(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> PolicyFiles:
    """Reads policy files. Raises ``PolicyInvalidError`` (``ERR_POLICY_INVALID``),
    every error located, when a file cannot be read, is not well-formed YAML or
    JSON, has duplicate member names, or holds values JSON cannot carry."""
    files = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    policies: list[Any] = []
    names: list[str] = []
    nodes: list[Node | None] = []
    errors: list[PolicyError] = []
    for path in files:
        file = os.fspath(path)
        try:
            text = open(file, "rb").read().decode("utf-8")
        except OSError as e:
            errors.append(PolicyError(-1, "", f"cannot read the file: {e.strerror or e}", file=file))
            continue
        except UnicodeDecodeError as e:
            errors.append(PolicyError(-1, "", f"the file is not UTF-8 text (byte {e.start})", offset=e.start, file=file))
            continue
        if text.startswith("\ufeff"):
            text = text[1:]
        found = 0
        try:
            for root in _yaml().compose_all(io.StringIO(text)):
                found += 1
                converter = _Converter()
                try:
                    value = converter.value(root, "") if root is not None else None
                except _TooLarge:
                    errors.append(PolicyError(-1, "", f"the document copies more than {MAX_ALIASED:,} values through aliases", file=file, line=_position(root)[0], column=_position(root)[1]))
                    continue
                if isinstance(root, SequenceNode) and isinstance(value, list):
                    items: list[tuple[Any, Node | None]] = list(zip(value, root.value, strict=True))
                else:
                    items = [(value, root)]
                base = len(policies)
                for policy, node in items:
                    policies.append(policy)
                    names.append(file)
                    nodes.append(node)
                for pointer, node, message in converter.problems:
                    policy_index, inner = -1, pointer
                    if isinstance(root, SequenceNode):
                        head, _, rest = pointer[1:].partition("/")
                        if head.isdigit():
                            policy_index, inner = base + int(head), f"/{rest}" if rest else ""
                    else:
                        policy_index = base
                    line, column = _position(node)
                    errors.append(PolicyError(policy_index, inner, message, file=file, line=line, column=column))
        except YAMLError as e:
            errors.append(_syntax_error(file, e, text))
            continue
        except RecursionError:
            errors.append(PolicyError(-1, "", f"the file nests too deep to read (JSON nests at most {MAX_NESTING} levels)", file=file))
            continue
        if found == 0:
            errors.append(PolicyError(-1, "", "the file holds no policy: write a policy document or an array of them", file=file, line=1, column=1))
    if errors:
        raise PolicyInvalidError(errors)
    return PolicyFiles(policies, names, nodes)
