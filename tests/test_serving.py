"""The bot's long-running processes, as the Procfile and the README run them:
`serve --no-scheduler` answering Slack while `stagger-bot scheduler` does the scheduled
work on the same store, and `socket` answering over Socket Mode's WebSocket."""

from __future__ import annotations

import http.client
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.rehearsal.slack_signing import SlackSender, slash_command_body
from bot.rehearsal.slack_standin import SlackStandIn
from tests.support.bot_process import start_serving, wait_until
from tests.support.socket_mode_standin import SocketModeStandIn
from tests.support.spec_data import AUDIT_KEY

EXAMPLE = Path("stagger.example.toml").resolve()
SECRET = "procfile-secret"


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)


def launch(
    tmp_path: Path, slack: SlackStandIn, *arguments: str, **extra_env: str
) -> subprocess.Popen[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "STAGGER_"))}
    environment.update(
        STAGGER_CONFIG=str(EXAMPLE),
        STAGGER_DB=str(tmp_path / "stagger.db"),
        SLACK_BOT_TOKEN="xoxb-1-2-proctoken",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=slack.url,
        STAGGER_AUDIT_KEY=AUDIT_KEY,
    )
    environment.update(extra_env)
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *arguments],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def serve(
    tmp_path: Path, slack: SlackStandIn, processes: list[subprocess.Popen[str]], *options: str
) -> tuple[subprocess.Popen[str], SlackSender]:
    """`stagger-bot serve` on a free loopback port, once its /healthz answers."""

    def launch_on(port: int) -> subprocess.Popen[str]:
        web = launch(tmp_path, slack, "serve", *options, "--host", "127.0.0.1",
                     "--port", str(port))  # fmt: skip
        processes.append(web)
        return web

    sender = start_serving(launch_on, SECRET)
    return processes[-1], sender


def query(tmp_path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(tmp_path / "stagger.db", timeout=10) as connection:
        return list(connection.execute(sql))


def test_the_scheduler_process_does_the_scheduled_work_of_the_web_process(
    tmp_path: Path, slack: SlackStandIn, processes: list[subprocess.Popen[str]]
) -> None:
    web, sender = serve(tmp_path, slack, processes, "--no-scheduler")
    for _ in range(4):  # the first try and the client's three retries
        slack.fail_next("chat.postMessage", 500)
    reply = sender.command("U0OPS1", "rollback prod --reason 'pool at 90%'").json()["text"]
    request_id = next(word.strip("`") for word in reply.split() if word.startswith("`R"))
    wait_until(lambda: query(tmp_path, "SELECT count(*) FROM outbox")[0][0] == 1,
               what="the refused post in the outbox")  # fmt: skip
    assert query(tmp_path, "SELECT value FROM meta WHERE key = 'scheduler.lease'") == []

    scheduler = launch(tmp_path, slack, "scheduler", SLACK_SIGNING_SECRET="")  # not needed
    processes.append(scheduler)

    posted = slack.wait_for(lambda call: request_id in call.text, method="chat.postMessage")
    assert posted.text.startswith("_(delayed: Slack was unavailable")
    [(lease,)] = query(tmp_path, "SELECT value FROM meta WHERE key = 'scheduler.lease'")
    assert f":{scheduler.pid}|" in str(lease)
    for process in (web, scheduler):
        process.terminate()
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 0, stderr
        assert "proctoken" not in stderr and SECRET not in stderr


def test_the_scheduler_needs_only_the_bot_token_and_names_it(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "STAGGER_"))}
    environment.update(
        STAGGER_CONFIG=str(EXAMPLE), STAGGER_DB=str(tmp_path / "s.db"), STAGGER_AUDIT_KEY=AUDIT_KEY
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "scheduler"],
        env=environment, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "set SLACK_BOT_TOKEN in the environment" in result.stderr


def test_socket_mode_answers_a_slash_command_over_the_websocket(
    tmp_path: Path, slack: SlackStandIn, processes: list[subprocess.Popen[str]]
) -> None:
    socket_mode = SocketModeStandIn()
    slack.socket_mode_url = socket_mode.url
    try:
        bot = launch(tmp_path, slack, "socket", "--no-scheduler",
                     SLACK_APP_TOKEN="xapp-1-A0APP-1-socketsecret")  # fmt: skip
        processes.append(bot)
        assert socket_mode.connected.wait(timeout=30), "the bot never connected"
        socket_mode.slash_command("envelope-1", slash_command_body("U0OPS1", "status prod"))

        ack = socket_mode.ack_for("envelope-1")

        assert "*prod* — phase *not started*" in ack["payload"]["text"]
        bot.terminate()
        _, stderr = bot.communicate(timeout=30)
        assert bot.returncode == 0, stderr
        assert "socketsecret" not in stderr and "proctoken" not in stderr
    finally:
        socket_mode.close()


def test_serve_stops_on_sigterm_though_a_client_keeps_its_connection_open(
    tmp_path: Path, slack: SlackStandIn, processes: list[subprocess.Popen[str]]
) -> None:
    web, sender = serve(tmp_path, slack, processes)
    keep_alive = http.client.HTTPConnection("127.0.0.1", sender.port, timeout=10)
    try:
        keep_alive.request("GET", "/healthz")
        assert keep_alive.getresponse().read()  # answered; the connection stays open

        web.terminate()

        _, stderr = web.communicate(timeout=20)
    finally:
        keep_alive.close()
    assert web.returncode == 0, stderr
    assert "answering the requests in flight, then stopping" in stderr
