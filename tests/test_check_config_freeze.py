"""`stagger-bot check-config` on `[[freeze]]` windows: a wrong entry is named with its key,
a weekday number is warned about, a good window passes."""

from __future__ import annotations

from pathlib import Path

from tests.test_check_config import EXAMPLE, stagger_bot

GOOD = """
[[freeze]]
start = 2026-12-24T00:00:00
end = 2026-12-27T09:00:00
reason = "Christmas"

[[freeze]]
cron = "0 18 * * fri"
duration = "64h"
envs = ["prod"]
reason = "no prod changes over the weekend"
"""


def spec_with_freeze(tmp_path: Path, freeze: str) -> Path:
    path = tmp_path / "stagger.toml"
    path.write_text(EXAMPLE.read_text(encoding="utf-8") + freeze, encoding="utf-8")
    return path


def test_check_config_accepts_a_fixed_and_a_weekly_freeze(tmp_path: Path) -> None:
    result = stagger_bot("check-config", str(spec_with_freeze(tmp_path, GOOD)), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "freeze" not in result.stderr


def test_check_config_names_each_wrong_freeze_key(tmp_path: Path) -> None:
    bad = """
[[freeze]]
start = 2026-12-27T00:00:00
end = 2026-12-24T00:00:00
reason = "Christmas"

[[freeze]]
cron = "0 18 * * fry"
duration = "a weekend"
envs = ["production"]
reason = "weekend"
"""
    result = stagger_bot("check-config", str(spec_with_freeze(tmp_path, bad)), cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "freeze[1].cron: '0 18 * * fry' is not a crontab expression" in result.stderr
    assert "freeze[1].duration: 'a weekend' is not a duration like 30m, 64h or 2d" in (
        result.stderr
    )
    assert "freeze[1].envs: unknown environment 'production'; did you mean 'prod'?" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr

    only_dates = bad.split("[[freeze]]")[1]
    result = stagger_bot(
        "check-config", str(spec_with_freeze(tmp_path, "[[freeze]]" + only_dates)), cwd=tmp_path
    )
    assert result.returncode == 2
    assert "freeze[0].end: 2026-12-24T00:00:00 is before its start 2026-12-27T00:00:00" in (
        result.stderr
    )


def test_check_config_warns_that_a_freeze_weekday_number_is_not_crontabs(tmp_path: Path) -> None:
    weekly = GOOD.replace('"0 18 * * fri"', '"0 18 * * 5"')
    result = stagger_bot("check-config", str(spec_with_freeze(tmp_path, weekly)), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "warning: freeze[1].cron: '0 18 * * 5' counts weekdays from Monday = 0" in (
        result.stderr
    )


def test_check_config_refuses_a_freeze_whose_envs_list_is_empty(tmp_path: Path) -> None:
    empty = """
[[freeze]]
cron = "0 18 * * fri"
duration = "64h"
envs = []
reason = "weekend"
"""
    result = stagger_bot("check-config", str(spec_with_freeze(tmp_path, empty)), cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        "freeze[0].envs: holds no env: name at least one env, or leave envs out for every env"
    ) in result.stderr
