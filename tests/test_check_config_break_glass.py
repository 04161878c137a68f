"""`stagger-bot check-config` on the `break_glass` list: Slack user ids, or a problem
naming the key and the entry."""

from __future__ import annotations

from pathlib import Path

from tests.test_check_config import spec_with, stagger_bot

OPERATORS = 'operators = ["U0OPS1", "U0OPS2"]'


def test_check_config_accepts_a_break_glass_list_of_user_ids(tmp_path: Path) -> None:
    spec = spec_with(tmp_path, (OPERATORS, OPERATORS + '\nbreak_glass = ["U0ONCALL1"]'))
    result = stagger_bot("check-config", str(spec), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "break_glass" not in result.stderr


def test_check_config_refuses_a_break_glass_entry_that_is_not_a_user_id_naming_it(
    tmp_path: Path,
) -> None:
    spec = spec_with(tmp_path, (OPERATORS, OPERATORS + '\nbreak_glass = ["U0ONCALL1", "@oncall"]'))
    result = stagger_bot("check-config", str(spec), cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "break_glass[1]: must be a Slack user ID like U0123ABCD, not a @name" in result.stderr
    assert "Traceback" not in result.stderr
