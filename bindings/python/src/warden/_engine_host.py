"""The one Python host of warden.wasm: every byte that crosses the ABI
(engine/ABI.md) is written or read here, and nowhere else.

Speed: a call through ``wasmtime.Func.__call__`` costs about 10 µs from
Python (it looks up the function's type and converts every value), so each
export gets a caller made once per instance. Where this wasmtime exposes its
C entry point for calls with raw values (``wasmtime_func_call_unchecked``),
that caller goes straight to it (under 1 µs); otherwise it is the public
``Func.__call__``. The memory is configured never to move, so the view of it
kept here stays valid and only has to be extended when the memory grows.
"""

from __future__ import annotations

import ctypes
import json
import math
import struct
import threading
from collections.abc import Callable
from importlib import resources
from typing import Any, NamedTuple

import wasmtime

from .errors import WardenError

ABI_VERSION = 2


#: Whether instances call exports through wasmtime's raw entry point when it
#: has one (tests switch it off to run the public path too).
FAST_CALLS = True

#: What a trapped or failed call raises.
TRAPS: tuple[type[BaseException], ...] = (wasmtime.Trap, wasmtime.WasmtimeError)


class Instant(NamedTuple):
    """An instant exactly as the engine holds it (ABI.md §Times)."""

    #: Whole seconds since 1970-01-01T00:00:00Z.
    seconds: int
    #: Nanoseconds, 0 to 999,999,999.
    nanos: int
    #: Attoseconds below the nanosecond, 0 to 999,999,999.
    attos: int


EPOCH = Instant(0, 0, 0)


class InvalidRequest(Exception):
    """Raised while encoding a request that cannot be sent; becomes ERR_REQUEST_INVALID."""


# Value tags (ABI.md §Values).
T_MISSING = 0
T_NULL = 1
T_FALSE = 2
T_TRUE = 3
T_NUMBER = 4
T_STRING = 5
T_ARRAY = 6
T_OBJECT = 7
T_INTERNED = 8
T_AGENT = 9

#: Strings the host keeps interned at once, and the longest (in code points) it interns.
MAX_INTERNED = 4096
MAX_INTERNED_LENGTH = 256
#: A block this instance keeps for short inputs (times, interned strings): 256 code points of UTF-8.
SCRATCH_SIZE = 4 * MAX_INTERNED_LENGTH
#: Decision record (ABI.md §The decision record): status, effect, allowed, policy, rule,
#: limit policy, limit index, indeterminate count and pointer, error pointer and length.
RECORD = struct.Struct("<IIIiiiiIIII")
RECORD_SIZE = RECORD.size
#: The first bytes of a request record (ABI.md §The request record): now (seconds,
#: nanoseconds, attoseconds), the number of zone offsets and of context slots.
HEADER = struct.Struct("<dIIII")
INSTANT = struct.Struct("<dII")

_u32 = struct.Struct("<I").pack
_f64 = struct.Struct("<d").pack
_counts = struct.Struct("<II").pack_into
# A container's tag, then its element count and byte length, filled in once written.
_OBJECT_HEAD = bytes([T_OBJECT]) + bytes(8)
_ARRAY_HEAD = bytes([T_ARRAY]) + bytes(8)

LONE_SURROGATE = "a string holds a lone surrogate, which is not Unicode text"
TOO_DEEP = "the context nests more than 64 objects or arrays deep"


def request_header(now: Instant, offsets: list[int] | tuple[int, ...], slots: int) -> bytes:
    """The record's fixed part: the instant, then each zone's UTC offset."""
    head = HEADER.pack(float(now.seconds), now.nanos, now.attos, len(offsets), slots)
    if offsets:
        head += struct.pack(f"<{len(offsets)}i", *offsets)
    return head


# ---------------------------------------------------------------------------
# Values as Python's json module sees them (policy-language.md §1a)


def json_name(key: object) -> str:
    """A member name as ``json.dumps`` writes a dict key."""
    if isinstance(key, str):
        return str.__str__(key)
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, int):
        return int.__repr__(key)
    if isinstance(key, float):
        if key != key:
            return "NaN"
        if key in (math.inf, -math.inf):
            return "Infinity" if key > 0 else "-Infinity"
        return float.__repr__(key)
    raise InvalidRequest(f"a member name of type `{type(key).__name__}` has no JSON form: use str, int, float, bool or None")


def write_string(out: bytearray, s: str) -> None:
    try:
        b = str.encode(s, "utf-8")
    except UnicodeEncodeError:
        raise InvalidRequest(LONE_SURROGATE) from None
    out.append(T_STRING)
    out += _u32(len(b))
    out += b


