"""The authorization matrix: who may run each `/stagger` command and button, as a table."""

from __future__ import annotations

from pathlib import Path

import pytest

import commands  # noqa: F401 - registers the commands
from bot.core.approvals import may_request
from bot.core.authorization import MATRIX, Access, command_of, may_run
from bot.core.replies import Source
from bot.core.spec import Spec, parse_spec
from commands.registry import COMMANDS
from tests.support.spec_data import LEAD, LEAD_2, OPERATOR, STRANGER, spec_data

STAGING_LEAD, PROD_LEAD = LEAD, LEAD_2
BREAK_GLASS_USER = "U0ONCALL"

# What each command is: a new command (or subcommand) must be placed here, and in the matrix.
EXPECTED = {
    "help": Access.ANYONE,
    "status": Access.ANYONE,
    "history": Access.ANYONE,
    "report": Access.ANYONE,
    "kpi": Access.ANYONE,
    "offsets": Access.ANYONE,
    "audit": Access.ANYONE,
    "analysis": Access.ANYONE,
    "baseline show": Access.ANYONE,
    "rollback": Access.OPERATORS,
    "advance": Access.OPERATORS,
    "phase": Access.OPERATORS,
    "baseline capture": Access.OPERATORS,
    "silence": Access.OPERATORS,
    "unsilence": Access.OPERATORS,
    "checkpoint": Access.OPERATORS,
    "recover": Access.OPERATORS,
    "ack": Access.OPERATORS,
    "retry": Access.OPERATORS,
    "approve": Access.APPROVAL_POLICY,
    "deny": Access.APPROVAL_POLICY,
    "lock": Access.OPERATORS,
    "unlock": Access.LOCK_HOLDER,
    "rollback --now": Access.BREAK_GLASS,
}


def make_spec(tmp_path: Path, operators: list[str] | None = None) -> Spec:
    """Each env with its own lead: staging's is not prod's."""
    data = spec_data(
        ["sim@host-1"],
        tmp_path,
        known_hosts=tmp_path / "known_hosts",
        key_file=tmp_path / "key",
        operators=operators,
    )
    data["environments"]["staging"]["approvals"]["approvers"] = [STAGING_LEAD]
    data["environments"]["prod"]["approvals"]["approvers"] = [PROD_LEAD]
    data["break_glass"] = [BREAK_GLASS_USER]
    return parse_spec(data)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_registered_command_has_its_place_in_the_matrix(name: str) -> None:
    entries = {key for key in MATRIX if key == name or key.startswith(f"{name} ")}
    assert entries, f"`{name}` has no entry in bot/core/authorization.py's MATRIX"
    for key in entries:
        assert MATRIX[key].access is EXPECTED[key], key
    if name == "baseline":
        assert entries == {"baseline capture", "baseline show"}


def test_the_matrix_lists_only_known_commands_and_recover_is_a_write() -> None:
    assert set(MATRIX) == set(EXPECTED)
    assert {key for key, rule in MATRIX.items() if rule.slack_only} == {
        "approve",
        "deny",
        "lock",
        "unlock",
        "rollback --now",
    }


@pytest.mark.parametrize(
    ("words", "command"),
    [
        (("baseline", "capture", "prod"), "baseline capture"),
        (("baseline", "show", "prod"), "baseline show"),
        (("rollback", "prod"), "rollback"),
        (("rollback", "prod", "--reason", "pool at 90%", "--now"), "rollback --now"),
        (("rollback", "prod", "LIVE_STATS_SYNC", "--now"), "rollback --now"),
        (("status",), "status"),
    ],
)
def test_a_subcommand_is_its_own_row(words: tuple[str, ...], command: str) -> None:
    assert command_of(words[0], list(words[1:])) == command


