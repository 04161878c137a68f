from __future__ import annotations

import pytest

from bot.core.envfile import read_env_value, set_env_value


def test_only_the_flag_line_changes_byte_for_byte() -> None:
    before = b"# comment\nA=1\r\nJOB_STAGGER_ENABLED=true\r\n  B = 'x y'  \n\xff\xfeRAW\n"
    after = set_env_value(before, "JOB_STAGGER_ENABLED", "false")
    assert after == b"# comment\nA=1\r\nJOB_STAGGER_ENABLED=false\r\n  B = 'x y'  \n\xff\xfeRAW\n"


def test_a_missing_key_is_appended_after_a_newline() -> None:
    assert set_env_value(b"A=1", "JOB_STAGGER_X", "0") == b"A=1\nJOB_STAGGER_X=0\n"
    assert set_env_value(b"", "K", "v") == b"K=v\n"
    assert set_env_value(b"A=1\r\n", "K", "v") == b"A=1\r\nK=v\r\n"


def test_export_prefix_and_every_duplicate_are_rewritten() -> None:
    before = b"export JOB_STAGGER_ENABLED=true\nJOB_STAGGER_ENABLED = true\n"
    after = set_env_value(before, "JOB_STAGGER_ENABLED", "false")
    assert after == b"export JOB_STAGGER_ENABLED=false\nJOB_STAGGER_ENABLED=false\n"
    assert read_env_value(after, "JOB_STAGGER_ENABLED") == "false"


def test_similar_keys_and_comments_are_left_alone() -> None:
    before = b"#JOB_STAGGER_ENABLED=true\nJOB_STAGGER_ENABLED_OLD=true\n"
    after = set_env_value(before, "JOB_STAGGER_ENABLED", "false")
    assert after == before + b"JOB_STAGGER_ENABLED=false\n"


def test_read_env_value_strips_quotes_and_comments() -> None:
    assert read_env_value(b'K="true" # on\n', "K") == "true"
    assert read_env_value(b"A=1\n", "K") is None


def test_a_value_with_a_line_break_is_refused() -> None:
    with pytest.raises(ValueError, match="line break"):
        set_env_value(b"", "K", "a\nEVIL=1")
