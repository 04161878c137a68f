"""An execution's time limit grows with its tiers: a rollback batched one host at a time
keeps its lease (and the env) until its last batch is written, over real SSH to three
hosts, while the orphan sweep runs — instead of being reported interrupted mid-run — and
a rollback waiting for it waits that long too."""

from __future__ import annotations

import copy
import getpass
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import bot.core.time_limits as time_limits
from bot.core.approvals import Status
from bot.core.clock import ManualClock
from bot.core.spec import parse_spec
from bot.rehearsal.slack_standin import SlackStandIn
from bot.render.blocks import APPROVE_ACTION
from bot.slack.http_server import stop_http_server
from jobs import recover_orphans
from tests.rollout.test_break_glass import ONCALL
from tests.support.bot_process import wait_until
from tests.support.rollout_state import request_rollback
from tests.support.served_bot import Bot, start_bot
from tests.support.spec_data import LEAD, RELOAD_SCRIPT, make_app_dir, spec_data
from tests.support.tiered_fleet import ADDRESSES

# Each host's reload takes a while (as pm2 reloads do), well within its command timeout.
SLOW_RELOAD = RELOAD_SCRIPT.replace("set -e\n", "set -e\nsleep 3\n")


@pytest.fixture
def slow_fleet(
    tmp_path: Path, slack: SlackStandIn, clock: ManualClock, sshd_factory: Callable[..., Any]
) -> Iterator[tuple[Bot, Path]]:
    """A bot whose staging env rolls back in three tiers of one host, each reload ~3 s,
    with timeouts whose one-tier sum (7 s) is shorter than the three tiers take."""
    server = sshd_factory("tiers", listen=ADDRESSES)
    hosts = [f"{getpass.getuser()}@{address}:{server.port}" for address in ADDRESSES]
    root = tmp_path / "hosts"
    for address in ADDRESSES:
        make_app_dir(root / address, reload_script=SLOW_RELOAD)
    data = spec_data(
        hosts,
        f"{root}/{{host}}",
        known_hosts=server.known_hosts,
        key_file=server.client_key,
        verify_timeout_s=1,
        lease_s=0.6,
    )
    data["ssh"].update(connect_timeout_s=2, command_timeout_s=4)
    staging = copy.deepcopy(data["environments"]["staging"])
    staging.update(canary=[hosts[0]], max_parallel=1, canary_soak_min=0, rollback_in_tiers=True)
    data["environments"]["staging"] = staging
    bot, served, thread = start_bot(tmp_path, slack, clock, parse_spec(data), root / ADDRESSES[0])
    yield bot, root
    http, executor = served
    stop_http_server(http, thread)
    executor.shutdown(wait=True)


def test_a_rollback_in_three_batches_keeps_the_env_until_its_last_batch_is_written(
    slow_fleet: tuple[Bot, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    bot, root = slow_fleet
    # One tier's bound, 2 s connect + 4 s command + 1 s verify = 7 s: shorter than three.
    monkeypatch.setattr(time_limits, "FLAG_CHANGE_COMMANDS", 1)
    monkeypatch.setattr(time_limits, "EXECUTION_MARGIN_S", 0.0)
    request_id = request_rollback(bot, "rollback staging --reason 'errors up'")

    bot.click(LEAD, APPROVE_ACTION, request_id)

    def ended_while_swept() -> bool:
        recover_orphans.run(bot.context, bot.clock.now())
        return bot.request(request_id).status not in (Status.PENDING, Status.EXECUTING)

    wait_until(ended_while_swept, timeout=90, what="the rollback to end")
    assert bot.request(request_id).status is Status.SUCCEEDED
    bot.slack.wait_for(
        lambda call: "verified on all 3 host(s)" in call.text, method="chat.postMessage"
    )
    posts = [call.text for call in bot.slack.of("chat.postMessage")]
    assert not [text for text in posts if "interrupted" in text or "went on" in text]
    for address in ADDRESSES:
        assert b"JOB_STAGGER_ENABLED=false" in (root / address / ".env").read_bytes()


def test_a_break_glass_waits_for_a_batched_rollback_to_its_last_batch_then_runs(
    slow_fleet: tuple[Bot, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    bot, root = slow_fleet
    monkeypatch.setattr(time_limits, "FLAG_CHANGE_COMMANDS", 1)
    monkeypatch.setattr(time_limits, "EXECUTION_MARGIN_S", 0.0)
    bot.context.spec = bot.context.spec.model_copy(update={"break_glass": [ONCALL]})
    job_rollback = request_rollback(bot, "rollback staging live-stats-sync --reason 'sync lag'")
    bot.click(LEAD, APPROVE_ACTION, job_rollback)
    wait_until(lambda: bot.request(job_rollback).status is Status.EXECUTING)

    text = bot.command(ONCALL, "rollback staging --now --reason 'pool at 95%'").json()["text"]

    assert f"Waiting first for `{job_rollback}`" in text
    break_glass = bot.request_id_from(text.replace(job_rollback, ""))

    def ended_while_swept() -> bool:
        recover_orphans.run(bot.context, bot.clock.now())
        return bot.request(break_glass).status not in (Status.PENDING, Status.EXECUTING)

    wait_until(ended_while_swept, timeout=120, what="the break-glass to end")
    assert bot.request(job_rollback).status is Status.SUCCEEDED
    assert bot.request(break_glass).status is Status.SUCCEEDED
    trail = [
        (row["action"], json.loads(str(row["args"])).get("request"))
        for row in reversed(bot.context.audit.latest("staging", 500))  # oldest first
    ]
    assert trail.index(("rollback.finished", job_rollback)) < trail.index(
        ("rollback.started", break_glass)
    )
    for address in ADDRESSES:
        env_file = (root / address / ".env").read_bytes()
        assert b"JOB_STAGGER_ENABLED=false" in env_file
        assert b"JOB_STAGGER_LIVE_STATS_SYNC=0" in env_file