def _write_number(out: bytearray, v: int | float) -> None:
    try:
        # An integer beyond 2^53 becomes the nearest double, as the spec asks
        # (float() rounds correctly); one beyond the doubles is infinite: null.
        f = float(v)
    except OverflowError:
        out.append(T_NULL)
        return
    if math.isfinite(f):
        out.append(T_NUMBER)
        out += _f64(f)
    else:
        out.append(T_NULL)


def write_value(out: bytearray, v: Any, depth: int) -> None:
    """Appends a Python value as json.dumps would see it; ``depth`` bounds the containers."""
    t = type(v)
    if t is str:
        write_string(out, v)
    elif t is bool:
        out.append(T_TRUE if v else T_FALSE)
    elif t is int or t is float:
        _write_number(out, v)
    elif v is None:
        out.append(T_NULL)
    elif isinstance(v, dict):
        if depth <= 0:
            raise InvalidRequest(TOO_DEEP)
        at = len(out)
        out += _OBJECT_HEAD
        count = 0
        for key, e in v.items():
            name = key if type(key) is str else json_name(key)
            try:
                b = str.encode(name, "utf-8")
            except UnicodeEncodeError:
                raise InvalidRequest(LONE_SURROGATE) from None
            out += _u32(len(b))
            out += b
            write_value(out, e, depth - 1)
            count += 1
        _counts(out, at + 1, count, len(out) - at - 9)
    elif isinstance(v, (list, tuple)):
        if depth <= 0:
            raise InvalidRequest(TOO_DEEP)
        at = len(out)
        out += _ARRAY_HEAD
        for e in v:
            write_value(out, e, depth - 1)
        _counts(out, at + 1, len(v), len(out) - at - 9)
    elif isinstance(v, str):
        write_string(out, v)
    elif isinstance(v, (int, float)):
        _write_number(out, v)
    else:
        raise InvalidRequest(f"the request holds a value of type `{t.__name__}`, which has no JSON form")


def _agent_shape(agent: dict[Any, Any]) -> int:
    """The agent record's field bits (ABI.md §Values, tag 0x09), or -1 when the agent has another shape."""
    fields = 0
    for key, v in agent.items():
        if key == "id" and type(v) is str:
            fields |= 1
        elif key == "trust_level" and type(v) is str:
            fields |= 2
        elif key == "tags" and type(v) in (list, tuple) and all(type(tag) is str for tag in v):
            fields |= 4
        else:
            return -1
    return fields


# ---------------------------------------------------------------------------
# The module, compiled once per process


class _Compiled(NamedTuple):
    engine: wasmtime.Engine
    module: wasmtime.Module
    #: Whether memories are configured never to move (so a view of them stays valid).
    fixed_memory: bool


_compiled: _Compiled | None = None
_compile_lock = threading.Lock()


def wasm_bytes() -> bytes:
    """The warden.wasm this package ships."""
    return resources.files(__package__).joinpath("warden.wasm").read_bytes()


def compiled_module() -> _Compiled:
    global _compiled
    with _compile_lock:
        if _compiled is None:
            config = wasmtime.Config()
            fixed = hasattr(type(config), "memory_may_move")
            if fixed:
                config.memory_may_move = False
            engine = wasmtime.Engine(config)
            try:
                module = wasmtime.Module(engine, wasm_bytes())
            except (wasmtime.WasmtimeError, OSError) as e:
                raise WardenError("ERR_WASM", f"warden.wasm cannot be compiled: {e}") from e
            _compiled = _Compiled(engine, module, fixed)
        return _compiled


def _raw_entry() -> tuple[Any, Any] | None:
    """wasmtime's ``wasmtime_func_call_unchecked`` and its bindings, when this wasmtime has them."""
    try:
        from wasmtime import _bindings

        if ctypes.sizeof(_bindings.wasmtime_val_raw_t) != 16 or not hasattr(wasmtime.Trap, "_from_ptr"):
            return None
        proto = ctypes.CFUNCTYPE(
            ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p,
        )
        library = getattr(_bindings, "dll")  # noqa: B009 (it is not in the module's __all__)
        return proto(("wasmtime_func_call_unchecked", library)), _bindings
    except Exception:
        return None


_RAW = _raw_entry()

_EXPORTS = {
    # name: number of i32 parameters
    "abi_version": 0, "alloc": 1, "free": 1, "load": 2, "output_ptr": 0, "output_len": 0,
    "request_reserve": 1, "decide": 1, "explain": 1, "parse_time": 2, "intern": 2,
    "intern_reset": 0, "state_export": 0, "state_import": 2,
}


def _signed(v: int) -> int:
    return v - (1 << 32) if v >= 1 << 31 else v


