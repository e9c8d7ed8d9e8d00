"""windash, base64, base64offset and the UTF-16 modifiers, end to end (rule -> pySigma -> matcher)."""

from __future__ import annotations

import base64

import pytest
from sigma.modifiers import SigmaWideModifier, modifier_mapping

from watchpost.rules.modifiers import register_modifier_aliases

from .helpers import event, field_rule

DASHES = ["-", "/", "\u2013", "\u2014", "\u2015"]  # hyphen, slash, en dash, em dash, horizontal bar


@pytest.mark.parametrize("dash", DASHES)
def test_windash_accepts_every_dash_variant(dash: str) -> None:
    matcher = field_rule("CommandLine|windash|contains", " -exportpfx ")
    assert matcher.matches(event(CommandLine=f"certutil.exe {dash}exportPFX my"))


def test_windash_does_not_accept_other_characters() -> None:
    matcher = field_rule("CommandLine|windash|contains", " -exportpfx ")
    assert not matcher.matches(event(CommandLine="certutil.exe +exportpfx my"))
    assert not matcher.matches(event(CommandLine="certutil.exe exportpfx my"))


def test_windash_with_all_needs_each_flag_in_some_variant() -> None:
    matcher = field_rule("CommandLine|windash|contains|all", [" -a ", " -b "])
    assert matcher.matches(event(CommandLine="tool /a \u2013b "))
    assert not matcher.matches(event(CommandLine="tool /a c "))


def test_base64_encodes_the_whole_value() -> None:
    encoded = base64.b64encode(b"/bin/bash").decode()
    matcher = field_rule("Data|base64", "/bin/bash")
    assert matcher.matches(event(Data=encoded))
    assert not matcher.matches(event(Data=encoded + "x"))


def test_base64_contains() -> None:
    encoded = base64.b64encode(b"/bin/bash").decode()
    matcher = field_rule("Data|base64|contains", "/bin/bash")
    assert matcher.matches(event(Data=f"echo {encoded} | base64 -d"))


@pytest.mark.parametrize("prefix", [b"", b"x", b"xy", b"xyz", b"wxyz", b"vwxyz"])
@pytest.mark.parametrize("suffix", [b"", b"!", b"!!", b"!!!"])
def test_base64offset_finds_the_value_at_every_alignment(prefix: bytes, suffix: bytes) -> None:
    encoded = base64.b64encode(prefix + b"/bin/sh -i" + suffix).decode()
    matcher = field_rule("Data|base64offset|contains", "/bin/sh -i")
    assert matcher.matches(event(Data=encoded))


def test_base64offset_does_not_match_other_content() -> None:
    matcher = field_rule("Data|base64offset|contains", "/bin/sh -i")
    for prefix in (b"", b"x", b"xy"):
        assert not matcher.matches(event(Data=base64.b64encode(prefix + b"/bin/ls -l").decode()))


def _utf16le(text: str) -> bytes:
    return text.encode("utf-16-le")


@pytest.mark.parametrize("modifier", ["wide", "utf16le"])
@pytest.mark.parametrize("prefix", ["", "a", "ab", "abc"])
def test_wide_and_utf16le_with_base64offset(modifier: str, prefix: str) -> None:
    # the way SigmaHQ rules find strings in PowerShell -EncodedCommand (UTF-16LE base64) arguments
    payload = base64.b64encode(_utf16le(prefix + "Invoke-Expression x")).decode()
    matcher = field_rule(f"CommandLine|{modifier}|base64offset|contains", "Invoke-Expression")
    assert matcher.matches(event(CommandLine=f"powershell -enc {payload}"))
    other = base64.b64encode(_utf16le(prefix + "Invoke-Command x")).decode()
    assert not matcher.matches(event(CommandLine=f"powershell -enc {other}"))


def test_wide_transforms_the_value_to_utf16le_code_units() -> None:
    # spec: cmd -> 63 00 6d 00 64 00
    assert field_rule("F|wide", "cmd").matches(event(F="c\x00m\x00d\x00"))
    assert field_rule("F|utf16le", "cmd").matches(event(F="c\x00m\x00d\x00"))
    assert not field_rule("F|wide", "cmd").matches(event(F="cmd"))


def test_utf16be_transforms_the_value_to_utf16be_code_units() -> None:
    # spec: cmd -> 00 63 00 6d 00 64
    assert field_rule("F|utf16be", "cmd").matches(event(F="\x00c\x00m\x00d"))
    payload = base64.b64encode("cmd".encode("utf-16-be")).decode()
    assert field_rule("F|utf16be|base64", "cmd").matches(event(F=payload))


def test_utf16_prepends_the_little_endian_byte_order_mark() -> None:
    # spec: cmd -> FF FE 63 00 6d 00 64 00
    payload = base64.b64encode(b"\xff\xfe" + _utf16le("cmd")).decode()
    assert field_rule("F|utf16|base64", "cmd").matches(event(F=payload))
    without_bom = base64.b64encode(_utf16le("cmd")).decode()
    assert not field_rule("F|utf16|base64", "cmd").matches(event(F=without_bom))


def test_register_modifier_aliases_is_idempotent() -> None:
    register_modifier_aliases()
    register_modifier_aliases()
    assert modifier_mapping["utf16le"] is SigmaWideModifier
    assert modifier_mapping["wide"] is SigmaWideModifier
    for name in ("utf16be", "utf16", "base64offset", "windash", "fieldref", "expand", "neq"):
        assert name in modifier_mapping
