"""Shared fixtures: a real sshd, a Slack Web API stand-in, signed requests, and a bot
harness that drives stagger-bot exactly as a user in Slack does."""

from __future__ import annotations

import io
import shlex
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bot.core.clock import ManualClock
from bot.core.ports import Transport
from bot.core.spec import DatabaseSpec, Spec, parse_spec
from bot.hosts.local_transport import LocalTransport
from bot.rollout.context import BotContext
from bot.runtime import build_context
from bot.settings import Settings
from bot.slack.app import build_app
from bot.slack.http_server import create_http_server, stop_http_server, wsgi_app
from bot.slack.poster import ConsolePoster, web_client
from tests.slack_requests import SlackSender
from tests.slack_standin import SlackStandIn

pytest_plugins = ["tests.ssh_fixtures", "tests.pg_fixtures"]

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-1234-5678-testtokenvalue"
OPERATOR, OPERATOR_2, LEAD, LEAD_2, STRANGER = "U0OPS1", "U0OPS2", "U0LEAD1", "U0LEAD2", "U0RANDOM"
START = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)

# Stands in for `pm2 reload`: the app re-reads its env file and logs its stagger state,
# as the runbook's backend does.
RELOAD_SCRIPT = r"""#!/bin/sh
set -e
flag=$(grep -E '^[[:space:]]*JOB_STAGGER_ENABLED=' .env | tail -1 | cut -d= -f2)
ts=$(date -u '+%Y-%m-%d %H:%M:%S.000')
if [ "$flag" = "true" ]; then state="▶️ Job stagger enabled"; else state="⏸️ Job stagger disabled"; fi
echo "$ts info: $state" >> logs/combined.log
"""

ENV_FILE = (
    b"# goalgpt production\n"
    b"NODE_ENV=production\n"
    b"DATABASE_URL=postgres://app:s3cret-pw@db.example.com:5432/goalgpt\n"
    b"JOB_STAGGER_ENABLED=true\n"
    b"JOB_STAGGER_LIVE_STATS_SYNC=1\n"
    b"LOG_LEVEL=info\n"
)


def make_app_dir(
    root: Path, env_file: bytes = ENV_FILE, reload_script: str = RELOAD_SCRIPT
) -> Path:
    (root / "logs").mkdir(parents=True, exist_ok=True)
    (root / ".env").write_bytes(env_file)
    (root / "logs" / "combined.log").write_text(
        "2026-02-01 11:59:00.000 info: ▶️ Job stagger enabled\n", encoding="utf-8"
    )
    (root / "reload.sh").write_text(reload_script, encoding="utf-8")
    return root


def spec_data(
    hosts: list[str],
    app_dir: Path | str,
    *,
    known_hosts: Path,
    key_file: Path,
    required: int = 1,
    allow_self: bool = False,
    approvers: list[str] | None = None,
    operators: list[str] | None = None,
    verify_timeout_s: float = 5,
) -> dict[str, Any]:
    """The example spec's runbook, pointed at test hosts."""
    import tomllib

    data = tomllib.loads(Path("stagger.example.toml").read_text(encoding="utf-8"))
    data["operators"] = [OPERATOR, OPERATOR_2] if operators is None else operators
    data["ssh"] = {
        "key_file": str(key_file),
        "known_hosts": str(known_hosts),
        "connect_timeout_s": 5,
        "command_timeout_s": 10,
    }
    data["flag"]["verify_timeout_s"] = verify_timeout_s
    for env in data["environments"].values():
        env["hosts"] = hosts
        env["app_dir"] = str(app_dir)
        env["reload_command"] = "sh reload.sh"
        env["approvals"] = {
            "approvers": [LEAD, LEAD_2] if approvers is None else approvers,
            "required": required,
            "allow_self": allow_self,
            "expires_after_min": 30,
        }
    return data


@dataclass
class Bot:
    """Drives stagger-bot as Slack users do: signed HTTP requests in, Web API calls out."""

    context: BotContext
    slack: SlackStandIn
    sender: SlackSender
    clock: ManualClock
    app_dir: Path
    _threads: list[threading.Thread] = field(default_factory=list)

    @property
    def store(self) -> Any:
        return self.context.store

    def command(self, user: str, text: str, **kwargs: Any) -> Any:
        return self.sender.command(user, text, **kwargs)

    def click(self, user: str, action_id: str, request_id: str, **kwargs: Any) -> Any:
        return self.sender.click(user, action_id, request_id, **kwargs)

    def request_id_from(self, text: str) -> str:
        for word in text.replace("`", " ").split():
            if word.startswith("R") and len(word) == 6 and word.isupper():
                return word
        raise AssertionError(f"no request id in {text!r}")

    def env_file(self) -> bytes:
        return (self.app_dir / ".env").read_bytes()


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    standin = SlackStandIn()
    yield standin
    standin.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def start_bot(
    tmp_path: Path,
    slack: SlackStandIn,
    clock: ManualClock,
    spec: Spec,
    app_dir: Path,
    transport: Transport | None = None,
    slack_timeout_s: int = 10,
    db_busy_timeout_s: float = 10.0,
) -> tuple[Bot, Any, threading.Thread]:
    settings = Settings.from_environ(
        {
            "STAGGER_DB": str(tmp_path / "stagger.db"),
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.url,
            "SLACK_TIMEOUT_S": str(slack_timeout_s),
            "STAGGER_DB_BUSY_TIMEOUT_S": str(db_busy_timeout_s),
        }
    )
    client = web_client(BOT_TOKEN, settings.slack_api_url, timeout=settings.slack_timeout_s)
    context = build_context(settings, spec, slack_client=client, clock=clock, transport=transport)
    executor = ThreadPoolExecutor(max_workers=8)
    app = build_app(context, SIGNING_SECRET, client, executor)
    server = create_http_server(wsgi_app(app, lambda: {"ok": True}), "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    bot = Bot(context, slack, SlackSender(server.effective_port, SIGNING_SECRET), clock, app_dir)
    return bot, (server, executor), thread


@pytest.fixture
def bot_factory(
    tmp_path: Path, slack: SlackStandIn, clock: ManualClock, sshd: Any
) -> Iterator[Any]:
    servers: list[tuple[Any, threading.Thread]] = []

    def make(
        extra_hosts: tuple[str, ...] = (),
        slack_timeout_s: int = 10,
        db_busy_timeout_s: float = 10.0,
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
        )  # fmt: skip
        servers.append((server, thread))
        return bot

    yield make
    for (server, executor), thread in servers:
        stop_http_server(server, thread)
        executor.shutdown(wait=True)  # in-flight follow-ups finish before Slack goes away


@pytest.fixture
def bot(bot_factory: Any) -> Bot:
    return bot_factory()


DSN = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True)
class JobTable:
    """An empty job_execution_logs table in its own schema of the machine's PostgreSQL."""

    spec: DatabaseSpec

    def add(
        self, job: str, started: datetime, duration_ms: float | None, status: str, error: str | None
    ) -> None:
        completed = None if duration_ms is None else started + timedelta(milliseconds=duration_ms)
        with psycopg.connect(DSN, autocommit=True) as connection:
            connection.execute(
                f"INSERT INTO {self.spec.table} (job_name, started_at, completed_at, "
                "status, error_message) VALUES (%s, %s, %s, %s, %s)",
                (job, started, completed, status, error),
            )


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
    settings = Settings.from_environ({"STAGGER_DB": str(tmp_path / "stagger.db")})
    return build_context(
        settings, spec, transport=LocalTransport(), poster=ConsolePoster(console), clock=clock
    )


def quote(text: str) -> str:
    return shlex.quote(text)
