"""Byte-level mutations of real log samples (every format in ../shared/samples, and the project's
fixtures for formats the samples lack), for the fuzz runs of `fuzzing`.

Each mutant is one file with a damage ``kind``; kinds whose cost is known exactly carry
``account=True``: the records lost (the seed's records minus the mutant's) must equal the problems
reported for it (the loss account). Mutants are reproducible from a seed number.
"""

from __future__ import annotations

import gzip
import io
import random
import struct
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
SHARED = PROJECT.parent / "shared"
SAMPLES = SHARED / "samples"
FIXTURES = PROJECT / "tests" / "fixtures"

MAX_SEED = 1_200_000
"""Seeds larger than this are left out (the 3.4 MB lsass campaign zip: its run alone would take a
large share of the CI budget; its format is covered by smaller seeds)."""
EVTX_HEADER = 4096
CHUNK = 65536


@dataclass(frozen=True)
class Seed:
    name: str
    path: Path
    kind: str
    """``evtx``, ``jsonl`` (one record per line), ``text`` (other text), ``zip``."""


def seeds() -> list[Seed]:
    """The seeds: real samples of every format, then fixtures of formats the samples lack."""
    found: list[Seed] = []
    for path in sorted(SAMPLES.rglob("*")):
        if not path.is_file() or path.stat().st_size > MAX_SEED:
            continue
        if path.suffix in (".md", ".csv", ".yaml", ".OTRF") or path.name.startswith(("LICENSE", "README")):
            continue
        found.append(Seed(str(path.relative_to(SAMPLES)), path, _seed_kind(path)))
    for relative in (
        "cloud/gcp_audit_firewall.jsonl", "cloud/azure_activity_nsg.json",
        "cloud/cloudtrail_network_discovery.jsonl", "linux/sysmon_linux_t1049.log",
        "windows/wevtutil_security.xml", "windows/winlogbeat_ecs.jsonl", "macos/eslogger_t1049.jsonl",
    ):
        path = FIXTURES / relative
        found.append(Seed(f"fixtures/{relative}", path, _seed_kind(path)))
    return found


def _seed_kind(path: Path) -> str:
    head = path.read_bytes()[:8]
    if head.startswith(b"ElfFile"):
        return "evtx"
    if head.startswith(b"PK"):
        return "zip"
    if path.suffix == ".jsonl":
        return "jsonl"
    return "text"


@dataclass(frozen=True)
class Mutant:
    name: str
    seed: str
    kind: str
    data: bytes
    account: bool = False
    """Whether the loss account must balance for this kind of damage."""
    present: int | None = None
    """For cut EVTX files: the seed's records in the chunks still (partly) present."""


Mutator = Callable[[bytes, random.Random], tuple[bytes, str, bool]]


# Plain byte damage -------------------------------------------------------------------------------

def flip_bits(data: bytes, rng: random.Random) -> tuple[bytes, str, bool]:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        at = rng.randrange(len(out))
        out[at] ^= 1 << rng.randrange(8)
    return bytes(out), "bit-flips", False


def overwrite_span(data: bytes, rng: random.Random) -> tuple[bytes, str, bool]:
    out = bytearray(data)
    start = rng.randrange(len(out))
    size = min(len(out) - start, rng.choice((4, 16, 256, 4096)))
    out[start : start + size] = bytes(rng.getrandbits(8) for _ in range(size))
    return bytes(out), "random-span", False


def truncate(data: bytes, rng: random.Random) -> tuple[bytes, str, bool]:
    return data[: rng.randrange(len(data))], "truncated", False


def duplicate_span(data: bytes, rng: random.Random) -> tuple[bytes, str, bool]:
    start = rng.randrange(len(data))
    end = min(len(data), start + rng.choice((1, 64, 1024, 65536)))
    at = rng.randrange(len(data))
    return data[:at] + data[start:end] + data[at:], "duplicated-span", False


BYTE_MUTATORS: list[Mutator] = [flip_bits, overwrite_span, truncate, duplicate_span]


# EVTX damage (chunk headers, record sizes, cuts) ------------------------------------------------

