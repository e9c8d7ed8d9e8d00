"""Processing items shared by the logsource pipelines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem
from sigma.processing.transformations import (
    AddConditionTransformation,
    ChangeLogsourceTransformation,
)

LOGSOURCE_DETECTION = "_logsource"
"""Name of the detection the pipelines add. pySigma leaves names that start with ``_`` out of
``them`` and ``1 of x*`` patterns, so a rule's ``1 of them`` does not pick it up."""

ConditionValue = str | int | Sequence[str] | Sequence[int]


@dataclass(frozen=True, slots=True)
class WindowsLogsource:
    """The Windows logsource a processing item applies to (its rule condition)."""

    category: str | None = None
    service: str | None = None

    def condition(self) -> LogsourceCondition:
        """A new condition object: pySigma binds each condition to one pipeline."""
        return LogsourceCondition(category=self.category, product="windows", service=self.service)


def add_condition_item(
    identifier: str, logsource: WindowsLogsource, conditions: Mapping[str, ConditionValue]
) -> ProcessingItem:
    """An item that ANDs ``conditions`` (field -> value or list of alternatives) to the rule."""
    values: dict[str, int | str | list[str]] = {}
    for field, value in conditions.items():
        if isinstance(value, str | int):
            values[field] = value
        else:
            # pySigma's annotation says list[str]; EventID lists are ints and parse as SigmaNumber.
            values[field] = list(value)  # type: ignore[arg-type]
    return ProcessingItem(
        identifier=identifier,
        transformation=AddConditionTransformation(values, name=LOGSOURCE_DETECTION),
        rule_conditions=[logsource.condition()],
    )


def change_logsource_item(
    identifier: str,
    logsource: WindowsLogsource,
    *,
    category: str | None,
    service: str | None,
) -> ProcessingItem:
    """An item that states the Windows log the rule now reads (last item of a pipeline)."""
    return ProcessingItem(
        identifier=identifier,
        transformation=ChangeLogsourceTransformation(category=category, product="windows", service=service),
        rule_conditions=[logsource.condition()],
    )
