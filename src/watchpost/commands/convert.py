"""``watchpost convert``: the same Sigma rules as queries for a SIEM, through pySigma's backends.

Backends are pySigma plugins, installed as Python packages (``pip install pysigma-backend-NAME``);
whatever is installed is found by pySigma's plugin discovery. The official Splunk and Elasticsearch
backends need pySigma < 2, so watchpost brings its own (``watchpost.backends``: ``splunk``,
``lucene`` alias ``elasticsearch``, ``esql``, ``eql``, ``sparksql`` alias ``databricks``), merged
into the discovered ones; an installed plugin of the same name wins, so a pySigma-2 release of an
official backend takes over. Rules are loaded as ``watchpost hunt`` loads them (seed-dialect rules
translated, meta filters applied), so what is converted is what watchpost runs. Correlations are
converted through the engine's compiled specs (``watchpost.backends.pack_conversion``); helper rules
only inside them unless ``--include-helpers``. A rule that a backend cannot convert is reported with
its file and the others are still converted.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import click
import orjson

from watchpost.exit_codes import EXIT_ALERTS, EXIT_OK
from watchpost.sinks.terminal_text import sanitise_terminal

# Where to get the backends people ask for most (target name -> PyPI package).
KNOWN_BACKENDS = {
    "splunk": "pysigma-backend-splunk",
    "elasticsearch": "pysigma-backend-elasticsearch",
    "lucene": "pysigma-backend-elasticsearch",
    "eql": "pysigma-backend-elasticsearch",
    "esql": "pysigma-backend-elasticsearch",
    "opensearch": "pysigma-backend-opensearch",
    "kusto": "pysigma-backend-kusto",
    "loki": "pysigma-backend-loki",
    "qradar": "pysigma-backend-qradar-aql",
    "sqlite": "pysigma-backend-sqlite",
}


@click.command("convert", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("rule_paths", metavar="RULES...", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--target", "-t", metavar="NAME",
              help="pySigma backend to convert to: splunk, esql, eql, sparksql (alias databricks) and "
                   "lucene (alias elasticsearch) are built in; others (sqlite, ...) are installed plugins "
                   "(see --list-targets).")
@click.option("--pipeline", "-p", "pipelines", multiple=True, metavar="NAME|FILE",
              help="Processing pipeline to apply, by name or YAML file (repeatable, in order): built in "
                   "are splunk_windows (Splunk's Windows TA), ecs_windows (Winlogbeat / Elastic Agent) and "
                   "sysmon (Sysmon's names as written). Without one, queries use Sigma's field names "
                   "(CommandLine, Image, ...) and no log source condition.")
@click.option("--backend-format", metavar="FORMAT",
              help="The backend's own output format (default: the backend's default).")
@click.option("--format", "-f", "output_format", type=click.Choice(("text", "jsonl")), default="text",
              show_default=True, help="text: the backend's output as is; jsonl: one object per rule "
                                      "with its id, title, file and queries.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the queries to this file instead of standard output.")
@click.option("--include-helpers", is_flag=True,
              help="Also write the rules that correlations reference without generate: true (helper "
                   "rules, inner correlations) as queries of their own; by default they are only "
                   "part of their correlation's query, as watchpost only alerts on them there.")
@click.option("--list-targets", is_flag=True, help="List the installed backends and pipelines, then exit.")
def convert(rule_paths: tuple[Path, ...], target: str | None, pipelines: tuple[str, ...],
            backend_format: str | None, output_format: str, output: Path | None, include_helpers: bool,
            list_targets: bool) -> None:
    """Convert Sigma rules to a SIEM's query language with a pySigma backend.

    Exit status: 0 when every rule converted, 1 when some could not (each is reported on standard
    error), 2 for usage errors (no rules, unknown or missing backend).
    """
    from sigma.plugins import InstalledSigmaPlugins

    plugins = InstalledSigmaPlugins.autodiscover()
    backends = merge_builtin_backends(plugins.backends)
    if list_targets:
        print_targets(backends, plugins.pipelines)
        sys.exit(EXIT_OK)
    if target is None:
        raise click.UsageError("give a --target (see --list-targets)")
    if not rule_paths:
        raise click.UsageError("give the rule files or folders to convert")
    backend_class = find_backend(target, backends)
    pipeline = resolve_pipeline(plugins, list(pipelines), target)
    backend = backend_class(processing_pipeline=pipeline)
    formats = getattr(backend, "formats", {}) or {}
    if backend_format is not None and formats and backend_format not in formats:
        raise click.BadParameter(f"{target} has no format {backend_format!r}; it has: {', '.join(formats)}",
                                 param_hint="--backend-format")
    stream: IO[str] = output.open("w", encoding="utf-8") if output else sys.stdout
    try:
        failed = convert_rules(backend, list(rule_paths), target, backend_format, output_format, stream,
                              include_helpers)
    finally:
        if output is not None:
            stream.close()
    sys.exit(EXIT_ALERTS if failed else EXIT_OK)


def merge_builtin_backends(discovered: dict[str, Any]) -> dict[str, Any]:
    """The discovered backends plus watchpost's own; a discovered one wins over a built-in namesake."""
    from watchpost.backends import BUILTIN_BACKENDS, TARGET_ALIASES  # pySigma: not at every CLI start

    backends = {**BUILTIN_BACKENDS, **discovered}
    for alias, name in TARGET_ALIASES.items():
        if alias not in backends and name in backends:
            backends[alias] = backends[name]
    return backends


