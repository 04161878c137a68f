"""The bot against the process manager its users run: the runbook's backend in small
(Node.js, winston, node-postgres, dotenv) under real pm2, reached over the loopback sshd.
A rollback is verified only once pm2 restarted the app and the new process said it read
the new setting; `kpi --json` over the app's winston log counts what `grep -c` counts."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import statistics
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomli_w

from bot.core.spec_fleet import LogSpec
from tests.e2e.pm2_app import CYCLE_S, LogLine, Pm2App, require_pm2
from tests.support.bot_process import wait_until
from tests.support.spec_data import AUDIT_KEY, OPERATOR, spec_data
from tests.support.ssh_fixtures import SshdServer

PATTERNS = LogSpec()
# Each counted KPI and the runbook's grep for it.
COUNTED = {
    "job_starts": PATTERNS.job_started,
    "job_completions": PATTERNS.job_completed,
    "job_failures": PATTERNS.job_failed,
    "lock_skips": PATTERNS.lock_skip,
    "slow_queries": PATTERNS.slow_query,
    "collision_warnings": PATTERNS.collision,
}


@pytest.fixture(scope="session", autouse=True)
def pm2_installed() -> None:
    """Before anything starts (the sshd is a session fixture): skipped where node or the
    app's packages are missing, failed instead under STAGGER_REQUIRE_PM2=1."""
    require_pm2()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Pm2App]:
    app = Pm2App(tmp_path / "goalgpt")
    yield app
    app.stop()


def write_spec(
    tmp_path: Path, sshd: SshdServer, app: Pm2App, reload_command: str, verify_timeout_s: float = 5
) -> Path:
    """The example spec's prod on the loopback host, reloading with `reload_command`; no
    approval needed, so `stagger-bot cmd` runs a rollback at once."""
    data = spec_data(
        [str(sshd.host_address)], app.folder, known_hosts=sshd.known_hosts,
        key_file=sshd.client_key, required=0, verify_timeout_s=verify_timeout_s,
    )  # fmt: skip
    data["environments"]["prod"]["reload_command"] = reload_command
    spec = tmp_path / "stagger.toml"
    spec.write_text(tomli_w.dumps(data), encoding="utf-8")
    return spec


def stagger_bot(spec: Path, db: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "STAGGER_"))
    }
    environment.update(STAGGER_CONFIG=str(spec), STAGGER_DB=str(db), STAGGER_AUDIT_KEY=AUDIT_KEY)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *arguments],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
        timeout=120,
    )


def finished(db: Path) -> tuple[str, dict[str, bool]]:
    """The newest rollback's outcome in the audit trail, and whether each host verified."""
    with contextlib.closing(sqlite3.connect(db)) as connection:
        outcome, args = connection.execute(
            "SELECT outcome, args FROM audit WHERE action = 'rollback.finished' "
            "ORDER BY id DESC LIMIT 1"
        ).fetchone()
    return str(outcome), dict(json.loads(args)["hosts"])


def said_by(app: Pm2App, offset: int, line: str) -> list[LogLine]:
    """The lines after `line`, the new process's confirmation, among those past `offset`."""
    lines = app.lines_after(offset)
    found = [index for index, logged in enumerate(lines) if line in logged.text]
    assert found, f"no {line!r} in the log after the reload"
    return lines[found[0] + 1 :]


def start_seconds(lines: list[LogLine]) -> dict[str, list[int]]:
    """Each job's starts, as seconds of the app's cycle."""
    starts: dict[str, list[int]] = {}
    for line in lines:
        _, found, job = line.text.partition(f"{PATTERNS.job_started}: ")
        if found:
            starts.setdefault(job.strip(), []).append(line.second % CYCLE_S)
    return starts


