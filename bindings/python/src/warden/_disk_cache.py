"""A bundle cache on disk: one file per key in a folder (default
``~/.warden/cache``), written atomically — a temporary file, fsync,
``os.replace`` — so a crash leaves the old file or the new one, never half of
one. What a file holds is checked by the bundle loader, which ignores (with a
warning) anything that does not verify."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def default_cache_dir() -> Path:
    return Path.home() / ".warden" / "cache"


class DiskCache:
    """Text values by key, as files in ``folder``."""

    def __init__(self, folder: str | os.PathLike[str] | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_cache_dir()

    def get(self, key: str) -> str | None:
        """The value, or None when there is no file. A file that is not UTF-8 reads as
        text with replacement characters, for the loader to refuse."""
        try:
            return (self.folder / key).read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return None

    def set(self, key: str, value: str) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = self.folder / key
        temp = self.folder / f"{key}.{os.getpid()}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(value.encode("utf-8"))
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        # The rename itself is durable once the folder is synced (not every platform can open a folder).
        try:
            folder = os.open(self.folder, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(folder)
        except OSError:
            pass
        finally:
            os.close(folder)
