"""The rule filters as command-line options, written once for `hunt`, `watch` and `rules …`.

`rule_selection_options` adds the options to a click command and hands the command one
``selection`` argument (a `watchpost.rules.selection.RuleSelection`) in their place; the
filtering itself lives in `watchpost.rules.selection`, so that `rules list` shows exactly what
`hunt` runs with the same options.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click

from watchpost.rules.model import LEVELS
from watchpost.rules.selection import STATUSES, ListedId, RuleSelection, read_id_list

F = TypeVar("F", bound=Callable[..., Any])

OPTION_NAMES = ("rule_ids", "tags", "exclude_tags", "levels", "statuses", "exclude_statuses",
                "product", "search", "exclude_rules", "enable_noisy_rules")


def split_values(values: Iterable[str]) -> tuple[str, ...]:
    """Repeated and comma-separated values, in order, without empties or repeats."""
    found = [part.strip() for value in values for part in value.split(",")]
    return tuple(dict.fromkeys(part for part in found if part))


def checked_statuses(values: Iterable[str], option: str) -> tuple[str, ...]:
    statuses = tuple(value.lower() for value in split_values(values))
    unknown = [value for value in statuses if value not in STATUSES]
    if unknown:
        raise click.BadParameter(f"unknown status {unknown[0]!r}; Sigma's are: {', '.join(STATUSES)}",
                                 param_hint=option)
    return statuses


def checked_levels(values: Iterable[str]) -> tuple[str, ...]:
    levels = tuple(value.lower() for value in split_values(values))
    unknown = [value for value in levels if value not in LEVELS]
    if unknown:
        raise click.BadParameter(f"unknown level {unknown[0]!r}; known: {', '.join(LEVELS)}",
                                 param_hint="--level")
    return levels


def read_exclusions(paths: Iterable[Path]) -> tuple[ListedId, ...]:
    found: list[ListedId] = []
    for path in paths:
        try:
            found.extend(read_id_list(path))
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise click.BadParameter(str(error), param_hint="--exclude-rules") from error
    return tuple(found)


def selection_from_options(options: dict[str, Any], min_level: str | None = None) -> RuleSelection:
    """The `RuleSelection` of the parsed option values (see `rule_selection_options`)."""
    return RuleSelection(
        rule_ids=split_values(options["rule_ids"]),
        tags=split_values(options["tags"]),
        exclude_tags=split_values(options["exclude_tags"]),
        levels=checked_levels(options["levels"]),
        min_level=min_level,
        statuses=checked_statuses(options["statuses"], "--status"),
        exclude_statuses=checked_statuses(options["exclude_statuses"], "--exclude-status"),
        product=options["product"],
        search=options["search"],
        excluded=read_exclusions(options["exclude_rules"]),
        include_noisy=options["enable_noisy_rules"],
    )


SELECTION_OPTIONS: tuple[Callable[[F], F], ...] = (
    click.option("--rule-id", "rule_ids", multiple=True, metavar="ID",
                 help="Only this rule (id or name; repeatable or comma-separated). A correlation "
                      "kept also runs the rules it refers to, without their own alerts."),
    click.option("--tag", "tags", multiple=True, metavar="TAG",
                 help="Only rules with this tag (repeatable or comma-separated: any of them). "
                      "'T1049', 'attack.t1049' and 'attack.discovery' all work; a technique also "
                      "selects its sub-techniques."),
    click.option("--exclude-tag", "exclude_tags", multiple=True, metavar="TAG",
                 help="Leave out rules with this tag (repeatable or comma-separated)."),
    click.option("--level", "levels", multiple=True, metavar="LEVEL",
                 help=f"Only rules of this level (repeatable or comma-separated: {', '.join(LEVELS)})."),
    click.option("--status", "statuses", multiple=True, metavar="STATUS",
                 help=f"Only rules of this status (repeatable or comma-separated: {', '.join(STATUSES)})."),
    click.option("--exclude-status", "exclude_statuses", multiple=True, metavar="STATUS",
                 help="Leave out rules of this status (e.g. deprecated,unsupported)."),
    click.option("--product", metavar="NAME",
                 help="Only rules whose logsource product is NAME (windows, linux...)."),
    click.option("--search", "--rule-search", "search", metavar="TEXT",
                 help="Only rules whose id, title, description or file contains TEXT."),
    click.option("--exclude-rules", "exclude_rules", multiple=True,
                 type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="FILE",
                 help="Leave out the rules whose ids FILE lists (one per line, # comments; "
                      "repeatable)."),
    click.option("--enable-noisy-rules", is_flag=True,
                 help="Also run the SigmaHQ rules of watchpost's noisy-rules list (off by default; "
                      "README: Choosing rules)."),
)


def rule_selection_options(command: F) -> F:
    """Add the rule filters to ``command``, which receives them as ``selection``.

    Place it among the command's other ``click.option`` lines. A command that has its own
    ``min_level`` parameter keeps it; it is also put into the selection as its minimum level.
    """

    @functools.wraps(command)
    def with_selection(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in OPTION_NAMES}
        kwargs["selection"] = selection_from_options(values, kwargs.get("min_level"))
        return command(*args, **kwargs)

    decorated: Any = with_selection
    for option in reversed(SELECTION_OPTIONS):
        decorated = option(decorated)
    return decorated  # type: ignore[no-any-return]
