"""Faults of the state folder (full, read-only, damaged database): one clear cause, not a
SQLite traceback.

`StateStore` turns every `sqlite3.Error` and `OSError` met while opening or writing the state
file into a `StateFault` naming the folder and the cause; `watchpost watch` prints its one line and
exits with `watchpost.exit_codes.EXIT_STATE`. A fault never moves a position: the transaction it
interrupted is rolled back (or never committed), so the last checkpoint stands and a watch started
again once the fault is fixed goes on from there (docs/watch.md, "State-folder faults").
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sqlite3
from pathlib import Path

PROBE_BYTES = 1 << 16
"""Bytes written in the state folder, past the size of its largest file, to learn why SQLite met
an I/O error (full disk, file size limit, read-only)."""

_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
_READ_ONLY_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


class StateFault(Exception):
    """The state folder cannot be used; ``cause`` is one of ``full``, ``read-only``, ``damaged``,
    ``unusable``; ``detail`` what SQLite or the system said."""

    def __init__(self, folder: Path, cause: str, detail: str) -> None:
        self.folder = folder
        self.cause = cause
        self.detail = detail
        super().__init__(self.line())

    def line(self) -> str:
        advice = {
            "full": "free some space there",
            "read-only": "make it writable (or give another --state)",
            "damaged": "move the damaged file away (the watch then starts afresh) or restore it",
            "unusable": "check the folder and its disk",
        }[self.cause]
        what = {"full": "is full", "read-only": "is read-only", "damaged": "holds a damaged state database",
                "unusable": "cannot be used"}[self.cause]
        return (f"state folder {self.folder} {what} ({self.detail}): {advice}, then start the watch "
                "again; nothing after the last checkpoint is lost")


def classify(folder: Path, exc: BaseException) -> StateFault:
    """The `StateFault` ``exc`` (raised by SQLite or the system on the state folder) stands for."""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, sqlite3.Error):
        name = getattr(exc, "sqlite_errorname", None) or ""
        if name.startswith("SQLITE_FULL"):
            return StateFault(folder, "full", detail)
        if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in detail:
            return StateFault(folder, "damaged", detail)
        if name.startswith("SQLITE_READONLY") or "readonly" in detail:
            return StateFault(folder, "read-only", detail)
        probed = _probe(folder)  # SQLite does not say which errno an I/O error had: try a write
        if probed is not None:
            return classify(folder, probed)
        return StateFault(folder, "unusable", detail)
    if isinstance(exc, OSError):
        if exc.errno in _FULL_ERRNOS:
            return StateFault(folder, "full", detail)
        if exc.errno in _READ_ONLY_ERRNOS:
            return StateFault(folder, "read-only", detail)
    return StateFault(folder, "unusable", detail)


def _probe(folder: Path) -> OSError | None:
    """The error a small write in ``folder`` meets now (None: it succeeds, or the disk is not
    nearly full for a reason a write cannot show)."""
    probe = folder / ".watchpost-probe"
    try:
        reach = max((entry.stat().st_size for entry in os.scandir(folder) if entry.is_file()), default=0)
        with open(probe, "wb") as stream:  # as far as the state files reach (sparse), and a bit more
            os.pwrite(stream.fileno(), b"\0" * PROBE_BYTES, reach)
            os.fsync(stream.fileno())
    except OSError as exc:
        return exc
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
    try:
        if shutil.disk_usage(folder).free < PROBE_BYTES:
            return OSError(errno.ENOSPC, "no space left on device")
    except OSError as exc:
        return exc
    return None
