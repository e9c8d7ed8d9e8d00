"""A disk cache of compiled rule sets, so that repeat runs over the same rules start at once.

Loading a few thousand Sigma rules through pySigma and compiling them takes seconds; the result
(`RuleSet`) is pickled under ``$XDG_CACHE_HOME/watchpost`` (``~/.cache/watchpost``) keyed by:

- the rule paths as given and the placeholders file,
- the path, size and modification time (ns) of every file under those paths,
- watchpost's version, the Python version, and the size and modification time of the modules
  that load, compile and hold rules (`ENGINE_PARTS`: a changed compiler never reads a rule set
  pickled by another one).

Any difference is a miss. A cache file that cannot be read (damaged, truncated, from an
incompatible version) is ignored and rewritten. Files are written atomically (temporary file,
then rename) in a directory only the user can read. Only rule sets that took a while to load are
stored (tests and small packs load fast anyway), and the ``KEEP`` most recently used files are
kept. ``WATCHPOST_RULE_CACHE=0`` turns the cache off.

What a cached start costs (SigmaHQ Windows rules, ~3,000 rules, 3 Dec 2026: 0.56-0.66 s to a
loaded rule set with imports, against 9-17 s cold) and what keeps it there:

- no pySigma and no rich: compiled rules hold only watchpost's own types, and the modules they
  live in import pySigma only inside the functions that read its values;
- frozen slotted dataclasses (every matcher node) are pickled as (class, slot values) and
  restored with ``object.__setattr__`` (`_restore`), several times faster than ``dataclasses``'
  generic ``__setstate__``; equal text patterns and contains lists (`SHARED_WHEN_EQUAL`) are
  stored once and restored as references;
- compiled RE2 expressions are pickled as `watchpost.matching.re2_calls.LazyRegex` (pattern
  and options) and compiled when first used; RE2's binary is part of the key;
- the index is pickled with every variant's literal sets (`ruleset.IndexedVariant.literals`);
  the literal prefilter is rebuilt from them, its automata and checks made when first needed;
- the cyclic garbage collector is off while a rule set is unpickled (the ~1M new objects would
  set off collections over the ever larger heap: 0.43 of 1.3 s), and the loaded objects go to
  its permanent generation (`gc.freeze`): the rule set lives as long as the run, and the first
  collection, and the last at exit, would otherwise walk all of it again (0.15 s).
"""

from __future__ import annotations

import gc
import hashlib
import io
import os
import pickle
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import repeat
from operator import itemgetter
from pathlib import Path
from typing import Any, TypeVar

import re2

import watchpost
from watchpost.matching.re2_calls import LazyRegex, lazy_regex_parts
from watchpost.matching.string_patterns import ContainsAny, TextPattern

T = TypeVar("T")

KEEP = 8
MIN_LOAD_SECONDS = 0.5
"""Rule sets that loaded faster than this are not worth a file."""

ENGINE_PARTS = (
    "rules", "matching", "correlation", "hunting/ruleset.py", "events.py", "problems.py",
    "hunting/rule_cache.py",
    "__init__.py",
)
"""What a pickled rule set is made of: any change to these files invalidates the cache."""

_SLOTS: dict[type, tuple[str, ...]] = {}
_COMPILED_REGEX = re2._Regexp  # noqa: SLF001 - google-re2's compiled expression


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "watchpost"


def enabled() -> bool:
    return os.environ.get("WATCHPOST_RULE_CACHE", "1") not in ("0", "no", "off", "false")


def cache_key(paths: Sequence[Path], placeholders: Path | None) -> str:
    """A digest of everything the compiled rule set depends on (see the module text)."""
    digest = hashlib.sha256()
    digest.update(f"{watchpost.__version__}|{sys.version}|{placeholders}\n".encode())
    for path in paths:
        digest.update(f"root {path}\n".encode())
        _add_files(digest, path)
    if placeholders is not None:
        _add_files(digest, placeholders)
    package = Path(watchpost.__file__).resolve().parent
    for part in ENGINE_PARTS:
        _add_files(digest, package / part, suffix=".py")
    _add_files(digest, Path(re2._re2.__file__))  # noqa: SLF001 - expressions compile when first used
    return digest.hexdigest()[:32]


def _add_files(digest: Any, root: Path, suffix: str | None = None) -> None:
    if root.is_dir():
        found = sorted(_files_under(str(root), suffix), key=_first)
    elif root.is_file():
        found = list(_files_under_file(root))
    else:
        digest.update(f"missing {root}\n".encode())
        return
    digest.update("".join(f"{name}|{stat.st_size}|{stat.st_mtime_ns}\n" for name, stat in found).encode())


