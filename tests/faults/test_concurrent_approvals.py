"""Approve clicked on two replicas of one PostgreSQL store at the same instant, 20 rounds:
each round's rollback runs once. Half the rounds two approvers click (one approval is
enough); half one click reaches both replicas (a Slack retry landing on the other one)."""

from __future__ import annotations

import secrets
import threading
from pathlib import Path
from typing import Any

import tomli_w

from bot.rehearsal.slack_signing import HttpReply
from bot.rehearsal.slack_standin import SlackStandIn
from bot.render.blocks import APPROVE_ACTION
from tests.faults.test_replica_failover import requested, store_rows
from tests.support.bot_process import wait_until
from tests.support.replica import Replica, Replicas, replica_environment
from tests.support.spec_data import LEAD, LEAD_2, make_app_dir, spec_data

ROUNDS = 20


def at_once(clicks: list[tuple[Replica, str, str]], request_id: str, ts: str) -> list[int]:
    """Each (replica, user, trigger id) clicks Approve, all released by one barrier; the
    HTTP statuses."""
    barrier = threading.Barrier(len(clicks))
    replies: list[HttpReply] = []

    def click(replica: Replica, user: str, trigger: str) -> None:
        barrier.wait()
        replies.append(
            replica.sender.click(
                user, APPROVE_ACTION, request_id, message_ts=ts, trigger_id=trigger
            )
        )

    threads = [threading.Thread(target=click, args=arguments) for arguments in clicks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return [reply.status for reply in replies]


def outcome_posts(slack: SlackStandIn) -> list[str]:
    return [
        c.text
        for c in slack.of("chat.postMessage")
        if "Rollback of" in c.text and "verified" in c.text
    ]


def test_approve_clicked_on_both_replicas_at_the_same_instant_runs_each_rollback_once(
    tmp_path: Path, sshd: Any, slack: SlackStandIn, replicas: Replicas, leader_dsn: str
) -> None:
    app = make_app_dir(tmp_path / "app")
    data = spec_data(
        [str(sshd.host_address)], app, known_hosts=sshd.known_hosts, key_file=sshd.client_key
    )
    config = tmp_path / "stagger.toml"
    config.write_text(tomli_w.dumps(data), encoding="utf-8")
    replicas.environment = replica_environment(config, leader_dsn, slack.url)
    first, second = replicas.start(), replicas.start()

    for round_number in range(ROUNDS):
        request_id, ts = requested(first, slack, f"rollback prod --reason 'round {round_number}'")
        trigger = f"{secrets.randbelow(10**12)}.{secrets.token_hex(8)}"
        if round_number % 2:  # one click, delivered to both
            clicks = [(first, LEAD, trigger), (second, LEAD, trigger)]
        else:  # two approvers, one on each replica
            clicks = [(first, LEAD, f"{trigger}a"), (second, LEAD_2, f"{trigger}b")]
        assert at_once(clicks, request_id, ts) == [200, 200]

        def finished(request_id: str = request_id) -> bool:
            return (
                store_rows(
                    leader_dsn,
                    "SELECT 1 FROM audit WHERE action = 'rollback.finished' AND args LIKE %s",
                    f'%"{request_id}"%',
                )
                != []
            )

        wait_until(finished, what=f"round {round_number}'s rollback to finish")
        assert store_rows(
            leader_dsn,
            "SELECT action, count(*) FROM audit WHERE action LIKE 'rollback.%%' "
            "AND args LIKE %s GROUP BY action ORDER BY action",
            f'%"{request_id}"%',
        ) == [
            ("rollback.finished", 1), ("rollback.requested", 1), ("rollback.started", 1)
        ], f"round {round_number}"  # fmt: skip

        def announced(done: int = round_number + 1) -> bool:
            return len(outcome_posts(slack)) >= done

        wait_until(announced, what=f"round {round_number}'s outcome in the channel")

    assert len(outcome_posts(slack)) == ROUNDS
    assert store_rows(
        leader_dsn, "SELECT count(*) FROM audit WHERE action = 'rollback.started'"
    ) == [(ROUNDS,)]
    assert len(list(app.glob(".env.stagger-backup-*"))) <= ROUNDS
