"""check-config on the judge's keys: a "no worse" criterion with no margin anywhere could
never be met, and is refused by its key path; the criterion tables and `[judge]` are
read and checked like every other key."""

from __future__ import annotations

from pathlib import Path

from tests.test_check_config import spec_with, stagger_bot

NO_TRIGGER = (
    'kpi = "error_rate"\ncondition = "change > 5%"',
    'kpi = "error_rate"\ncondition = "> 50"',
)
NO_ALERT = (
    'target = "change <= 0%"\nalert = "change > 5%"',
    'target = "change <= 0%"\nalert = "> 50"',
)


def test_a_no_worse_criterion_without_any_margin_is_refused_by_its_key_path(
    tmp_path: Path,
) -> None:
    points = '{ condition = "change <= 0%", margin_points = 0.5 }'
    no_margin = [(points, '"change <= 0%"'), (points, '"change <= 0%"')]
    path = spec_with(tmp_path, NO_TRIGGER, NO_ALERT, *no_margin)
    result = stagger_bot("check-config", str(path), cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        "phases[1] (staging-stagger).success.error_rate: 'change <= 0%' is judged as 'no worse "
        "than the baseline' and needs a margin, or it could never be met"
    ) in result.stdout + result.stderr
    assert "phases[3] (prod-stagger).success.error_rate" in result.stdout + result.stderr


def test_a_margin_in_the_criterions_table_is_enough(tmp_path: Path) -> None:
    prod = (
        'error_rate = { condition = "change <= 0%", margin_points = 0.5 } }',
        'error_rate = { condition = "change <= 0%", margin_pct = 10, dry_run = true } }',
    )
    path = spec_with(tmp_path, NO_TRIGGER, NO_ALERT, prod)
    result = stagger_bot("check-config", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout


def test_two_margins_and_a_bad_judge_level_are_named(tmp_path: Path) -> None:
    both = (
        "margin_points = 0.5 }, lock_skips",
        "margin_points = 0.5, margin_pct = 3 }, lock_skips",
    )
    level = ("level = 0.95", "level = 95")
    result = stagger_bot("check-config", str(spec_with(tmp_path, both, level)), cwd=tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode == 2
    assert "give margin_pct or margin_points, not both" in out
    assert "judge.level" in out


def test_a_no_worse_error_rate_within_a_relative_sliver_is_warned_of_in_points(
    tmp_path: Path,
) -> None:
    relative = (
        'error_rate = { condition = "change <= 0%", margin_points = 0.5 }, lock_skips',
        'error_rate = "change <= 0%", lock_skips',
    )
    result = stagger_bot("check-config", str(spec_with(tmp_path, relative)), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "phases[1] (staging-stagger).success.error_rate: 'no worse' within 2.5 % of the "
        "baseline's own rate (half of the trigger 'Job error rate increases by >5%') needs "
        "tens of thousands of failures"
    ) in result.stdout + result.stderr
    assert "phases[3]" not in result.stdout + result.stderr
