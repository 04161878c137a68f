"""Hostile input: fuzzed commands and button payloads always get a clear answer (never a
500, never a stack trace), shell metacharacters never reach a shell, and an approver list
edited while a request is pending is honoured at click time."""

from __future__ import annotations

import itertools
import json
import logging
import shlex
import urllib.parse
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.replies import Invocation
from bot.rehearsal.slack_signing import block_action_body
from bot.render.blocks import APPROVE_ACTION, DENY_ACTION, REQUEST_ROLLBACK_ACTION
from bot.rollout.context import BotContext
from commands import dispatch
from commands.registry import COMMANDS
from tests.support.served_bot import Bot
from tests.support.spec_data import ENV_FILE, LEAD, LEAD_2, OPERATOR

CRASH = "Something went wrong inside stagger-bot"
HOSTILE = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
    max_size=160,
)
WORDS = st.one_of(
    HOSTILE,
    st.builds(lambda name, rest: f"{name} {rest}", st.sampled_from(sorted(COMMANDS)), HOSTILE),
    st.builds(
        lambda name, env, rest: f"{name} {env} {rest}",
        st.sampled_from(["rollback", "kpi", "phase", "silence", "analysis", "audit"]),
        st.sampled_from(["prod", "staging", "--force", "--reason", "all", "'"]),
        st.sampled_from(["$(id)", "`id`", "a;b", "x\ny", "--reason=", '"', "6h", "0m", "9999d"]),
    ),
)
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(text=WORDS)
def test_any_command_text_gets_a_clear_answer(context: BotContext, text: str) -> None:
    reply = dispatch(context, Invocation(user=OPERATOR, text=text, source="cli"))
    assert reply.text.strip()
    assert CRASH not in reply.text and "Traceback" not in reply.text


# No user the fuzz can spell (only these letters) is an operator or an approver, and no
# request exists: every click is refused, and the refusal says why.
BUTTON_USERS = st.text(alphabet="UW0123456789ABCDEFXYZ", min_size=0, max_size=12)
BUTTON_ANSWERS = {
    APPROVE_ACTION: "There is no request",
    DENY_ACTION: "There is no request",
    REQUEST_ROLLBACK_ACTION: ":warning:",
}
CLICKS = itertools.count()


def failures_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(action=st.sampled_from(sorted(BUTTON_ANSWERS)), value=HOSTILE, user=BUTTON_USERS)
def test_any_button_payload_gets_a_clear_answer_after_the_ack(
    bot: Bot, caplog: pytest.LogCaptureFixture, action: str, value: str, user: str
) -> None:
    caplog.clear()
    audited_before = len(list(bot.context.audit.rows()))  # the bot serves every example
    channel = f"CFUZZ{next(CLICKS)}"  # tells this click's answer from the others'
    reply = bot.sender.send(block_action_body(user, action, value, channel=channel))
    assert reply.status == 200
    # The click's work runs after the ack; its answer is an ephemeral to the clicker.
    answer = bot.slack.wait_for(
        lambda call: call.params.get("channel") == channel, method="chat.postEphemeral"
    )
    assert answer.params.get("user", "") == user
    assert BUTTON_ANSWERS[action] in answer.text, answer.text
    assert CRASH not in answer.text and "Traceback" not in answer.text
    assert failures_logged(caplog) == []
    audited = [row["action"] for row in list(bot.context.audit.rows())[audited_before:]]
    assert "command.crashed" not in audited
    assert not bot.store.open_requests()


def test_typographic_quotes_in_a_button_value_stay_inside_its_one_word(bot: Bot) -> None:
    # The dispatcher reads typographic quotes as the straight ones Slack's typing replaced;
    # a button's value must not end its own quoting that way (found by the fuzz above).
    bot.click(LEAD, DENY_ACTION, "R1‘ --force ‘")
    answer = bot.slack.wait_for(lambda call: True, method="chat.postEphemeral")
    assert answer.text == ":warning: There is no request `R1' --force '`."


def test_a_button_the_bot_does_not_know_is_refused_and_runs_nothing(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    reply = bot.sender.send(block_action_body(LEAD, "stagger_bogus", "R00000"))
    assert 400 <= reply.status < 500
    assert failures_logged(caplog) == []
    assert not [call for call in bot.slack.calls if call.method.startswith("chat.")]
    assert not list(bot.context.audit.rows())


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    payload=st.one_of(HOSTILE, st.builds(json.dumps, st.dictionaries(HOSTILE, HOSTILE, max_size=3)))
)
def test_malformed_signed_payloads_are_refused_cleanly(bot: Bot, payload: str) -> None:
    reply = bot.sender.send(urllib.parse.urlencode({"payload": payload}))
    # Not JSON, or JSON but not an object: the body is unreadable, and the answer says
    # why. A JSON object, but nothing the bot has a listener for: Bolt's "unhandled".
    if _json_object(payload):
        assert (reply.status, reply.body) == (404, '{"error": "unhandled request"}')
    else:
        assert reply.status == 400, reply.body
        assert reply.body.startswith("the request body could not be read: its payload is not")
    assert not list(bot.context.audit.rows())


def _json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def test_shell_metacharacters_in_a_reason_never_reach_a_shell(bot: Bot, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    reason = f"$(touch {marker}) `touch {marker}`; touch {marker} | x\n&& echo"
    reply = bot.command(OPERATOR, f"rollback prod --reason {shlex.quote(reason)}").json()["text"]
    request_id = bot.request_id_from(reply)
    posted = bot.slack.wait_for(lambda c: request_id in c.text, method="chat.postMessage")
    bot.click(LEAD, APPROVE_ACTION, request_id, message_ts=posted.params["_ts"])
    bot.slack.wait_for(lambda c: "verified on all" in c.text, method="chat.postMessage")
    assert not marker.exists()
    assert bot.env_file() == ENV_FILE.replace(b"ENABLED=true", b"ENABLED=false")
    requested = next(
        row for row in bot.context.audit.latest("prod", 50) if row["action"] == "rollback.requested"
    )
    assert requested["detail"] == " ".join(reason.split())  # kept, on one line


def test_a_job_name_with_shell_metacharacters_is_refused_by_name(bot: Bot) -> None:
    text = bot.command(OPERATOR, "rollback prod 'LIVE;touch /tmp/x'").json()["text"]
    assert "Unknown job `LIVE;touch /tmp/x`" in text
    assert not bot.store.open_requests()


def test_an_approver_list_edited_while_pending_is_honoured_at_click_time(bot: Bot) -> None:
    reply = bot.command(OPERATOR, "rollback prod --reason 'pool at 90%'").json()["text"]
    request_id = bot.request_id_from(reply)
    spec = bot.context.spec
    prod = spec.environments["prod"]
    edited = prod.model_copy(
        update={"approvals": prod.approvals.model_copy(update={"approvers": [LEAD_2]})}
    )
    bot.context.spec = spec.model_copy(
        update={"environments": {**spec.environments, "prod": edited}}
    )
    bot.click(LEAD, APPROVE_ACTION, request_id)
    bot.slack.wait_for(
        lambda c: "is not an approver for prod" in c.text, method="chat.postEphemeral"
    )
    assert bot.env_file() == ENV_FILE
    bot.click(LEAD_2, APPROVE_ACTION, request_id)
    bot.slack.wait_for(lambda c: "verified on all" in c.text, method="chat.postMessage")
