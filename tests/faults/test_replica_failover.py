"""Two `serve` replicas on one PostgreSQL store with a real sshd host: the leader is
SIGKILLed while a phase runs, the other takes the leadership and runs the due checkpoint,
no checkpoint slot is posted twice, a rollback asked on one replica and approved on
another runs once and is verified on the host, and the audit trail is one chain."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
import tomli_w

from bot.rehearsal.slack_standin import ApiCall, SlackStandIn
from bot.render.blocks import APPROVE_ACTION
from tests.support.bot_process import wait_until
from tests.support.replica import Replica, Replicas, replica_environment
from tests.support.spec_data import LEAD, LEAD_2, OPERATOR, make_app_dir, spec_data

pytestmark = pytest.mark.long


def store_rows(dsn: str, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as connection:
        return connection.execute(sql, args).fetchall()


def requested(replica: Replica, slack: SlackStandIn, text: str) -> tuple[str, str]:
    """The request `text` asked for on `replica`, and the ts of its approval message."""
    seen = len(slack.calls)
    replica.sender.command(OPERATOR, text)
    posted = slack.wait_for(
        lambda c: slack.calls.index(c) >= seen and APPROVE_ACTION in str(c.blocks),
        method="chat.postMessage",
    )
    found = re.search(r"\bR[A-Z0-9]{5}\b", posted.all_text())
    assert found, posted.all_text()
    return found.group(0), str(posted.params["_ts"])


def checkpoint_posts(slack: SlackStandIn) -> list[ApiCall]:
    return [c for c in slack.of("chat.postMessage") if "KPI checkpoint" in c.text]


def one_leader(pair: tuple[Replica, Replica]) -> tuple[Replica, Replica]:
    wait_until(lambda: sorted(r.role() for r in pair) == ["follower", "leader"], timeout=30,
               what="one replica leading, the other following")  # fmt: skip
    leader, follower = sorted(pair, key=lambda replica: replica.role() != "leader")
    return leader, follower


def test_the_leader_killed_mid_phase_hands_over_without_a_double_post_or_a_double_rollback(
    tmp_path: Path, sshd: Any, slack: SlackStandIn, replicas: Replicas, leader_dsn: str
) -> None:
    app = make_app_dir(tmp_path / "app")
    data = spec_data(
        [str(sshd.host_address)], app, known_hosts=sshd.known_hosts, key_file=sshd.client_key,
        lease_s=2,
    )  # fmt: skip
    data["checkpoints"] = {"cron": "* * * * *", "grace_min": 30}
    config = tmp_path / "stagger.toml"
    config.write_text(tomli_w.dumps(data), encoding="utf-8")
    replicas.environment = replica_environment(
        config, leader_dsn, slack.url, STAGGER_CHECKPOINTS_EVERY_S="2"
    )
    leader, follower = one_leader((replicas.start(), replicas.start()))

    phase, ts = requested(leader, slack, "phase prod-stagger --force --reason 'replica test'")
    follower.sender.click(LEAD, APPROVE_ACTION, phase, message_ts=ts)
    leader.sender.click(LEAD_2, APPROVE_ACTION, phase, message_ts=ts)  # forced: two approve
    slack.wait_for(lambda c: "KPI checkpoint" in c.text and "prod-stagger" in c.text, timeout=90)
    wait_until(lambda: store_rows(leader_dsn, "SELECT 1 FROM checkpoints") != [],
               what="the leader recording its checkpoint")  # fmt: skip
    posted_before = len(checkpoint_posts(slack))

    leader.kill()

    wait_until(lambda: follower.role() == "leader", timeout=30,
               what="the surviving replica holding the leadership")  # fmt: skip
    assert follower.health()["leader"] == follower.name
    assert "is now the scheduler leader" in follower.log.read_text(encoding="utf-8")
    wait_until(lambda: len(checkpoint_posts(slack)) > posted_before, timeout=75,
               what="the new leader posting the next checkpoint")  # fmt: skip
    slots = store_rows(leader_dsn, "SELECT slot, message_ts FROM checkpoints ORDER BY slot")
    posted = [str(c.params["_ts"]) for c in checkpoint_posts(slack)]
    assert len({slot for slot, _ts in slots}) == len(slots) == len(posted)
    assert sorted(posted) == sorted(message_ts for _slot, message_ts in slots)

    newcomer = replicas.start()  # the platform's replacement for the killed one
    assert newcomer.role() == "follower" and newcomer.health()["leader"] == follower.name
    rollback, ts = requested(follower, slack, "rollback prod --reason 'pool at 90%'")
    newcomer.sender.click(LEAD_2, APPROVE_ACTION, rollback, message_ts=ts)
    outcome = slack.wait_for(lambda c: "Rollback of" in c.text and "verified" in c.text, timeout=60)
    assert [c for c in slack.of("chat.postMessage") if "Rollback of" in c.text] == [outcome]
    started = store_rows(
        leader_dsn,
        "SELECT count(*) FROM audit WHERE action = 'rollback.started' AND args LIKE %s",
        f'%"{rollback}"%',
    )
    assert started == [(1,)]
    assert b"JOB_STAGGER_ENABLED=false\n" in (app / ".env").read_bytes()

    verified = subprocess.run(
        [sys.executable, "-m", "bot.cli", "audit", "verify"],
        env=replicas.environment, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "chain intact" in verified.stdout
    assert store_rows(leader_dsn, "SELECT count(DISTINCT chain) FROM audit") == [(1,)]
