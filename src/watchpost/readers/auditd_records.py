"""One Linux audit record from one text line, in any of auditd's three text forms.

- raw (``/var/log/audit/audit.log``):
  ``node=h type=SYSCALL msg=audit(1492752522.985:8972): arch=c000003e syscall=59 ... exe="/bin/ls"``.
  Untrusted strings are quoted, or hex-encoded when they hold spaces, quotes or non-ASCII bytes
  (``a1=2D6C20``); long execve arguments come in chunks (``a1_len=9000 a1[0]=... a1[1]=...``);
  ``proctitle`` is hex with NUL bytes between the arguments; ``key`` holds several keys joined by
  ``\\x01``. All of this is decoded here.
- enriched (``log_format = ENRICHED``): the raw line, a ``\\x1d`` byte, then translations in upper
  case (``ARCH=x86_64 SYSCALL=execve AUID="alice" UID="root"``). They are kept as upper-case fields.
- interpreted (``ausearch -i``): ``type=SYSCALL msg=audit(04/21/2017 01:28:42.985:8972) : arch=x86_64
  syscall=execve ... uid=root``. Values are printed decoded and unquoted (they may hold spaces), and
  the time is the LOCAL time of the machine that ran ausearch, in its locale's ``%x`` date form.
  Nothing in the text says which zone that was: the reader assumes UTC unless it is told a zone
  (``AuditdReader(interpreted_tz=...)``); it never uses the analyst's own zone implicitly. Dates
  are read as ``MM/DD/YYYY`` or ``MM/DD/YY`` (C and en_US locales), ``YYYY-MM-DD`` or ``DD.MM.YYYY``.

Anything before ``node=``/``type=`` on the line (a syslog header, YAML indentation) is ignored, and
the numeric record types of kernel syslog lines (``type=1300 audit(...)``) are named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

import re2

from watchpost.events import FieldValue

HEADER = re2.compile(r"(?:node=(\S+)\s+)?type=(\S+)\s+(?:msg=)?audit\(([^)]*)\)\s*:?(.*)")
_RAW_TIME = re2.compile(r"^(\d+)(?:\.(\d+))?:(\d+)$")
_INTERPRETED_TIME = re2.compile(r"^(\S+) (\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?:(\d+)$")
_TOKEN = re2.compile(r"""([^\s=]+)=("[^"]*"?|'[^']*'?|\S*)""")
_ENRICHED_TOKEN = re2.compile(r'([A-Za-z0-9_]+)=("[^"]*"?|\S*)')
_HEX = re2.compile(r"^(?:[0-9A-Fa-f]{2})+$")
_EXECVE_KEY = re2.compile(r"^a(\d+)(?:(_len)|\[(\d+)\])?$")
_INTERPRETED_EXECVE_BOUNDARY = re2.compile(r"(?:^|\s)(argc|a\d+(?:_len|\[\d+\])?)=")
_INTERPRETED_BOUNDARY = re2.compile(r"(?:^|\s)([A-Za-z_][\w\-\[\]]*)=")
_INNER_MSG = re2.compile(r"msg='([^']*)'?")
_AVC = re2.compile(r"avc:\s+(\w+)\s+\{\s*([^}]*?)\s*\}")

DATE_FORMATS = ("%m/%d/%Y", "%m/%d/%y", "%Y-%m-%d", "%d.%m.%Y", "%d.%m.%y")

# Fields whose values auditd writes with audit_log_untrustedstring (quoted, or hex when unsafe).
ENCODED_FIELDS = frozenset(
    {
        "name", "exe", "comm", "cwd", "path", "proctitle", "cmd", "acct", "key", "data", "dir",
        "file", "ocomm", "watch", "vm", "root_dir", "new-disk", "old-disk", "new-fs", "old-fs",
        "new-chardev", "old-chardev", "device", "sw", "grp", "new_group", "id",
    }
)
_PLACEHOLDERS = frozenset({"(null)", "(none)", "?", ""})

# Record types by number, for kernel messages forwarded through syslog (``type=1300``).
TYPE_NUMBERS: dict[str, str] = {
    "1006": "LOGIN", "1300": "SYSCALL", "1302": "PATH", "1303": "IPC", "1305": "CONFIG_CHANGE",
    "1306": "SOCKADDR", "1307": "CWD", "1309": "EXECVE", "1318": "MQ_OPEN", "1320": "EOE",
    "1321": "BPRM_FCAPS", "1323": "NETFILTER_PKT", "1325": "NETFILTER_CFG", "1326": "SECCOMP",
    "1327": "PROCTITLE", "1400": "AVC", "1701": "ANOM_ABEND",
}