def find_backend(target: str, backends: dict[str, Any]) -> Any:
    if target in backends:
        return backends[target]
    package = KNOWN_BACKENDS.get(target, f"pysigma-backend-{target}")
    installed = ", ".join(sorted(backends)) or "none"
    raise click.UsageError(
        f"no pySigma backend {target!r} is installed (installed: {installed}). Install one with "
        f"`pip install {package}` (a release that supports pySigma 2, which watchpost uses), or "
        f"`pip install 'watchpost[convert]'` for the backends watchpost is tested with."
    )


def resolve_pipeline(plugins: Any, specs: list[str], target: str) -> Any:
    """The pipelines named (installed plugins first, then watchpost's own) or given as YAML files."""
    if not specs:
        return None
    from sigma.exceptions import SigmaError

    from watchpost.backends import BUILTIN_PIPELINES

    resolved = [str(BUILTIN_PIPELINES[spec]) if spec in BUILTIN_PIPELINES and spec not in plugins.pipelines
                else spec for spec in specs]
    try:
        return plugins.get_pipeline_resolver().resolve(resolved, target)
    except (SigmaError, OSError, ValueError) as error:
        raise click.BadParameter(str(error), param_hint="--pipeline") from error


def convert_rules(backend: Any, paths: Sequence[Path], target: str, backend_format: str | None,
                  output_format: str, stream: IO[str], include_helpers: bool = False) -> int:
    """Write the conversions; returns how many rules failed (loading or converting)."""
    from watchpost.backends.pack_conversion import convert_pack
    from watchpost.hunting.ruleset import default_translators
    from watchpost.rules.loader import load_rules

    err = sys.stderr
    loaded = load_rules(list(paths), translators=default_translators())
    for problem in loaded.problems:
        err.write(f"not loaded: {sanitise_terminal(problem.describe(), 500)}\n")
    fmt = backend_format or backend.default_format
    backend.init_processing_pipeline(fmt)
    result = convert_pack(backend, loaded, fmt, include_helpers)
    for failure in result.failed:
        err.write(f"cannot convert: {failure.path} [{sanitise_terminal(failure.title, 200)}]: "
                  f"{sanitise_terminal(failure.reason, 500)}\n")
    queries: list[Any] = []
    for item in result.converted:
        if output_format == "jsonl":
            record = rule_record(item.rule, item.path, target, fmt, item.queries)
            stream.write(orjson.dumps(record, default=str).decode() + "\n")
        queries.extend(item.queries)
    if output_format == "text":
        write_text(backend.finalize(queries, fmt), stream)
    failed = len(loaded.problems) + len(result.failed)
    err.write(f"{len(result.converted)} rules converted to {target} ({fmt}), {failed} failed\n")
    return failed


def rule_record(rule: Any, path: Path, target: str, fmt: str, queries: list[Any]) -> dict[str, Any]:
    from watchpost.rules.meta import describe_rule

    meta = describe_rule(rule, path)
    return {"rule_id": meta.id, "title": meta.title, "level": meta.level, "path": str(path),
            "target": target, "format": fmt, "queries": queries}


def write_text(result: Any, stream: IO[str]) -> None:
    items = result if isinstance(result, list) else [result]
    for item in items:
        text = item if isinstance(item, str) else orjson.dumps(item, default=str).decode()
        stream.write(text + "\n")


def print_targets(backends: dict[str, Any], pipelines: dict[str, Any]) -> None:
    out = sys.stdout
    out.write("backends (--target):\n")
    for name, backend in sorted(backends.items()):
        formats = ", ".join(getattr(backend, "formats", {}) or {})
        out.write(f"  {name}: {getattr(backend, 'name', '')} (formats: {formats})\n")
    if not backends:
        out.write("  none installed\n")
    from watchpost.backends import BUILTIN_PIPELINES

    out.write("pipelines (--pipeline; a YAML pipeline file can also be given by path):\n")
    for name in sorted({*pipelines, *BUILTIN_PIPELINES}):
        origin = "installed" if name in pipelines else "built in"
        out.write(f"  {name} ({origin})\n")
    missing = sorted(set(KNOWN_BACKENDS) - set(backends))
    out.write("not installed: " + ", ".join(f"{name} ({KNOWN_BACKENDS[name]})" for name in missing) + "\n")
