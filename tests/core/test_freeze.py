"""Freeze windows (`[[freeze]]`): when a moment is inside one, for which env, until when;
and how a wrong entry is answered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.errors import SpecError
from bot.core.freeze import FreezeSpec, freeze_at, freezes_within
from bot.core.spec import Spec, parse_spec
from tests.support.spec_data import spec_data

BERLIN = "Europe/Berlin"
# Friday 18:00 to Monday 10:00 in Berlin, as long as no clock change falls in between.
WEEKEND = FreezeSpec(cron="0 18 * * fri", duration="64h", reason="weekend")


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def make_spec(tmp_path: Path, freeze: list[dict[str, Any]], timezone: str = BERLIN) -> Spec:
    return parse_spec(spec_data_with(tmp_path, freeze, timezone))


def spec_data_with(tmp_path: Path, freeze: list[dict[str, Any]], timezone: str) -> dict[str, Any]:
    return spec_data(
        ["sim@host-1"],
        tmp_path,
        known_hosts=tmp_path / "known_hosts",
        key_file=tmp_path / "key",
        timezone=timezone,
        freeze=freeze,
    )


def problems(tmp_path: Path, freeze: list[dict[str, Any]]) -> list[str]:
    with pytest.raises(SpecError) as raised:
        make_spec(tmp_path, freeze)
    return raised.value.problems


def test_a_fixed_window_in_local_time_holds_from_start_to_end_in_the_specs_zone(
    tmp_path: Path,
) -> None:
    spec = make_spec(
        tmp_path,
        [{"start": datetime(2026, 12, 24, 12, 0), "end": "2026-12-27T09:00", "reason": "xmas"}],
    )
    # Berlin is UTC+1 in winter: 12:00 local is 11:00 UTC.
    assert freeze_at(spec.freeze, "prod", utc(2026, 12, 24, 10, 59), BERLIN) is None
    inside = freeze_at(spec.freeze, "prod", utc(2026, 12, 24, 11, 0), BERLIN)
    assert inside is not None
    assert (inside.start, inside.until, inside.reason) == (
        utc(2026, 12, 24, 11, 0),
        utc(2026, 12, 27, 8, 0),
        "xmas",
    )
    assert freeze_at(spec.freeze, "prod", utc(2026, 12, 27, 8, 0), BERLIN) is None


def test_a_window_with_an_offset_keeps_its_offset() -> None:
    entry = FreezeSpec(
        start=datetime.fromisoformat("2026-06-01T08:00:00-04:00"),
        end=datetime.fromisoformat("2026-06-01T10:00:00-04:00"),
        reason="board demo",
    )
    inside = freeze_at([entry], "prod", utc(2026, 6, 1, 12, 30), BERLIN)
    assert inside is not None and inside.until == utc(2026, 6, 1, 14, 0)


def test_a_cron_window_starts_at_local_time_on_both_sides_of_a_clock_change() -> None:
    # Berlin moves to summer time on Sunday 2026-03-29: Friday 18:00 is 17:00 UTC before,
    # 16:00 UTC after; the 64 hours are elapsed time, so the first Monday ends at 11:00 local.
    before = freeze_at([WEEKEND], "prod", utc(2026, 3, 27, 17, 0), BERLIN)
    assert before is not None and before.until == utc(2026, 3, 30, 9, 0)
    assert freeze_at([WEEKEND], "prod", utc(2026, 3, 27, 16, 59), BERLIN) is None
    assert freeze_at([WEEKEND], "prod", utc(2026, 3, 30, 9, 0), BERLIN) is None
    after = freeze_at([WEEKEND], "prod", utc(2026, 4, 3, 16, 0), BERLIN)
    assert after is not None and after.start == utc(2026, 4, 3, 16, 0)
    assert after.until == utc(2026, 4, 6, 8, 0)
    assert freeze_at([WEEKEND], "prod", utc(2026, 4, 3, 15, 59), BERLIN) is None


def test_a_window_in_progress_is_found_from_its_middle() -> None:
    inside = freeze_at([WEEKEND], "prod", utc(2026, 3, 29, 3, 0), BERLIN)
    assert inside is not None and inside.start == utc(2026, 3, 27, 17, 0)


def test_an_entry_for_some_envs_leaves_the_others_free() -> None:
    prod_only = FreezeSpec(cron="0 18 * * fri", duration="64h", envs=["prod"], reason="weekend")
    moment = utc(2026, 3, 28, 12, 0)
    assert freeze_at([prod_only], "prod", moment, BERLIN) is not None
    assert freeze_at([prod_only], "staging", moment, BERLIN) is None


def test_windows_that_meet_or_overlap_are_one_freeze_until_the_last_ends() -> None:
    xmas = FreezeSpec(start=datetime(2026, 12, 23, 0, 0), end=datetime(2026, 12, 26, 0, 0),
                      reason="xmas")  # fmt: skip
    # 2026-12-25 is a Friday: the weekend freeze follows the Christmas one without a gap.
    found = freeze_at([xmas, WEEKEND], "prod", utc(2026, 12, 23, 12, 0), BERLIN)
    assert found is not None
    assert found.until == utc(2026, 12, 28, 9, 0)
    assert found.reasons == ("xmas", "weekend")


def test_the_next_day_lists_the_freeze_in_force_and_the_one_coming() -> None:
    nightly = FreezeSpec(cron="0 2 * * *", duration="1h", reason="backups")
    found = freezes_within([nightly], "prod", utc(2026, 6, 1, 0, 30), BERLIN, timedelta(hours=23))
    # 02:00 Berlin summer time is 00:00 UTC: one in force now; the next, 23.5 h on, is not.
    assert [(f.start, f.until) for f in found] == [(utc(2026, 6, 1, 0, 0), utc(2026, 6, 1, 1, 0))]
    later = freezes_within([nightly], "prod", utc(2026, 6, 1, 1, 30), BERLIN, timedelta(hours=24))
    assert [f.start for f in later] == [utc(2026, 6, 2, 0, 0)]


def test_an_end_before_its_start_is_named_with_the_entry(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        [
            {"cron": "0 18 * * fri", "duration": "64h", "reason": "weekend"},
            {"start": "2026-12-27T00:00", "end": "2026-12-24T00:00", "reason": "xmas"},
        ],
    )
    said = "freeze[1].end: 2026-12-24T00:00:00 is before its start 2026-12-27T00:00:00"
    assert said in found


def test_an_unknown_env_bad_cron_and_bad_duration_are_named(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        [
            {"cron": "0 18 * * fri", "duration": "64h", "envs": ["production"], "reason": "w"},
            {"cron": "61 * * * *", "duration": "1h", "reason": "x"},
            {"cron": "0 1 * * *", "duration": "forever", "reason": "y"},
            {"cron": "0 1 * * *", "duration": "1h", "envs": ["qa"], "reason": "z"},
        ],
    )
    assert "freeze[0].envs: unknown environment 'production'; did you mean 'prod'?" in found
    bad_cron = "freeze[1].cron: '61 * * * *' is not a crontab expression"
    assert any(problem.startswith(bad_cron) for problem in found)
    assert "freeze[2].duration: 'forever' is not a duration like 30m, 64h or 2d" in found
    assert "freeze[3].envs: unknown environment 'qa' (known: staging, prod)" in found


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"start": "2026-12-24T00:00", "reason": "x"}, "freeze[0]: end is required with start"),
        ({"cron": "0 1 * * *", "reason": "x"}, "freeze[0]: duration is required with cron"),
        (
            {"start": "2026-12-24T00:00", "end": "2026-12-25T00:00", "cron": "0 1 * * *",
             "duration": "1h", "reason": "x"},
            "freeze[0]: give either start and end, or cron and duration, not both",
        ),
        ({"reason": "x"}, "freeze[0]: give either start and end, or cron and duration"),
        ({"cron": "0 1 * * *", "duration": "1h"}, "freeze[0].reason: is required"),
        ({"cron": "0 1 * * *", "duration": "1h", "reason": "x", "env": ["prod"]},
         "freeze[0].env: unknown key; did you mean 'envs'?"),
        ({"cron": "0 18 * * *", "duration": "25h", "reason": "x"},
         "freeze[0]: cron '0 18 * * *' starts again before each 25h window ends: the "
         "environments would never be free"),
    ],
)  # fmt: skip
def test_an_incomplete_entry_says_what_it_lacks(
    tmp_path: Path, entry: dict[str, Any], problem: str
) -> None:
    assert problem in problems(tmp_path, [entry])
