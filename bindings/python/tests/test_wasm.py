"""The warden.wasm this package ships is the engine's build, byte for byte."""

from __future__ import annotations

import hashlib

from warden import wasm_bytes

from .conftest import PACKAGE, REPOSITORY

BUILT = REPOSITORY / "engine" / "build" / "warden.wasm"
SHIPPED = PACKAGE / "src" / "warden" / "warden.wasm"


def test_the_shipped_wasm_is_the_engines_build() -> None:
    assert BUILT.is_file(), (
        f"{BUILT} is missing: build the engine first "
        "(cd engine && npx asc assembly/index.ts --config asconfig.json --target release)"
    )
    built = hashlib.sha256(BUILT.read_bytes()).hexdigest()
    shipped = hashlib.sha256(SHIPPED.read_bytes()).hexdigest()
    assert shipped == built, (
        f"src/warden/warden.wasm (sha256 {shipped}) is not engine/build/warden.wasm (sha256 {built}): "
        "copy it again (cp ../../engine/build/warden.wasm src/warden/warden.wasm)"
    )


def test_the_package_loads_the_shipped_file() -> None:
    assert wasm_bytes() == SHIPPED.read_bytes()
