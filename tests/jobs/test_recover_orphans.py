"""Work whose owner went away is found while the bot runs: a rollback another process was
executing when it died is reported interrupted once its lease lapses, not at the next
restart, wherever that process ran; work whose owner renews its lease is left to it."""

from __future__ import annotations

from bot.core.approvals import Status
from jobs import recover_orphans
from tests.support.bot_process import wait_until
from tests.support.executions import claim_elsewhere, claim_here
from tests.support.other_process import CLAIM_EXECUTION, another_process
from tests.support.rollout_state import request_rollback
from tests.support.served_bot import Bot


def test_a_rollback_whose_process_died_is_reported_interrupted_while_the_bot_runs(
    bot: Bot,
) -> None:
    request_id = request_rollback(bot)
    with another_process(CLAIM_EXECUTION, bot.store.path, request_id):
        assert recover_orphans.run(bot.context, bot.clock.now()) == 0
        assert bot.request(request_id).status is Status.EXECUTING
    # The other process has died mid-rollback: its lease lapses within a second.

    wait_until(lambda: recover_orphans.run(bot.context, bot.clock.now()) == 1)

    assert bot.request(request_id).status is Status.INTERRUPTED
    bot.slack.wait_for(
        lambda call: "was interrupted" in call.text and request_id in call.text,
        method="chat.postMessage",
    )


def test_this_processes_own_execution_in_flight_is_left_alone(bot: Bot) -> None:
    request_id = request_rollback(bot)
    claim_here(bot.store, request_id)

    assert recover_orphans.run(bot.context, bot.clock.now()) == 0

    assert bot.request(request_id).status is Status.EXECUTING


def test_work_of_a_process_in_another_pid_namespace_is_left_while_its_lease_is_fresh(
    bot: Bot,
) -> None:
    request_id = request_rollback(bot)
    claim_elsewhere(bot.store, request_id, lease_left_s=3600)

    assert recover_orphans.run(bot.context, bot.clock.now()) == 0

    assert bot.request(request_id).status is Status.EXECUTING


def test_work_of_a_process_in_another_pid_namespace_is_recovered_once_its_lease_lapsed(
    bot: Bot,
) -> None:
    request_id = request_rollback(bot)
    claim_elsewhere(bot.store, request_id, lease_left_s=-1)  # a restarted container's

    assert recover_orphans.run(bot.context, bot.clock.now()) == 1

    assert bot.request(request_id).status is Status.INTERRUPTED
    assert (
        bot.command("U0OPS1", "rollback prod --reason again")
        .json()["text"]
        .startswith("Rollback request")
    )
