"""What makes a followed file the same file: its canonical name, ``(st_dev, st_ino)`` and a
fingerprint of its first bytes; and the files a rotation left next to a followed name.

- `canonical_name`: the followed spelling made absolute with its folder's symlinks resolved
  (``logs/app.log``, ``./app.log`` and ``/abs/logs/app.log`` are one source, with one position and
  the same alert ids); the last component is kept, so a name that is a symlink is still followed
  as a name.
- `head_of` / `head_matches`: a file's first `HEAD_BYTES` (fewer while it is shorter) as
  ``"<length>:<digest>"``. An inode number can be reused by a new file, and copytruncate keeps
  the inode while replacing the content: the head tells both apart from the file read.
- `rotated_siblings`: the files of a followed name's folder written after a given time whose
  name starts with the followed name (``app.log.1``, ``app.log-20240101``), compressed ones
  excepted: the files a rename rotation made, to be drained oldest first.
- `Finished`: the files of a followed name already read to their end (identity and head), saved
  with its position, so that a rotated file is never drained twice.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

HEAD_BYTES = 1024
"""Bytes of a file's start its fingerprint covers."""
COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".zip", ".lz4", ".z", ".br")
"""Suffixes of rotated files that are compressed (not read as lines; reported when needed)."""
FINISHED_KEEP = 32
"""Files read to their end remembered per followed name."""


def canonical_name(item: str) -> Path:
    """The canonical spelling of a followed path (see the module docstring)."""
    path = Path(os.path.abspath(item))
    try:
        return path.parent.resolve() / path.name
    except (OSError, RuntimeError):  # a symlink loop: keep the absolute spelling
        return path


def head_of(fd: int, limit: int) -> str | None:
    """The fingerprint of the first ``min(limit, HEAD_BYTES)`` bytes of the open file ``fd``
    (None for none)."""
    length = min(limit, HEAD_BYTES)
    if length <= 0:
        return None
    try:
        data = os.pread(fd, length, 0)
    except OSError:
        return None
    if len(data) < length:
        return None
    return _fingerprint(data)


def head_matches(fd: int, head: str | None) -> bool:
    """Whether the open file ``fd`` still starts with the bytes ``head`` was made of (True when
    there is no head to compare)."""
    if head is None:
        return True
    length = int(head.split(":", 1)[0])
    try:
        data = os.pread(fd, length, 0)
    except OSError:
        return False
    return len(data) == length and _fingerprint(data) == head


def path_head_matches(path: Path, head: str | None) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        return head_matches(fd, head)
    finally:
        os.close(fd)


def _fingerprint(data: bytes) -> str:
    return f"{len(data)}:{hashlib.blake2b(data, digest_size=12).hexdigest()}"


@dataclass(frozen=True)
class Sibling:
    """A file next to a followed name (see `rotated_siblings`)."""

    path: Path
    identity: tuple[int, int]
    size: int
    mtime_ns: int


def rotated_siblings(name: Path, since_ns: int, exclude: set[tuple[int, int]],
                     finished: Finished) -> list[Sibling]:
    """Files of ``name``'s folder whose name starts with ``name``'s (not ``name`` itself, not
    compressed), modified at or after ``since_ns``, not in ``exclude`` nor ``finished``; oldest
    first (by modification time, then by name from the highest number: ``.2`` before ``.1``)."""
    found: list[Sibling] = []
    prefix = name.name
    try:
        entries = list(os.scandir(name.parent))
    except OSError:
        return []
    for entry in entries:
        if (entry.name == prefix or not entry.name.startswith(prefix)
                or entry.name.lower().endswith(COMPRESSED)):
            continue
        try:
            stat = entry.stat()
        except OSError:
            continue
        identity = (stat.st_dev, stat.st_ino)
        if (not entry.is_file() or stat.st_mtime_ns < since_ns or identity in exclude
                or finished.holds(Path(entry.path), identity)):
            continue
        found.append(Sibling(Path(entry.path), identity, stat.st_size, stat.st_mtime_ns))
    found.sort(key=lambda s: age_order(name, s))
    return found


def age_order(name: Path, sibling: Sibling) -> tuple[int, tuple[int, str]]:
    """Sort key of ``name``'s rotated files, oldest first: modification time, then the number in
    the name, highest first (``.2`` is older than ``.1`` when both were written in one tick)."""
    return (sibling.mtime_ns, _descending_number(sibling.path.name[len(name.name):]))


def _descending_number(suffix: str) -> tuple[int, str]:
    digits = "".join(ch for ch in suffix if ch.isdigit())
    return (-int(digits) if digits and len(digits) < 6 else 0, suffix)


def find_by_identity(directory: Path, identity: tuple[int, int] | None,
                     head: str | None) -> Sibling | None:
    """The file in ``directory`` (not recursively) with ``identity`` and still starting with
    ``head`` (a reused inode number is another file)."""
    if identity is None:
        return None
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return None
    for entry in entries:
        try:
            stat = entry.stat()
        except OSError:
            continue
        if (stat.st_dev, stat.st_ino) == identity and entry.is_file():
            if not path_head_matches(Path(entry.path), head):
                return None
            return Sibling(Path(entry.path), identity, stat.st_size, stat.st_mtime_ns)
    return None


def find_copy(name: Path, head: str | None, offset: int, exclude: set[tuple[int, int]]) -> Sibling | None:
    """A file next to ``name`` that starts as the file read did (``head``) and holds more than
    ``offset`` bytes: the copy copytruncate made of it before emptying it."""
    if head is None:
        return None
    candidates = rotated_siblings(name, 0, exclude, Finished(None))
    for sibling in reversed(candidates):  # the newest copy first
        if sibling.size >= offset and path_head_matches(sibling.path, head):
            return sibling
    return None


class Finished:
    """Files of one followed name read to their end: ``dev:ino:head`` entries, newest last."""

    def __init__(self, saved: str | None) -> None:
        self.entries: list[str] = [entry for entry in (saved or "").split(" ") if entry]

    def add(self, identity: tuple[int, int], head: str | None) -> None:
        entry = f"{identity[0]}:{identity[1]}:{head or '-'}"
        if entry not in self.entries:
            self.entries.append(entry)
            del self.entries[:-FINISHED_KEEP]

    def holds(self, path: Path, identity: tuple[int, int]) -> bool:
        """Whether the file at ``path`` with ``identity`` is one read to its end (same identity
        and still the same first bytes)."""
        prefix = f"{identity[0]}:{identity[1]}:"
        for entry in self.entries:
            if entry.startswith(prefix):
                head = entry[len(prefix):]
                return head == "-" or path_head_matches(path, head)
        return False

    def saved(self) -> str | None:
        return " ".join(self.entries) or None
