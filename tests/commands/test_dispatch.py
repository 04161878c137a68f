from __future__ import annotations

from dataclasses import replace

import pytest

from bot.core.replies import Invocation
from bot.rollout.context import BotContext
from commands import dispatch
from commands.registry import COMMANDS
from tests.support.spec_data import OPERATOR, STRANGER


def say(context: BotContext, text: str, user: str = OPERATOR) -> str:
    reply = dispatch(context, Invocation(user=user, text=text, source="cli"))
    return reply.text


def test_every_command_has_usage_and_help_text(context: BotContext) -> None:
    listing = say(context, "help")
    for name, module in COMMANDS.items():
        assert module.USAGE.startswith(name) and len(module.SUMMARY) > 10
        assert f"`/stagger {module.USAGE}`" in listing
        assert module.SUMMARY in say(context, f"help {name}")


def test_an_empty_command_shows_help(context: BotContext) -> None:
    assert "`/stagger status [env]`" in say(context, "")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("frobnicate", "Unknown command `frobnicate`"),
        ("rollback", "Which environment? Known: `staging`, `prod`"),
        ("rollback qa", "Unknown environment `qa`"),
        ("rollback prod no-such-job", "Unknown job `no-such-job`"),
        ("rollback prod --force", "Unknown option `--force`"),
        ("rollback prod --reason", "`--reason` needs a value"),
        ("rollback prod 'unclosed", "check your quotes"),
        ("status prod extra", "Unexpected `extra`"),
        ("audit 0", "N must be between 1 and 100"),
        ("approve", "Give exactly one request id"),
        ("approve RNOPE1", "There is no request `RNOPE1`"),
    ],
)
def test_bad_input_gets_an_answer_that_names_the_problem(
    context: BotContext, text: str, expected: str
) -> None:
    reply = dispatch(context, Invocation(user=OPERATOR, text=text))
    assert expected in reply.text
    assert not reply.ok and not reply.public
    assert "Traceback" not in reply.text


def test_usage_errors_show_the_commands_usage(context: BotContext) -> None:
    usage = "Usage: `/stagger rollback <env> [job] [--reason TEXT] [--now]`"
    assert usage in say(context, "rollback qa")


@pytest.mark.parametrize(
    ("text", "usage"),
    [
        ("advance --force", "advance [--force --reason TEXT]"),
        ("phase prod-stagger --force", "phase <name> [--force --reason TEXT]"),
        ("silence pool_util_avg soon", "silence <kpi|all> <duration> [--reason TEXT]"),
        ("analysis prod forever", "analysis <env> [window]"),
        ("baseline capture prod forever", "baseline capture <env> [window]"),
        ("kpi prod forever", "kpi <env> [window]"),
    ],
)
def test_a_usage_error_shows_the_usage_of_the_command_typed(
    context: BotContext, text: str, usage: str
) -> None:
    answer = say(context, text)
    assert f"Usage: `/stagger {usage}" in answer
    assert answer.count("Usage:") == 1


def test_help_for_a_misspelt_command_says_so_and_names_the_close_ones(
    context: BotContext,
) -> None:
    answer = say(context, "help rollbak")
    assert "There is no command `rollbak`. Did you mean `rollback`?" in answer
    assert "`/stagger status [env]`" not in answer  # not the whole list instead
    assert "Did you mean `rollback`?" in say(context, "rollbak prod")
    assert "There is no command `xyzzy`. Try `/stagger help`." in say(context, "help xyzzy")


def test_a_non_operator_cannot_request_a_rollback(context: BotContext) -> None:
    assert f"<@{STRANGER}> may not run `rollback` on prod" in say(
        context, "rollback prod", user=STRANGER
    )
    assert context.store.open_requests() == []
    refused = context.audit.latest("prod", 1)[0]
    assert (refused["actor"], refused["outcome"]) == (STRANGER, "refused")


def test_a_job_is_found_by_key_or_name_and_a_second_request_is_refused(context: BotContext) -> None:
    first = say(context, "rollback prod live-stats-sync --reason 'lag'")
    assert "for prod (job LIVE_STATS_SYNC)" in first
    assert "already pending" in say(context, "rollback prod 'Live Stats Sync'")


def test_smart_quotes_from_slack_are_understood(context: BotContext) -> None:
    text = say(context, "rollback prod --reason “pool at 90%”")
    request = context.store.open_requests("prod")[0]
    assert request.reason == "pool at 90%" and request.id in text


def test_status_shows_phase_flag_and_open_requests(context: BotContext) -> None:
    say(context, "rollback prod --reason 'pool at 90%'")
    status = say(context, "status")
    # Never changed by the bot: not UNKNOWN, which is what a failed change leaves.
    assert (
        "*staging* — phase *not started*; stagger not changed by the bot yet; 1 host(s)" in status
    )
    request = context.store.open_requests("prod")[0]
    # Asked for from the CLI: one approval more than prod's policy says.
    assert (
        f"`{request.id}` rollback prod — pending, 0/2 approvals, requested by <@{OPERATOR}>"
        in status
    )
    assert "*staging*" not in say(context, "status prod")
    assert "Rollout: *not started*; first phase staging-baseline" in status


def test_audit_lists_the_newest_entries_first(context: BotContext) -> None:
    say(context, "rollback prod --reason 'first'")
    say(context, "rollback staging --reason 'second'")
    lines = say(context, "audit 2").splitlines()
    assert "rollback.requested* staging" in lines[1] and "second" in lines[1]
    assert "rollback.requested* prod" in lines[2]
    assert len(say(context, "audit prod").splitlines()) == 2


def test_offsets_without_a_database_says_why_there_is_no_prediction(context: BotContext) -> None:
    text = say(context, "offsets prod")
    assert ":white_check_mark: PASSED" in text
    assert "No predicted overlap: PROD_DATABASE_URL is not set" in text


def test_times_read_one_way_in_the_specs_timezone_with_the_zone_named(
    context: BotContext,
) -> None:
    berlin = replace(context, spec=context.spec.model_copy(update={"timezone": "Europe/Berlin"}))
    # START is 12:00 UTC, 13:00 in Berlin in February.
    assert "until 2026-02-01 15:00 Europe/Berlin" in say(berlin, "silence pool_util_avg 2h")
    assert "silenced until 2026-02-01 15:00 Europe/Berlin by" in say(berlin, "status")
    assert "until 2026-02-01 14:00 UTC" in say(context, "silence pool_util_max 2h")
