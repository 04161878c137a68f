"""Three hosts of their own on one real sshd (127.0.0.1, .2, .3 on loopback), each with
its own app dir (`app_dir = .../{host}`), and a bot whose staging env tiers them: the
first host is the canary, then one host per batch."""

from __future__ import annotations

import copy
import getpass
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.core.clock import ManualClock
from bot.core.spec import parse_spec
from bot.rehearsal.slack_standin import SlackStandIn
from bot.slack.http_server import stop_http_server
from tests.support.served_bot import Bot, start_bot
from tests.support.spec_data import make_app_dir, spec_data

ADDRESSES = ("127.0.0.1", "127.0.0.2", "127.0.0.3")
FAILING_RELOAD = "echo '[PM2][ERROR] Process or Namespace not found' >&2; exit 1\n"


@dataclass
class TieredFleet:
    hosts: tuple[str, ...]
    root: Path
    # make_bot(**keys): a bot whose staging env has these keys too (rollback_in_tiers=True).
    make_bot: Callable[..., Bot]
    bots: list[Bot] = field(default_factory=list)

    def app_dir(self, host: str) -> Path:
        return self.root / host.split("@")[1].split(":")[0]

    def env_file(self, host: str) -> bytes:
        return (self.app_dir(host) / ".env").read_bytes()

    def break_reload(self, host: str) -> None:
        (self.app_dir(host) / "reload.sh").write_text(FAILING_RELOAD, encoding="utf-8")

    def fix_reload(self, host: str, script: str) -> None:
        (self.app_dir(host) / "reload.sh").write_text(script, encoding="utf-8")


@pytest.fixture
def tiered_fleet(
    tmp_path: Path, slack: SlackStandIn, clock: ManualClock, sshd_factory: Callable[..., Any]
) -> Iterator[TieredFleet]:
    server = sshd_factory("tiers", listen=ADDRESSES)
    hosts = tuple(f"{getpass.getuser()}@{address}:{server.port}" for address in ADDRESSES)
    root = tmp_path / "hosts"
    for address in ADDRESSES:
        make_app_dir(root / address)
    data = spec_data(
        list(hosts), f"{root}/{{host}}", known_hosts=server.known_hosts, key_file=server.client_key
    )
    data["environments"]["staging"].update(canary=[hosts[0]], max_parallel=1, canary_soak_min=5)
    servers: list[tuple[Any, threading.Thread]] = []

    def make_bot(**keys: Any) -> Bot:
        tiered = copy.deepcopy(data)
        tiered["environments"]["staging"].update(keys)
        spec = parse_spec(tiered)
        bot, served, thread = start_bot(tmp_path, slack, clock, spec, root / ADDRESSES[0])
        servers.append((served, thread))
        return bot

    yield TieredFleet(hosts, root, make_bot)
    for (http, executor), thread in servers:
        stop_http_server(http, thread)
        executor.shutdown(wait=True)