class EngineInstance:
    """One instance of warden.wasm, in its own wasmtime store. Not thread-safe:
    its owner calls it under a lock, never re-entrantly."""

    def __init__(self) -> None:
        compiled = compiled_module()
        self._store = wasmtime.Store(compiled.engine)
        try:
            instance = wasmtime.Instance(self._store, compiled.module, [])
            exports = instance.exports(self._store)
            funcs = {name: exports[name] for name in _EXPORTS}
            memory = exports["memory"]
        except (KeyError, wasmtime.WasmtimeError) as e:
            raise WardenError("ERR_WASM", f"warden.wasm does not have the exports this host needs: {e}") from e
        assert isinstance(memory, wasmtime.Memory)
        self._memory = memory
        self._fixed_memory = compiled.fixed_memory
        self.fast = FAST_CALLS and _RAW is not None
        calls: dict[str, Callable[..., int]] = {}
        for name, arity in _EXPORTS.items():
            func = funcs[name]
            assert isinstance(func, wasmtime.Func)
            calls[name] = self._fast_caller(func, arity) if self.fast else self._public_caller(func)
        self.calls = calls
        self._alloc = calls["alloc"]
        self._free = calls["free"]
        self._output_ptr = calls["output_ptr"]
        self._output_len = calls["output_len"]
        self._decide = calls["decide"]
        self._explain = calls["explain"]
        self._intern = calls["intern"]
        self._mem = memoryview(b"")
        self._size = 0
        self._refresh()
        version = calls["abi_version"]()
        if version != ABI_VERSION:
            raise WardenError("ERR_WASM", f"warden.wasm speaks ABI {version}, this host speaks {ABI_VERSION}")
        self._scratch = self._alloc(SCRATCH_SIZE)
        # The request scratch area: its address and capacity (ABI.md §Memory management).
        self._request = 0
        self._capacity = 0
        self._reserve(4096)
        #: action/resource/agent strings: their interned value bytes, or b"" when seen once.
        self._interned: dict[str, bytes] = {}

    # -- calls --------------------------------------------------------------

    def _public_caller(self, func: wasmtime.Func) -> Callable[..., int]:
        store = self._store

        def call(*args: int) -> int:
            result = func(store, *[_signed(a) for a in args])
            return 0 if result is None else result & 0xFFFFFFFF

        return call

    def _fast_caller(self, func: wasmtime.Func, arity: int) -> Callable[..., int]:
        assert _RAW is not None
        entry, bindings = _RAW
        context = ctypes.cast(self._store._context(), ctypes.c_void_p).value
        target = ctypes.addressof(func._func)
        # wasmtime_val_raw_t is 16 bytes: an i32 parameter or result is the first 4 of its slot.
        values = (ctypes.c_uint32 * (4 * max(arity, 1)))()
        at = ctypes.addressof(values)
        trap = ctypes.c_void_p()
        trap_at = ctypes.addressof(trap)
        slots = max(arity, 1)
        # Keeps what the addresses point into alive as long as the caller.
        keep = (func, self._store)

        def failed(error: int | None) -> None:
            if trap.value:
                pointer = ctypes.cast(trap.value, ctypes.POINTER(bindings.wasm_trap_t))
                trap.value = None
                raise wasmtime.Trap._from_ptr(pointer)
            raise wasmtime.WasmtimeError._from_ptr(ctypes.cast(ctypes.c_void_p(error), ctypes.POINTER(bindings.wasmtime_error_t)))

        if arity == 0:
            def call0() -> int:
                error = entry(context, target, at, slots, trap_at)
                if error or trap.value:
                    failed(error)
                return values[0]
            call0.keep = keep  # type: ignore[attr-defined]
            return call0
        if arity == 1:
            def call1(a: int) -> int:
                values[0] = a
                error = entry(context, target, at, slots, trap_at)
                if error or trap.value:
                    failed(error)
                return values[0]
            call1.keep = keep  # type: ignore[attr-defined]
            return call1

        def call2(a: int, b: int) -> int:
            values[0] = a
            values[4] = b
            error = entry(context, target, at, slots, trap_at)
            if error or trap.value:
                failed(error)
            return values[0]
        call2.keep = keep  # type: ignore[attr-defined]
        return call2

    # -- memory -------------------------------------------------------------

    def _refresh(self) -> None:
        """Takes a new view of the memory (after it grew; where it may move, after every call)."""
        size = self._memory.data_len(self._store)
        base = ctypes.addressof(self._memory.data_ptr(self._store).contents)
        self._mem = memoryview((ctypes.c_ubyte * size).from_address(base)).cast("B")
        self._size = size

    def _reach(self, end: int) -> memoryview:
        """The memory view, extended when it does not reach ``end`` (memory only grows)."""
        if end > self._size or not self._fixed_memory:
            self._refresh()
        return self._mem

    def _with_bytes(self, data: bytes, f: Callable[[int, int], int]) -> int:
        n = len(data)
        if n <= SCRATCH_SIZE:
            self._reach(self._scratch + n)[self._scratch:self._scratch + n] = data
            return f(self._scratch, n)
        ptr = self._alloc(n)
        try:
            self._reach(ptr + n)[ptr:ptr + n] = data
            return f(ptr, n)
        finally:
            self._free(ptr)

    def output(self) -> str:
        """The document in the output buffer."""
        p = self._output_ptr()
        n = self._output_len()
        return bytes(self._reach(p + n)[p:p + n]).decode("utf-8")

    # -- loading, times, state ------------------------------------------------

    def load(self, data: bytes) -> tuple[bool, dict[str, Any]]:
        """Loads a JSON array of policies (or a bundle payload); the engine keeps its policies on failure.
        The metadata is as the engine writes it: a rule may be its effect alone (ABI.md §Loading)."""
        status = self._with_bytes(data, self.calls["load"])
        result = json.loads(self.output())
        result.pop("ok", None)
        return status == 0, result

    def parse_time(self, text: str) -> Instant | None:
        """The instant of an RFC 3339 time, exact, or None when the text is not one."""
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            return None
        r = self._with_bytes(data, self.calls["parse_time"])
        if r == 0:
            return None
        seconds, nanos, attos = INSTANT.unpack_from(self._reach(r + INSTANT.size), r)
        return Instant(int(seconds), nanos, attos)

    def export_state(self) -> str:
        self.calls["state_export"]()
        return self.output()

    def import_state(self, state: str) -> None:
        status = self._with_bytes(state.encode("utf-8"), self.calls["state_import"])
        if status != 0:
            try:
                message = json.loads(self.output()).get("message", "the state does not import")
            except ValueError:
                message = "the state does not import"
            raise WardenError("ERR_STATE_INVALID", message)

    # -- requests (ABI.md §The request record) ---------------------------------

    def _reserve(self, size: int) -> None:
        size = max(size, self._capacity * 2)
        self._request = self.calls["request_reserve"](size)
        self._capacity = size
        self._reach(self._request + size)

    def begin_request(self) -> None:
        """Starts the intern table over between requests, never while one names ids in it."""
        if len(self._interned) >= MAX_INTERNED:
            self.calls["intern_reset"]()
            self._interned.clear()

    def write_internable(self, out: bytearray, s: str) -> None:
        """Appends an action, resource or agent string: by its interned id once it has
        one, else as text. A string seen a second time is interned (ABI.md §Values)."""
        interned = self._interned
        value = interned.get(s)
        if value:
            out += value
            return
        # A longer string is never interned, so never remembered: the table keeps no long strings alive.
        if len(s) <= MAX_INTERNED_LENGTH:
            if value is None:
                interned[s] = b""
            else:
                try:
                    data = str.encode(s, "utf-8")
                except UnicodeEncodeError:
                    raise InvalidRequest(LONE_SURROGATE) from None
                n = len(data)
                self._reach(self._scratch + n)[self._scratch:self._scratch + n] = data
                id = self._intern(self._scratch, n)
                if id < 0x80000000:
                    value = bytes([T_INTERNED]) + _u32(id)
                    interned[s] = value
                    out += value
                    return
        write_string(out, s)

    def write_agent(self, out: bytearray, agent: Any) -> None:
        """The agent as an agent record when it is a dict of a string ``id``, a string
        ``trust_level`` and a list of string ``tags`` (so its strings can be interned);
        otherwise as the JSON value it is, which the engine checks and reports."""
        fields = _agent_shape(agent) if type(agent) is dict else -1
        if fields < 0:
            write_value(out, agent, 64)
            return
        out.append(T_AGENT)
        out.append(fields)
        if fields & 1:
            self.write_internable(out, agent["id"])
        if fields & 2:
            self.write_internable(out, agent["trust_level"])
        if fields & 4:
            write_value(out, agent["tags"], 2)

    def decide(self, request: bytearray, explain: bool) -> tuple[int, ...]:
        """Decides the request record; returns the decision record's fields."""
        n = len(request)
        if n > self._capacity:
            self._reserve(n)
        at = self._request
        self._reach(at + n)[at:at + n] = request
        r = (self._explain if explain else self._decide)(n)
        if r + RECORD_SIZE > self._size or not self._fixed_memory:
            self._refresh()
        return RECORD.unpack_from(self._mem, r)

    def u32_list(self, ptr: int, n: int) -> tuple[int, ...]:
        return struct.unpack_from(f"<{n}I", self._reach(ptr + 4 * n), ptr)

    def text(self, ptr: int, n: int) -> str:
        return bytes(self._reach(ptr + n)[ptr:ptr + n]).decode("utf-8", "replace")
