"""`/stagger recover <id>`: an operator who knows an execution's owner is gone frees its env
once the owner's lease has lapsed — never while the owner may still be working."""

from __future__ import annotations

from bot.core.approvals import Status
from tests.support.executions import claim_elsewhere
from tests.support.rollout_state import request_rollback
from tests.support.served_bot import Bot
from tests.support.spec_data import OPERATOR


def audited(bot: Bot, action: str) -> list[dict[str, object]]:
    return [row for row in bot.context.audit.latest("prod", 20) if row["action"] == action]


def test_recover_is_refused_while_the_owner_holds_a_fresh_lease(bot: Bot) -> None:
    request_id = request_rollback(bot)
    claim_elsewhere(bot.store, request_id, lease_left_s=3600)

    text = bot.command(OPERATOR, f"recover {request_id}").json()["text"]

    assert "still being executed" in text and "other-container" in text
    assert bot.request(request_id).status is Status.EXECUTING
    [refusal] = [
        r for r in bot.context.audit.latest("prod", 20) if r["action"] == "recover.refused"
    ]
    assert refusal["actor"] == OPERATOR
    # The env is still busy: a new request for it is told what executes.
    again = bot.command(OPERATOR, "rollback prod --reason 'still busy?'").json()["text"]
    assert f"already executing as `{request_id}`" in again


def test_recover_after_the_lease_lapsed_frees_the_env_and_says_so(bot: Bot) -> None:
    request_id = request_rollback(bot)
    claim_elsewhere(bot.store, request_id, lease_left_s=-1)

    text = bot.command(OPERATOR, f"recover {request_id}").json()["text"]

    assert f"Recovered `{request_id}`" in text
    assert bot.request(request_id).status is Status.INTERRUPTED
    bot.slack.wait_for(
        lambda call: "was interrupted" in call.text and f"Recovered by <@{OPERATOR}>" in call.text,
        method="chat.postMessage",
    )
    [entry] = [
        r for r in bot.context.audit.latest("prod", 20) if r["action"] == "rollback.interrupted"
    ]
    assert entry["actor"] == OPERATOR
    assert (
        bot.command(OPERATOR, "rollback prod --reason 'again'")
        .json()["text"]
        .startswith("Rollback request")
    )


def test_recover_of_a_request_that_is_not_executing_names_its_status(bot: Bot) -> None:
    request_id = request_rollback(bot)

    text = bot.command(OPERATOR, f"recover {request_id}").json()["text"]

    assert f"`{request_id}` is pending, not executing" in text
    assert bot.request(request_id).status is Status.PENDING
