"""`stagger-bot serve` as a real process, to kill (SIGKILL) and start again."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomli_w

from bot.rehearsal.slack_signing import SlackSender
from tests.support.spec_data import AUDIT_KEY, BOT_TOKEN, SIGNING_SECRET
from tests.support.ssh_fixtures import free_port


def wait_until(condition: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    """Poll a condition the test cannot be told about (another process's files)."""
    deadline = threading.Event()
    timer = threading.Timer(timeout, deadline.set)
    timer.start()
    try:
        while not condition():
            if deadline.wait(0.05):
                raise AssertionError(f"timed out waiting for {what or condition}")
    finally:
        timer.cancel()


def start_serving(
    launch: Callable[[int], subprocess.Popen[str]], signing_secret: str
) -> SlackSender:
    """Starts a `serve` process on a free loopback port and waits for its /healthz. Another
    process may take the port between choosing and binding it: then it tries another."""
    for _attempt in range(3):
        port = free_port()
        process = launch(port)
        sender = SlackSender(port, signing_secret)

        def answered_or_exited(
            process: subprocess.Popen[str] = process, sender: SlackSender = sender
        ) -> bool:
            if process.poll() is not None:
                return True
            try:
                return sender.get("/healthz").status == 200
            except OSError:
                return False

        wait_until(answered_or_exited, what="the bot's /healthz")
        if process.poll() is None:
            return sender
        stderr = process.communicate()[1]
        if "Address already in use" not in stderr:
            raise AssertionError(f"the bot exited at start: {stderr[-2000:]}")
    raise AssertionError("no free port for the bot after 3 tries")


# A PID namespace of its own, as a container gives its processes; the bot in it is PID 1
# there and dies with `unshare` (--kill-child), as a container's processes do.
OWN_PID_NAMESPACE = ("unshare", "--pid", "--fork", "--mount-proc", "--kill-child")


class BotProcess:
    def __init__(
        self,
        tmp: Path,
        spec: dict[str, Any],
        slack_url: str,
        wrapper: tuple[str, ...] = (),
    ) -> None:
        """`wrapper` goes before the command, e.g. `OWN_PID_NAMESPACE`."""
        self.wrapper = wrapper
        self.db = tmp / "stagger.db"
        self.config = tmp / "stagger.toml"
        self.config.write_text(tomli_w.dumps(spec), encoding="utf-8")
        self.slack_url = slack_url
        self.process: subprocess.Popen[str] | None = None
        self.sender: SlackSender | None = None

    def start(self) -> SlackSender:
        environment = {
            k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "STAGGER_"))
        }
        environment.update(
            STAGGER_CONFIG=str(self.config),
            STAGGER_DB=str(self.db),
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=self.slack_url,
            STAGGER_AUDIT_KEY=AUDIT_KEY,
        )

        def launch(port: int) -> subprocess.Popen[str]:
            self.process = subprocess.Popen(
                [*self.wrapper, sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1",
                 "--port", str(port)],
                env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            return self.process

        self.sender = start_serving(launch, SIGNING_SECRET)
        return self.sender

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.communicate(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.communicate(timeout=30)

    def query(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.db, timeout=10) as connection:
            return list(connection.execute(sql, args))