def grep_count(pattern: str, log: Path) -> int:
    result = subprocess.run(
        ["grep", "-c", "-F", "--", pattern, str(log)],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr  # 1: no line matched
    return int(result.stdout)


def grep_utilizations(log: Path) -> list[float]:
    """The runbook's `grep "PoolMonitor" | grep -oP 'utilization \\K[0-9.]+(?=%)'`."""
    pool = subprocess.run(
        ["grep", "-F", "--", PATTERNS.pool, str(log)],
        capture_output=True, check=True, timeout=30,
    )  # fmt: skip
    values = subprocess.run(
        ["grep", "-oP", r"utilization \K[0-9.]+(?=%)"],
        input=pool.stdout, capture_output=True, check=True, timeout=30,
    )  # fmt: skip
    return [float(value) for value in values.stdout.split()]


def test_rollbacks_are_verified_once_pm2_restarted_the_app_and_kpis_count_what_grep_counts(
    tmp_path: Path, sshd: SshdServer, app: Pm2App
) -> None:
    spec = write_spec(tmp_path, sshd, app, app.pm2_command("reload", "ecosystem.config.js"))
    db = tmp_path / "stagger.db"
    host = str(sshd.host_address)
    first = app.start()

    # One job rolled back: pm2 restarts the app, which runs that job at :00 from then on.
    before = app.log_size()
    per_job = stagger_bot(
        spec, db, "cmd", "--user", OPERATOR, "rollback prod LIVE_STATS_SYNC --reason 'pool waits'"
    )
    assert per_job.returncode == 0, per_job.stdout + per_job.stderr
    assert "verified" in per_job.stdout and finished(db) == ("ok", {host: True}), per_job.stdout
    # By the time the bot said so, pm2 had restarted the app, and the new process had said
    # it read the change.
    second = app.pid()
    assert second != first
    said_by(
        app,
        before,
        f"Job stagger off for Live Stats Sync (JOB_STAGGER_LIVE_STATS_SYNC=0, pid {second})",
    )
    wait_until(
        lambda: (
            {"Live Stats Sync", "Referral Tier 3 Processor"}
            <= start_seconds(said_by(app, before, f"(pid {second})")).keys()
        ),
        what="the restarted app's jobs",
    )
    starts = start_seconds(said_by(app, before, f"(pid {second})"))
    assert starts["Live Stats Sync"][0] == 0
    assert starts["Referral Tier 3 Processor"][0] == 1  # still staggered

    # The stagger rolled back: restarted again, every job starts at :00.
    before = app.log_size()
    full = stagger_bot(spec, db, "cmd", "--user", OPERATOR, "rollback prod --reason 'errors up'")
    assert full.returncode == 0, full.stdout + full.stderr
    assert "verified" in full.stdout and finished(db) == ("ok", {host: True}), full.stdout
    third = app.pid()
    assert third not in (first, second)
    confirmation = f"⏸️ Job stagger disabled (pid {third})"
    said_by(app, before, confirmation)
    wait_until(
        lambda: (
            {"Scheduled Notifications", "Live Stats Sync"}
            <= start_seconds(said_by(app, before, confirmation)).keys()
        ),
        what="the restarted app's jobs",
    )
    for job, seconds in start_seconds(said_by(app, before, confirmation)).items():
        assert set(seconds) == {0}, (job, seconds)
    env_file = (app.folder / ".env").read_text(encoding="utf-8")
    assert "JOB_STAGGER_ENABLED=false\n" in env_file
    assert "JOB_STAGGER_LIVE_STATS_SYNC=0\n" in env_file

    # The log stops growing; the bot's KPIs over it are the runbook's greps.
    app.pm2("stop", "ecosystem.config.js")
    measured = stagger_bot(spec, db, "kpi", "prod", "--json")
    assert measured.returncode == 0, measured.stdout + measured.stderr
    kpis = json.loads(measured.stdout)["kpis"]
    for kpi, pattern in COUNTED.items():
        assert kpis[kpi]["value"] == grep_count(pattern, app.log), kpi
    for kpi in ("job_starts", "job_completions", "job_failures", "slow_queries"):
        assert kpis[kpi]["value"] > 0, kpi
    utilizations = grep_utilizations(app.log)
    assert kpis["pool_util_max"]["value"] == max(utilizations)
    assert kpis["pool_util_avg"]["value"] == pytest.approx(statistics.mean(utilizations))


def test_a_reload_pm2_calls_done_is_not_verified_while_the_app_does_not_come_back(
    tmp_path: Path, sshd: SshdServer, app: Pm2App
) -> None:
    spec = write_spec(
        tmp_path, sshd, app, app.pm2_command("reload", "ecosystem.config.js"), verify_timeout_s=2
    )
    db = tmp_path / "stagger.db"
    app.start()
    # A broken deploy: the entry point is gone. pm2 restarts the app, says the reload
    # succeeded (exit 0) and keeps restarting the process that cannot start.
    (app.folder / "server.js").rename(app.folder / "server.js.broken")

    result = stagger_bot(spec, db, "cmd", "--user", OPERATOR, "rollback prod --reason 'errors up'")

    assert finished(db) == ("failed", {str(sshd.host_address): False}), result.stdout
    assert "no 'Job stagger disabled' in" in result.stdout
    assert "within 2s after reload" in result.stdout


def test_a_reload_pm2_refuses_fails_the_rollback_in_pm2s_words_without_terminal_colours(
    tmp_path: Path, sshd: SshdServer, app: Pm2App
) -> None:
    # The app reloaded by name, on a pm2 that lists no such app (restarted without
    # `pm2 resurrect`): pm2 says so in red, even with no terminal, and exits 1.
    spec = write_spec(tmp_path, sshd, app, app.pm2_command("reload", "goalgpt"))
    db = tmp_path / "stagger.db"

    result = stagger_bot(spec, db, "cmd", "--user", OPERATOR, "rollback prod --reason 'errors up'")

    said = "reload failed: exit 1: [PM2][ERROR] Process or Namespace goalgpt not found"
    assert said in result.stdout, result.stdout
    assert "\x1b" not in result.stdout
    assert finished(db) == ("failed", {str(sshd.host_address): False})
    with contextlib.closing(sqlite3.connect(db)) as connection:
        details = [row[0] for row in connection.execute("SELECT detail FROM audit")]
    assert any(said in detail for detail in details)
    assert not any("\x1b" in detail for detail in details)
