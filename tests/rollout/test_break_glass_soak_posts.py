"""A break-glass rollback during a canary soak spends its three posts before its outcome
(the soak's cancel notice, the announcement, the progress): a failed outcome is still an
alarm of its own, broadcast, and the progress message shows where each host ended."""

from __future__ import annotations

import copy
import getpass
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.clock import ManualClock
from bot.core.spec import parse_spec
from bot.rehearsal.slack_standin import SlackStandIn
from bot.slack.http_server import stop_http_server
from tests.rollout.test_canary_tiers import approve_to_soak
from tests.support.served_bot import Bot, start_bot
from tests.support.spec_data import OPERATOR, make_app_dir, spec_data
from tests.support.tiered_fleet import ADDRESSES, TieredFleet


@pytest.fixture
def break_glass_fleet(
    tmp_path: Path, slack: SlackStandIn, clock: ManualClock, sshd_factory: Callable[..., Any]
) -> Iterator[TieredFleet]:
    """The tiered fleet (a canary, then one host per batch), with OPERATOR on break-glass."""
    server = sshd_factory("tiers", listen=ADDRESSES)
    hosts = tuple(f"{getpass.getuser()}@{address}:{server.port}" for address in ADDRESSES)
    root = tmp_path / "hosts"
    for address in ADDRESSES:
        make_app_dir(root / address)
    data = spec_data(
        list(hosts), f"{root}/{{host}}", known_hosts=server.known_hosts, key_file=server.client_key
    )
    data["environments"]["staging"].update(canary=[hosts[0]], max_parallel=1, canary_soak_min=5)
    data["break_glass"] = [OPERATOR]
    servers: list[tuple[Any, threading.Thread]] = []

    def make_bot(**keys: Any) -> Bot:
        tiered = copy.deepcopy(data)
        tiered["environments"]["staging"].update(keys)
        bot, served, thread = start_bot(
            tmp_path, slack, clock, parse_spec(tiered), root / ADDRESSES[0]
        )
        servers.append((served, thread))
        return bot

    yield TieredFleet(hosts, root, make_bot)
    for (http, executor), thread in servers:
        stop_http_server(http, thread)
        executor.shutdown(wait=True)


def test_a_break_glass_rollback_failing_during_a_soak_is_broadcast_and_its_progress_kept(
    break_glass_fleet: TieredFleet,
) -> None:
    fleet = break_glass_fleet
    bot = fleet.make_bot()
    approve_to_soak(bot)
    broken = fleet.hosts[2]
    fleet.break_reload(broken)

    bot.command(OPERATOR, "rollback staging --now --reason 'pool at 90%'")

    outcome = bot.slack.wait_for(
        lambda call: "Break-glass rollback of staging FAILED" in call.text,
        method="chat.postMessage",
    )
    assert outcome.params["reply_broadcast"] in (True, "1", "true")
    progress = bot.slack.wait_for(
        lambda call: call.text.startswith(":gear: Rolling back staging"),
        method="chat.postMessage",
    )
    assert outcome.params["thread_ts"] == progress.params["thread_ts"]
    last = [c for c in bot.slack.of("chat.update") if c.params["ts"] == progress.params["_ts"]]
    assert last and f":x: `{broken}`" in last[-1].text
    assert "FAILED" not in last[-1].text and "not started" not in last[-1].text
