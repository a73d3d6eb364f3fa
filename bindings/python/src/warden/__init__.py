"""Warden for Python: the policy engine for AI agents.

The one evaluator, ``warden.wasm``, hosted by wasmtime; policy files in YAML
or JSON with errors at ``file:line:col``; signed, encrypted bundles verified
with ``cryptography``.

>>> from warden import Warden
>>> w = Warden.from_policies([{"name": "support-bot", "rules": [
...     {"effect": "allow", "action": "tool.call", "resource": "tool/lookup_order"},
...     {"effect": "escalate", "action": "tool.call", "resource": "tool/issue_refund",
...      "conditions": "context.amount > 500", "reason": "refunds over $500 need a person"}]}])
>>> w.check("tool.call", "tool/lookup_order").allowed
True
>>> w.check("tool.call", "tool/issue_refund", {"amount": 600}).effect
'escalate'
"""

from ._bundle_client import (
    BundleCache,
    BundleErrorEvent,
    BundleStatus,
    BundleUpdate,
    ErrorRecord,
    FetchRecord,
)
from ._audit import REDACTED, AuditErrorEvent, AuditLog, AuditSink, audit_log
from ._bundle_crypto import build_bundle, public_key_of, signing_key_from_seed
from ._bundle_format import BundleFile, parse_bundle
from ._bundle_loader import BundleTrust
from ._disk_cache import DiskCache, default_cache_dir
from ._engine_host import wasm_bytes
from ._policy_files import PolicyFiles, read_policy_files
from .approval import (
    Approval,
    ApprovalHandler,
    ApprovalRequest,
    Approvals,
    canonical_json,
    request_digest,
)
from .decision import (
    Agent,
    Decision,
    Effect,
    Explanation,
    RateLimitRef,
    RecoveredEvent,
    RequestError,
)
from .errors import (
    BundleCacheWarning,
    BundleError,
    ErrorCode,
    PolicyError,
    PolicyInvalidError,
    PolicyViolationError,
    WardenError,
    format_error,
)
from .warden import LoadedBundle, Warden

__all__ = [
    "Agent",
    "Approval",
    "ApprovalHandler",
    "ApprovalRequest",
    "Approvals",
    "AuditErrorEvent",
    "AuditLog",
    "AuditSink",
    "BundleCache",
    "BundleCacheWarning",
    "BundleError",
    "BundleErrorEvent",
    "BundleFile",
    "BundleStatus",
    "BundleTrust",
    "BundleUpdate",
    "Decision",
    "DiskCache",
    "Effect",
    "ErrorCode",
    "ErrorRecord",
    "Explanation",
    "FetchRecord",
    "LoadedBundle",
    "PolicyError",
    "PolicyFiles",
    "PolicyInvalidError",
    "PolicyViolationError",
    "REDACTED",
    "RateLimitRef",
    "RecoveredEvent",
    "RequestError",
    "Warden",
    "WardenError",
    "audit_log",
    "build_bundle",
    "canonical_json",
    "default_cache_dir",
    "format_error",
    "parse_bundle",
    "public_key_of",
    "read_policy_files",
    "request_digest",
    "signing_key_from_seed",
    "wasm_bytes",
]
