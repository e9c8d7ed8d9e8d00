"""`FileFollower`: one followed file **name**, as ``tail -F``, by file identity.

The name is canonical (`watchpost.watch.identity.canonical_name`). The file read is known by its
``(st_dev, st_ino)`` and the fingerprint of its first bytes (`Position.head`):

- **rename rotation** (the name points to another file): the file read is drained to its end,
  then every file the rotation left next to the name and that was written since (``a.log.1`` when
  two rotations came between two polls), oldest first, then the new file from its start;
- **after a restart** the saved file is looked for by identity (and head) in the same folder,
  under any name, and drained from the saved offset, then the files rotated after it, then the
  file at the name: any number of rotations while the watch was down. A saved file that is gone
  (deleted, compressed) is reported with its name, identity and the byte offset after which
  nothing was read;
- **truncation** (smaller than what was read, or no longer starting with the bytes read: a
  copytruncate, also while the watch was down): the copy is looked for next to the name (a file
  starting with the same bytes and at least as long as what was read) and the rest of the old
  content is read from it; without a copy the loss is reported (name, byte offset). Then the file
  is read again from its start;
- a name that **does not exist yet** is announced ("waiting for ...") and read from its start
  once it appears.

The position saved is that of the first file not read to its end, with the files of the name
already read to their end (`Position.done`), so that none is drained twice.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watchpost.watch.chunks import Chunk
from watchpost.watch.identity import (
    Finished,
    Sibling,
    age_order,
    canonical_name,
    find_by_identity,
    find_copy,
    path_head_matches,
    rotated_siblings,
)
from watchpost.watch.open_files import FollowOptions, OpenFile
from watchpost.watch.state import Position
from watchpost.watch.tails import identity_of


@dataclass
class _Pending:
    """A file to drain after the one being drained: where it is and from which position."""

    path: Path
    identity: tuple[int, int]
    position: Position


class FileFollower:
    """Follows one file name (see the module docstring)."""

    def __init__(self, path: Path, options: FollowOptions) -> None:
        self.path = canonical_name(str(path))
        self.name = str(self.path)
        self.key = f"file:{self.name}"
        self.options = options
        self.current: OpenFile | None = None
        self.draining: OpenFile | None = None
        """The file being read to its end after a rotation (or a truncation's copy)."""
        self.backlog: list[OpenFile | _Pending] = []
        """Files to drain after ``draining``, in order."""
        self.last_drained: Position | None = None
        """The position at the end of the last file drained (saved while no file is at the name)."""
        stored = self._stored()
        self.finished = Finished(stored.done if stored is not None else None)
        self.first_open = True
        self.waiting = not self.path.exists()
        if self.waiting:
            options.notify(f"waiting for {self.name}: it does not exist yet")

    # -- reading ---------------------------------------------------------------------------

    def poll(self, release: bool = False) -> Chunk | None:
        self._check_name()
        if self.current is not None:
            self._look_for_copies(self.current)
            if self.draining is not None or self.backlog:
                self.current.observe()  # a copytruncate of it while older files drain
        while self.draining is not None or self.backlog:
            if self.draining is None:
                self._open_next()
                continue
            chunk = self.draining.read(final=True)
            if chunk is not None:
                return chunk
            if not self._read_to_end(self.draining):
                return None  # (an over-long line being skipped): more at the next poll
            self.finished.add(self.draining.identity, self.draining.position.head)
            self.draining.close()
            self.last_drained = self.draining.position
            self.draining = None
        if self.current is None:
            return None
        chunk = self.current.read(release=release)
        if chunk is None and self.backlog:  # a truncation found the copy: it comes first
            return self.poll(release)
        return chunk

    @staticmethod
    def _read_to_end(opened: OpenFile) -> bool:
        if opened.lines is None:
            return True
        size = opened.size()
        return size is None or opened.position.offset + len(opened.lines.partial) >= size

    def _open_next(self) -> None:
        pending = self.backlog.pop(0)
        if isinstance(pending, OpenFile):
            self.draining = pending
            return
        path = pending.path
        try:
            at_path = identity_of(path.stat())
        except OSError:
            at_path = None
        if at_path != pending.identity:  # renamed again meanwhile: look for it
            found = find_by_identity(self.path.parent, pending.identity, None)
            path = found.path if found is not None else path
        try:
            opened = OpenFile(path, pending.position, self.options, at_end=False)
        except OSError as exc:
            self._lost(pending.position, f"{pending.path} could not be opened ({exc})")
            return
        if opened.identity != pending.identity:
            opened.close()
            self._lost(pending.position, f"{pending.path} was replaced before it could be read")
            return
        self.draining = opened

    def _check_name(self) -> None:
        try:
            stat = self.path.stat()
        except OSError:  # missing: keep reading the open file (if any) until a new one appears
            if self.first_open:  # restarted after a rotation that left no file at the name yet
                self._first_look(None)
            return
        identity = identity_of(stat)
        if self.current is not None and identity == self.current.identity:
            return
        if self.current is None and stat.st_size == 0 and self.path.suffix.lower() == ".evtx":
            if self.first_open:  # the files rotated away before it need not wait for its content
                self._first_look(identity)
            return  # wait for content: an empty EVTX file has no header yet
        if self.waiting:
            self.waiting = False
            self.options.notify(f"{self.name} appeared: following it")
        position = Position(self.key, self.name)
        at_end = False
        if self.current is not None:  # rotated: finish the old file and those rotated after it
            old, self.current = self.current, None
            since = written = self._mtime(old)
            if old.lines is not None:
                if old.lines.truncated():  # copytruncate, then the rename: copies older than it
                    self._truncated(old, until_ns=written)
                if old.lines.looked_ns is not None:  # copies of what it held since it was looked at
                    since = min(since, old.lines.looked_ns)
            self.backlog.append(old)
            self._queue_siblings(since, {old.identity, identity})
        elif self.first_open:
            stored = self._first_look(identity)
            if stored is not None:
                position = stored  # the same file (a truncation is found when it is opened)
            else:
                at_end = self.options.start_at_end and self._stored() is None
        try:
            opened = OpenFile(self.path, position, self.options, at_end, self._truncated)
        except OSError as exc:
            self.options.problems.add("read", self.name, None, f"cannot open: {exc}")
            return
        self.current = opened

    def _first_look(self, at_name: tuple[int, int] | None) -> Position | None:
        """The first look at the name since the start: the saved position when the file at the
        name (``at_name``) is the saved one; otherwise the saved file and those rotated after it
        are queued (`_resume_rotated`) and None is returned."""
        self.first_open = False
        stored = self._stored()
        if stored is None:
            return None
        if stored.identity == at_name:
            return stored
        self._resume_rotated(stored, at_name)
        return None

    # -- rotation and truncation -------------------------------------------------------------

    def _resume_rotated(self, stored: Position, at_name: tuple[int, int] | None) -> None:
        """The name points to another file than the saved position's: the saved file was rotated
        while the watch was stopped (or while it was still draining it). Drain it from the saved
        offset, then the files rotated after it; report the saved file if it is gone."""
        found = find_by_identity(self.path.parent, stored.identity, None)
        since = stored.mtime_ns
        exclude = set() if at_name is None else {at_name}
        if found is None:
            self._lost(stored, f"the file {stored.dev}:{stored.ino} is no longer in {self.path.parent} "
                               "(deleted or compressed after its rotation)")
        elif stored.format != "evtx" and (found.size < stored.offset
                                          or not path_head_matches(found.path, stored.head)):
            self._resume_truncated(stored, found, exclude)  # copytruncate, then rotated
            since = found.mtime_ns
            exclude.add(found.identity)
        else:
            since = found.mtime_ns
            exclude.add(found.identity)
            if stored.format == "evtx" or found.size > stored.offset:
                self.backlog.append(_Pending(found.path, found.identity, stored))
            else:
                self.finished.add(found.identity, stored.head)
        if since is not None:
            self._queue_siblings(since, exclude)

    def _resume_truncated(self, stored: Position, found: Sibling, exclude: set[tuple[int, int]]) -> None:
        """The saved file was truncated after its position (copytruncate; or its inode number now
        belongs to another file) and then rotated: the rest of its old content from the copies
        (or the loss reported), then what it holds now from its start."""
        self._queue_copies(stored, stored.head, stored.mtime_ns, exclude | {found.identity}, before=found)
        exclude.update(p.identity for p in self.backlog if isinstance(p, _Pending))
        self.backlog.append(_Pending(found.path, found.identity, Position(self.key, self.name)))

    def _queue_copies(self, position: Position, head: str | None, since_ns: int | None,
                      exclude: set[tuple[int, int]], before: Sibling | None = None,
                      until_ns: int | None = None) -> None:
        """Queue the copies copytruncate made of the file read up to ``position`` (whose first
        bytes are ``head``), oldest first: the one starting with ``head`` from ``position`` on,
        the later ones (content written and copied away before it was read) from their start.
        ``since_ns``: when the file was last looked at (None: unknown, the newest copy alone).
        Without a copy starting with ``head``, the old content after ``position`` is reported."""
        exclude = exclude | {p.identity for p in self.backlog}
        if self.draining is not None:
            exclude.add(self.draining.identity)
        if since_ns is None:
            copy = find_copy(self.path, head, position.offset, exclude)
            candidates = [] if copy is None else [copy]
        else:
            candidates = rotated_siblings(self.path, since_ns, exclude, self.finished)
        if before is not None:  # the truncated file was renamed: its copies are older than it
            candidates = [c for c in candidates if age_order(self.path, c) < age_order(self.path, before)]
        if until_ns is not None:
            candidates = [c for c in candidates if c.mtime_ns <= until_ns]
        matched = head is None and position.offset == 0  # nothing was read: every copy from its start
        for sibling in candidates:
            if not matched and sibling.size >= position.offset and path_head_matches(sibling.path, head):
                self.backlog.append(_Pending(sibling.path, sibling.identity, dataclasses.replace(position)))
                matched = True
            elif matched:
                self.backlog.append(_Pending(sibling.path, sibling.identity, Position(self.key, self.name)))
        if not matched:
            self._lost(position, f"it was truncated and no copy of it is in {self.path.parent}",
                       "truncated")

    def _queue_siblings(self, since_ns: int, exclude: set[tuple[int, int]]) -> None:
        """Queue the files rotated next to the name since ``since_ns`` (read from their start)."""
        exclude |= {p.identity for p in self.backlog}
        if self.draining is not None:
            exclude.add(self.draining.identity)
        for sibling in rotated_siblings(self.path, since_ns, exclude, self.finished):
            self.backlog.append(_Pending(sibling.path, sibling.identity, Position(self.key, self.name)))

    def _truncated(self, opened: OpenFile, until_ns: int | None = None) -> bool:
        """The file at the name was truncated after ``opened.position`` (see the module
        docstring): the rest of the old content from its copies, if there are any."""
        assert opened.lines is not None
        position = opened.position
        head = position.head if position.offset > 0 else opened.lines.seen_head
        waiting = len(self.backlog)
        now = self._mtime(opened)  # before the scan: a copy made after it is newer than this
        self._queue_copies(position, head, opened.lines.looked_ns, {opened.identity}, until_ns=until_ns)
        opened.lines.restart(reason="")
        opened.lines.looked_ns = now  # the copies up to now are queued
        return len(self.backlog) > waiting

    def _look_for_copies(self, opened: OpenFile) -> None:
        """A file at the name with nothing read and nothing seen of it yet may have been written,
        copied and emptied (copytruncate, even several times) since it was last looked at: such
        copies are the files written next to it since then (a rename would have changed the
        file at the name); they are queued, from their start."""
        lines = opened.lines
        if lines is None or opened.position.offset != 0 or lines.seen_head is not None:
            return
        try:
            now = os.fstat(opened.handle.fileno()).st_mtime_ns  # before the scan: a copy made
        except (OSError, ValueError):                           # after it is newer than this
            return
        since = lines.looked_ns
        if since is not None:
            exclude = {opened.identity} | {p.identity for p in self.backlog}
            if self.draining is not None:
                exclude.add(self.draining.identity)
            if rotated_siblings(self.path, since, exclude, self.finished):
                self._queue_copies(opened.position, None, since, {opened.identity})
        lines.looked_ns = now

    def _lost(self, position: Position, why: str, what: str = "rotated away") -> None:
        reason = (f"{what} before it was read to its end: its bytes from offset {position.offset} "
                  f"to its end (line {position.lines + 1} on) were not read; {why}")
        self.options.problems.add("read", self.name, f"line {position.lines}", reason)
        self.options.notify(f"lost: {self.name}: {reason}")

    @staticmethod
    def _mtime(opened: OpenFile) -> int:
        try:
            return os.fstat(opened.handle.fileno()).st_mtime_ns
        except (OSError, ValueError):
            return 0

    def _stored(self) -> Position | None:
        """The saved position of this name; one saved under another spelling of the same file
        (an older watchpost keyed names as typed) is taken over."""
        stored = self.options.stored.get(self.key)
        if stored is not None:
            return stored
        try:
            identity = identity_of(self.path.stat())
        except OSError:
            return None
        for position in self.options.stored.values():
            if (position.key.startswith("file:") and position.identity == identity
                    and Path(position.name).name == self.path.name):
                return dataclasses.replace(position, key=self.key, name=self.name)
        return None

    # -- state -----------------------------------------------------------------------------

    def positions(self) -> list[Position]:
        # The first file not read to its end: while a rotated file drains it is that file's (a
        # restart finds it by identity, finishes it, then the files rotated after it).
        opened = self.draining or self.current
        if opened is not None:
            position = opened.saved_position()
        elif self.last_drained is not None:
            position = self.last_drained
        else:
            return []
        position.done = self.finished.saved()
        return [position]

    def describe(self) -> dict[str, Any]:
        opened = self.draining or self.current
        position = opened.position if opened is not None else None
        return {"source": self.name, "offset": position.offset if position else None,
                "lines": position.lines if position else None,
                "size": opened.size() if opened is not None else None,
                "record": position.record if position and position.format == "evtx" else None,
                "format": position.format if position else None,
                "waiting": self.waiting, "rotated_backlog": len(self.backlog)}

    def close(self) -> None:
        for opened in (self.current, self.draining, *self.backlog):
            if isinstance(opened, OpenFile):
                opened.close()
