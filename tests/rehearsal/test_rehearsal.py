"""`stagger-bot rehearse`: every scenario, run as a user runs it, exits 0 only when its
expected outcome happened — the real bot against the simulated fleet."""

from __future__ import annotations

import os
import pty
import re
import shlex
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import tomli_w

from tests.support.job_table import DSN

EXAMPLE = Path("stagger.example.toml")
# The runbook's phases with an hour standing for a day, and checkpoints every hour: every
# phase, check and report of the real run in a test's time. The README's command (and
# its test) runs the full twelve days.
HOURS = {"staging-baseline": 2, "staging-stagger": 3, "prod-baseline": 1, "prod-stagger": 4}


def short_spec(tmp_path: Path) -> Path:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    for phase in data["phases"]:
        phase["min_duration_h"] = HOURS[phase["name"]]
        phase.pop("max_duration_h", None)
    data["checkpoints"]["cron"] = "0 * * * *"
    path = tmp_path / "short.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


def rehearsal_environment(*, database: bool, **extra: str) -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.endswith("DATABASE_URL")
        and not key.startswith(("SLACK_", "STAGGER_"))
        and key not in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE")
    }
    if database:
        environment["DATABASE_URL"] = DSN
    return {**environment, **extra}


def rehearse(
    tmp_path: Path,
    *arguments: str,
    database: bool = True,
    short: bool = True,
    keep: bool = True,
    cwd: Path | None = None,
    **extra_env: str,
) -> subprocess.CompletedProcess[str]:
    spec = ["--spec", str(short_spec(tmp_path))] if short else []
    kept = ["--keep", str(tmp_path / "work")] if keep else []
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "rehearse", *kept, *spec, *arguments],
        env=rehearsal_environment(database=database, **extra_env),
        cwd=cwd or tmp_path,  # where the output folder goes
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )


def criterion_line(out: str, after: str = "") -> str:
    """The job-duration criterion's last gate line (after `after`, where given)."""
    shown = out[out.index(after) :] if after else out
    lines = [line for line in shown.splitlines() if "job_duration_avg change <= -20%:" in line]
    assert lines, shown[-3000:]
    return lines[-1]


