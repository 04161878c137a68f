"""The runbook's first-30-minute validation, as pure checks over the KPIs measured since
the stagger went on: jobs at their offsets, no collision warnings, at most N concurrent
jobs, no new failures against the baseline.

A check is met, not met, or unknown with the reason (no jobs ran yet, no
baseline, a host unreadable) — unknown is never passed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from bot.core.checks import Check, CheckState
from bot.core.kpi_report import format_value
from bot.core.spec_rollout import ValidationSpec
from bot.core.thresholds import Measurement


def _value(measurements: Mapping[str, Measurement], kpi: str) -> float | str:
    measurement = measurements.get(kpi, Measurement(None, reason="not measured"))
    if measurement.value is None:
        return measurement.reason or "no value"
    if measurement.reason:  # partial: a host could not be read
        return measurement.reason
    return measurement.value


def _at_most(name: str, value: float | str, limit: float, what: str) -> Check:
    if isinstance(value, str):
        return Check(name, CheckState.UNKNOWN, value)
    outcome = CheckState.MET if value <= limit else CheckState.NOT_MET
    return Check(name, outcome, f"{format_value(value)} {what} (at most {format_value(limit)})")


def _collisions(check: Check, colliding: Sequence[Sequence[str]]) -> Check:
    """A failed collision check names the jobs whose offsets the spec makes collide."""
    if check.state is not CheckState.NOT_MET or not colliding:
        return check
    named = "; ".join(" and ".join(jobs) for jobs in colliding)
    return replace(check, detail=f"{check.detail}; {named} start in the same second")


def validate(
    measurements: Mapping[str, Measurement],
    spec: ValidationSpec,
    colliding: Sequence[Sequence[str]] = (),
) -> list[Check]:
    """`colliding`: the names of the jobs the spec starts in the same second, each set."""
    starts = _value(measurements, "job_starts")
    if isinstance(starts, float) and starts == 0:
        starts = "no job started yet"
    offsets = (
        Check("jobs at their offsets", CheckState.UNKNOWN, starts)
        if isinstance(starts, str)
        else _at_most(
            "jobs at their offsets", _value(measurements, "offset_misses"), 0, "start(s) off"
        )
    )
    failures = measurements.get("error_rate", Measurement(None, reason="not measured"))
    if failures.value is None or failures.reason:
        new_failures = Check("no new failures", CheckState.UNKNOWN, failures.reason or "no value")
    elif failures.baseline is None:
        new_failures = Check("no new failures", CheckState.UNKNOWN, "no baseline captured")
    else:
        worse = failures.value > failures.baseline
        new_failures = Check(
            "no new failures",
            CheckState.NOT_MET if worse else CheckState.MET,
            f"error rate {format_value(failures.value, '%')} "
            f"(baseline {format_value(failures.baseline, '%')})",
        )
    return [
        offsets,
        _collisions(
            _at_most(
                "no collision warnings", _value(measurements, "collision_warnings"), 0, "warning(s)"
            ),
            colliding,
        ),
        _at_most(
            f"at most {spec.max_concurrent_jobs} concurrent jobs",
            _value(measurements, "max_concurrent_jobs"),
            spec.max_concurrent_jobs,
            "at once",
        ),
        new_failures,
    ]
