"""The Bolt app behind /slack/events: a command is answered from the store whatever the
Web API is doing, every text a user can type reaches the `/stagger` handler, and with
SLACK_TEAM_ID and SLACK_APP_ID set, a request from another workspace or app is refused."""

from __future__ import annotations

import logging
import time
import urllib.parse
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.core.replies import Invocation
from bot.rehearsal.slack_signing import block_action_body, slash_command_body
from bot.render.blocks import APPROVE_ACTION
from bot.store.outbox import Outbox
from commands import dispatch
from jobs import deliver_outbox
from tests.support.bot_process import wait_until
from tests.support.served_bot import Bot
from tests.support.spec_data import LEAD, OPERATOR

# Slack shows "the app did not respond" to a command unanswered this long.
SLACK_DEADLINE_S = 3.0


def test_with_the_web_api_unreachable_status_is_answered_within_slacks_deadline(
    bot: Bot,
) -> None:
    bot.slack.go_down()

    started = time.monotonic()
    reply = bot.command(OPERATOR, "status")
    took = time.monotonic() - started

    assert reply.status == 200, reply.body
    assert "Rollout: *not started*; first phase staging-baseline" in reply.json()["text"]
    assert took < SLACK_DEADLINE_S


def test_with_the_web_api_unreachable_a_rollback_request_waits_in_the_outbox_until_it_is_back(
    bot: Bot,
) -> None:
    bot.slack.go_down()

    reply = bot.command(OPERATOR, "rollback prod --reason 'pool at 90%'")

    assert reply.status == 200, reply.body
    request_id = bot.request_id_from(reply.json()["text"])
    outbox = Outbox(bot.store)
    wait_until(lambda: bool(outbox.pending()), what="the request's post in the outbox")
    assert bot.slack.of("chat.postMessage") == []
    bot.slack.come_back()
    assert deliver_outbox.run(bot.context, bot.clock.now()) == 1
    posted = bot.slack.wait_for(lambda call: request_id in call.text, method="chat.postMessage")
    assert posted.blocks, "the delivered request keeps its buttons"


def test_a_button_is_answered_with_the_web_api_failing(bot: Bot) -> None:
    for _ in range(4):  # the first try and the ServerErrorRetryHandler's three retries
        bot.slack.fail_next("auth.test", 500)

    reply = bot.click(LEAD, APPROVE_ACTION, "R00000")

    assert reply.status == 200, reply.body
    answer = bot.slack.wait_for(lambda call: True, method="chat.postEphemeral")
    assert "There is no request `R00000`" in answer.text


# -- every text reaches the handler -----------------------------------------------------

# What Bolt's own body parsing tripped on (a form body containing "payload" was taken for
# a button's), and what a form encoding or a shell reading could.
AWKWARD = ["payload", "payload=", "&", "=", "%", "%26", "+", "\n", "\r\n", "'", '"', "{", "}"]
ANY_TEXT = st.lists(
    st.one_of(
        st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40),
        st.sampled_from(AWKWARD),
    ),
    max_size=8,
).map("".join)
# `deny <word>` answers with the word it was given (no such request): what the handler
# read is in the answer, character for character.
TEXTS = st.one_of(ANY_TEXT, ANY_TEXT.map(lambda text: f"deny {text}"))


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=TEXTS)
@example(text="deny R00000 payload queue backed up")
@example(text="payload")
@example(text='deny \'payload={"type": "block_actions"}\' &x=%41')
def test_any_text_a_user_types_reaches_the_command_handler_as_typed(bot: Bot, text: str) -> None:
    reply = bot.command(OPERATOR, text)

    assert reply.status == 200, (text, reply.status, reply.body)
    expected = dispatch(
        bot.context, Invocation(user=OPERATOR, text=text, source="slack", channel="C0ROLLOUT")
    )
    assert reply.json()["text"] == expected.text


def test_a_reason_with_the_word_payload_requests_the_rollback(bot: Bot) -> None:
    reply = bot.command(OPERATOR, "rollback staging --reason 'payload queue backed up'")

    assert reply.status == 200, reply.body
    request_id = bot.request_id_from(reply.json()["text"])
    bot.slack.wait_for(lambda call: request_id in call.text, method="chat.postMessage")
    requested = next(
        row
        for row in bot.context.audit.latest("staging", 10)
        if row["action"] == "rollback.requested"
    )
    assert requested["detail"] == "payload queue backed up"


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        ("", "the request body could not be read"),
        ("{not json", "the request body could not be read"),
        ("[1, 2]", "the request body could not be read"),
        ('{"type": "block_actions"}', "unhandled request"),
    ],
)
def test_a_signed_payload_the_bot_cannot_use_gets_a_4xx_that_says_why(
    bot: Bot, payload: str, why: str
) -> None:
    reply = bot.sender.send(urllib.parse.urlencode({"payload": payload}))

    assert 400 <= reply.status < 500
    assert why in reply.body


# -- only this workspace's app --------------------------------------------------------


@pytest.fixture
def own_bot(bot_factory: Callable[..., Bot]) -> Bot:
    return bot_factory(environ={"SLACK_TEAM_ID": "T0TEAM", "SLACK_APP_ID": "A0APP"})


def test_a_command_from_another_workspace_is_refused_and_logged_once(
    own_bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.slack.app")
    body = slash_command_body(OPERATOR, "rollback prod --reason x", team_id="T0OTHER")

    reply = own_bot.sender.send(body)

    assert reply.status == 403
    assert "another workspace" in reply.body
    assert not own_bot.store.open_requests()
    refusals = [record.getMessage() for record in caplog.records if "refused" in record.message]
    assert len(refusals) == 1 and "T0OTHER" in refusals[0]


def test_a_request_for_another_app_is_refused(own_bot: Bot) -> None:
    command = own_bot.sender.send(slash_command_body(OPERATOR, "status", app_id="A0OTHER"))
    click = own_bot.sender.send(block_action_body(LEAD, APPROVE_ACTION, "R00000", app_id="A0X"))

    assert (command.status, click.status) == (403, 403)
    assert "another app" in command.body
    assert own_bot.slack.of("chat.postEphemeral") == []


def test_requests_from_the_configured_workspace_and_app_are_answered(own_bot: Bot) -> None:
    reply = own_bot.command(OPERATOR, "status")
    event = own_bot.sender.event({"type": "app_home_opened", "user": OPERATOR, "tab": "home"})

    assert reply.status == 200 and "Rollout:" in reply.json()["text"]
    assert event.status == 200
    own_bot.slack.wait_for(lambda call: True, method="views.publish")
