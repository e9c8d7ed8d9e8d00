"""What every built-in backend shares: a refusal names the rule and says what cannot be expressed."""

from __future__ import annotations

from typing import Any

from sigma.conversion.base import TextQueryBackend
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError


class RefusingTextQueryBackend(TextQueryBackend):
    """A TextQueryBackend whose "not supported" errors are `SigmaFeatureNotSupportedByBackendError`.

    pySigma's base class raises a bare `NotImplementedError` for a construct a backend has no template
    for (case-sensitive matching, a regular expression without a field...); this turns it into the
    Sigma error a caller expects, naming the backend and the rule's file.
    """

    def convert_rule(self, rule: Any, output_format: str | None = None, callback: Any = None) -> list[Any]:
        try:
            return super().convert_rule(rule, output_format, callback)
        except NotImplementedError as error:
            message = str(error).split(" (while converting", 1)[0]
            raise SigmaFeatureNotSupportedByBackendError(
                f"{self.name} cannot express this rule: {message}", source=rule.source) from error