@pytest.mark.long
def test_the_readme_rehearsal_runs_twelve_days_and_declares_success(tmp_path: Path) -> None:
    result = rehearse(tmp_path, database=False, short=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    for phase in ("staging-baseline", "staging-stagger", "prod-baseline", "prod-stagger"):
        assert f"{phase} started" in out
    assert out.count("KPI checkpoint —") >= 40  # every 6 h for 11 days
    assert "Validation +5 min passed" in out and "Day 7 of prod-stagger" in out
    # No database: the job durations the completed lines carry judge the runbook's -20%.
    assert "✅ job_duration_avg change <= -20%" in out and "from the log" in out
    criterion = criterion_line(out)
    assert "95 % CI" in criterion and "): met" in criterion
    assert "🎉 Rollout succeeded." in out and "✅ PASSED: happy" in out


def test_the_happy_rehearsal_with_a_database_judges_job_durations_too(tmp_path: Path) -> None:
    result = rehearse(tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "✅ job_duration_avg change <= -20%" in out
    assert "🎉 Rollout succeeded." in out
    # The command the rehearsal suggests, as printed: its own key, the store, the head.
    suggested = shlex.split(out.rsplit("Audit trail: ", 1)[1].splitlines()[0])
    assignments = dict(word.split("=", 1) for word in suggested[:2])
    assert set(assignments) == {"STAGGER_AUDIT_KEY", "STAGGER_DB"}
    assert suggested[2:6] == ["stagger-bot", "audit", "verify", "--head"]
    assert Path(assignments["STAGGER_DB"]) == tmp_path / "work" / "stagger.db"
    verify = subprocess.run(
        [sys.executable, "-m", "bot.cli", *suggested[3:]],
        env={**os.environ, **assignments},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert f"it holds the posted head {suggested[6]}" in verify.stdout
    assert "Daily audit head " in out  # witnessed in the channel each simulated day
    # What a person opens afterwards: the success report the bot posted, as a file.
    report = output_folder(out) / "rollout-report.txt"
    assert "Rollout succeeded." in report.read_text(encoding="utf-8")


def test_an_error_spike_after_the_first_half_hour_fires_a_trigger_and_prod_is_rolled_back(
    tmp_path: Path,
) -> None:
    result = rehearse(tmp_path, "--scenario", "error-spike")
    assert result.returncode == 0, result.stdout[-3000:]
    out = result.stdout
    prod = out[out.index("prod-stagger started on prod") :]
    # The failures start after the validation's half hour: the trigger path catches them.
    assert "Validation +30 min passed" in prod
    assert prod.index("Validation +30 min passed") < prod.index("Rollback trigger fired on prod")
    assert "Rollback of prod verified on all 2 host(s)" in prod


def test_a_small_effect_is_not_met_with_its_interval_and_the_rollout_stays_in_staging(
    tmp_path: Path,
) -> None:
    result = rehearse(tmp_path, "--scenario", "small-effect", database=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    # Asked for once staging-stagger ran its minimum: refused on the judged criterion.
    line = criterion_line(out, after="moving to prod-baseline is refused")
    assert line.lstrip().startswith("❌") and "): not met" in line
    assert re.search(r"job duration −\d+(\.\d)? % \(95 % CI −\d+(\.\d)? % … [−+]", line), line
    assert "prod-baseline started" not in out and "Rollout succeeded" not in out


def test_too_few_runs_near_the_target_leave_the_criterion_inconclusive_saying_what_settles_it(
    tmp_path: Path,
) -> None:
    result = rehearse(tmp_path, "--scenario", "few-runs", database=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    # The first checkpoint, 25 minutes in: fewer runs than the judge needs at all.
    assert "too few runs: " in out and "can't estimate yet: fewer than 50 runs" in out
    line = criterion_line(out, after="moving to prod-baseline is refused")
    assert line.lstrip().startswith("⏳") and "95 % CI" in line and "): inconclusive" in line
    # Near the threshold with a short baseline: more of this phase's runs can't settle it;
    # a longer baseline, of a number of runs and hours it names, would.
    assert "job duration −20 %: the baseline is too short to settle it at this effect: " in line
    assert re.search(
        r"a baseline of ≈ [\d,]+ more runs \(~\d+ (h|min) with the stagger off\)", line
    )
    assert "prod-baseline started" not in out and "Rollout succeeded" not in out


def output_folder(out: str) -> Path:
    """The folder the rehearsal said it wrote its files to."""
    found = re.search(r"^Files: (.+)$", out, re.MULTILINE)
    assert found, out[-2000:]
    return Path(found[1].strip())


def test_colliding_offsets_fail_validation_name_the_jobs_and_leave_only_the_output_folder(
    tmp_path: Path,
) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    result = rehearse(
        tmp_path, "--scenario", "collision", database=False, keep=False, cwd=tmp_path,
        TMPDIR=str(temporary),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "No DATABASE_URL: the KPIs only the database has" in out
    assert "Validation +5 min FAILED" in out
    assert (
        "❌ no collision warnings: 1 warning(s) (at most 0); "
        "Stuck Match Finisher and Telegram Settlement start in the same second"
    ) in out
    assert "Rollback of staging verified on all 1 host(s)" in out
    assert "\x1b[" not in out  # not a terminal: no colour codes
    # The fleet and the store were temporary; what a person opens afterwards stays.
    assert list(temporary.iterdir()) == []
    folder = output_folder(out)
    assert folder.parent == tmp_path and folder.name.startswith("stagger-rehearsal-collision-")
    charts = sorted(folder.glob("*.png"))
    assert charts and all(chart.read_bytes().startswith(b"\x89PNG") for chart in charts)
    assert f"saved as {charts[0]}" in out
    channel = (folder / "channel.txt").read_text(encoding="utf-8")
    assert "Validation +5 min FAILED" in channel and "\x1b[" not in channel
    # The store went with the temporary folder: the trail was verified before it went.
    assert "Audit trail: " in out and "chain intact" in out


def test_a_down_host_stops_the_move_to_prod_and_says_which(tmp_path: Path) -> None:
    result = rehearse(tmp_path, "--scenario", "host-down", database=False)
    assert result.returncode == 0, result.stdout[-3000:]
    out = result.stdout
    assert "The rollout stays in staging-stagger" in out
    assert "sim@prod-2.rehearsal.example.com — connection timed out" in out


@pytest.mark.parametrize("database", [True, False], ids=["with-DATABASE_URL", "without"])
def test_an_unreachable_prod_database_is_alerted_and_success_withheld(
    tmp_path: Path, database: bool
) -> None:
    result = rehearse(tmp_path, "--scenario", "db-down", database=database)
    assert result.returncode == 0, result.stdout[-3000:]
    out = result.stdout
    assert "KPIs unavailable on prod" in out and "database unavailable" in out
    assert "success cannot be declared yet" in out and "Rollout succeeded" not in out
    # Only prod's database is down: staging's KPIs are never alerted as unavailable, and
    # nothing says the database KPIs are left out while alerting on them.
    assert "KPIs unavailable on staging" not in out
    assert "left out" not in out


def test_an_unknown_scenario_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    result = rehearse(tmp_path, "--scenario", "meteor", database=False)
    assert result.returncode == 2
    assert "invalid choice: 'meteor'" in result.stderr and "happy" in result.stderr


def test_keep_refuses_a_folder_that_is_not_empty_and_leaves_it_alone(tmp_path: Path) -> None:
    kept = tmp_path / "work"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine", encoding="utf-8")
    result = rehearse(tmp_path, "--scenario", "collision", database=False)
    assert result.returncode == 2, result.stdout[-2000:]
    assert f"argument --keep: {kept}: the folder is not empty" in result.stderr
    assert "PASSED" not in result.stdout and "Traceback" not in result.stderr
    assert [p.name for p in kept.iterdir()] == ["notes.txt"]


def start_rehearsal(tmp_path: Path, *arguments: str) -> subprocess.Popen[str]:
    """The happy rehearsal (long enough to be cut short), its temporary folder in
    `tmp_path / "tmp"`."""
    (tmp_path / "tmp").mkdir()
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "rehearse", "--spec", str(short_spec(tmp_path)),
         *arguments],
        env=rehearsal_environment(database=False, TMPDIR=str(tmp_path / "tmp")), cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_a_closed_output_pipe_ends_the_rehearsal_at_once_without_a_traceback(
    tmp_path: Path,
) -> None:
    """`stagger-bot rehearse | head -5`: the reader goes away after five lines."""
    with start_rehearsal(tmp_path) as process:
        assert process.stdout is not None and process.stderr is not None
        try:
            for _ in range(5):
                process.stdout.readline()
            process.stdout.close()
            # A whole happy run takes longer than this bound; one that stops at once, far less.
            returncode = process.wait(timeout=30)
        finally:
            process.kill()
        stderr = process.stderr.read()
    assert returncode == 141, stderr  # 128 + SIGPIPE, as a shell reports `head` closing
    assert "Traceback" not in stderr and "Exception ignored" not in stderr
    assert list((tmp_path / "tmp").iterdir()) == []


def test_ctrl_c_ends_the_rehearsal_with_exit_130_and_no_traceback(tmp_path: Path) -> None:
    with start_rehearsal(tmp_path, "--speed", "600") as process:
        assert process.stdout is not None and process.stderr is not None
        try:
            for line in process.stdout:
                if "Approval needed" in line:
                    break
            process.send_signal(signal.SIGINT)
            process.stdout.read()
            returncode = process.wait(timeout=60)
        finally:
            process.kill()
        stderr = process.stderr.read()
    assert returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert list((tmp_path / "tmp").iterdir()) == []  # the temporary fleet and store went


def run_in_a_terminal(tmp_path: Path, **extra_env: str) -> str:
    """The collision rehearsal with its output on a pseudo-terminal, as a person sees it."""
    leader, follower = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "rehearse", "--scenario", "collision",
         "--spec", str(short_spec(tmp_path))],
        env=rehearsal_environment(database=False, TERM="xterm-256color", **extra_env),
        cwd=tmp_path, stdout=follower, stderr=subprocess.DEVNULL,
    ) as process:  # fmt: skip
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other side closed: the process is done
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(leader)
        assert process.wait(timeout=60) == 0
    return b"".join(chunks).decode("utf-8", errors="replace")


COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def test_on_a_terminal_the_channel_reads_as_slack_shows_it_in_colour_unless_no_color(
    tmp_path: Path,
) -> None:
    shown = run_in_a_terminal(tmp_path)
    plain = COLOUR.sub("", shown)
    # mrkdwn as a person sees it: no asterisks, underscores or backticks around words,
    # people and the channel by name, emoji codes as emoji.
    assert "Approval needed: transition staging to staging-baseline" in plain
    assert "Requested by: @ops-oncall" in plain and "*Requested by:*" not in plain
    assert "posted in #rollout" in plain and "<#C" not in plain and ":link:" not in plain
    # Verdicts and the outcome in colour: red for an alert, green for met and PASSED.
    assert "\x1b[1;32m✅ PASSED" in shown or "\x1b[32;1m✅ PASSED" in shown
    alert_row = next(line for line in shown.splitlines() if "🔴 ALERT" in line)
    assert "\x1b[31m" in alert_row or "\x1b[1;31m" in alert_row
    no_colour = run_in_a_terminal(tmp_path, NO_COLOR="1")
    assert not COLOUR.search(no_colour) and "✅ PASSED: collision" in no_colour


def test_the_interactive_rehearsal_takes_commands_and_approvals_typed_in(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "rehearse", "--interactive", "--speed", "3000",
         "--keep", str(tmp_path / "work")],
        input="status\nadvance\ny\nstatus\nkpi staging 1h\nquit\n",
        env=rehearsal_environment(database=False), cwd=tmp_path,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    out = result.stdout
    assert "Rollout: not started; first phase staging-baseline" in out
    # A fresh env's flag was never set by the bot: not UNKNOWN, which means a failed change.
    assert "stagger not changed by the bot yet" in out and "UNKNOWN" not in out
    assert "Approve R" in out and "(transition staging to staging-baseline) as @lead-ana?" in out
    assert "staging-baseline started on staging: verified on all 1 host(s)" in out
    assert "Rollout: staging-baseline on staging" in out and "Rehearsal ended after" in out
    # The ephemeral ack comes before the table it announces.
    assert "Measuring staging over the last 1h" in out and "KPIs for staging" in out
    assert out.index("Measuring staging over the last 1h") < out.index("KPIs for staging")
