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

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

import re2

from watchpost.events import FieldValue

HEADER = re2.compile(r"(?:node=(\S+)\s+)?type=(\S+)\s+(?:msg=)?audit\(([^)]*)\)\s*:?(.*)")
_INTERPRETED_TIME = re2.compile(r"^(\S+) (\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?:(\d+)$")
_HEX = re2.compile(r"^(?:[0-9A-Fa-f]{2})+$")
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
    header = split_header(raw_part)
    if header is None:
        return None
    node, record_type, stamp, body = header
    record_type = TYPE_NUMBERS.get(record_type, record_type)
    timestamp, serial, interpreted = parse_stamp(stamp.strip(), interpreted_tz)
    record = AuditRecord(line, node, record_type, serial, stamp.strip(), timestamp, interpreted)
    if record_type == "EXECVE":
        pairs = _split_interpreted(body.strip(), _is_execve_key) if interpreted else _raw_pairs(body)
        record.execve_pairs = pairs
        record.fields = decode_execve(pairs, interpreted)
    elif interpreted:
        record.fields = parse_interpreted_body(record_type, body.strip())
    else:
        record.fields = parse_raw_body(record_type, body)
    if enriched_part:
        record.enriched = parse_enriched(enriched_part)
    return record


def split_header(text: str) -> tuple[str | None, str, str, str] | None:
    """``(node, type, stamp, body)`` of a record line, None when it has no record header.

    Lines that start with ``node=``/``type=`` (after blanks) are cut with string operations, the
    others (syslog prefixes) are searched with the ``HEADER`` expression.
    """
    rest = text.lstrip()
    node = None
    if rest.startswith("node="):
        end = rest.find(" ")
        if end < 0:
            return None
        node, rest = rest[5:end], rest[end:].lstrip()
    end = rest.find(" ")
    if not rest.startswith("type=") or end < 0:
        return _search_header(text)
    record_type, rest = rest[5:end], rest[end:].lstrip()
    if rest.startswith("msg="):
        rest = rest[4:]
    close = rest.find(")")
    if not rest.startswith("audit(") or close < 0:
        return _search_header(text)
    body = rest[close + 1 :].lstrip()
    return node, record_type, rest[6:close], body[1:] if body.startswith(":") else body


def _search_header(text: str) -> tuple[str | None, str, str, str] | None:
    match = HEADER.search(text)
    if match is None:
        return None
    return match.group(1), match.group(2), match.group(3), match.group(4)


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def parse_stamp(stamp: str, interpreted_tz: tzinfo) -> tuple[datetime, str, bool]:
    """``(UTC time, serial, interpreted?)`` from the inside of ``msg=audit(...)``."""
    moment_text, _, serial = stamp.rpartition(":")
    seconds, _, fraction = moment_text.partition(".")
    if _is_number(seconds) and _is_number(serial) and (not fraction or _is_number(fraction)):
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
    day = _day(date_text)
    try:
        moment = day.replace(hour=hour, minute=minute, second=second, microsecond=micros)
    except ValueError as error:
        raise MalformedRecord(f"unreadable audit time: {stamp!r}") from error
    return moment.replace(tzinfo=interpreted_tz).astimezone(UTC), serial, True


_DAYS: dict[str, datetime] = {}


def _day(date_text: str) -> datetime:
    """The day an interpreted date names (``DATE_FORMATS``), remembered: logs repeat their days."""
    day = _DAYS.get(date_text)
    if day is not None:
        return day
    for form in DATE_FORMATS:
        try:
            day = datetime.strptime(date_text, form)
        except ValueError:
            continue
        if len(_DAYS) >= 4096:
            _DAYS.clear()
        _DAYS[date_text] = day
        return day
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
    """``key=value`` pairs of a raw body; values quoted with ``"`` or ``'`` may hold blanks.

    Words without ``=`` (``avc:  denied  {``, old kernels' ``old auid=``) are passed over.
    """
    pairs: list[tuple[str, str]] = []
    length = len(body)
    position = 0
    while position < length:
        if body[position] in " \t":
            position += 1
            continue
        equals = body.find("=", position)
        if equals < 0:
            break
        blank = _next_blank(body, position)
        if blank < equals:
            position = blank
            continue
        start = equals + 1
        if start < length and body[start] in "\"'":
            close = body.find(body[start], start + 1)
            end = length if close < 0 else close + 1
        else:
            end = _next_blank(body, start)
        pairs.append((body[position:equals], body[start:end]))
        position = end
    return pairs


