"""`stagger-bot serve` replicas as real processes on one store (STAGGER_DB: a PostgreSQL
DSN of the test's own schema), each on its own loopback port with the Slack stand-in as
its Web API; started, SIGKILLed and stopped as a platform does.

Fixture `replicas`: a `Replicas` whose `start()` launches one more; every process it
started is stopped at teardown.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.rehearsal.slack_signing import SlackSender
from tests.support.bot_process import wait_until
from tests.support.spec_data import AUDIT_KEY, BOT_TOKEN, SIGNING_SECRET
from tests.support.ssh_fixtures import free_port


def replica_environment(config: Path, store: str, slack_url: str, **extra: str) -> dict[str, str]:
    """A replica's environment: the test's spec, store and Slack, nothing of the caller's."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "STAGGER_"))}
    environment.update(
        STAGGER_CONFIG=str(config),
        STAGGER_DB=store,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack_url,
        STAGGER_AUDIT_KEY=AUDIT_KEY,
        **extra,
    )
    return environment


@dataclass
class Replica:
    process: subprocess.Popen[str]
    sender: SlackSender
    log: Path  # its stderr: a file, as a pipe nobody reads while it runs would fill and block

    @property
    def name(self) -> str:
        """How the store names this process as the scheduler's leader."""
        return f"{socket.gethostname()}:{self.process.pid}"

    def health(self) -> dict[str, Any]:
        reply = self.sender.get("/healthz")
        report: dict[str, Any] = reply.json()
        report["status"] = reply.status
        return report

    def role(self) -> str:
        return str(self.health()["role"])

    def kill(self) -> None:
        """SIGKILL: no shutdown, no lock released; the store's session just ends."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> str:
        """SIGTERM, as a platform stops a replica; what it logged."""
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=30)
        return self.log.read_text(encoding="utf-8", errors="replace")


@dataclass
class Replicas:
    folder: Path
    environment: dict[str, str] = field(default_factory=dict)
    started: list[Replica] = field(default_factory=list)

    def launch(self, port: int) -> Replica:
        """A replica on `port`, not yet answering."""
        log = self.folder / f"replica-{len(self.started) + 1}-{port}.log"
        with log.open("w", encoding="utf-8") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1",
                 "--port", str(port)],
                env=self.environment, stdout=subprocess.DEVNULL, stderr=stderr, text=True,
            )  # fmt: skip
        replica = Replica(process, SlackSender(port, SIGNING_SECRET), log)
        self.started.append(replica)
        return replica

    def start(self) -> Replica:
        """A replica answering /healthz with 200 (another process may take the port
        between choosing and binding it: then it tries another)."""
        for _attempt in range(3):
            replica = self.launch(free_port())

            def up(replica: Replica = replica) -> bool:
                if replica.process.poll() is not None:
                    return True
                try:
                    return replica.sender.get("/healthz").status == 200
                except OSError:
                    return False

            wait_until(up, what="the replica's /healthz")
            if replica.process.poll() is None:
                return replica
            logged = replica.log.read_text(encoding="utf-8", errors="replace")
            if "Address already in use" not in logged:
                raise AssertionError(f"the replica exited at start: {logged[-2000:]}")
        raise AssertionError("no free port for the replica after 3 tries")

    def close(self) -> None:
        for replica in self.started:
            if replica.process.poll() is None:
                replica.process.kill()
                replica.process.wait(timeout=10)


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[Replicas]:
    """Set `.environment` (see `replica_environment`) before the first `start()`."""
    started = Replicas(tmp_path)
    try:
        yield started
    finally:
        started.close()
