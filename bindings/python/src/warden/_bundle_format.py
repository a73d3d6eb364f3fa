"""The bundle file (bundle-format.md §The file): strict parsing of its
members, the signed header, and base64url without padding."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from .errors import BundleError

BUNDLE_FORMAT = "warden-bundle-1"

_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_CREATED_AT = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z")
_MEMBERS = ("format", "project", "version", "created_at", "key_id", "enc", "nonce", "payload", "sig")
_MAX_VERSION = 2**53 - 1


@dataclass(frozen=True)
class BundleFile:
    """A bundle file's members, checked."""

    project: str
    version: int
    created_at: str
    key_id: str
    enc: Literal["A256GCM", "none"]
    nonce: str
    payload: str
    sig: str
    format: str = BUNDLE_FORMAT


def from_base64url(text: str) -> bytes | None:
    """base64url text without padding → bytes; None when it holds any other
    character or is not the one text of its bytes (unused low bits set)."""
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        return None
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return data if to_base64url(data) == text else None


def to_base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _format_error(message: str) -> BundleError:
    return BundleError("ERR_BUNDLE_FORMAT", message)


def _no_constant(name: str) -> Any:
    raise ValueError(f"`{name}` is not JSON")


def _valid_created_at(text: Any) -> bool:
    m = _CREATED_AT.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        return False
    year, month, day, hour, minute, second = (int(g) for g in m.groups())
    try:
        datetime(year, month, day, hour, minute, second)
    except ValueError:
        return False
    return True


def parse_bundle(text: str) -> BundleFile:
    """Step 1 of loading: the JSON, every member as the format says, and no
    others. Raises ``BundleError`` with ``ERR_BUNDLE_FORMAT``."""
    try:
        doc = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as e:
        raise _format_error(f"the bundle is not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise _format_error("a bundle is a JSON object")
    for key in doc:
        if key not in _MEMBERS:
            raise _format_error(f"unknown bundle member `{key}`")
    for key in _MEMBERS:
        if key not in doc:
            raise _format_error(f"the bundle has no `{key}`")
    if doc["format"] != BUNDLE_FORMAT:
        raise _format_error(f"unknown bundle format {json.dumps(doc['format'])}: this runtime reads `{BUNDLE_FORMAT}`")
    project = doc["project"]
    if not isinstance(project, str) or not _ID.fullmatch(project):
        raise _format_error("`project` must be 1 to 128 of A-Z a-z 0-9 . _ -")
    version = doc["version"]
    if isinstance(version, float) and version.is_integer():
        version = int(version)
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= _MAX_VERSION:
        raise _format_error("`version` must be an integer from 1 to 2^53-1")
    if not _valid_created_at(doc["created_at"]):
        raise _format_error("`created_at` must be an RFC 3339 UTC time, YYYY-MM-DDTHH:MM:SSZ")
    key_id = doc["key_id"]
    if not isinstance(key_id, str) or not _ID.fullmatch(key_id):
        raise _format_error("`key_id` must be 1 to 128 of A-Z a-z 0-9 . _ -")
    enc = doc["enc"]
    if enc not in ("A256GCM", "none"):
        raise _format_error("`enc` must be `A256GCM` or `none`")
    nonce = doc["nonce"]
    if not isinstance(nonce, str):
        raise _format_error("`nonce` must be a string")
    if enc == "none":
        if nonce != "":
            raise _format_error("`nonce` must be empty when `enc` is `none`")
    else:
        raw = from_base64url(nonce)
        if raw is None or len(raw) != 12:
            raise _format_error("`nonce` must be base64url of 12 bytes")
    payload = doc["payload"]
    if not isinstance(payload, str) or from_base64url(payload) is None:
        raise _format_error("`payload` must be base64url without padding")
    sig = doc["sig"]
    raw_sig = from_base64url(sig) if isinstance(sig, str) else None
    if raw_sig is None or len(raw_sig) != 64:
        raise _format_error("`sig` must be base64url of a 64-byte signature")
    return BundleFile(project, version, doc["created_at"], key_id, enc, nonce, payload, sig)


def bundle_header(project: str, version: int, created_at: str, key_id: str, enc: str, nonce: str) -> str:
    """The signed header (bundle-format.md §Header, signature, encryption)."""
    return f"{BUNDLE_FORMAT}\n{project}\n{version}\n{created_at}\n{key_id}\n{enc}\n{nonce}\n"


def header_of(b: BundleFile) -> str:
    return bundle_header(b.project, b.version, b.created_at, b.key_id, b.enc, b.nonce)
