"""A check with a named result — a transition's gate, a validation check — and the
rules for combining them. Pure. Unknown is its own state: never counted as met. Not
judged (a count with too few events in its baseline to compare) holds nothing back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class CheckState(StrEnum):
    MET = "met"
    NOT_MET = "not met"
    UNKNOWN = "unknown"
    NOT_JUDGED = "not judged"


_MARK = {
    CheckState.MET: ":white_check_mark:",
    CheckState.NOT_MET: ":x:",
    CheckState.UNKNOWN: ":grey_question:",
    CheckState.NOT_JUDGED: ":heavy_minus_sign:",
}
_PASSING = (CheckState.MET, CheckState.NOT_JUDGED)


@dataclass(frozen=True)
class Check:
    name: str
    state: CheckState
    detail: str

    def line(self) -> str:
        return f"{_MARK[self.state]} {self.name}: {self.detail}"


def all_met(checks: Sequence[Check]) -> bool:
    return all(check.state in _PASSING for check in checks)


def overall(checks: Sequence[Check]) -> CheckState:
    """Not met if any is not met; else unknown if any is unknown; else met."""
    states = {check.state for check in checks}
    if CheckState.NOT_MET in states:
        return CheckState.NOT_MET
    return CheckState.UNKNOWN if CheckState.UNKNOWN in states else CheckState.MET


def checks_text(checks: Sequence[Check]) -> str:
    return "\n".join(check.line() for check in checks)
