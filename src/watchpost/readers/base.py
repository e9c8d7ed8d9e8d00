"""What every reader shares: the input `Source` and the `Reader` protocol."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from watchpost.events import Event
from watchpost.problems import ProblemLog


@dataclass(frozen=True)
class Source:
    """One input to read: a plain file, a member of an archive, or standard input.

    ``name`` is what origins show (``logs/a.zip!b.json`` for archive members); ``open`` gives a
    fresh binary stream each call (decompressed already); ``path`` is set only for plain files on
    disk, so readers that prefer a path (EVTX) can use it.
    """

    name: str
    open: Callable[[], BinaryIO]
    path: Path | None = None


class Reader(Protocol):
    """A log format. ``sniff`` looks at the first bytes of a source; ``read`` yields its events.

    ``read`` must never raise on bad content: it records each unreadable record or line in
    ``problems`` (stage ``"read"``, with the source name and the place) and goes on.
    """

    name: str

    def sniff(self, head: bytes, source: Source) -> bool: ...

    def read(self, source: Source, problems: ProblemLog) -> Iterator[Event]: ...