class MalformedRecord(ValueError):
    """A line that looks like an audit record but cannot be read; the message says why."""


@dataclass(slots=True)
class AuditRecord:
    """One audit record: its header and its decoded fields (``fields`` excludes type and node)."""

    line: int
    node: str | None
    type: str
    serial: str
    time_text: str
    timestamp: datetime
    interpreted: bool
    fields: dict[str, FieldValue] = field(default_factory=dict)
    enriched: dict[str, str] = field(default_factory=dict)
    execve_pairs: list[tuple[str, str]] | None = None
    """The undecoded ``key=value`` pairs of an EXECVE record: arguments may continue in the next."""

    @property
    def key(self) -> tuple[str | None, str, str]:
        """What groups the records of one event: node, serial and the time text."""
        return (self.node, self.serial, self.time_text)


def parse_record(text: str, line: int, interpreted_tz: tzinfo = UTC) -> AuditRecord | None:
    """The record on ``text``, None when the line holds no audit record header.

    Raises `MalformedRecord` when the header is there but its time cannot be read.
    """
    raw_part, _, enriched_part = text.partition("\x1d")
    match = HEADER.search(raw_part)
    if match is None:
        return None
    node, record_type, stamp, body = match.group(1), match.group(2), match.group(3), match.group(4)
    record_type = TYPE_NUMBERS.get(record_type, record_type)
    timestamp, serial, interpreted = parse_stamp(stamp.strip(), interpreted_tz)
    record = AuditRecord(line, node, record_type, serial, stamp.strip(), timestamp, interpreted)
    if record_type == "EXECVE":
        boundary = _INTERPRETED_EXECVE_BOUNDARY
        pairs = _split_interpreted(body.strip(), boundary) if interpreted else _raw_pairs(body)
        record.execve_pairs = pairs
        record.fields = decode_execve(pairs, interpreted)
    elif interpreted:
        record.fields = parse_interpreted_body(record_type, body.strip())
    else:
        record.fields = parse_raw_body(record_type, body)
    if enriched_part:
        record.enriched = parse_enriched(enriched_part)
    return record


def parse_stamp(stamp: str, interpreted_tz: tzinfo) -> tuple[datetime, str, bool]:
    """``(UTC time, serial, interpreted?)`` from the inside of ``msg=audit(...)``."""
    raw = _RAW_TIME.match(stamp)
    if raw is not None:
        seconds, fraction, serial = raw.group(1), raw.group(2) or "0", raw.group(3)
        micros = int((fraction + "000000")[:6])
        try:
            moment = datetime.fromtimestamp(int(seconds), UTC) + timedelta(microseconds=micros)
        except (OverflowError, OSError, ValueError) as error:
            raise MalformedRecord(f"audit time out of range: {stamp!r}") from error
        return moment, serial, False
    local = _INTERPRETED_TIME.match(stamp)
    if local is None:
        raise MalformedRecord(f"unreadable audit time: {stamp!r}")
    date_text, serial = local.group(1), local.group(6)
    hour, minute, second = int(local.group(2)), int(local.group(3)), int(local.group(4))
    micros = int(((local.group(5) or "0") + "000000")[:6])
    for form in DATE_FORMATS:
        try:
            day = datetime.strptime(date_text, form)
        except ValueError:
            continue
        try:
            moment = day.replace(hour=hour, minute=minute, second=second, microsecond=micros)
        except ValueError as error:
            raise MalformedRecord(f"unreadable audit time: {stamp!r}") from error
        return moment.replace(tzinfo=interpreted_tz).astimezone(UTC), serial, True
    raise MalformedRecord(f"unreadable audit date: {date_text!r}")


def parse_raw_body(record_type: str, body: str) -> dict[str, FieldValue]:
    """The decoded ``key=value`` fields of a raw record body (after ``msg=audit(...):``)."""
    pairs = _raw_pairs(body)
    fields: dict[str, FieldValue] = {}
    inner: dict[str, FieldValue] = {}
    for key, value in pairs:
        if key == "msg" and value.startswith("'"):
            inner = parse_raw_body("", value.strip("'"))
            continue
        fields[key] = decode_value(key, value)
    _add_avc(fields, body)
    for key, value in inner.items():
        fields.setdefault(key, value)
    return fields