def evtx_records(data: bytes) -> list[tuple[int, int, int]]:
    """(chunk number, offset, size) of every record the seed's chunk headers name."""
    found = []
    for number in range((len(data) - EVTX_HEADER) // CHUNK):
        base = EVTX_HEADER + number * CHUNK
        if data[base : base + 8] != b"ElfChnk\x00":
            continue
        free = struct.unpack_from("<I", data, base + 48)[0]
        offset = base + 512
        while offset < base + free and data[offset : offset + 4] == b"**\x00\x00":
            size = struct.unpack_from("<I", data, offset + 4)[0]
            if size < 28:  # a damaged seed (samples/windows/corrupt): stop at its damage
                break
            found.append((number, offset, size))
            offset += size
    return found


def huge_record_size(data: bytes, rng: random.Random) -> tuple[bytes, str, bool]:
    out = bytearray(data)
    _, offset, _ = rng.choice(evtx_records(data) or [(0, EVTX_HEADER + 512, 0)])
    size = rng.choice((0xFFFFFFF0, 0x7FFFFFFF, 0x10000, rng.getrandbits(32)))
    struct.pack_into("<I", out, offset + 4, size)
    return bytes(out), "evtx-huge-record-size", True


def flipped_record_size(data: bytes, rng: random.Random) -> tuple[bytes, str, bool]:
    out = bytearray(data)
    _, offset, _ = rng.choice(evtx_records(data) or [(0, EVTX_HEADER + 512, 0)])
    out[offset + 4 + rng.randrange(3)] ^= 1 << rng.randrange(8)
    return bytes(out), "evtx-flipped-record-size", True


def zeroed_chunk_magic(data: bytes, rng: random.Random) -> tuple[bytes, str, bool]:
    out = bytearray(data)
    base = EVTX_HEADER + rng.choice(_used_chunks(data)) * CHUNK
    out[base : base + 8] = bytes(8)
    return bytes(out), "evtx-zeroed-chunk-magic", True


def zeroed_chunk_header(data: bytes, rng: random.Random) -> tuple[bytes, str, bool]:
    out = bytearray(data)
    base = EVTX_HEADER + rng.choice(_used_chunks(data)) * CHUNK
    out[base : base + 512] = bytes(512)
    return bytes(out), "evtx-zeroed-chunk-header", True


def duplicated_chunk_header(data: bytes, rng: random.Random) -> tuple[bytes, str, bool]:
    used = _used_chunks(data)
    if len(used) < 2:
        return zeroed_chunk_magic(data, rng)
    source, target = rng.sample(used, 2)
    out = bytearray(data)
    out[EVTX_HEADER + target * CHUNK : EVTX_HEADER + target * CHUNK + 512] = data[
        EVTX_HEADER + source * CHUNK : EVTX_HEADER + source * CHUNK + 512
    ]
    return bytes(out), "evtx-duplicated-chunk-header", True


def cut_evtx(data: bytes, rng: random.Random) -> tuple[bytes, str, bool]:
    records = evtx_records(data) or [(0, EVTX_HEADER, len(data) - EVTX_HEADER)]
    _, offset, size = rng.choice(records)
    cut = offset + rng.randrange(size)  # inside a record: a partial copy of a live log
    return data[:cut], "evtx-cut", True


def _used_chunks(data: bytes) -> list[int]:
    return sorted({chunk for chunk, _, _ in evtx_records(data)}) or [0]


EVTX_MUTATORS: list[Mutator] = [
    huge_record_size, flipped_record_size, zeroed_chunk_magic, zeroed_chunk_header, duplicated_chunk_header,
    cut_evtx,
]


# Text damage -------------------------------------------------------------------------------------

def damaged_json_line(data: bytes, rng: random.Random) -> tuple[bytes, str, bool]:
    """One line of a JSON Lines file made unreadable (cut in its middle); the first line too."""
    lines = data.splitlines(keepends=True)
    numbers = [n for n, line in enumerate(lines) if line.strip()]
    target = rng.choice([numbers[0], *numbers])
    line = lines[target].rstrip(b"\r\n")
    lines[target] = line[: max(1, len(line) // 2)] + b"\n"
    return b"".join(lines), "jsonl-damaged-line", True


def line_ends(data: bytes, rng: random.Random) -> tuple[bytes, str, bool]:
    plain = data.replace(b"\r\n", b"\n")
    end = rng.choice((b"\r", b"\r\n"))
    return plain.replace(b"\n", end), "line-ends-cr" if end == b"\r" else "line-ends-crlf", True


def utf16(data: bytes, rng: random.Random) -> tuple[bytes, str, bool]:
    text = data.decode("utf-8", "replace")
    encoding = rng.choice(("utf-16-le", "utf-16-be"))
    bom = b"\xff\xfe" if encoding == "utf-16-le" else b"\xfe\xff"
    return bom + text.encode(encoding), "utf-16-bom", True


def no_line_end(data: bytes, rng: random.Random) -> tuple[bytes, str, bool]:
    return data.replace(b"\n", b" ").replace(b"\r", b" "), "no-line-ends", False


TEXT_MUTATORS: list[Mutator] = [line_ends, utf16, no_line_end]


# Archives ----------------------------------------------------------------------------------------

def damaged_gzip(data: bytes, rng: random.Random) -> tuple[bytes, str, bool]:
    packed = bytearray(gzip.compress(data, mtime=0))
    at = rng.randrange(10, len(packed))
    for offset in range(at, min(len(packed), at + rng.choice((1, 4, 16)))):
        packed[offset] ^= rng.randrange(1, 256)
    return bytes(packed), "gzip-damaged-deflate", False


def damaged_zip_member(data: bytes, rng: random.Random) -> tuple[bytes, str, bool]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ("a.log", "b.log", "c.log"):
            archive.writestr(name, data)
    packed = bytearray(buffer.getvalue())
    start = packed.index(b"b.log") + 5
    at = rng.randrange(start, start + max(1, len(gzip.compress(data)) - 20))
    packed[at] ^= rng.randrange(1, 256)
    return bytes(packed), "zip-damaged-member", False


def many_members(data: bytes, rng: random.Random) -> tuple[bytes, str, bool]:
    count = rng.choice((500, 2000, 3000))
    small = data[:512]
    buffer = io.BytesIO()
    if rng.random() < 0.5:
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for number in range(count):
                archive.writestr(f"m{number:05}.log", small)
        return buffer.getvalue(), "zip-many-members", False
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for number in range(count):
            info = tarfile.TarInfo(f"m{number:05}.log")
            info.size = len(small)
            tar.addfile(info, io.BytesIO(small))
    return buffer.getvalue(), "tgz-many-members", False


def gzip_bomb(data: bytes, rng: random.Random) -> tuple[bytes, str, bool]:
    return gzip.compress(data[:200] + b" " * (rng.choice((20, 60)) << 20), 9, mtime=0), "gzip-bomb", False


ARCHIVE_MUTATORS: list[Mutator] = [damaged_gzip, damaged_zip_member]
RARE_MUTATORS: list[Mutator] = [many_members, gzip_bomb]
"""Slow to build and to read: drawn for about one mutant in 60."""


def mutants(count: int, seed: int = 0, only: list[Seed] | None = None) -> Iterator[Mutant]:
    """``count`` mutants, spread evenly over the seeds, reproducible from ``seed``."""
    rng = random.Random(seed)
    pool = only if only is not None else seeds()
    for number in range(count):
        origin = pool[number % len(pool)]
        data = origin.path.read_bytes()
        choices = list(BYTE_MUTATORS) + list(ARCHIVE_MUTATORS)
        if origin.kind == "evtx":
            choices += EVTX_MUTATORS * 3
        elif origin.kind in ("jsonl", "text"):
            choices += TEXT_MUTATORS + ([damaged_json_line] * 3 if origin.kind == "jsonl" else [])
        mutate = rng.choice(RARE_MUTATORS) if rng.random() < 1 / 60 else rng.choice(choices)
        mutated, kind, account = mutate(data, rng)
        account = account and "corrupt" not in origin.name  # a damaged seed's own loss is not exact
        present = _present_records(data, len(mutated)) if kind == "evtx-cut" else None
        suffix = Path(origin.name).suffix if not kind.startswith(("gzip", "zip", "tgz")) else ".bin"
        yield Mutant(f"{number:05}-{kind}{suffix}", origin.name, kind, mutated, account, present)


def _present_records(data: bytes, length: int) -> int:
    """Records of the seed in chunks whose header's record numbers survive a cut at ``length``."""
    return sum(1 for chunk, _, _ in evtx_records(data) if EVTX_HEADER + chunk * CHUNK + 56 <= length)
