"""The fixtures every test may ask for: the Slack stand-in, a manual clock, the bot
served over HTTP (`bot`, `bot_factory`), a job table, and a context with no Slack or SSH."""

from __future__ import annotations

import io
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from bot.core.clock import ManualClock
from bot.core.spec import parse_spec
from bot.core.spec_fleet import DatabaseSpec
from bot.hosts.local_transport import LocalTransport
from bot.rehearsal.slack_standin import SlackStandIn
from bot.rollout.context import BotContext
from bot.runtime import build_context
from bot.settings import Settings
from bot.slack.http_server import stop_http_server
from bot.slack.poster import ConsolePoster
from tests.support.job_table import DSN, JobTable
from tests.support.served_bot import Bot, start_bot
from tests.support.spec_data import AUDIT_KEY, START, make_app_dir, spec_data

if TYPE_CHECKING:
    # Imported for the annotation only: ssh_fixtures is a plugin of its own (conftest), and
    # a plugin imported before pytest registers it is not assertion-rewritten.
    from tests.support.ssh_fixtures import SshdServer


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    standin = SlackStandIn()
    yield standin
    standin.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def bot_factory(
    tmp_path: Path, slack: SlackStandIn, clock: ManualClock, sshd: SshdServer
) -> Iterator[Callable[..., Bot]]:
    servers: list[tuple[Any, threading.Thread]] = []

    def make(
        extra_hosts: tuple[str, ...] = (),
        slack_timeout_s: int = 10,
        db_busy_timeout_s: float = 10.0,
        environ: dict[str, str] | None = None,
        **spec_options: Any,
    ) -> Bot:
        app_dir = make_app_dir(tmp_path / "host")
        spec = parse_spec(
            spec_data(
                [str(sshd.host_address), *extra_hosts],
                app_dir,
                known_hosts=sshd.known_hosts,
                key_file=sshd.client_key,
                **spec_options,
            )
        )
        bot, server, thread = start_bot(
            tmp_path, slack, clock, spec, app_dir,
            slack_timeout_s=slack_timeout_s, db_busy_timeout_s=db_busy_timeout_s,
            environ=environ,
        )  # fmt: skip
        servers.append((server, thread))
        return bot

    yield make
    for (server, executor), thread in servers:
        stop_http_server(server, thread)
        executor.shutdown(wait=True)  # in-flight follow-ups finish before Slack goes away


@pytest.fixture
def bot(bot_factory: Callable[..., Bot]) -> Bot:
    return bot_factory()


@pytest.fixture
def job_table() -> Iterator[JobTable]:
    name = f"stagger_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(DSN, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {name}")
        connection.execute(
            f"CREATE TABLE {name}.job_execution_logs (id serial, job_name text, "
            "started_at timestamptz, completed_at timestamptz, status text, "
            "error_message text, metadata jsonb)"
        )
    yield JobTable(DatabaseSpec(table=f"{name}.job_execution_logs"))
    with psycopg.connect(DSN, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA {name} CASCADE")


@pytest.fixture
def console() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def context(tmp_path: Path, clock: ManualClock, console: io.StringIO) -> BotContext:
    """The handlers with a console poster and a local shell: no Slack, no SSH."""
    spec = parse_spec(
        spec_data(
            ["sim@prod-1.example.com"],
            tmp_path / "app",
            known_hosts=tmp_path / "known_hosts",
            key_file=tmp_path / "key",
        )
    )
    settings = Settings.from_environ(
        {"STAGGER_DB": str(tmp_path / "stagger.db"), "STAGGER_AUDIT_KEY": AUDIT_KEY}
    )
    return build_context(
        settings, spec, transport=LocalTransport(), poster=ConsolePoster(console), clock=clock
    )
