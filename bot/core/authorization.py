"""Who may run each `/stagger` command and button: one table, one function.

- Reading (`status`, `kpi`, `baseline show`, ...) is for anyone who can run the slash
  command: the workspace decides who that is, and no Web API call checks it again.
- Changing something (`rollback`, `advance`, `baseline capture`, ...) is for the spec's
  operators, and for an env's approvers on that env. A command that names no env counts
  as on every env: an approver of any env may run it. With no operators listed, the
  approvers alone may.
- `approve` and `deny` are decided by the env's approval policy at click time
  (`bot.core.approvals`), and only from Slack: the user id on a Slack request is the one
  Slack vouches for with its signature, while the CLI's `--user` is whatever was typed.
- `lock` and `unlock` only from Slack too: a lock records who holds it, and the holder or
  an approver may unlock, so the id must be Slack's, not what was typed.
- `rollback <env> --now` (break-glass: run at once, no approval waited for) is for the
  spec's `break_glass` users, and only from Slack, for the same reason.

`commands.dispatch` asks `may_run` before it runs any command; the Slack buttons are
dispatched as the commands they stand for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from bot.core.approvals import may_request
from bot.core.replies import Source
from bot.core.spec import Spec


class Access(StrEnum):
    ANYONE = "anyone"
    OPERATORS = "operators and the env's approvers"
    APPROVAL_POLICY = "the env's approval policy"
    LOCK_HOLDER = "the lock's holder and the env's approvers"
    BREAK_GLASS = "the spec's break_glass list"


@dataclass(frozen=True)
class Rule:
    access: Access
    slack_only: bool = False


READ = Rule(Access.ANYONE)
WRITE = Rule(Access.OPERATORS)
DECIDE = Rule(Access.APPROVAL_POLICY, slack_only=True)
BREAK_GLASS = Rule(Access.BREAK_GLASS, slack_only=True)

# A command with subcommands has a row for each (`baseline capture`, `baseline show`).
MATRIX: Mapping[str, Rule] = MappingProxyType(
    {
        "help": READ,
        "status": READ,
        "history": READ,
        "report": READ,
        "kpi": READ,
        "offsets": READ,
        "audit": READ,
        "analysis": READ,
        "baseline show": READ,
        "rollback": WRITE,
        "advance": WRITE,
        "phase": WRITE,
        "baseline capture": WRITE,
        "silence": WRITE,
        "unsilence": WRITE,
        "checkpoint": WRITE,
        "recover": WRITE,
        "ack": WRITE,
        "retry": WRITE,
        "approve": DECIDE,
        "deny": DECIDE,
        # Only from Slack: a lock records its holder, and an unlock trusts the holder or an
        # approver, so the id must be the one Slack vouches for.
        "lock": Rule(Access.OPERATORS, slack_only=True),
        # Decided by the command, which knows the holder: the holder or an env's approver.
        "unlock": Rule(Access.LOCK_HOLDER, slack_only=True),
        # A rollback run at once, with no approval waited for.
        "rollback --now": BREAK_GLASS,
    }
)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    # Why, in a few words: what the audit trail keeps.
    reason: str
    # For the person refused: what they may not do, and who may.
    answer: str = ""


def command_of(name: str, words: Sequence[str]) -> str:
    """The matrix's row for `name` followed by `words`: `baseline capture` for
    `baseline capture prod`, `rollback --now` where `--now` is among the words, the name
    alone for a command without subcommands."""
    if f"{name} --now" in MATRIX and "--now" in words:
        return f"{name} --now"
    if words and f"{name} {words[0]}" in MATRIX:
        return f"{name} {words[0]}"
    return name


def subcommands(name: str) -> list[str]:
    return sorted(
        key.split(" ", 1)[1]
        for key in MATRIX
        if key.startswith(f"{name} ") and not key.startswith(f"{name} --")
    )


def may_run(
    spec: Spec, command: str, env: str | None, user: str, source: Source = "slack"
) -> Decision:
    """May `user` run `command` (a row of MATRIX) on `env` (None: it names no env)?"""
    rule = MATRIX.get(command)
    if rule is None:
        return Decision(
            False,
            "not in the authorization matrix",
            f"`{command}` has no entry in stagger-bot's authorization matrix, so nobody may "
            "run it.",
        )
    if rule.access is Access.BREAK_GLASS:
        return _break_glass(spec, command, env, user, source)
    if rule.slack_only and source != "slack":
        return Decision(
            False,
            f"only from Slack, not from the {source}",
            f"`{command}` works only from Slack: Slack vouches for the user id on its requests "
            "with their signature, while `--user` here is only what was typed. "
            + _from_slack(spec, command),
        )
    if rule.access is Access.ANYONE:
        return Decision(True, "a read command: anyone may")
    if rule.access is Access.APPROVAL_POLICY:
        return Decision(True, "the env's approval policy decides")
    if rule.access is Access.LOCK_HOLDER:
        return Decision(True, "the lock's holder and the env's approvers: the command decides")
    envs = [env] if env is not None else list(spec.environments)
    where = env or "any environment"
    if any(may_request(spec, name, user) for name in envs):
        return Decision(True, f"an operator or an approver of {where}")
    return Decision(
        False,
        f"not an operator nor an approver of {where}",
        f"<@{user}> may not run `{command}`" + (f" on {env}" if env else "") + ": it is for "
        f"{_who(spec, env, envs)}.",
    )


def _from_slack(spec: Spec, command: str) -> str:
    if command in ("lock", "unlock"):
        return f"Run `/stagger {command} <env>` in Slack."
    return f"Use the request's buttons in <#{spec.channel}>, or `/stagger {command} <id>` in Slack."


def _break_glass(spec: Spec, command: str, env: str | None, user: str, source: Source) -> Decision:
    """Only from Slack, only for the spec's break_glass users: no approval is waited for,
    so the id it runs under must be the one Slack vouches for."""
    target = env or "<env>"
    if source != "slack":
        return Decision(
            False,
            f"only from Slack, not from the {source}",
            f"`{command}` works only from Slack: it runs with no approval, and the CLI's "
            "`--user` is nobody's word (only what was typed). From here, request it the "
            f"normal way, `rollback {target} --reason TEXT`, which the approvers approve "
            f"in <#{spec.channel}>; or a break-glass user runs `/stagger {command} "
            f"{target} --reason TEXT` in Slack.",
        )
    if user in spec.break_glass:
        return Decision(True, "on the spec's break_glass list")
    who = _mentions(spec.break_glass) or "nobody: the spec's break_glass list is empty"
    return Decision(
        False,
        "not on the break_glass list",
        f"<@{user}> may not run `{command}`: a rollback with no approval is for the spec's "
        f"break_glass users ({who}). Request it the normal way: `/stagger rollback "
        f"{target} --reason TEXT`.",
    )


def _who(spec: Spec, env: str | None, envs: list[str]) -> str:
    approvers = list(
        dict.fromkeys(
            approver
            for name in envs
            if (environment := spec.environment(name)) is not None
            for approver in environment.approvals.approvers
        )
    )
    people: list[str] = []
    if spec.operators:
        people.append("the operators " + _mentions(spec.operators))
    if approvers:
        whose = f"{env}'s approvers" if env else "the approvers of any environment"
        people.append(f"{whose} {_mentions(approvers)}")
    if not people:
        return "nobody: the spec lists no operators and no approvers"
    return " and ".join(people) + (
        "" if spec.operators else " (the spec lists no operators, so the approvers alone may)"
    )


def _mentions(users: Sequence[str]) -> str:
    return ", ".join(f"<@{user}>" for user in users)
