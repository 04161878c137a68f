"""Replicas as real processes: two `serve` processes whose schedulers contend for the
PostgreSQL advisory lock, one killed (SIGKILL) and the other taking over; /healthz saying
which leads and whether the store answers, over real HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.rehearsal.slack_signing import SlackSender
from bot.rehearsal.slack_standin import SlackStandIn
from tests.support.bot_process import start_serving, wait_until
from tests.support.replica import Replicas, replica_environment
from tests.support.spec_data import BOT_TOKEN, SIGNING_SECRET
from tests.support.ssh_fixtures import free_port

EXAMPLE = Path("stagger.example.toml").resolve()


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)


def environment(store: Path | str, slack: SlackStandIn) -> dict[str, str]:
    """The example spec on `store`: a SQLite file, or a PostgreSQL DSN."""
    return replica_environment(EXAMPLE, str(store), slack.url)


def health(sender: SlackSender) -> dict[str, Any]:
    reply = sender.get("/healthz")
    report: dict[str, Any] = reply.json()
    report["status"] = reply.status
    return report


def name_of(process: subprocess.Popen[str]) -> str:
    return f"{socket.gethostname()}:{process.pid}"


def test_of_two_replicas_one_leads_and_the_other_takes_over_when_it_is_killed(
    slack: SlackStandIn, replicas: Replicas, leader_dsn: str
) -> None:
    replicas.environment = environment(leader_dsn, slack)
    first, second = replicas.start(), replicas.start()

    def roles() -> list[str]:
        return sorted(replica.role() for replica in (first, second))

    wait_until(lambda: roles() == ["follower", "leader"], timeout=30,
               what="one replica leading and the other following")  # fmt: skip
    leader, follower = sorted((first, second), key=lambda replica: replica.role() != "leader")
    for replica in (first, second):
        report = replica.health()
        assert report["status"] == 200 and report["store"] == "reachable"
        assert report["leader"] == leader.name

    leader.kill()
    wait_until(lambda: follower.role() == "leader", timeout=30,
               what="the surviving replica taking the leadership")  # fmt: skip
    assert follower.health()["leader"] == follower.name

    stderr = follower.stop()
    assert "is now the scheduler leader" in stderr
    assert BOT_TOKEN not in stderr and SIGNING_SECRET not in stderr


def test_healthz_answers_503_naming_why_when_the_postgresql_store_is_unreachable(
    tmp_path: Path, slack: SlackStandIn, processes: list[subprocess.Popen[str]]
) -> None:
    dsn = f"postgresql://bot:hunter2-secret@127.0.0.1:{free_port()}/stagger"
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=environment(dsn, slack), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    processes.append(process)
    sender = SlackSender(port, SIGNING_SECRET)

    def answered() -> bool:
        assert process.poll() is None, process.communicate()[1][-2000:]
        try:
            sender.get("/healthz")
        except OSError:
            return False
        return True

    wait_until(answered, what="the replica's /healthz")
    reply = sender.get("/healthz")
    report = reply.json()
    assert reply.status == 503
    assert report["ok"] is False and report["role"] == "follower"
    assert report["store"].startswith("unreachable: ") and "refused" in report["store"]
    assert "hunter2-secret" not in reply.body


def test_the_web_process_names_the_scheduler_process_as_leader_and_503s_when_the_file_goes(
    tmp_path: Path, slack: SlackStandIn, processes: list[subprocess.Popen[str]]
) -> None:
    def launch(port: int) -> subprocess.Popen[str]:
        web = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--no-scheduler", "--host", "127.0.0.1",
             "--port", str(port)],
            env=environment(tmp_path / "stagger.db", slack), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        processes.append(web)
        return web

    sender = start_serving(launch, SIGNING_SECRET)
    assert health(sender)["role"] == "no scheduler" and health(sender)["leader"] is None
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "scheduler"], env=environment(tmp_path / "stagger.db", slack),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    processes.append(scheduler)
    wait_until(lambda: health(sender)["leader"] == name_of(scheduler), timeout=30,
               what="the scheduler process holding the lease")  # fmt: skip
    assert health(sender)["status"] == 200

    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp_path / 'stagger.db'}{suffix}").unlink(missing_ok=True)
    report = health(sender)
    assert report["status"] == 503 and report["ok"] is False
    assert report["store"] == "unreachable: stagger.db: unable to open database file"
