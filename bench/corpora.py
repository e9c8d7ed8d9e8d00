"""Build the benchmark corpora reproducibly under ``bench/corpora/`` (gitignored).

EVTX: every ``.evtx`` under ``../shared/samples/windows/evtx`` and ``../shared/sigma/regression_data``,
copied (hard-linked when the file system allows it) ``repeats`` times, so the corpus is a folder of
many files with at least ``target`` records. JSONL: the OTRF lsass campaign (one JSON object a line)
written out ``repeats`` times into one file of at least ``target`` lines. A corpus that is already
complete (its manifest matches) is reused.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import zipfile
from pathlib import Path

import orjson
from evtx import PyEvtxParser

ROOT = Path(__file__).resolve().parent
SHARED = ROOT.parent.parent / "shared"
CORPORA = ROOT / "corpora"
EVTX_DIRS = (SHARED / "samples/windows/evtx", SHARED / "sigma/regression_data")
OTRF_ZIP = SHARED / "samples/windows/json/otrf_lsass_campaign_01.zip"


def evtx_sources() -> list[Path]:
    return sorted(p for d in EVTX_DIRS for p in d.rglob("*.evtx"))


def count_evtx_records(path: Path) -> int:
    count = 0
    try:
        for _ in PyEvtxParser(str(path)).records_json():
            count += 1
    except Exception:  # a damaged sample counts the records read before the damage
        pass
    return count


def _manifest(folder: Path) -> Path:
    return folder.with_name(folder.name + ".manifest.json")  # outside the corpus: not an input


def _complete(folder: Path, manifest: dict[str, object]) -> bool:
    stamp = _manifest(folder)
    return folder.exists() and stamp.exists() and json.loads(stamp.read_text()) == manifest


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def build_evtx(target: int = 500_000) -> tuple[Path, int]:
    """The EVTX corpus folder and its record count."""
    sources = evtx_sources()
    records = sum(count_evtx_records(p) for p in sources)
    repeats = math.ceil(target / records)
    folder = CORPORA / "evtx"
    manifest: dict[str, object] = {"files": [str(p) for p in sources], "repeats": repeats, "records": records}
    if not _complete(folder, manifest):
        shutil.rmtree(folder, ignore_errors=True)
        for copy in range(repeats):
            into = folder / f"copy{copy:03d}"
            into.mkdir(parents=True)
            for number, source in enumerate(sources):
                _link_or_copy(source, into / f"{number:03d}_{source.name}")
        _manifest(folder).write_text(json.dumps(manifest))
    return folder, records * repeats


def build_jsonl(target: int = 500_000) -> tuple[Path, int]:
    """The JSONL file (OTRF campaign repeated) and its line count."""
    with zipfile.ZipFile(OTRF_ZIP) as archive:
        member = archive.namelist()[0]
        lines = [line for line in archive.read(member).splitlines() if line.strip()]
    repeats = math.ceil(target / len(lines))
    folder = CORPORA / "jsonl"
    path = folder / "otrf_lsass_repeated.jsonl"
    manifest: dict[str, object] = {"member": member, "lines": len(lines), "repeats": repeats}
    if not _complete(folder, manifest) or not path.exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        body = b"\n".join(lines) + b"\n"
        with path.open("wb") as out:
            for _ in range(repeats):
                out.write(body)
        _manifest(folder).write_text(json.dumps(manifest))
    return path, len(lines) * repeats


def jsonl_floor_check(path: Path) -> int:
    """Lines that orjson parses (a sanity figure for the manifest)."""
    with path.open("rb") as stream:
        return sum(1 for line in stream if orjson.loads(line) is not None)


if __name__ == "__main__":
    print(build_evtx())
    print(build_jsonl())
