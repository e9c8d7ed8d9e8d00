"""``watchpost search``: find events by keyword, RE2 regular expression or ``field=value``, without
rules, over every format `hunt` reads (the same readers, ``--from/--to`` and outputs).

An event is shown when it holds any of the ``--keyword`` / ``--regex`` terms (all of them with
``--and``) in any field value, and every ``--field`` test holds. Matching is case-insensitive
unless ``--case-sensitive``. Each result names its host, log (channel / event id) and the raw
record (``file:record N`` / ``file:line N``) so that the analyst can go back to it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from watchpost.commands.event_scan import (
    ScanStats,
    exit_scan,
    open_text_output,
    print_scan_summary,
    scan_events,
    scan_options,
    scan_settings,
)
from watchpost.commands.row_output import ROW_FORMATS, RowWriter
from watchpost.event_context import event_channel, event_code, event_host
from watchpost.events import Event, FieldValue
from watchpost.sinks.terminal_text import shorten

HELP_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
SEARCH_COLUMNS = ("timestamp", "host", "channel", "event_id", "record", "matched", "fields")
TABLE_COLUMNS = ("timestamp", "host", "channel", "event_id", "record", "matched")
MATCH_SHOWN = 200
TABLE_MATCH_SHOWN = 60


@dataclass(frozen=True)
class FieldTest:
    """``NAME=VALUE``: the field (name exact, else any case) equals VALUE (``*`` any characters)."""

    name: str
    value: str
    pattern: Any | None  # RE2 full match when VALUE holds ``*``


@dataclass(frozen=True)
class SearchTerms:
    keywords: tuple[str, ...]
    regexes: tuple[Any, ...]
    fields: tuple[FieldTest, ...]
    require_all: bool
    case_sensitive: bool


def value_texts(value: FieldValue) -> list[str]:
    if isinstance(value, list):
        return [str(item) for item in value if item is not None]
    return [] if value is None else [str(value)]


def compile_terms(keywords: Sequence[str], regexes: Sequence[str], fields: Sequence[str],
                  require_all: bool, case_sensitive: bool) -> SearchTerms:
    """The search terms, checked: a regex RE2 cannot run or a bad NAME=VALUE is a usage error."""
    from watchpost.matching.model import CompileError
    from watchpost.matching.re2_calls import compile_re2

    flags = "" if case_sensitive else "(?i)"
    compiled = []
    for expression in regexes:
        try:
            compiled.append(compile_re2(flags + expression, f"--regex {expression!r}"))
        except CompileError as error:
            raise click.BadParameter(str(error), param_hint="--regex") from None
    tests = []
    for item in fields:
        name, equals, value = item.partition("=")
        if not equals or not name.strip():
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint="--field")
        pattern = None
        if "*" in value:
            wildcard = ".*".join(re_escape(part) for part in value.split("*"))
            pattern = compile_re2(f"{flags}^(?:{wildcard})$", f"--field {item!r}")
        tests.append(FieldTest(name.strip(), value if case_sensitive else value.lower(), pattern))
    words = tuple(k if case_sensitive else k.lower() for k in keywords)
    return SearchTerms(words, tuple(compiled), tuple(tests), require_all, case_sensitive)


def re_escape(text: str) -> str:
    """``text`` as an RE2 literal."""
    return "".join("\\" + char if not char.isalnum() and char not in " _" else char for char in text)


def matched_fields(event: Event, terms: SearchTerms) -> list[str] | None:
    """The names of the fields that made ``event`` match, None when it does not match."""
    fields = event.fields
    hits: list[str] = []
    for test in terms.fields:
        name = test.name if test.name in fields else next(
            (key for key in fields if key.lower() == test.name.lower()), None)
        if name is None or not any(field_equals(text, test, terms.case_sensitive)
                                   for text in value_texts(fields[name])):
            return None
        hits.append(name)
    if not terms.keywords and not terms.regexes:
        return hits
    found = [False] * (len(terms.keywords) + len(terms.regexes))
    for name, value in fields.items():
        for text in value_texts(value):
            folded = text if terms.case_sensitive else text.lower()
            hit = False
            for position, word in enumerate(terms.keywords):
                if word in folded:
                    found[position] = hit = True
            for position, regex in enumerate(terms.regexes, len(terms.keywords)):
                if regex.search(text):
                    found[position] = hit = True
            if hit and name not in hits:
                hits.append(name)
    wanted = all(found) if terms.require_all else any(found)
    return hits if wanted else None


def field_equals(text: str, test: FieldTest, case_sensitive: bool) -> bool:
    if test.pattern is not None:
        return bool(test.pattern.search(text))
    return (text if case_sensitive else text.lower()) == test.value


def search_row(event: Event, hits: list[str], tz: Any, table: bool = False) -> dict[str, Any]:
    """One result: when, where, which log and record, which fields matched, all fields.

    For the table, times are shown as in `hunt`'s table and matched values are shorter.
    """
    from watchpost.sinks.display_time import format_display_time, format_iso_time

    fields = event.fields
    shown = TABLE_MATCH_SHOWN if table else MATCH_SHOWN
    when = format_display_time(event.timestamp, tz) if table else format_iso_time(event.timestamp, tz)
    return {
        "timestamp": when,
        "host": event_host(event) or "",
        "channel": event_channel(event),
        "event_id": event_code(event),
        "record": event.origin.describe(),
        "matched": [f"{name}={shorten(' | '.join(value_texts(fields[name])), shown)}" for name in hits],
        "fields": fields,
        "_sort": event.timestamp,
    }


@click.command("search", context_settings=HELP_SETTINGS)
@scan_options
@click.option("--keyword", "-k", "keywords", multiple=True, metavar="TEXT",
              help="Events with TEXT in any field value (repeatable: any of them; all with --and).")
@click.option("--regex", "-e", "regexes", multiple=True, metavar="RE2",
              help="Events with a field value matching this RE2 expression (repeatable).")
@click.option("--field", "-F", "fields", multiple=True, metavar="NAME=VALUE",
              help="Events whose field NAME equals VALUE; '*' in VALUE matches any characters "
                   "(repeatable: all must hold).")
@click.option("--and", "require_all", is_flag=True, help="Every --keyword and --regex must match.")
@click.option("--case-sensitive", is_flag=True, help="Match case exactly (default: any case).")
@click.option("--format", "-f", "output_format", type=click.Choice(ROW_FORMATS), default="table",
              show_default=True, help="Output format (jsonl and csv carry every field).")
@click.option("--limit", type=click.IntRange(1), help="Stop after this many results.")
def search(inputs: tuple[str, ...], input_format: str | None, since: str | None, until: str | None,
           display_tz: str, output: Path | None, quiet: bool, keywords: tuple[str, ...],
           regexes: tuple[str, ...], fields: tuple[str, ...], require_all: bool,
           case_sensitive: bool, output_format: str, limit: int | None) -> None:
    """Find events by keyword, regex or field=value in logs, without rules.

    Reads the same inputs and formats as `hunt` (files, folders, globs, archives, `-`). The table
    is in time order; jsonl and csv stream results as they are read.
    """
    if not (keywords or regexes or fields):
        raise click.UsageError("give at least one --keyword, --regex or --field")
    terms = compile_terms(keywords, regexes, fields, require_all, case_sensitive)
    settings = scan_settings(inputs, input_format, since, until, display_tz)
    stats = ScanStats()
    stream = open_text_output(output)
    columns = TABLE_COLUMNS if output_format == "table" else SEARCH_COLUMNS
    writer = RowWriter(output_format, stream, columns, sort_key=lambda row: row["_sort"])
    try:
        for event in scan_events(settings, stats):
            hits = matched_fields(event, terms)
            if hits is not None:
                writer.write(search_row(event, hits, settings.tz, output_format == "table"))
                if limit is not None and writer.count >= limit:
                    break
    finally:
        writer.close(empty="No events found.")
        if output is not None:
            stream.close()
    if not quiet:
        print_scan_summary(stats, sys.stderr, f"{writer.count} events found")
    exit_scan(stats)
