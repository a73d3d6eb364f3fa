"""Bundle cryptography with ``cryptography`` (bundle-format.md §Header,
signature, encryption): Ed25519 signatures over header + payload text,
AES-256-GCM under an HKDF-SHA256 key from the project key, the header as
additional data. Also the other direction, for tools and tests that build
bundles."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ._bundle_format import (
    BUNDLE_FORMAT,
    BundleFile,
    bundle_header,
    from_base64url,
    header_of,
    to_base64url,
)
from .errors import BundleError

# Keys are reused: verifying is per bundle, importing and deriving need not be.
_public_keys: dict[str, Ed25519PublicKey] = {}
_payload_keys: dict[tuple[str, str], AESGCM] = {}
_lock = threading.Lock()


def _public_key(base64url: str) -> Ed25519PublicKey:
    key = _public_keys.get(base64url)
    if key is None:
        raw = from_base64url(base64url) if isinstance(base64url, str) else None
        if raw is None or len(raw) != 32:
            raise BundleError("ERR_BUNDLE_UNKNOWN_KEY", "a trusted key must be 32 bytes of Ed25519 public key in base64url")
        key = Ed25519PublicKey.from_public_bytes(raw)
        with _lock:
            _public_keys[base64url] = key
    return key


def verify_signature(bundle: BundleFile, trusted_key: str) -> bool:
    """Whether ``sig`` is the signature of header + payload text by the key."""
    signed = (header_of(bundle) + bundle.payload).encode("utf-8")
    sig = from_base64url(bundle.sig)
    assert sig is not None  # parse_bundle checked it
    try:
        _public_key(trusted_key).verify(sig, signed)
        return True
    except InvalidSignature:
        return False


def _payload_key(project_key: str, project: str) -> AESGCM:
    """HKDF-SHA256 of the project key, salt ``warden-bundle-1:{project}``, info ``payload-key``."""
    cached = _payload_keys.get((project, project_key))
    if cached is None:
        key = HKDF(
            algorithm=hashes.SHA256(), length=32,
            salt=f"{BUNDLE_FORMAT}:{project}".encode(), info=b"payload-key",
        ).derive(project_key.encode("utf-8"))
        cached = AESGCM(key)
        with _lock:
            _payload_keys[(project, project_key)] = cached
    return cached


def decrypt_payload(bundle: BundleFile, project_key: str) -> bytes | None:
    """The payload's plaintext, or None when it does not decrypt (wrong key,
    changed ciphertext, header or nonce)."""
    nonce = from_base64url(bundle.nonce)
    payload = from_base64url(bundle.payload)
    assert nonce is not None and payload is not None  # parse_bundle checked them
    try:
        return _payload_key(project_key, bundle.project).decrypt(nonce, payload, header_of(bundle).encode("utf-8"))
    except (InvalidTag, ValueError):
        return None


def signing_key_from_seed(seed: str | bytes) -> Ed25519PrivateKey:
    """An Ed25519 signing key from its 32-byte seed (raw, or base64url as the test vectors give it)."""
    raw = from_base64url(seed) if isinstance(seed, str) else seed
    if raw is None or len(raw) != 32:
        raise ValueError("an Ed25519 seed is 32 bytes (or their base64url)")
    return Ed25519PrivateKey.from_private_bytes(raw)


def public_key_of(key: Ed25519PrivateKey) -> str:
    """The base64url raw public key of a signing key, as ``trusted_keys`` holds it."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return to_base64url(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def build_bundle(
    policies: Sequence[Any],
    *,
    project: str,
    version: int,
    key_id: str,
    signing_key: Ed25519PrivateKey,
    project_key: str | None = None,
    created_at: datetime | None = None,
) -> str:
    """A bundle file (its JSON text) for ``{"policies": [...]}``: encrypt, then
    sign. Without ``project_key`` the bundle is plain (``enc: "none"``,
    development only).

    >>> key = signing_key_from_seed("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
    >>> text = build_bundle([{"rules": []}], project="p", version=1, key_id="k1", signing_key=key, project_key="secret")
    """
    created = (created_at or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    plain = json.dumps({"policies": list(policies)}, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
    enc = "none" if project_key is None else "A256GCM"
    nonce_bytes = os.urandom(12)
    nonce = "" if project_key is None else to_base64url(nonce_bytes)
    header = bundle_header(project, version, created, key_id, enc, nonce)
    payload = plain
    if project_key is not None:
        payload = _payload_key(project_key, project).encrypt(nonce_bytes, plain, header.encode("utf-8"))
    payload_text = to_base64url(payload)
    sig = signing_key.sign((header + payload_text).encode("utf-8"))
    file = {
        "format": BUNDLE_FORMAT, "project": project, "version": version, "created_at": created, "key_id": key_id,
        "enc": enc, "nonce": nonce, "payload": payload_text, "sig": to_base64url(sig),
    }
    return json.dumps(file, indent=2) + "\n"