def _raw_pairs(body: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in _TOKEN.finditer(body)]


def decode_value(key: str, value: str) -> FieldValue:
    """One raw value: quotes removed; hex decoded for the fields auditd encodes."""
    if value.startswith('"'):
        return value[1:-1] if value.endswith('"') and len(value) > 1 else value[1:]
    if value.endswith('"'):
        value = value[:-1]
    if key not in ENCODED_FIELDS or value in _PLACEHOLDERS or _HEX.match(value) is None:
        return value
    data = bytes.fromhex(value)
    if key == "proctitle":
        return data.rstrip(b"\x00").replace(b"\x00", b" ").decode("utf-8", "replace")
    if key == "key":
        keys = [part.decode("utf-8", "replace") for part in data.split(b"\x01") if part]
        return keys[0] if len(keys) == 1 else keys
    return data.rstrip(b"\x00").decode("utf-8", "replace")


def _value_bytes(value: str, interpreted: bool) -> bytes:
    if interpreted:
        return value.encode("utf-8")
    if value.startswith('"'):
        return value[1:-1].encode("utf-8") if value.endswith('"') and len(value) > 1 else b""
    if value not in _PLACEHOLDERS and _HEX.match(value) is not None:
        return bytes.fromhex(value)
    return value.encode("utf-8")


def decode_execve(pairs: list[tuple[str, str]], interpreted: bool) -> dict[str, FieldValue]:
    """EXECVE fields: ``argc``, ``aN`` decoded (chunks ``aN[i]`` joined), ``aN_len`` kept."""
    fields: dict[str, FieldValue] = {}
    args: dict[int, bytes] = {}
    chunks: dict[int, dict[int, bytes]] = {}
    lengths: dict[int, str] = {}
    for key, value in pairs:
        match = _EXECVE_KEY.match(key)
        if match is None:
            fields[key] = value.strip('"')
            continue
        index = int(match.group(1))
        if match.group(2):
            lengths[index] = value
        elif match.group(3) is not None:
            chunks.setdefault(index, {})[int(match.group(3))] = _value_bytes(value, interpreted)
        else:
            args[index] = _value_bytes(value, interpreted)
    for index, parts in chunks.items():
        args[index] = b"".join(parts[i] for i in sorted(parts))
    for index in sorted(args):
        fields[f"a{index}"] = args[index].decode("utf-8", "replace")
        if index in lengths:
            fields[f"a{index}_len"] = lengths[index]
    return fields


def parse_interpreted_body(record_type: str, body: str) -> dict[str, FieldValue]:
    """Fields of an ``ausearch -i`` record body: values run up to the next ``key=``."""
    if record_type == "PROCTITLE":
        _, _, value = body.partition("proctitle=")
        return {"proctitle": value.strip()}
    inner: dict[str, FieldValue] = {}
    msg = _INNER_MSG.search(body)
    if msg is not None:
        inner = dict(_split_interpreted(msg.group(1), _INTERPRETED_BOUNDARY))
        body = body[: msg.start()] + body[msg.end() :]
    fields: dict[str, FieldValue] = dict(_split_interpreted(body, _INTERPRETED_BOUNDARY))
    _add_avc(fields, body)
    for key, value in inner.items():
        fields.setdefault(key, value)
    return fields


def _split_interpreted(body: str, boundary: re2._Regexp) -> list[tuple[str, str]]:
    starts = list(boundary.finditer(body))
    pairs: list[tuple[str, str]] = []
    for position, match in enumerate(starts):
        end = starts[position + 1].start() if position + 1 < len(starts) else len(body)
        pairs.append((match.group(1), body[match.end() : end].strip()))
    return pairs


def parse_enriched(text: str) -> dict[str, str]:
    """The upper-case translations after the ``\\x1d`` separator of an enriched record."""
    enriched: dict[str, str] = {}
    for match in _ENRICHED_TOKEN.finditer(text):
        value = match.group(2)
        enriched[match.group(1)] = value[1:-1] if value.startswith('"') and len(value) > 1 else value
    return enriched


def _add_avc(fields: dict[str, FieldValue], body: str) -> None:
    avc = _AVC.search(body)
    if avc is not None:
        fields.setdefault("seresult", avc.group(1))
        fields.setdefault("seperms", avc.group(2))
