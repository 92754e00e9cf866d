"""Writing cassettes safely: whole-file atomic replace, only on change, under a process lock.

Readers never see a torn file and a crash leaves the previous cassette intact (temp file in
the same directory, fsync, ``os.replace``). Writers in several processes (pytest-xdist
workers recording into one shared cassette) serialise on a lock and merge with what is on
disk, so none loses another's interactions.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["cassette_lock", "write_if_changed"]


def _lock_path(path: Path) -> Path:
    # Locks live outside the project so they never show up beside the cassettes in git.
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24]
    directory = Path(tempfile.gettempdir()) / "minidouble-cassette-locks"
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"{digest}.lock"


@contextlib.contextmanager
def cassette_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` shared by every process on this machine."""
    handle = open(_lock_path(path), "a+b")  # noqa: SIM115 - held for the whole block
    try:
        if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
            import msvcrt

            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield
    finally:
        if sys.platform == "win32":  # pragma: no cover
            import msvcrt

            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()


def write_if_changed(path: Path, text: str) -> bool:
    """Atomically make ``path`` hold ``text``; False (and no write at all) if it already does."""
    data = text.encode("utf-8")
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644  # mkstemp's 0600 would hide the cassette from the rest of the team
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        if os.name != "nt":
            os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    if os.name != "nt":
        # The rename itself must reach the disk, or a crash can bring the old name back.
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    return True
