"""Loading a bundle (bundle-format.md §Loading), in the spec's order, each
failure with its code: format, project, key, signature, version, payload
(the last step, the policies, is the engine's). Until the last step nothing
changes: a failure leaves the bundle in force."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from ._bundle_crypto import decrypt_payload, verify_signature
from ._bundle_format import BundleFile, from_base64url, parse_bundle
from .errors import BundleError


@dataclass(frozen=True)
class BundleTrust:
    """Whose bundles a client accepts. Signatures are always required; plain
    payloads only with ``allow_plain``."""

    #: The project this client serves.
    project: str
    #: ``key_id`` → Ed25519 public key (32 bytes, base64url). Several at once let keys rotate.
    trusted_keys: Mapping[str, str] = field(default_factory=dict)
    #: The project's key, for encrypted payloads.
    project_key: str | None = None
    #: Whether plain (``enc: "none"``) bundles load, for development.
    allow_plain: bool = False


@dataclass(frozen=True)
class OpenedBundle:
    bundle: BundleFile
    #: The payload's JSON bytes, ``{"policies": [...]}``, for the engine to load (step 7).
    payload: bytes


def open_bundle(text: str, trust: BundleTrust, in_force: int | None, highest: int) -> OpenedBundle | Literal["unchanged"]:
    """Steps 1 to 6: the verified, decrypted bundle, or "unchanged" when its
    version is the one in force. ``in_force`` is the version loaded now (None:
    none); ``highest`` the highest ever loaded, kept apart from any cache,
    below which nothing loads again."""
    bundle = parse_bundle(text)
    if bundle.project != trust.project:
        raise BundleError("ERR_BUNDLE_PROJECT", f"the bundle is for project `{bundle.project}`, this client serves `{trust.project}`")
    if bundle.key_id not in trust.trusted_keys:
        raise BundleError("ERR_BUNDLE_UNKNOWN_KEY", f"the bundle is signed with key `{bundle.key_id}`, which this client does not trust")
    if not verify_signature(bundle, trust.trusted_keys[bundle.key_id]):
        raise BundleError("ERR_BUNDLE_SIGNATURE", f"the bundle's signature does not verify with key `{bundle.key_id}`")
    if in_force is not None and bundle.version == in_force:
        return "unchanged"
    if bundle.version < highest or (in_force is not None and bundle.version < in_force):
        older_than = max(highest, in_force or 0)
        raise BundleError(
            "ERR_BUNDLE_STALE",
            f"the bundle has version {bundle.version}, older than version {older_than} already loaded: "
            "publish older policies under a higher version",
        )
    if bundle.enc == "none":
        if not trust.allow_plain:
            raise BundleError("ERR_BUNDLE_DECRYPT", "the bundle is not encrypted, and this client does not allow plain bundles")
        payload = from_base64url(bundle.payload)
    else:
        if trust.project_key is None:
            raise BundleError("ERR_BUNDLE_DECRYPT", "the bundle is encrypted, and this client has no project key")
        payload = decrypt_payload(bundle, trust.project_key)
        if payload is None:
            raise BundleError(
                "ERR_BUNDLE_DECRYPT", "the payload does not decrypt with this project key (wrong key, or the bundle was altered)",
            )
    assert payload is not None
    return OpenedBundle(bundle, payload)
