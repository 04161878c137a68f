"""Replicas as real processes: two `serve` processes whose schedulers contend for the
PostgreSQL advisory lock, one killed (SIGKILL) and the other taking over; /healthz saying
which leads and whether the store answers, over real HTTP."""

from __future__ import annotations

import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.rehearsal.slack_signing import SlackSender
from bot.rehearsal.slack_standin import SlackStandIn
from tests.faults.test_replica_failover import store_rows
from tests.support.bot_process import start_serving, wait_until
from tests.support.leader_fixtures import terminate_backends
from tests.support.replica import Replica, Replicas, replica_environment
from tests.support.spec_data import BOT_TOKEN, OPERATOR, SIGNING_SECRET
from tests.support.ssh_fixtures import free_port
from tests.support.tcp_gate import TcpGate

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


def answering(replica: Replica) -> Callable[[], bool]:
    def answered() -> bool:
        assert replica.process.poll() is None, replica.stop()[-2000:]
        try:
            replica.sender.get("/healthz")
        except OSError:
            return False
        return True

    return answered


def test_a_replica_whose_store_is_down_stays_up_says_so_and_serves_once_it_answers(
    slack: SlackStandIn, replicas: Replicas, leader_dsn: str
) -> None:
    gate = TcpGate(5432)
    dsn = leader_dsn.replace(
        "postgres@127.0.0.1:5432", f"postgres:hunter2-secret@127.0.0.1:{gate.port}"
    )
    replicas.environment = environment(dsn, slack)
    replica = replicas.launch(free_port())
    try:
        wait_until(answering(replica), what="the replica's /healthz")
        reply = replica.sender.get("/healthz")
        report = reply.json()
        assert reply.status == 503
        assert report["ok"] is False and report["role"] == "follower" and report["leader"] is None
        assert report["store"].startswith("unreachable: ") and "refused" in report["store"]
        assert "hunter2-secret" not in reply.body
        answer = replica.sender.command(OPERATOR, "rollback prod --reason 'pool at 90%'").json()
        assert answer["text"].startswith(":x: The store is down, so nothing was done")
        assert "\n" not in answer["text"] and "hunter2-secret" not in answer["text"]
        forged = replica.sender.command(OPERATOR, "status", sign_with="not-the-secret")
        assert forged.status == 401  # still only Slack's signed requests are answered

        gate.open()
        wait_until(lambda: replica.health()["status"] == 200, timeout=30,
                   what="the replica serving once the store answers")  # fmt: skip
        wait_until(lambda: replica.role() == "leader", what="the replica leading")
        assert "prod" in replica.sender.command(OPERATOR, "status").json()["text"]

        gate.close()  # the database goes away under a running replica
        down = replica.sender.command(OPERATOR, "rollback prod --reason 'pool at 90%'").json()
        assert down["text"].startswith(":x: The store is down, so nothing was done"), down
        assert replica.health()["status"] == 503
        gate.open()
        wait_until(lambda: replica.health()["status"] == 200, what="the store back")
        asked = replica.sender.command(OPERATOR, "rollback prod --reason 'pool at 90%'").json()
        assert "rollback" in asked["text"].lower() and "store is down" not in asked["text"]
        requested = store_rows(
            leader_dsn, "SELECT count(*) FROM audit WHERE action = 'rollback.requested'"
        )
        assert requested == [(1,)]  # the two refused while it was down left nothing behind
        logged = replica.stop()
        assert "Traceback" not in logged and "hunter2-secret" not in logged
    finally:
        gate.close()


def test_a_replica_whose_database_sessions_are_cut_reconnects_at_the_next_command(
    slack: SlackStandIn, replicas: Replicas, leader_dsn: str
) -> None:
    name = f"replica-{uuid.uuid4().hex[:8]}"  # this test's sessions alone are cut
    replicas.environment = environment(f"{leader_dsn}&application_name={name}", slack)
    replica = replicas.start()
    wait_until(lambda: replica.role() == "leader", what="the replica leading")
    assert "prod" in replica.sender.command(OPERATOR, "status").json()["text"]

    assert terminate_backends(name) > 0  # as a database failover or restart does

    # A Slack retry of the first command after the cut is still known for one: its
    # delivery was recorded on a new session, not lost with the old one.
    for _ in range(2):
        replica.sender.command(OPERATOR, "rollback prod --reason 'pool'", trigger_id="9.cut")
    requested = store_rows(
        leader_dsn, "SELECT count(*) FROM audit WHERE action = 'rollback.requested'"
    )
    assert requested == [(1,)]
    for _ in range(3):  # every thread's session was cut; each reconnects, none answers why
        text = replica.sender.command(OPERATOR, "status").json()["text"]
        assert "prod" in text and "store" not in text, text
    wait_until(lambda: replica.role() == "leader", timeout=30, what="the lock taken again")
    assert replica.health()["status"] == 200
    assert "cannot check trigger" not in replica.stop()  # each retry was checked for one


def test_the_web_process_names_the_scheduler_process_as_leader_and_503s_when_the_file_goes(
    tmp_path: Path, slack: SlackStandIn, processes: list[subprocess.Popen[str]]
) -> None:
    on_file = environment(tmp_path / "stagger.db", slack)

    def launch(port: int) -> subprocess.Popen[str]:
        web = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--no-scheduler", "--host", "127.0.0.1",
             "--port", str(port)],
            env=on_file, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        processes.append(web)
        return web

    sender = start_serving(launch, SIGNING_SECRET)
    assert health(sender)["role"] == "no scheduler" and health(sender)["leader"] is None
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "scheduler"], env=on_file,
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