def _next_blank(text: str, start: int) -> int:
    """Index of the first blank (space or tab) at or after ``start``, else ``len(text)``."""
    space, tab = text.find(" ", start), text.find("\t", start)
    candidates = [index for index in (space, tab) if index >= 0]
    return min(candidates) if candidates else len(text)


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
        argument = execve_argument(key)
        if argument is None:
            fields[key] = value.strip('"')
            continue
        index, part = argument
        if part == "len":
            lengths[index] = value
        elif isinstance(part, int):
            chunks.setdefault(index, {})[part] = _value_bytes(value, interpreted)
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
        inner = dict(_split_interpreted(msg.group(1), _is_field_key))
        body = body[: msg.start()] + body[msg.end() :]
    fields: dict[str, FieldValue] = dict(_split_interpreted(body, _is_field_key))
    _add_avc(fields, body)
    for key, value in inner.items():
        fields.setdefault(key, value)
    return fields


def _split_interpreted(body: str, is_key: Callable[[str], bool]) -> list[tuple[str, str]]:
    """Pairs of an interpreted body: a value runs up to the next word that starts ``key=``."""
    pairs: list[tuple[str, str]] = []
    key: str | None = None
    value_start = 0
    position, length = 0, len(body)
    while position < length:
        if body[position] == " ":
            position += 1
            continue
        end = body.find(" ", position)
        end = length if end < 0 else end
        equals = body.find("=", position, end)
        if equals > position and is_key(body[position:equals]):
            if key is not None:
                pairs.append((key, body[value_start:position].strip()))
            key, value_start = body[position:equals], equals + 1
        position = end
    if key is not None:
        pairs.append((key, body[value_start:].strip()))
    return pairs


def execve_argument(key: str) -> tuple[int, int | str | None] | None:
    """``(index, part)`` of an EXECVE argument key: ``a3`` -> (3, None), ``a3_len`` -> (3, "len"),
    ``a3[1]`` -> (3, 1); None for other keys (``argc``)."""
    if not key.startswith("a"):
        return None
    digits = key[1:]
    part: int | str | None = None
    if digits.endswith("_len"):
        digits, part = digits[:-4], "len"
    elif digits.endswith("]") and "[" in digits:
        digits, _, chunk = digits[:-1].partition("[")
        if not _is_number(chunk):
            return None
        part = int(chunk)
    return (int(digits), part) if _is_number(digits) else None


def _is_execve_key(key: str) -> bool:
    return key == "argc" or execve_argument(key) is not None


def _is_field_key(key: str) -> bool:
    head = key[0]
    return (head.isalpha() or head == "_") and key.isascii() and all(
        char.isalnum() or char in "_-[]" for char in key
    )


def parse_enriched(text: str) -> dict[str, str]:
    """The upper-case translations after the ``\\x1d`` separator of an enriched record."""
    enriched: dict[str, str] = {}
    for key, value in _raw_pairs(text):
        quoted = value.startswith('"') and value.endswith('"') and len(value) > 1
        enriched[key] = value[1:-1] if quoted else value.lstrip('"')
    return enriched


def _add_avc(fields: dict[str, FieldValue], body: str) -> None:
    avc = _AVC.search(body)
    if avc is not None:
        fields.setdefault("seresult", avc.group(1))
        fields.setdefault("seperms", avc.group(2))
