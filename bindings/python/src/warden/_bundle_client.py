"""A client connected to a bundle URL (bundle-format.md §Caching and refresh):
it starts from its cache, then the network; polls with If-None-Match from a
daemon thread, jittered, backing off on errors; and writes the cache only
with a bundle that loaded. The highest version ever loaded is kept in the
cache under its own key, apart from the bundle, so deleting the cached bundle
does not reopen a rollback."""

from __future__ import annotations

import http.client
import random
import threading
import urllib.error
import urllib.request
import warnings
import weakref
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal, Protocol

from ._bundle_loader import BundleTrust
from .errors import BundleCacheWarning, BundleError, ErrorCode, WardenError

BundleSource = Literal["cache", "network", "direct"]


def bundle_key(project: str) -> str:
    return f"{project}.bundle.json"


def version_key(project: str) -> str:
    return f"{project}.version"


class BundleCache(Protocol):
    """Where a client keeps what must survive a restart. Values are text."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...


@dataclass(frozen=True)
class FetchRecord:
    at: datetime
    outcome: Literal["updated", "not-modified", "unchanged", "failed"]


@dataclass(frozen=True)
class ErrorRecord:
    code: ErrorCode
    message: str
    at: datetime


@dataclass(frozen=True)
class BundleStatus:
    """What a client knows of its bundles."""

    #: Version of the bundle in force (None: none has loaded; every check denies).
    version: int | None
    #: Where the bundle in force came from.
    source: BundleSource | None
    loaded_at: datetime | None
    #: The highest version ever loaded: nothing older loads again.
    highest_version: int
    last_fetch: FetchRecord | None
    last_error: ErrorRecord | None


@dataclass(frozen=True)
class BundleUpdate:
    """Sent to ``on("update")`` listeners when a bundle loaded."""

    version: int
    source: BundleSource


@dataclass(frozen=True)
class BundleErrorEvent:
    """Sent to ``on("error")`` listeners when a bundle was refused or a fetch
    failed; the bundle in force stays."""

    error: WardenError
    source: BundleSource


class BundleTarget(Protocol):
    """What the client needs of the Warden it feeds."""

    def _accept_bundle(self, text: str, trust: BundleTrust, source: BundleSource) -> tuple[int, bool]: ...

    @property
    def highest_version(self) -> int: ...

    def _raise_floor(self, version: int) -> None: ...

    def _bundle_error(self, error: WardenError, source: BundleSource) -> None: ...


def _now() -> datetime:
    return datetime.now(timezone.utc)


class _Gone(Exception):
    """The Warden this client fed was garbage-collected: polling ends."""


class BundleClient:
    """Holds its Warden weakly, so that a Warden dropped without ``close`` ends its poller too."""

    def __init__(
        self,
        target: BundleTarget,
        trust: BundleTrust,
        *,
        url: str,
        cache: BundleCache | None,
        poll_interval: float,
        max_backoff: float,
        fetch_timeout: float,
    ) -> None:
        self._target_ref = weakref.ref(target)
        self._trust = trust
        self.url = url
        self._cache = cache
        self._poll_interval = poll_interval
        self._max_backoff = max_backoff
        self._fetch_timeout = fetch_timeout
        self._etag: str | None = None
        self._failures = 0
        # Re-entrant: an error listener may call refresh() on the thread that is fetching.
        self._fetching = threading.RLock()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_fetch: FetchRecord | None = None
        self.last_error: ErrorRecord | None = None

    @property
    def _target(self) -> BundleTarget:
        target = self._target_ref()
        if target is None:
            raise _Gone
        return target

    def start(self) -> None:
        """Loads the cache, then fetches once; then polls."""
        self._load_cache()
        self.refresh()
        if self._poll_interval > 0 and not self._closed.is_set():
            self._thread = threading.Thread(target=self._poll, name=f"warden-bundle-poll:{self._trust.project}", daemon=True)
            self._thread.start()

    def _warn(self, message: str) -> None:
        warnings.warn(f"warden: {message}", BundleCacheWarning, stacklevel=2)

    def _load_cache(self) -> None:
        cache = self._cache
        if cache is None:
            return
        project = self._trust.project
        try:
            floor = cache.get(version_key(project))
        except OSError:
            floor = None
        if floor is not None:
            text = floor.strip()
            if text.isascii() and text.isdigit():
                self._target._raise_floor(int(text))
            else:
                self._warn(f"the highest version recorded in the cache is unreadable ({floor[:40]!r}): it is ignored")
        try:
            bundle = cache.get(bundle_key(project))
        except OSError as e:
            self._warn(f"the cached bundle cannot be read: {e}")
            bundle = None
        if bundle is not None:
            try:
                self._target._accept_bundle(bundle, self._trust, "cache")
            except WardenError as e:
                self._warn(f"the cached bundle is ignored: {e.code}: {e.message}")
                self._record(e, "cache")

    def refresh(self) -> None:
        """Fetches the bundle now (after any fetch already running)."""
        with self._fetching:
            self._fetch_once()

    def close(self) -> None:
        self._closed.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self._fetch_timeout + 1)

    def _record(self, error: WardenError, source: BundleSource) -> None:
        self.last_error = ErrorRecord(error.code, error.message, _now())
        self._target._bundle_error(error, source)

    def _failed(self, at: datetime, error: WardenError) -> None:
        self.last_fetch = FetchRecord(at, "failed")
        self._failures += 1
        self._record(error, "network")

    def _fetch_once(self) -> None:
        at = _now()
        headers = {"Accept": "application/json"}
        if self._etag:
            headers["If-None-Match"] = self._etag
        request = urllib.request.Request(self.url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self._fetch_timeout) as response:
                body: bytes = response.read()
                etag = response.headers.get("ETag")
        except urllib.error.HTTPError as e:
            e.close()
            if e.code == 304:
                self.last_fetch = FetchRecord(at, "not-modified")
                self._failures = 0
                return
            self._failed(at, WardenError("ERR_BUNDLE_FETCH", f"fetching {self.url} answered HTTP {e.code}"))
            return
        except (OSError, ValueError, http.client.HTTPException) as e:
            reason = getattr(e, "reason", None) or e
            self._failed(at, WardenError("ERR_BUNDLE_FETCH", f"fetching {self.url} failed: {reason}"))
            return
        try:
            text = body.decode("utf-8")
            version, changed = self._target._accept_bundle(text, self._trust, "network")
        except UnicodeDecodeError:
            self._failed(at, BundleError("ERR_BUNDLE_FORMAT", "the bundle is not UTF-8 text"))
            return
        except WardenError as e:
            # Refused: the bundle in force and the cache stay as they are.
            self._failed(at, e)
            return
        self._etag = etag
        self.last_fetch = FetchRecord(at, "updated" if changed else "unchanged")
        self._failures = 0
        if self._cache is not None and changed:
            # The floor first: a crash between the two writes can only refuse an old cache, never reopen a rollback.
            try:
                self._cache.set(version_key(self._trust.project), str(self._target.highest_version))
                self._cache.set(bundle_key(self._trust.project), text)
            except OSError as e:
                self._warn(f"the bundle loaded but could not be cached: {e}")

    def _next_delay(self) -> float:
        interval = self._poll_interval
        base = interval if self._failures == 0 else min(self._max_backoff, interval * 2 ** min(self._failures, 20))
        return base * (0.9 + 0.2 * random.random())

    def _poll(self) -> None:
        while not self._closed.wait(self._next_delay()):
            if self._target_ref() is None:
                return
            try:
                self.refresh()
            except _Gone:
                return
            except Exception as e:  # a poll must never end the thread
                try:
                    self._failed(_now(), WardenError("ERR_BUNDLE_FETCH", f"polling {self.url} failed: {e}"))
                except _Gone:
                    return
