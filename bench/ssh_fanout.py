"""SSH fan-out: a checkpoint and a rollback across 20 loopback hosts against 1 host.

    python3 -m bench.ssh_fanout [--hosts 20] [--runs 5]

Each host is a real OpenSSH server on loopback with its own app folder (see
bench/harness.py for how 20 sshd on 127.0.0.1 each get their own files). The bot is the
real one (waitress, Slack-signed requests, the Web API stand-in).

- checkpoint: `bot.rollout.checkpoint_post.post_checkpoint` for prod in its running phase, as the
  scheduled job (`jobs.checkpoints`) calls it: every host's log is scanned over SSH (6 h of
  app log per host, about 1 MB),
  the KPIs judged, the table posted and the chart rendered and uploaded; each run on a
  fresh store, so each checkpoint finds exactly 6 h of new log on every host;
- rollback: `/stagger rollback prod` then the approving click, until the bot posts
  "verified on all N host(s)" (`bot.rollout.rollback` →
  `bot.hosts.flag_change.apply_everywhere`: read,
  atomic write, reload, watch the log for the confirmation, on every host in parallel).

Goal (issue 7): the 20-host time at most 2x the one-host time.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import timedelta
from functools import partial
from pathlib import Path

from bench.harness import (
    MACHINE_NOTE,
    Cost,
    Fleet,
    RunningBot,
    app_log,
    costed,
    loopback_fleet,
    median,
    now_utc,
    print_table,
    running_bot,
    verdict,
)
from bot.core.phase_record import Entry, PhaseRecord
from bot.render.blocks import APPROVE_ACTION
from bot.rollout.checkpoint_post import post_checkpoint
from bot.store.timeline import Timeline
from tests.support.spec_data import ENV_FILE, LEAD, OPERATOR

GOAL_RATIO = 2.0
SPAN = timedelta(hours=6)
ENV = "prod"
FAILURES: list[str] = []  # rollbacks that did not verify on every host, with the reasons


def _start_phase(running: RunningBot) -> PhaseRecord:
    """prod's stagger phase, begun 6 h ago (so the checkpoint draws its chart)."""
    entry = Entry("prod-stagger", ENV, now_utc() - SPAN, "", note="bench")
    return Timeline(running.bot.store).enter(entry, expected_current=None)


def _write_logs(running: RunningBot, fleet: Fleet, count: int) -> None:
    """Each host's log holds the last 6 h: what a 6-hourly checkpoint finds new."""
    log = app_log(running.spec, now_utc() - SPAN, int(SPAN.total_seconds() // 60))
    for root in fleet.roots[:count]:
        (root / "logs" / "combined.log").write_bytes(log)


def checkpoint_times(tmp: Path, fleet: Fleet, count: int, runs: int) -> list[Cost]:
    """Each run on a fresh store (a bot that has not scanned these logs yet), so every
    checkpoint scans, stores and reads back exactly 6 h of events per host."""
    times: list[Cost] = []
    for run in range(runs):
        with running_bot(tmp / f"checkpoint-{count}-{run}", fleet, count) as running:
            phase = _start_phase(running)
            _write_logs(running, fleet, count)
            cost, ts = costed(
                partial(post_checkpoint, running.bot.context, ENV, phase, now_utc(), SPAN)
            )
            assert ts is not None
            times.append(cost)
    return times


def rollback_times(running: RunningBot, fleet: Fleet, count: int, runs: int) -> list[Cost]:
    bot, slack = running.bot, running.slack
    times: list[Cost] = []
    for run in range(runs):
        for root in fleet.roots[:count]:
            (root / ".env").write_bytes(ENV_FILE)
        reply = bot.command(OPERATOR, f"rollback {ENV} --reason 'fan-out bench {run}'")
        request_id = bot.request_id_from(reply.json()["text"])
        slack.calls.clear()

        def click_until_done(rid: str = request_id) -> str:
            bot.click(LEAD, APPROVE_ACTION, rid)
            return slack.wait_for(
                lambda call: (
                    ("verified on all" in call.text or "FAILED" in call.text)
                    and bot.request(rid).status.value in ("succeeded", "failed")
                ),
                timeout=120,
                method="chat.postMessage",
            ).text

        cost, text = costed(click_until_done)
        if "FAILED" in text:  # counted and reported, not hidden: the run goes on
            reasons = [line for line in text.splitlines() if line.startswith(":x: `")]
            FAILURES.append(f"rollback on {count} host(s), run {run + 1}: {'; '.join(reasons)}")
        else:
            for root in fleet.roots[:count]:
                assert b"JOB_STAGGER_ENABLED=false" in (root / ".env").read_bytes()
        times.append(cost)
    return times


def measure(tmp: Path, fleet: Fleet, count: int, runs: int) -> tuple[list[Cost], list[Cost]]:
    checkpoints = checkpoint_times(tmp, fleet, count, runs)
    with running_bot(tmp / f"rollback-{count}", fleet, count) as running:
        rollbacks = rollback_times(running, fleet, count, runs)
    return checkpoints, rollbacks


def main(hosts: int = 20, runs: int = 5) -> None:
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        with loopback_fleet(tmp / "fleet", hosts) as fleet:
            one_checkpoint, one_rollback = measure(tmp, fleet, 1, runs)
            many_checkpoint, many_rollback = measure(tmp, fleet, hosts, runs)
    rows: list[list[object]] = []
    for name, one, many in (
        ("checkpoint", one_checkpoint, many_checkpoint),
        ("rollback (click → verified)", one_rollback, many_rollback),
    ):
        ratio = median([c.wall for c in many]) / median([c.wall for c in one])
        rows.append(
            [
                name,
                median([c.wall for c in one]),
                median([c.wall for c in many]),
                max(c.wall for c in many),
                ratio,
                ratio / GOAL_RATIO,
                verdict(ratio / GOAL_RATIO),
            ]
        )
    print_table(
        f"SSH fan-out: 1 host vs {hosts} loopback hosts (wall seconds, medians of {runs} runs)",
        ["measure", "1 host", f"{hosts} hosts", "max", f"{hosts}/1", "ratio to 2x goal", "goal"],
        rows,
    )
    cpu_rows: list[list[object]] = []
    for name, costs in (
        ("checkpoint, 1 host", one_checkpoint),
        (f"checkpoint, {hosts} hosts", many_checkpoint),
        ("rollback, 1 host", one_rollback),
        (f"rollback, {hosts} hosts", many_rollback),
    ):
        wall = median([c.wall for c in costs])
        process = median([c.process_cpu for c in costs])
        machine = median([c.machine_cpu for c in costs])
        cpu_rows.append([name, wall, process, machine, machine / wall, process / machine])
    print_table(
        "Where the time goes (medians; CPU seconds; the bot is this process, the machine "
        "includes every sshd and its shells)",
        ["run", "wall", "bot CPU", "machine CPU", "cores busy", "bot share"],
        cpu_rows,
    )
    print(f"failed rollbacks (timed all the same, to the failure report): {len(FAILURES)}")
    for failure in FAILURES:
        print(f"  {failure[:500]}")
    print(f"({MACHINE_NOTE})")


def cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    arguments = parser.parse_args(argv)
    main(arguments.hosts, arguments.runs)


if __name__ == "__main__":
    cli()
