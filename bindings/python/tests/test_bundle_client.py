"""Warden.connect against a real HTTP server on 127.0.0.1, with bundles
signed by the shared test keys: what a runtime must do with every bundle it
is served, online and off (as bindings/node's bundle-client tests)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from warden import (
    BundleCacheWarning,
    BundleUpdate,
    Warden,
    build_bundle,
    public_key_of,
    signing_key_from_seed,
)

from .conftest import conformance_dir
from .test_kept_decisions import count_decisions

MANIFEST = json.loads((conformance_dir() / "bundles" / "manifest.json").read_text("utf-8"))
PROJECT: str = MANIFEST["project"]
PROJECT_KEY: str = MANIFEST["project_key"]
TRUSTED: dict[str, str] = MANIFEST["trusted_keys"]
K1 = signing_key_from_seed(MANIFEST["test_signing_seeds"]["k1"])
K2 = signing_key_from_seed(MANIFEST["test_signing_seeds"]["k2"])


def test_the_seeds_are_the_trusted_keys() -> None:
    assert public_key_of(K1) == TRUSTED["k1"]
    assert public_key_of(K2) == TRUSTED["k2"]


def policies_for(version: int) -> list[dict[str, Any]]:
    """Policies that allow exactly `tool/v{version}`, so a decision shows which version is in force."""
    return [{"name": f"v{version}", "rules": [{"effect": "allow", "action": "tool.call", "resource": f"tool/v{version}"}]}]


def bundle(version: int, *, project: str = PROJECT, key: Any = K1, key_id: str = "k1", project_key: str = PROJECT_KEY) -> str:
    return build_bundle(policies_for(version), project=project, version=version, key_id=key_id, signing_key=key, project_key=project_key)


class BundleHost:
    """A bundle host: serves `body` with an ETag, answers If-None-Match with 304, records what it saw."""

    def __init__(self) -> None:
        self.body = ""
        self.requests: list[tuple[str | None, int]] = []
        self.port = 0
        self._server: ThreadingHTTPServer | None = None

    def start(self, port: int = 0) -> None:
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                body = host.body.encode("utf-8")
                etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
                if_none_match = self.headers.get("If-None-Match")
                status = 304 if if_none_match == etag else 200
                host.requests.append((if_none_match, status))
                self.send_response(status)
                self.send_header("ETag", etag)
                self.send_header("Content-Type", "application/json")
                if status == 200:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if status == 200:
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{PROJECT}.bundle.json"

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()


@pytest.fixture
def host() -> Iterator[BundleHost]:
    h = BundleHost()
    yield h
    h.stop()


@pytest.fixture
def connect() -> Iterator[Any]:
    opened: list[Warden] = []

    def make(host: BundleHost, cache: Path, **extra: Any) -> Warden:
        options: dict[str, Any] = dict(
            url=host.url, project=PROJECT, project_key=PROJECT_KEY, trusted_keys=TRUSTED, cache_dir=cache,
            poll_interval=0, fetch_timeout=2,
        )
        options.update(extra)
        w = Warden.connect(**options)
        opened.append(w)
        return w

    yield make
    for w in opened:
        w.close()


def allows(w: Warden, version: int) -> bool:
    return w.check("tool.call", f"tool/v{version}").allowed


def test_loads_answers_304_and_applies_new_versions_on_refresh_and_on_the_next_poll(host: BundleHost, connect: Any, tmp_path: Path) -> None:
    host.body = bundle(1)
    host.start()
    cache = tmp_path / "cache"
    w = connect(host, cache)
    status = w.status()
    assert (status.version, status.source, status.highest_version, status.last_error) == (1, "network", 1, None)
    assert status.last_fetch is not None and status.last_fetch.outcome == "updated"
    assert allows(w, 1)
    assert (cache / f"{PROJECT}.bundle.json").read_text("utf-8") == host.body
    assert (cache / f"{PROJECT}.version").read_text("utf-8") == "1"

    refreshed = w.refresh()
    assert refreshed.last_fetch is not None and refreshed.last_fetch.outcome == "not-modified"
    assert host.requests[-1][1] == 304 and host.requests[-1][0] is not None

    host.body = bundle(2)
    updates: list[BundleUpdate] = []
    w.on("update", updates.append)
    status = w.refresh()
    assert status.version == 2 and status.last_fetch is not None and status.last_fetch.outcome == "updated"
    assert allows(w, 2) and not allows(w, 1)
    assert w.check("tool.call", "tool/v2").bundle_version == 2

    # Polling: a client that polls every 50 ms picks up version 3 by itself.
    polled = threading.Event()
    polling = connect(host, tmp_path / "other-cache", poll_interval=0.05)
    polling.on("update", lambda u: polled.set() if u.version == 3 else None)
    host.body = bundle(3)
    assert polled.wait(timeout=20), "the polling client never loaded version 3"
    assert polling.status().version == 3 and polling.status().source == "network"
    assert allows(polling, 3)
    assert updates == [BundleUpdate(2, "network")]


def test_keeps_the_bundle_in_force_and_its_cache_when_the_server_is_down_or_serves_a_bad_bundle(host: BundleHost, connect: Any, tmp_path: Path) -> None:
    host.body = bundle(5)
    host.start()
    cache = tmp_path / "cache"
    w = connect(host, cache)
    cached = (cache / f"{PROJECT}.bundle.json").read_text("utf-8")
    errors: list[str] = []
    w.on("error", lambda e: errors.append(e.error.code))

    forged = bundle(6, key=K2, key_id="k1")
    tampered = json.loads(bundle(6))
    # The next-to-last character changed (tested, not the last: where it was already "A" nothing changed, 1 run in 64).
    payload = tampered["payload"]
    tampered["payload"] = payload[:-2] + ("B" if payload[-2] == "A" else "A") + payload[-1]
    served = [
        (forged, "ERR_BUNDLE_SIGNATURE"),
        (json.dumps(tampered), "ERR_BUNDLE_SIGNATURE"),
        (bundle(4), "ERR_BUNDLE_STALE"),
        (bundle(7, project="proj_other"), "ERR_BUNDLE_PROJECT"),
        (bundle(7, project_key="not-the-project-key"), "ERR_BUNDLE_DECRYPT"),
        (bundle(7, key_id="k9"), "ERR_BUNDLE_UNKNOWN_KEY"),
        ('{"format": "warden-bundle-1"', "ERR_BUNDLE_FORMAT"),
    ]
    for body, code in served:
        host.body = body
        status = w.refresh()
        assert status.last_error is not None and status.last_error.code == code
        assert status.version == 5
        assert allows(w, 5)
        assert (cache / f"{PROJECT}.bundle.json").read_text("utf-8") == cached
        assert (cache / f"{PROJECT}.version").read_text("utf-8") == "5"
    assert errors == [code for _, code in served]

    host.stop()
    down = w.refresh()
    assert down.last_error is not None and down.last_error.code == "ERR_BUNDLE_FETCH"
    assert down.last_fetch is not None and down.last_fetch.outcome == "failed"
    assert allows(w, 5)


def test_starts_offline_from_its_cache_ignores_a_truncated_cache_with_a_warning_and_never_rolls_back(host: BundleHost, connect: Any, tmp_path: Path) -> None:
    host.body = bundle(8)
    host.start()
    cache = tmp_path / "cache"
    connect(host, cache)
    port = host.port
    host.stop()

    # Restarted with the server down: the cached bundle decides.
    offline = connect(host, cache)
    status = offline.status()
    assert (status.version, status.source) == (8, "cache")
    assert status.last_fetch is not None and status.last_fetch.outcome == "failed"
    assert allows(offline, 8)

    # A truncated cache file is ignored, with a warning, never loaded and never fatal.
    file = cache / f"{PROJECT}.bundle.json"
    whole = file.read_text("utf-8")
    file.write_text(whole[: len(whole) // 2], "utf-8")
    with pytest.warns(BundleCacheWarning, match="the cached bundle is ignored: ERR_BUNDLE_FORMAT"):
        truncated = connect(host, cache)
    assert truncated.status().version is None
    d = truncated.check("tool.call", "tool/v8")
    assert not d.allowed and d.reason == "no policies have loaded yet, so every request is denied"

    # The cache deleted and an older signed bundle served: still refused.
    file.unlink()
    assert (cache / f"{PROJECT}.version").exists()
    host.body = bundle(3)
    host.start(port)
    rolled_back = connect(host, cache)
    status = rolled_back.status()
    assert (status.version, status.highest_version) == (None, 8)
    assert status.last_error is not None and status.last_error.code == "ERR_BUNDLE_STALE"
    assert not allows(rolled_back, 3)
    assert not file.exists()


def test_an_unreadable_version_floor_is_ignored_with_a_warning(host: BundleHost, connect: Any, tmp_path: Path) -> None:
    host.body = bundle(2)
    host.start()
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / f"{PROJECT}.version").write_text("not a number", "utf-8")
    with pytest.warns(BundleCacheWarning, match="highest version recorded in the cache is unreadable"):
        w = connect(host, cache)
    assert w.status().version == 2
    assert (cache / f"{PROJECT}.version").read_text("utf-8") == "2"


def test_refresh_needs_a_connected_client() -> None:
    from warden import WardenError

    with pytest.raises(WardenError) as caught:
        Warden().refresh()
    assert caught.value.code == "ERR_NOT_CONNECTED"


def test_a_client_dropped_without_close_stops_polling(host: BundleHost, tmp_path: Path) -> None:
    import gc

    host.body = bundle(1)
    host.start()
    w = Warden.connect(
        url=host.url, project=PROJECT, project_key=PROJECT_KEY, trusted_keys=TRUSTED, cache_dir=False, poll_interval=0.02, fetch_timeout=2,
    )
    assert w._client is not None and w._client._thread is not None
    poller = w._client._thread
    assert poller.is_alive()
    del w
    gc.collect()
    poller.join(timeout=20)
    assert not poller.is_alive()


def test_a_fetched_bundle_forgets_kept_decisions_and_keep_decisions_false_keeps_none(host: BundleHost, connect: Any, tmp_path: Path) -> None:
    host.body = build_bundle(policies_for(1) + policies_for(2), project=PROJECT, version=1, key_id="k1", signing_key=K1, project_key=PROJECT_KEY)
    host.start()
    kept = connect(host, tmp_path / "kept")
    engine_only = connect(host, tmp_path / "engine-only", keep_decisions=False)
    d = kept.check("tool.call", "tool/v2")
    assert (d.allowed, d.bundle_version) == (True, 1)
    assert kept.check("tool.call", "tool/v2") is d and kept._kept is not None and ("tool.call", "tool/v2") in kept._kept
    assert engine_only._kept is None
    calls = count_decisions(engine_only)
    assert engine_only.check("tool.call", "tool/v2") == engine_only.check("tool.call", "tool/v2") == d
    assert calls[0] == 2
    # Version 2 allows tool/v2 alone, as version 1 did: the same answer, with the version in force.
    host.body = bundle(2)
    assert kept.refresh().version == 2
    d = kept.check("tool.call", "tool/v2")
    assert (d.allowed, d.bundle_version) == (True, 2)
    # Version 3 no longer allows it.
    host.body = bundle(3)
    assert kept.refresh().version == 3 and not allows(kept, 2)
