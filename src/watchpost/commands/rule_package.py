"""A SigmaHQ release package kept in a user rules folder: download, verify, install, roll back.

Layout of the folder (``--dir``, default ``$XDG_DATA_HOME/watchpost/sigma``, else
``~/.local/share/watchpost/sigma``)::

    current/         the rules hunts use (``watchpost hunt -r DIR/current``)
    previous/        the rules before the last update, for ``rules update --rollback``
    installed.json   what each of the two is: version, URL, SHA-256, date, rule counts

Decisions:

- Nothing is replaced until the new package has been downloaded whole, checked as a zip (every
  member's CRC; no absolute or ``..`` paths, no links; bounded size and count), unpacked beside
  ``current`` and verified as `watchpost rules check` does (at least one rule runnable; with
  ``strict``, no rule that cannot run). Any failure removes what was unpacked and leaves the
  installed rules as they were.
- The swap is three renames in one folder, then ``installed.json`` written atomically (temporary
  file, rename). Rolling back swaps ``current`` and ``previous`` (a second rollback undoes the
  first).
- The version recorded is the package's ``VERSION`` file if it has one, else the release tag
  read from the download URL (GitHub's ``…/releases/latest/download/…`` redirects to
  ``…/releases/download/<tag>/…``), else the start of the package's SHA-256.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import stat
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

RELEASES = "https://github.com/SigmaHQ/sigma/releases"
PACKAGES = {
    "core": "sigma_core.zip",
    "core+": "sigma_core+.zip",
    "core++": "sigma_core++.zip",
    "emerging-threats": "sigma_emerging_threats_addon.zip",
    "all": "sigma_all_rules.zip",
}
MAX_DOWNLOAD = 256 * 1024 * 1024
MAX_UNPACKED = 1024 * 1024 * 1024
MAX_MEMBERS = 100_000
CHUNK = 1024 * 1024
RECORD = "installed.json"


class PackageError(Exception):
    """The package could not be installed (the message says why); nothing was replaced."""


class NothingToRollBack(PackageError):
    """``--rollback`` without a previous package."""


class NetworkError(PackageError):
    """The package could not be downloaded at all (no network, refused, timed out, HTTP error)."""


@dataclass(frozen=True)
class Installed:
    """What one installed package is."""

    version: str
    url: str
    sha256: str
    installed_at: str
    files: int
    rules: int
    problems: int


def default_folder() -> Path:
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "watchpost" / "sigma"


def release_url(package: str, version: str | None) -> str:
    """The URL of ``package`` (a `PACKAGES` name) of release ``version`` (a tag; None: the latest)."""
    asset = PACKAGES[package]
    if version is None:
        return f"{RELEASES}/latest/download/{asset}"
    return f"{RELEASES}/download/{version}/{asset}"


def read_record(folder: Path) -> dict[str, Installed]:
    """``installed.json`` of ``folder`` (``current``/``previous``); empty when there is none."""
    path = folder / RECORD
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {key: Installed(**value) for key, value in raw.items() if key in ("current", "previous")}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, TypeError) as error:
        raise PackageError(f"{path}: unreadable record of the installed rules: {error}") from error


def write_record(folder: Path, record: dict[str, Installed]) -> None:
    text = json.dumps({key: asdict(value) for key, value in record.items()}, indent=2) + "\n"
    with tempfile.NamedTemporaryFile("w", dir=folder, prefix=".record-", delete=False,
                                     encoding="utf-8") as out:
        out.write(text)
    os.replace(out.name, folder / RECORD)


def download(url: str, target: Path, timeout: float) -> tuple[str, str]:
    """Save ``url`` to ``target``; the SHA-256 and the final URL (after redirects)."""
    digest = hashlib.sha256()
    size = 0
    request = urllib.request.Request(url, headers={"User-Agent": "watchpost-rules-update"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, target.open("wb") as out:
            final_url = response.geturl()
            while chunk := response.read(CHUNK):
                size += len(chunk)
                if size > MAX_DOWNLOAD:
                    raise PackageError(f"{url}: larger than {MAX_DOWNLOAD // 2**20} MiB; not a rule package")
                digest.update(chunk)
                out.write(chunk)
    except urllib.error.HTTPError as error:
        raise NetworkError(f"cannot download {url}: HTTP {error.code} {error.reason}") from error
    except urllib.error.URLError as error:
        raise NetworkError(f"cannot download {url}: {error.reason} (no network?)") from error
    except (TimeoutError, ConnectionError) as error:
        raise NetworkError(f"cannot download {url}: {error} (no network?)") from error
    except http.client.HTTPException as error:
        raise NetworkError(f"cannot download {url}: the transfer broke off ({error!r})") from error
    return digest.hexdigest(), final_url


def unpack(archive: Path, target: Path) -> None:
    """Check ``archive`` as a zip and unpack its files under ``target``."""
    try:
        with zipfile.ZipFile(archive) as package:
            members = package.infolist()
            check_members(members)
            broken = package.testzip()
            if broken is not None:
                raise PackageError(f"damaged package: member {broken!r} fails its CRC check")
            for member in members:
                if not member.is_dir():
                    destination = target.joinpath(*PurePosixPath(member.filename).parts)
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    with package.open(member) as source, destination.open("wb") as out:
                        shutil.copyfileobj(source, out, CHUNK)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as error:
        raise PackageError(f"damaged package: not a readable zip ({error})") from error


def check_members(members: list[zipfile.ZipInfo]) -> None:
    if len(members) > MAX_MEMBERS:
        raise PackageError(f"damaged package: {len(members)} members (at most {MAX_MEMBERS})")
    if sum(member.file_size for member in members) > MAX_UNPACKED:
        raise PackageError(f"damaged package: unpacks to more than {MAX_UNPACKED // 2**20} MiB")
    for member in members:
        path = PurePosixPath(member.filename.replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts or ":" in member.filename:
            raise PackageError(f"damaged package: member path {member.filename!r} leaves the folder")
        if stat.S_ISLNK(member.external_attr >> 16):
            raise PackageError(f"damaged package: member {member.filename!r} is a link")


def package_version(unpacked: Path, final_url: str, sha256: str) -> str:
    """The package's ``VERSION`` (at its root or one folder down), else the URL's tag, else a digest."""
    for candidate in (unpacked / "VERSION", *sorted(unpacked.glob("*/VERSION"))):
        if candidate.is_file():
            first = candidate.read_text(encoding="utf-8", errors="replace").strip().splitlines()
            if first and first[0].strip():
                return first[0].strip()[:200]
    parts = final_url.split("/")
    if "download" in parts:
        tag = parts[parts.index("download") + 1]
        if tag != "latest" and parts.index("download") + 2 < len(parts):
            return tag
    return "sha256:" + sha256[:12]


def verify(unpacked: Path) -> tuple[int, int, list[str]]:
    """Files, runnable rules and problems of the unpacked rules (the checks of `rules check`)."""
    from watchpost.hunting.ruleset import build_ruleset

    ruleset = build_ruleset([unpacked])
    runnable = len(ruleset.detections) + len(ruleset.correlations)
    return ruleset.report.files, runnable, [problem.describe() for problem in ruleset.problems]


def install(folder: Path, url: str, timeout: float = 60.0, strict: bool = False,
            expected_sha256: str | None = None) -> tuple[Installed, list[str]]:
    """Download, check and install the package at ``url`` as ``folder/current``; its record and
    the problems of the rules that cannot run. Raises `PackageError` (nothing replaced)."""
    folder.mkdir(parents=True, exist_ok=True)
    record = read_record(folder)
    work = Path(tempfile.mkdtemp(prefix=".incoming-", dir=folder))
    try:
        sha256, final_url = download(url, work / "package.zip", timeout)
        if expected_sha256 is not None and sha256 != expected_sha256.lower():
            raise PackageError(f"damaged package: SHA-256 {sha256}, expected {expected_sha256.lower()}")
        unpacked = work / "rules"
        unpack(work / "package.zip", unpacked)
        files, runnable, problems = verify(unpacked)
        if runnable == 0:
            raise PackageError(f"the package holds no rule that can run ({files} rule files, "
                               f"{len(problems)} problems)")
        if strict and problems:
            raise PackageError(f"{len(problems)} rules of the package cannot run (--strict); "
                               f"first: {problems[0]}")
        installed = Installed(package_version(unpacked, final_url, sha256), url, sha256,
                              datetime.now(UTC).isoformat(timespec="seconds"), files, runnable, len(problems))
        swap_in(folder, unpacked)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    new_record = {"current": installed}
    if "current" in record:
        new_record["previous"] = record["current"]
    write_record(folder, new_record)
    return installed, problems


def swap_in(folder: Path, unpacked: Path) -> None:
    """``unpacked`` becomes ``current``; ``current`` becomes ``previous`` (the old one removed)."""
    current, previous = folder / "current", folder / "previous"
    if previous.exists():
        trash = Path(tempfile.mkdtemp(prefix=".old-", dir=folder))
        previous.rename(trash / "previous")
        shutil.rmtree(trash, ignore_errors=True)
    if current.exists():
        current.rename(previous)
    unpacked.rename(current)


def rollback(folder: Path) -> dict[str, Installed]:
    """Swap ``current`` and ``previous``; the new record. Raises `PackageError` when there is no
    previous package."""
    record = read_record(folder)
    current, previous = folder / "current", folder / "previous"
    if "previous" not in record or not previous.is_dir():
        raise NothingToRollBack(f"no previous rules to roll back to in {folder}")
    swap = Path(tempfile.mkdtemp(prefix=".swap-", dir=folder))
    try:
        if current.exists():
            current.rename(swap / "current")
        previous.rename(current)
        if (swap / "current").exists():
            (swap / "current").rename(previous)
    finally:
        shutil.rmtree(swap, ignore_errors=True)
    swapped: dict[str, Any] = {"current": record["previous"]}
    if "current" in record:
        swapped["previous"] = record["current"]
    write_record(folder, swapped)
    return swapped
