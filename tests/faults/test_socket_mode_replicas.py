"""Two `stagger-bot socket --no-scheduler` replicas on one PostgreSQL store, each holding
its own Socket Mode connection, with a real sshd host. Slack delivers each envelope to one
connection and retries one it saw no ack for on another: a `/stagger rollback` delivered
to one replica and at once again to the other is one request, answered by one and dropped
by the other; its approval, delivered to the replica that dropped the request and retried
on the other, runs the rollback once, verified on the host's env file."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import tomli_w

from bot.rehearsal.slack_signing import block_action_body, slash_command_body
from bot.rehearsal.slack_standin import SlackStandIn
from bot.render.blocks import APPROVE_ACTION
from tests.support.bot_process import wait_until
from tests.support.replica import replica_environment
from tests.support.socket_mode_standin import SocketModeStandIn
from tests.support.spec_data import LEAD_2, OPERATOR, make_app_dir, spec_data

pytestmark = pytest.mark.long

APP_TOKEN = "xapp-1-A0APP-1-socketsecret"


def store_rows(dsn: str, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as connection:
        return connection.execute(sql, args).fetchall()


def audited(dsn: str, action: str) -> int:
    [(count,)] = store_rows(dsn, "SELECT count(*) FROM audit WHERE action = %s", action)
    return int(count)


def logged(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def socket_mode(slack: SlackStandIn) -> Iterator[SocketModeStandIn]:
    standin = SocketModeStandIn()
    slack.socket_mode_url = standin.url  # apps.connections.open answers with it
    try:
        yield standin
    finally:
        standin.close()


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[str]]]:
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_a_retried_rollback_and_its_retried_approval_across_socket_mode_replicas_run_once(
    tmp_path: Path,
    sshd: Any,
    slack: SlackStandIn,
    socket_mode: SocketModeStandIn,
    started: list[subprocess.Popen[str]],
    leader_dsn: str,
) -> None:
    app = make_app_dir(tmp_path / "app")
    data = spec_data(
        [str(sshd.host_address)], app, known_hosts=sshd.known_hosts, key_file=sshd.client_key
    )
    config = tmp_path / "stagger.toml"
    config.write_text(tomli_w.dumps(data), encoding="utf-8")
    environment = replica_environment(config, leader_dsn, slack.url, SLACK_APP_TOKEN=APP_TOKEN)
    logs: list[Path] = []
    for number in (1, 2):  # one after the other: connection 0 is replica 1's, 1 is replica 2's
        logs.append(tmp_path / f"socket-replica-{number}.log")
        with logs[-1].open("w", encoding="utf-8") as stderr:
            started.append(subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "socket", "--no-scheduler"],
                env=environment, stdout=subprocess.DEVNULL, stderr=stderr, text=True,
            ))  # fmt: skip
        assert socket_mode.wait_for_connections(number), logged(logs[-1])[-2000:]
    for log in logs:

        def connected(log: Path = log) -> bool:
            return "connected to Slack in Socket Mode" in logged(log)

        wait_until(connected, what="the replica saying it is connected")
    assert socket_mode.connections == 2 and all(p.poll() is None for p in started)

    body = slash_command_body(OPERATOR, "rollback prod --reason 'pool at 90%'")
    first = socket_mode.slash_command("rollback-1", body)
    socket_mode.redeliver("rollback-1", to=1 - first)  # Slack's retry, on the other connection

    acks = dict(socket_mode.acks_of("rollback-1", count=2))
    assert sorted(acks) == [0, 1]
    # Both deliveries run at once: whichever replica writes the trigger first answers.
    [answered] = [number for number, ack in acks.items() if "payload" in ack]
    dropped = 1 - answered
    found = re.search(r"\bR[A-Z0-9]{5}\b", acks[answered]["payload"]["text"])
    assert found, acks[answered]
    request = found.group(0)
    assert "dropping a repeated delivery" in logged(logs[dropped])
    assert "dropping a repeated delivery" not in logged(logs[answered])
    posted = slack.wait_for(lambda c: request in c.all_text() and APPROVE_ACTION in str(c.blocks),
                            method="chat.postMessage")  # fmt: skip
    assert [c for c in slack.of("chat.postMessage") if APPROVE_ACTION in str(c.blocks)] == [posted]
    assert audited(leader_dsn, "rollback.requested") == 1

    # The approval goes to the replica that did not answer the request; Slack, missing its
    # ack, retries it on the one that did.
    click = block_action_body(LEAD_2, APPROVE_ACTION, request, message_ts=str(posted.params["_ts"]))
    socket_mode.block_actions("approve-1", click, to=dropped)
    socket_mode.acks_of("approve-1")
    socket_mode.redeliver("approve-1", to=answered)
    assert sorted(dict(socket_mode.acks_of("approve-1", count=2))) == [0, 1]

    outcome = slack.wait_for(lambda c: "Rollback of" in c.text and "verified" in c.text, timeout=60)
    assert [c for c in slack.of("chat.postMessage") if "Rollback of" in c.text] == [outcome]
    assert b"JOB_STAGGER_ENABLED=false\n" in (app / ".env").read_bytes()
    assert audited(leader_dsn, "rollback.requested") == 1
    assert audited(leader_dsn, "rollback.started") == 1
    assert "dropping a repeated delivery" in logged(logs[answered])
    for process, log in zip(started, logs, strict=True):
        process.terminate()
        assert process.wait(timeout=30) == 0, logged(log)[-2000:]
        assert "socketsecret" not in logged(log)
