"""The approval policy — who, how many, self-approval, `--force`'s one more — is the spec's
at click time; a request its own requester's policy could never satisfy is refused when
it is made, not left to expire; `check-config` warns about such a policy."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import tomli_w

from bot.core.replies import Invocation
from bot.core.spec import parse_spec
from bot.core.spec_warnings import spec_warnings
from bot.render.blocks import APPROVE_ACTION
from commands import dispatch
from tests.support.bot_process import wait_until
from tests.support.rollout_state import request_rollback
from tests.support.served_bot import Bot
from tests.support.spec_data import LEAD, LEAD_2, spec_data


def test_a_request_an_approvers_policy_can_never_meet_is_refused_when_made(
    bot_factory: Callable[..., Bot],
) -> None:
    bot = bot_factory(required=2, allow_self=False)

    text = bot.command(LEAD, "rollback prod --reason 'pool at 90%'").json()["text"]

    assert "could never be approved" in text and "needs 2 approval(s)" in text
    assert bot.store.open_requests("prod") == []
    refused = bot.context.audit.latest("prod", 1)[0]
    assert refused["action"] == "rollback.refused" and refused["actor"] == LEAD


def test_raising_required_while_a_request_waits_is_honoured_at_the_click(bot: Bot) -> None:
    request_id = request_rollback(bot)
    environments = dict(bot.context.spec.environments)
    prod = environments["prod"]
    environments["prod"] = prod.model_copy(
        update={"approvals": prod.approvals.model_copy(update={"required": 2})}
    )
    bot.context.spec = bot.context.spec.model_copy(update={"environments": environments})

    bot.click(LEAD, APPROVE_ACTION, request_id)
    bot.slack.wait_for(lambda call: "(1/2)" in call.text, method="chat.postEphemeral")
    assert bot.request(request_id).status.value == "pending"
    bot.click(LEAD_2, APPROVE_ACTION, request_id)
    bot.slack.wait_for(
        lambda call: "verified on all 1 host(s)" in call.text, method="chat.postMessage"
    )


def test_check_config_warns_about_a_policy_an_approvers_request_cannot_meet(
    tmp_path: Path,
) -> None:
    data = spec_data(
        ["app@prod-1.example.com"], "/srv/app", known_hosts=tmp_path / "kh",
        key_file=tmp_path / "key", required=2, allow_self=False,
    )  # fmt: skip
    parse_spec(data)
    path = tmp_path / "stagger.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")

    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "check-config", str(path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "environments.prod.approvals: a request by an approver" in result.stderr
    assert "environments.staging.approvals" in result.stderr


def test_a_policy_whose_forced_moves_could_never_be_approved_is_warned_about(
    tmp_path: Path,
) -> None:
    data = spec_data(
        ["app@prod-1.example.com"], "/srv/app", known_hosts=tmp_path / "kh",
        key_file=tmp_path / "key", required=2, allow_self=True,
    )  # fmt: skip

    warnings = spec_warnings(parse_spec(data))

    assert any(
        "environments.prod.approvals: a forced move" in warning and "needs 3" in warning
        for warning in warnings
    ), warnings


def test_a_request_from_the_cli_needs_one_approval_more_than_the_same_from_slack(
    bot: Bot,
) -> None:
    """The CLI's `--user` is nobody's word: the person at the shell could name an operator
    and then approve in Slack as themselves. So a CLI request needs one approval more
    where the requester may not approve; the same request from Slack needs the usual."""
    reply = dispatch(
        bot.context,
        Invocation(user="U0OPS1", text="rollback prod --reason 'pool at 90%'", source="cli"),
    )
    for followup in reply.followups:
        followup()
    request_id = bot.request_id_from(reply.text)
    bot.slack.wait_for(lambda call: request_id in call.all_text(), method="chat.postMessage")
    wait_until(lambda: bot.request(request_id).message_ts is not None)

    bot.click(LEAD, APPROVE_ACTION, request_id)
    bot.slack.wait_for(lambda call: "(1/2)" in call.text, method="chat.postEphemeral")
    assert bot.request(request_id).status.value == "pending"
    bot.click(LEAD_2, APPROVE_ACTION, request_id)
    bot.slack.wait_for(
        lambda call: "verified on all 1 host(s)" in call.text, method="chat.postMessage"
    )
    assert bot.request(request_id).status.value == "succeeded"
