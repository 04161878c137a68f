"""A bot in another PID namespace (a container restarted, a replica elsewhere) killed in the
middle of a rollback: the restarted bot can't see that process at all, and still the env
is free again within the lease (the spec's `[execution] lease_s`), the interruption is
posted, and the next rollback runs and is verified."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.rehearsal.slack_standin import SlackStandIn
from bot.render.blocks import APPROVE_ACTION
from tests.faults.test_crash_recovery import SLOW_RELOAD, request_and_approve
from tests.support.bot_process import OWN_PID_NAMESPACE, BotProcess, wait_until
from tests.support.spec_data import ENV_FILE, LEAD, OPERATOR, make_app_dir, spec_data

LEASE_S = 3
# Once the dead owner's lease has lapsed and the new bot answers, the env is free at the
# next request: the time a request takes, with room for a loaded machine.
ANSWER_S = 3.0


@pytest.fixture
def bots() -> Iterator[list[BotProcess]]:
    started: list[BotProcess] = []
    yield started
    for bot in started:
        bot.stop()


def test_a_bot_killed_in_another_pid_namespace_frees_the_env_within_its_lease(
    tmp_path: Path, sshd: Any, slack: SlackStandIn, bots: list[BotProcess]
) -> None:
    app = make_app_dir(tmp_path / "app", reload_script=SLOW_RELOAD)
    data = spec_data(
        [str(sshd.host_address)], app, known_hosts=sshd.known_hosts, key_file=sshd.client_key,
        verify_timeout_s=30, lease_s=LEASE_S,
    )  # fmt: skip
    first = BotProcess(tmp_path, data, slack.url, wrapper=OWN_PID_NAMESPACE)
    bots.append(first)
    first.start()
    interrupted_id = request_and_approve(first, slack)
    wait_until((app / "reloaded").exists, what="the reload on the host")
    first.kill()
    lease_lapsed_by = time.monotonic() + LEASE_S  # it renewed at most a third lease ago
    (app / "reloaded").unlink()

    second = BotProcess(tmp_path, data, slack.url)
    bots.append(second)
    sender = second.start()
    answering = time.monotonic()
    answers: list[str] = []

    def rollback_accepted() -> bool:
        answers.append(sender.command(OPERATOR, "rollback prod --reason 'again'").json()["text"])
        return answers[-1].startswith("Rollback request")

    wait_until(rollback_accepted, timeout=LEASE_S + 30, what="the env to be free again")
    free_after = time.monotonic() - max(lease_lapsed_by, answering)
    assert free_after <= ANSWER_S, f"free {free_after:.1f}s after the lease lapsed"
    assert all(f"already executing as `{interrupted_id}`" in text for text in answers[:-1])
    slack.wait_for(
        lambda call: "was interrupted" in call.text and interrupted_id in call.text,
        method="chat.postMessage",
    )
    assert second.query("SELECT status FROM approvals WHERE id = ?", interrupted_id) == [
        ("interrupted",)
    ]
    # Its owner was PID 1: the first bot ran in a PID namespace of its own.
    [(args,)] = second.query(
        "SELECT args FROM audit WHERE action = 'rollback.interrupted' AND args LIKE ?",
        f"%{interrupted_id}%",
    )
    assert json.loads(args)["owner"].split(":")[1] == "1"
    new_id = next(w.strip("`") for w in answers[-1].split() if w.startswith("`R"))
    posted = slack.wait_for(lambda c: new_id in c.text, method="chat.postMessage")
    sender.click(LEAD, APPROVE_ACTION, new_id, message_ts=posted.params["_ts"])
    wait_until(
        lambda: (
            second.query("SELECT status FROM approvals WHERE id = ?", new_id) == [("succeeded",)]
        ),
        timeout=60,
        what="the new rollback to be verified",
    )
    assert (app / ".env").read_bytes() == ENV_FILE.replace(b"ENABLED=true", b"ENABLED=false")
