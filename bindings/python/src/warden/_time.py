"""Instants and UTC offsets (policy-language.md §1 ``timezone``, §3; ABI.md
§Times). The engine computes ``time.*`` itself; the host gives it the instant
and, for each zone in the load metadata's ``zones``, the zone's UTC offset
at that instant, here from ``zoneinfo``, cached per zone and minute."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ._engine_host import Instant
from .errors import WardenError

_UTC_NAMES = frozenset({"UTC", "Etc/UTC"})
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: The instants datetime can hold, for offsets of times outside them.
_FIRST = int((datetime(1, 1, 2, tzinfo=timezone.utc) - _EPOCH).total_seconds())
_LAST = int((datetime(9999, 12, 30, tzinfo=timezone.utc) - _EPOCH).total_seconds())
#: The request record holds whole seconds as a double: at most 2^53 either way.
_MAX_SECONDS = 2**53

_zones: dict[str, ZoneInfo] = {}
_cached: dict[str, tuple[int, int]] = {}


def check_zone(zone: str) -> None:
    """Raises ERR_TIMEZONE_UNSUPPORTED when this Python cannot compute the zone's offsets."""
    if zone in _UTC_NAMES or zone in _zones:
        return
    try:
        _zones[zone] = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError) as e:
        raise WardenError(
            "ERR_TIMEZONE_UNSUPPORTED",
            f"this Python's zoneinfo does not know the time zone `{zone}` (install the `tzdata` package): {e}",
        ) from e


def zone_offset(zone: str, seconds: int) -> int:
    """Seconds east of UTC in ``zone`` at the instant ``seconds`` (epoch)."""
    if zone in _UTC_NAMES:
        return 0
    minute = seconds // 60
    hit = _cached.get(zone)
    if hit is not None and hit[0] == minute:
        return hit[1]
    info = _zones.get(zone)
    if info is None:
        check_zone(zone)
        info = _zones[zone]
    # Arithmetic, not fromtimestamp: the platform's C library need not know times before 1970.
    at = (_EPOCH + timedelta(seconds=min(max(seconds, _FIRST), _LAST))).astimezone(info)
    delta = at.utcoffset() or timedelta(0)
    offset = delta.days * 86400 + delta.seconds
    _cached[zone] = (minute, offset)
    return offset


def instant_of(time: object) -> Instant | str:
    """The instant of an aware ``datetime`` or of epoch seconds (int or float), or
    (a str) why it is not one. RFC 3339 strings are the engine's to parse."""
    if isinstance(time, datetime):
        if time.tzinfo is None or time.utcoffset() is None:
            return "`time` is a naive datetime: give it a time zone (e.g. tzinfo=timezone.utc)"
        delta = time - _EPOCH
        return Instant(delta.days * 86400 + delta.seconds, delta.microseconds * 1000, 0)
    if isinstance(time, bool):
        return "`time` must be an RFC 3339 string, an aware datetime or epoch seconds"
    if isinstance(time, int):
        if abs(time) > _MAX_SECONDS:
            return "`time` is out of range"
        return Instant(int(time), 0, 0)
    if isinstance(time, float):
        if not math.isfinite(time) or abs(time) > _MAX_SECONDS:
            return "`time` is not a valid instant"
        seconds = math.floor(time)
        nanos = min(999_999_999, max(0, round((time - seconds) * 1e9)))
        return Instant(seconds, nanos, 0)
    return "`time` must be an RFC 3339 string, an aware datetime or epoch seconds"


def now_instant(nanoseconds: int) -> Instant:
    """The instant of a clock reading in epoch nanoseconds."""
    seconds, nanos = divmod(nanoseconds, 1_000_000_000)
    return Instant(seconds, nanos, 0)
