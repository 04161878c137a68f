"""`stagger-bot replay` as a person runs it: a recorded rollout through another spec,
printed phase by phase; every error one line and exit 2, never a traceback."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.recorded_rollout import RecordedRollout, recorded_rollout


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> RecordedRollout:
    return recorded_rollout(tmp_path_factory)


def stagger_bot(*arguments: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    # No Slack token, no audit key, no spec: a replay needs none of them.
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "STAGGER_")) and not key.endswith("DATABASE_URL")
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *arguments],
        env={**environment, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_replay_prints_what_would_have_fired_beside_what_did(
    recorded: RecordedRollout, tmp_path: Path
) -> None:
    data = recorded.spec_data()
    data["rollback_triggers"].append(
        {"name": "Concurrent jobs at all", "kpi": "max_concurrent_jobs", "condition": "> 0"}
    )
    other = recorded.other_spec(tmp_path, data)
    result = stagger_bot(
        "replay", "--store", str(recorded.store), "--spec", str(other), "--env", "staging",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith(f"Replay of the rollout recorded in {recorded.store} through")
    assert "no host was connected to" in out
    assert "staging-stagger (staging): 2026-02-01 02:35 UTC → 2026-02-01 06:05 UTC" in out
    assert "trigger 'Concurrent jobs at all' would have fired 2026-02-01 02:40 UTC" in out
    assert "prod-stagger" not in out


def test_the_store_defaults_to_the_settings_store(
    recorded: RecordedRollout, tmp_path: Path
) -> None:
    result = stagger_bot(
        "replay", "--spec", str(recorded.spec), cwd=tmp_path, STAGGER_DB=str(recorded.store)
    )
    assert result.returncode == 0, result.stderr
    assert f"recorded in {recorded.store}" in result.stdout


def test_each_error_is_one_clear_line_and_exit_2(recorded: RecordedRollout, tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "empty.db").close()
    (tmp_path / "broken.toml").write_text("channel = 3\n", encoding="utf-8")
    cases = {
        "no store at": ["--store", str(tmp_path / "nope.db"), "--spec", str(recorded.spec)],
        "holds no rollout": ["--store", str(tmp_path / "empty.db"), "--spec", str(recorded.spec)],
        "channel: must be text": ["--store", str(recorded.store), "--spec", "broken.toml"],
        "unknown environment 'qa'": [
            "--store", str(recorded.store), "--spec", str(recorded.spec), "--env", "qa",
        ],
    }  # fmt: skip
    for expected, arguments in cases.items():
        result = stagger_bot("replay", *arguments, cwd=tmp_path)
        assert result.returncode == 2, (expected, result.stderr)
        assert expected in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stdout == ""
    assert not (tmp_path / "nope.db").exists()
