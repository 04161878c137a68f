"""Work a dead process left behind is found while the bot runs: a rollback another process
was executing when it died is reported interrupted within a minute, not at the next
restart; work of a live process (this one, another) is left to it."""

from __future__ import annotations

from bot.core.approvals import Status
from jobs import recover_orphans
from tests.support.other_process import CLAIM_EXECUTION, another_process
from tests.support.rollout_state import request_rollback
from tests.support.served_bot import Bot


def test_a_rollback_whose_process_died_is_reported_interrupted_while_the_bot_runs(
    bot: Bot,
) -> None:
    request_id = request_rollback(bot)
    with another_process(CLAIM_EXECUTION, bot.store.path, request_id):
        assert recover_orphans.run(bot.context, bot.clock.now()) == 0
        assert bot.store.request(request_id).status is Status.EXECUTING
    # The other process has died mid-rollback.

    assert recover_orphans.run(bot.context, bot.clock.now()) == 1

    assert bot.store.request(request_id).status is Status.INTERRUPTED
    bot.slack.wait_for(
        lambda call: "was interrupted" in call.text and request_id in call.text,
        method="chat.postMessage",
    )


def test_this_processes_own_execution_in_flight_is_left_alone(bot: Bot) -> None:
    request_id = request_rollback(bot)
    assert bot.store.transition(request_id, (Status.PENDING,), Status.EXECUTING)

    assert recover_orphans.run(bot.context, bot.clock.now()) == 0

    assert bot.store.request(request_id).status is Status.EXECUTING


def test_work_of_a_process_in_another_pid_namespace_is_taken_to_be_alive(bot: Bot) -> None:
    request_id = request_rollback(bot)
    assert bot.store.transition(request_id, (Status.PENDING,), Status.EXECUTING)
    with bot.store.transaction() as db:  # as another container sharing the volume wrote it
        db.execute(
            "UPDATE approvals SET executor = ? WHERE id = ?", ["1:4242:[4026599999]", request_id]
        )

    assert recover_orphans.run(bot.context, bot.clock.now()) == 0

    assert bot.store.request(request_id).status is Status.EXECUTING