def _files_under(folder: str, suffix: str | None,
                 entered: set[tuple[int, int]] | None = None) -> Iterator[tuple[str, os.stat_result]]:
    """Regular files under ``folder`` with their status, links to folders followed once each (as
    the rule loader reads them): one `os.scandir` per folder and one stat per file
    (``Path.rglob`` and sorting paths took 0.1 s for the ~3,500 files of the SigmaHQ folders)."""
    entered = set() if entered is None else entered
    try:
        status = os.stat(folder)
        entries = os.scandir(folder)
    except OSError:
        return
    if (status.st_dev, status.st_ino) in entered:  # a link loop, or a folder already listed
        entries.close()
        return
    entered.add((status.st_dev, status.st_ino))
    with entries:
        for entry in entries:
            try:
                if entry.is_dir():
                    yield from _files_under(entry.path, suffix, entered)
                elif (suffix is None or entry.name.endswith(suffix)) and entry.is_file():
                    yield entry.path, entry.stat()
            except OSError:  # vanished or unreadable while listed: as if it were not there
                continue


def _files_under_file(file: Path) -> Iterator[tuple[str, os.stat_result]]:
    try:
        yield str(file), file.stat()
    except OSError:
        return


_first = itemgetter(0)


def dumps(value: Any) -> bytes:
    """``value`` pickled in the cache's fast form (what `RuleSet.to_bytes` gives executors)."""
    buffer = io.BytesIO()
    _RulePickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()


def loads(data: bytes) -> Any:
    """What `dumps` pickled, unpickled with the collector off (see the module text)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return pickle.loads(data)
    finally:
        if collecting:
            gc.enable()


def load_cached(key: str) -> Any | None:
    """The object stored under ``key``, or None (missing or unreadable: ignored)."""
    path = cache_dir() / f"rules-{key}.pickle"
    collecting = gc.isenabled()
    gc.disable()  # see the module text: the collector would walk the growing heap again and again
    try:
        found = pickle.loads(path.read_bytes())
        os.utime(path)  # most recently used
    except Exception:  # a damaged or incompatible cache file is the same as none
        return None
    finally:
        if collecting:
            gc.enable()
    gc.freeze()  # the rule set lives as long as the run: no collector pass need walk it again
    return found


def store(key: str, value: Any) -> None:
    """Write ``value`` under ``key``; failures (read-only home, full disk) are ignored."""
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.NamedTemporaryFile("wb", dir=folder, delete=False, suffix=".tmp") as out:
            out.write(dumps(value))
        os.replace(out.name, folder / f"rules-{key}.pickle")
        _prune(folder)
    except Exception:  # the cache is an optimisation: never fail a run because of it
        return


def _prune(folder: Path) -> None:
    files = sorted(folder.glob("rules-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[KEEP:]:
        old.unlink(missing_ok=True)
    for stale in folder.glob("*.tmp"):
        stale.unlink(missing_ok=True)


def _restore(cls: type, names: tuple[str, ...], values: tuple[Any, ...]) -> Any:
    """An instance of a frozen slotted dataclass from its slot values (see `_RulePickler`)."""
    instance: Any = _new(cls)
    _consume(map(_set, repeat(instance, len(names)), names, values))  # a loop at C speed
    return instance


_new = object.__new__
_set = object.__setattr__
_consume: Callable[[Iterable[Any]], None] = deque(maxlen=0).extend


def _slots_of(cls: type) -> tuple[str, ...]:
    names = _SLOTS.get(cls)
    if names is None:
        names = tuple(
            name for klass in reversed(cls.__mro__) for name in getattr(klass, "__slots__", ())
            if name not in ("__weakref__", "__dict__")
        )
        _SLOTS[cls] = names
    return names


SHARED_WHEN_EQUAL = (TextPattern, ContainsAny)
"""Immutable values made only of strings, tuples of strings, enums and compiled expressions: one
instance is stored for all equal ones (71,030 SigmaHQ patterns are 27,373 distinct values), and
the others are restored as references to it by C code (`_same`), not by `_restore`."""

_same = itemgetter(0)


class _RulePickler(pickle.Pickler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._first: dict[tuple[Any, ...], Any] = {}  # the first instance of each shared value

    def reducer_override(self, obj: Any) -> Any:
        cls = type(obj)
        if cls is _COMPILED_REGEX:
            return LazyRegex, lazy_regex_parts(obj)
        params = getattr(cls, "__dataclass_params__", None)
        if params is None or not params.frozen or "__slots__" not in cls.__dict__ or isinstance(obj, type):
            return NotImplemented
        names = _slots_of(cls)
        missing = object()
        values = tuple(getattr(obj, name, missing) for name in names)
        if any(value is missing for value in values):
            return NotImplemented
        if cls in SHARED_WHEN_EQUAL:
            first = self._first.setdefault((cls, *values), obj)
            if first is not obj:
                return _same, ((first,),)
        return _restore, (cls, names, values)


def cached(paths: Sequence[Path], placeholders: Path | None, kind: type[T], build: Callable[[], T]) -> T:
    """``build()``, or the copy of its result cached for the same rule files; slow builds are stored."""
    if not enabled():
        return build()
    key = cache_key(paths, placeholders)
    found = load_cached(key)
    if isinstance(found, kind):
        return found
    started = time.monotonic()
    value = build()
    if time.monotonic() - started >= MIN_LOAD_SECONDS:
        store(key, value)
    return value

