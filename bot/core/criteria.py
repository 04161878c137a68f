"""Which success criteria the statistical judge decides, and with what margin.

A relative criterion (`change <= -20%`) on the job duration, the error rate or a count
is judged (`bot.core.judge`); the others — absolute ones (`pool_util_max < 50`,
`max_concurrent_jobs <= 2`) and relative ones on other levels — compare the value as
measured, as the runbook's table does. A "no worse" criterion (`change <= 0%`) is judged
as non-inferiority: met when the increase is confidently under its margin (the spec's,
else half the threshold of the rollback trigger on the same KPI, else of the KPI's own
relative alert); without any, it could never be met, and check-config says so. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum

from bot.core.decision import Margin
from bot.core.kpi_catalog import COUNT_KPI_NAMES
from bot.core.spec_rollout import CriterionSpec, KpiSpec, PhaseSpec, TriggerSpec
from bot.core.thresholds import Condition

DURATION_KPI = "job_duration_avg"
ERROR_RATE_KPI = "error_rate"


class JudgedAs(StrEnum):
    DURATIONS = "durations"
    PROPORTION = "proportion"
    RATE = "rate"


def judged_as(kpi: str, condition: Condition) -> JudgedAs | None:
    """How the judge decides this criterion; None: compared as measured."""
    if not condition.relative:
        return None
    if kpi == DURATION_KPI:
        return JudgedAs.DURATIONS
    if kpi == ERROR_RATE_KPI:
        return JudgedAs.PROPORTION
    return JudgedAs.RATE if kpi in COUNT_KPI_NAMES else None


def _half_of_move(condition_text: str, rising: bool) -> float | None:
    """Half the size of a relative `change > X%` (X > 0; `rising`) or `change < -X%`."""
    condition = Condition.parse(condition_text)
    if not condition.relative:
        return None
    if rising and condition.comparison in (">", ">=") and condition.threshold > 0:
        return condition.threshold / 2
    if not rising and condition.comparison in ("<", "<=") and condition.threshold < 0:
        return -condition.threshold / 2
    return None


def margin_for(
    kpi: str,
    criterion: CriterionSpec,
    triggers: Sequence[TriggerSpec],
    kpis: Mapping[str, KpiSpec],
) -> Margin | None:
    """The criterion's margin; None for a "no worse" criterion that has none anywhere."""
    if criterion.margin_points is not None:
        return Margin(criterion.margin_points, True, "the spec")
    if criterion.margin_pct is not None:
        return Margin(criterion.margin_pct, False, "the spec")
    condition = Condition.parse(criterion.condition)
    if condition.threshold != 0:
        return Margin(0.0, False, "none needed")
    # "No higher" is bounded by what a rise would trigger; "no lower", by a fall.
    rising = condition.comparison in ("<", "<=")
    for trigger in triggers:
        half = _half_of_move(trigger.condition, rising) if trigger.kpi == kpi else None
        if half is not None:
            return Margin(half, False, f"half of the trigger {trigger.name!r}")
    half = _half_of_move(kpis[kpi].alert, rising) if kpi in kpis else None
    if half is not None:
        return Margin(half, False, f"half of {kpi}'s alert")
    return None


def margin_problems(
    phases: Sequence[PhaseSpec], triggers: Sequence[TriggerSpec], kpis: Mapping[str, KpiSpec]
) -> list[str]:
    """check-config's lines for judged "no worse" criteria that could never be met."""
    problems = []
    for index, phase in enumerate(phases):
        for kpi, criterion in phase.success.items():
            condition = Condition.parse(criterion.condition)
            judged = judged_as(kpi, condition)
            if judged is None or margin_for(kpi, criterion, triggers, kpis) is not None:
                continue
            problems.append(
                f"phases[{index}] ({phase.name}).success.{kpi}: {criterion.condition!r} is "
                "judged as 'no worse than the baseline' and needs a margin, or it could "
                "never be met: no rollback trigger or alert on it gives one; set margin_pct "
                "(or margin_points)"
            )
    return problems
