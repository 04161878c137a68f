"""A check with a named result — a transition's gate, a validation check — and the
rules for combining them. Pure. Unknown is its own state: never counted as met. Not
judged (a count with too few events in its baseline to compare) and a dry run hold
nothing back; inconclusive (the judge can't tell yet) does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class CheckState(StrEnum):
    MET = "met"
    NOT_MET = "not met"
    UNKNOWN = "unknown"
    NOT_JUDGED = "not judged"
    # The judge can't tell yet: holds the rollout where it is, saying what is missing.
    INCONCLUSIVE = "inconclusive"
    # A dry-run criterion: shown with what it would be, holding nothing back.
    DRY_RUN = "dry run"


_MARK = {
    CheckState.MET: ":white_check_mark:",
    CheckState.NOT_MET: ":x:",
    CheckState.UNKNOWN: ":grey_question:",
    CheckState.NOT_JUDGED: ":heavy_minus_sign:",
    CheckState.INCONCLUSIVE: ":hourglass_flowing_sand:",
    CheckState.DRY_RUN: ":test_tube:",
}
_PASSING = (CheckState.MET, CheckState.NOT_JUDGED, CheckState.DRY_RUN)


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
    undecided = {CheckState.UNKNOWN, CheckState.INCONCLUSIVE}
    return CheckState.UNKNOWN if undecided & states else CheckState.MET


def checks_text(checks: Sequence[Check]) -> str:
    return "\n".join(check.line() for check in checks)
