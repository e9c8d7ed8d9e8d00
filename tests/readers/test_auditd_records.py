"""Parsing single auditd lines: the raw, enriched and interpreted forms, and their encodings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from watchpost.readers.auditd_records import MalformedRecord, execve_argument, parse_record


def test_raw_header_with_node_time_and_serial() -> None:
    record = parse_record('node=db02 type=CWD msg=audit(1492752522.985:8972): cwd="/home/alice"', line=7)
    assert record is not None
    assert (record.node, record.type, record.serial, record.line) == ("db02", "CWD", "8972", 7)
    assert record.timestamp == datetime(2017, 4, 21, 5, 28, 42, 985000, tzinfo=UTC)
    assert record.fields == {"cwd": "/home/alice"}
    assert not record.interpreted


def test_syslog_prefix_and_numeric_type_are_accepted() -> None:
    record = parse_record(
        "Oct 12 09:10:11 host kernel: audit: type=1327 audit(1634029811.120:77): proctitle=6C73002D6C",
        line=1,
    )
    assert record is not None
    assert record.type == "PROCTITLE"
    assert record.fields["proctitle"] == "ls -l"


def test_hex_values_are_decoded_for_untrusted_string_fields_only() -> None:
    record = parse_record(
        "type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=59 a1=7f56476614b0 "
        'exe=2F7573722F62696E2F6D7920746F6F6C comm="tool" key=65786563013634626974',
        line=1,
    )
    assert record is not None
    assert record.fields["exe"] == "/usr/bin/my tool"
    assert record.fields["a1"] == "7f56476614b0"  # a syscall argument is a number, not text
    assert record.fields["key"] == ["exec", "64bit"]  # several keys joined by \x01


def test_placeholders_are_not_decoded() -> None:
    record = parse_record("type=SYSCALL msg=audit(1.000:1): key=(null) tty=(none)", line=1)
    assert record is not None
    assert record.fields == {"key": "(null)", "tty": "(none)"}


def test_execve_hex_arguments_and_chunks_are_joined() -> None:
    spaced = b"( dport = :22 )".hex().upper()
    first, second = "état ".encode().hex().upper(), "présent".encode().hex().upper()
    record = parse_record(
        f'type=EXECVE msg=audit(1.000:1): argc=4 a0="ss" a1="-tn" a2={spaced} '
        f"a3_len=15 a3[0]={first} a3[1]={second}",
        line=1,
    )
    assert record is not None
    assert record.fields == {
        "argc": "4",
        "a0": "ss",
        "a1": "-tn",
        "a2": "( dport = :22 )",
        "a3": "état présent",
        "a3_len": "15",
    }


def test_chunk_split_inside_a_multibyte_character_is_decoded_whole() -> None:
    data = "é".encode()
    record = parse_record(
        f"type=EXECVE msg=audit(1.000:1): argc=1 a0_len=2 a0[0]={data[:1].hex()} a0[1]={data[1:].hex()}",
        line=1,
    )
    assert record is not None
    assert record.fields["a0"] == "é"


def test_proctitle_nul_separators_become_spaces() -> None:
    record = parse_record("type=PROCTITLE msg=audit(1604994496.155:92733): proctitle=617270002D61", line=1)
    assert record is not None
    assert record.fields == {"proctitle": "arp -a"}


def test_user_message_inner_fields_are_flattened() -> None:
    record = parse_record(
        "type=USER_CMD msg=audit(1488862769.030:19469538): pid=3027 uid=497 auid=700 ses=11988 "
        "msg='cwd=\"/\" cmd=6E657473746174202D616E74 terminal=pts/0 res=success'",
        line=1,
    )
    assert record is not None
    assert record.fields["cmd"] == "netstat -ant"
    assert record.fields["cwd"] == "/"
    assert record.fields["uid"] == "497"
    assert "msg" not in record.fields


def test_avc_decision_and_permissions() -> None:
    record = parse_record(
        'type=AVC msg=audit(1170021493.977:293): avc:  denied  { read write } for  pid=13010 comm="pickup"',
        line=1,
    )
    assert record is not None
    assert record.fields["seresult"] == "denied"
    assert record.fields["seperms"] == "read write"
    assert record.fields["comm"] == "pickup"


def test_enriched_translations_are_upper_case_fields() -> None:
    record = parse_record(
        "type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=59 uid=0 auid=1000"
        '\x1dARCH=x86_64 SYSCALL=execve AUID="alice" UID="root"',
        line=1,
    )
    assert record is not None
    assert record.fields["uid"] == "0"
    assert record.enriched == {"ARCH": "x86_64", "SYSCALL": "execve", "AUID": "alice", "UID": "root"}


def test_interpreted_time_is_utc_unless_a_zone_is_given() -> None:
    line = "type=CWD msg=audit(04/21/2017 01:28:42.985:8972) : cwd=/root "
    default = parse_record(line, line=1)
    berlin = parse_record(line, line=1, interpreted_tz=ZoneInfo("Europe/Berlin"))
    assert default is not None and berlin is not None
    assert default.interpreted
    assert default.timestamp == datetime(2017, 4, 21, 1, 28, 42, 985000, tzinfo=UTC)
    assert berlin.timestamp == default.timestamp - timedelta(hours=2)  # CEST is UTC+2
    assert default.fields == {"cwd": "/root"}


@pytest.mark.parametrize(
    "stamp",
    [
        "04/21/2017 01:28:42.985:1",
        "04/21/17 01:28:42.985:1",
        "2017-04-21 01:28:42.985:1",
        "21.04.2017 01:28:42.985:1",
    ],
)
def test_interpreted_date_forms(stamp: str) -> None:
    record = parse_record(f"type=CWD msg=audit({stamp}) : cwd=/", line=1, interpreted_tz=UTC)
    assert record is not None
    assert record.timestamp == datetime(2017, 4, 21, 1, 28, 42, 985000, tzinfo=UTC)


def test_interpreted_values_keep_spaces_and_equal_signs() -> None:
    execve = parse_record(
        "type=EXECVE msg=audit(04/21/2017 01:28:42.985:1) : argc=3 a0=dd a1=if=/dev/zero a2=of=/tmp/my file ",
        line=1,
    )
    title = parse_record(
        "type=PROCTITLE msg=audit(04/21/2017 01:28:42.985:1) : proctitle=dd if=/dev/zero of=/tmp/my file ",
        line=1,
    )
    assert execve is not None and title is not None
    assert execve.fields == {"argc": "3", "a0": "dd", "a1": "if=/dev/zero", "a2": "of=/tmp/my file"}
    assert title.fields == {"proctitle": "dd if=/dev/zero of=/tmp/my file"}


def test_interpreted_syscall_fields() -> None:
    record = parse_record(
        "type=SYSCALL msg=audit(04/21/2017 01:28:42.985:1) : arch=x86_64 syscall=execve success=yes "
        "a0=0x55d3 ppid=2816 pid=2840 auid=alice uid=root comm=netstat exe=/usr/bin/netstat key=(null) ",
        line=1,
    )
    assert record is not None
    assert record.fields["syscall"] == "execve"
    assert record.fields["uid"] == "root"
    assert record.fields["exe"] == "/usr/bin/netstat"
    assert record.fields["a0"] == "0x55d3"


def test_lines_without_a_record_header_are_none() -> None:
    assert parse_record("tests:", line=1) is None
    assert parse_record("type=UNKNOWN[1329] msg=?", line=1) is None


@pytest.mark.parametrize(
    "line",
    ["type=CWD msg=audit(yesterday:12): cwd=/", "type=CWD msg=audit(13/45/2017 01:28:42.985:1) : cwd=/"],
)
def test_unreadable_times_raise(line: str) -> None:
    with pytest.raises(MalformedRecord):
        parse_record(line, line=1)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("a0", (0, None)),
        ("a12_len", (12, "len")),
        ("a3[2]", (3, 2)),
        ("argc", None),
        ("a[1]", None),
        ("a1[x]", None),
        ("arch", None),
    ],
)
def test_execve_argument_keys(key: str, expected: tuple[int, int | str | None] | None) -> None:
    assert execve_argument(key) == expected


def test_raw_words_without_equal_signs_and_tabs_are_passed_over() -> None:
    record = parse_record(
        "type=LOGIN msg=audit(1170021601.343:296): login pid=13015 uid=0 old auid=4294967295\tnew auid=0",
        line=1,
    )
    assert record is not None
    assert record.fields == {"pid": "13015", "uid": "0", "auid": "0"}