ROWS = [
    # command, env, user, source, allowed
    ("status", None, STRANGER, "slack", True),
    ("baseline show", "prod", STRANGER, "slack", True),
    ("audit", None, STRANGER, "cli", True),
    ("baseline capture", "prod", STRANGER, "slack", False),
    ("baseline capture", "prod", OPERATOR, "slack", True),
    ("baseline capture", "prod", PROD_LEAD, "slack", True),
    ("baseline capture", "prod", STAGING_LEAD, "slack", False),
    ("rollback", "staging", STAGING_LEAD, "slack", True),
    ("rollback", "prod", STAGING_LEAD, "slack", False),
    ("rollback", "prod", OPERATOR, "cli", True),
    ("advance", "prod", PROD_LEAD, "slack", True),
    ("checkpoint", "staging", PROD_LEAD, "slack", False),
    ("silence", None, STAGING_LEAD, "slack", True),
    ("unsilence", None, STRANGER, "slack", False),
    ("recover", None, OPERATOR, "cli", True),
    ("recover", "prod", STRANGER, "slack", False),
    ("approve", "prod", PROD_LEAD, "slack", True),
    ("approve", "prod", PROD_LEAD, "cli", False),
    ("deny", "prod", OPERATOR, "cli", False),
    ("frobnicate", None, OPERATOR, "slack", False),
    ("lock", "prod", PROD_LEAD, "slack", True),
    ("lock", "prod", STAGING_LEAD, "slack", False),
    ("lock", "prod", STRANGER, "slack", False),
    # The command itself asks whether the user holds the lock or approves the env.
    ("unlock", "prod", STRANGER, "slack", True),
    # A lock records its holder, an unlock trusts one: the typed `--user` is nobody's word.
    ("lock", "prod", PROD_LEAD, "cli", False),
    ("lock", "prod", OPERATOR, "cli", False),
    ("unlock", "prod", PROD_LEAD, "cli", False),
    ("unlock", "prod", OPERATOR, "cli", False),
    ("rollback --now", "prod", BREAK_GLASS_USER, "slack", True),
    ("rollback --now", "prod", BREAK_GLASS_USER, "cli", False),
    ("rollback --now", "prod", OPERATOR, "slack", False),
    ("rollback --now", "prod", PROD_LEAD, "slack", False),
]


@pytest.mark.parametrize(("command", "env", "user", "source", "allowed"), ROWS)
def test_who_may_run_what(
    tmp_path: Path, command: str, env: str | None, user: str, source: Source, allowed: bool
) -> None:
    decision = may_run(make_spec(tmp_path), command, env, user, source)
    assert decision.allowed is allowed, decision.reason
    assert decision.reason


def test_a_refusal_names_who_may(tmp_path: Path) -> None:
    decision = may_run(make_spec(tmp_path), "baseline capture", "prod", STRANGER, "slack")
    assert f"<@{STRANGER}>" in decision.answer and "`baseline capture`" in decision.answer
    assert f"<@{OPERATOR}>" in decision.answer and f"<@{PROD_LEAD}>" in decision.answer
    assert f"<@{STAGING_LEAD}>" not in decision.answer  # staging's lead has no say on prod
    anywhere = may_run(make_spec(tmp_path), "silence", None, STRANGER, "slack")
    assert f"<@{STAGING_LEAD}>" in anywhere.answer and f"<@{PROD_LEAD}>" in anywhere.answer


def test_approving_from_the_cli_is_refused_because_slack_vouches_for_the_user(
    tmp_path: Path,
) -> None:
    decision = may_run(make_spec(tmp_path), "approve", "prod", PROD_LEAD, "cli")
    assert "only from Slack" in decision.answer and "<#C0ROLLOUT>" in decision.answer


def test_with_no_operators_writes_belong_to_the_approvers_alone(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, operators=[])
    assert not may_request(spec, "prod", STRANGER)
    assert may_request(spec, "prod", PROD_LEAD) and not may_request(spec, "prod", STAGING_LEAD)
    refused = may_run(spec, "rollback", "prod", STRANGER, "slack")
    assert not refused.allowed and "no operators" in refused.answer
    assert f"<@{PROD_LEAD}>" in refused.answer
    assert may_run(spec, "rollback", "prod", PROD_LEAD, "slack").allowed
    assert may_run(spec, "status", None, STRANGER, "slack").allowed


def test_a_rollback_with_no_approval_refused_names_the_break_glass_users(tmp_path: Path) -> None:
    decision = may_run(make_spec(tmp_path), "rollback --now", "prod", OPERATOR, "slack")
    assert not decision.allowed
    assert f"<@{BREAK_GLASS_USER}>" in decision.answer and "break_glass" in decision.answer
    assert "`/stagger rollback prod --reason TEXT`" in decision.answer


def test_a_break_glass_rollback_from_the_cli_is_refused_because_nobody_vouches_for_the_user(
    tmp_path: Path,
) -> None:
    decision = may_run(make_spec(tmp_path), "rollback --now", "prod", BREAK_GLASS_USER, "cli")
    assert not decision.allowed and decision.reason == "only from Slack, not from the cli"
    assert "nobody's word" in decision.answer and "rollback prod --reason TEXT" in decision.answer
