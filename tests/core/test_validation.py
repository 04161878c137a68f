"""The first-30-minute validation checks, as pure functions over measurements."""

from __future__ import annotations

from bot.core.checks import CheckState, overall
from bot.core.spec_rollout import ValidationSpec
from bot.core.thresholds import Measurement
from bot.core.validation import validate

GOOD = {
    "job_starts": Measurement(24.0),
    "offset_misses": Measurement(0.0),
    "collision_warnings": Measurement(0.0),
    "max_concurrent_jobs": Measurement(1.0),
    "error_rate": Measurement(0.0, baseline=1.5),
}


def outcomes(measurements: dict[str, Measurement]) -> dict[str, CheckState]:
    return {r.name: r.state for r in validate(measurements, ValidationSpec())}


def test_a_clean_start_passes_every_check() -> None:
    assert set(outcomes(GOOD).values()) == {CheckState.MET}
    assert overall(validate(GOOD, ValidationSpec())) is CheckState.MET


def test_each_runbook_failure_fails_its_own_check() -> None:
    bad = {
        **GOOD,
        "offset_misses": Measurement(3.0),
        "collision_warnings": Measurement(1.0),
        "max_concurrent_jobs": Measurement(3.0),
        "error_rate": Measurement(2.0, baseline=1.5),
    }
    assert outcomes(bad) == {
        "jobs at their offsets": CheckState.NOT_MET,
        "no collision warnings": CheckState.NOT_MET,
        "at most 2 concurrent jobs": CheckState.NOT_MET,
        "no new failures": CheckState.NOT_MET,
    }


def test_missing_data_is_unknown_never_passed() -> None:
    results = validate(
        {
            **GOOD,
            "job_starts": Measurement(0.0),
            "collision_warnings": Measurement(0.0, reason="partial: root@b unavailable"),
            "error_rate": Measurement(0.0),
        },
        ValidationSpec(),
    )
    details = {r.name: (r.state, r.detail) for r in results}
    assert details["jobs at their offsets"] == (CheckState.UNKNOWN, "no job started yet")
    assert details["no collision warnings"] == (CheckState.UNKNOWN, "partial: root@b unavailable")
    assert details["no new failures"] == (CheckState.UNKNOWN, "no baseline captured")
    assert overall(results) is CheckState.UNKNOWN


def test_the_concurrency_limit_comes_from_the_spec() -> None:
    loose = ValidationSpec(max_concurrent_jobs=3)
    results = validate({**GOOD, "max_concurrent_jobs": Measurement(3.0)}, loose)
    assert {r.name: r.state for r in results}["at most 3 concurrent jobs"] is CheckState.MET
