"""`/stagger unlock <env>`: end an env's lock. The holder or any approver of the env may."""

from __future__ import annotations

from bot.core.approvals import Status
from bot.core.clock import describe_duration
from bot.core.errors import NotAllowed, UsageError
from bot.core.replies import Invocation, Reply
from bot.render.blocks import escape
from bot.rollout.context import BotContext
from bot.store.audit import AuditEntry
from bot.store.locks import EnvLocks
from commands.parsing import require_env

NAME = "unlock"
USAGE = "unlock <env>"
SUMMARY = "End an environment's lock (its holder or the env's approvers)."


def target_env(context: BotContext, words: list[str]) -> str:
    return require_env(context.spec, words[0] if words else None, NAME)


def run(context: BotContext, invocation: Invocation, words: list[str]) -> Reply:
    if len(words) > 1:
        raise UsageError(f"Unexpected `{words[1]}`.", NAME)
    env = target_env(context, words)
    now = context.clock.now()
    locks = EnvLocks(context.store)
    lock = locks.held(env, now)
    if lock is None:
        return Reply(text=f"*{env}* is not locked.")
    approvers = context.spec.environments[env].approvals.approvers
    user = invocation.user
    # Being the holder counts only where Slack vouches for the user id: the CLI's
    # `--user` is whatever was typed, the holder's id included.
    holder = user == lock.holder and invocation.source == "slack"
    if not holder and user not in approvers:
        context.record(
            AuditEntry(
                user, invocation.source, "unlock.refused", env, {"holder": lock.holder},
                "refused", "neither the holder (from Slack) nor an approver of the env",
            )
        )  # fmt: skip
        who = ", ".join(f"<@{approver}>" for approver in dict.fromkeys(approvers))
        raise NotAllowed(
            f"<@{user}> may not unlock *{env}*: the lock's holder <@{lock.holder}> may "
            "(from Slack, where their id is vouched for), or "
            + (f"{env}'s approvers {who}." if who else f"{env}'s approvers (it lists none).")
        )
    if not locks.release(lock, user, now):
        return Reply(text=f"*{env}* was unlocked a moment ago.")
    context.record(
        AuditEntry(
            user, invocation.source, "lock.released", env,
            {"lock": str(lock.id), "holder": lock.holder}, "ok",
            "by the holder" if holder else "by an approver",
        )
    )  # fmt: skip
    held_for = describe_duration(now - lock.acquired_at)
    transitions = [r for r in context.store.open_requests(env) if r.action == "transition"]
    pending = [r.id for r in transitions if r.status is Status.PENDING]
    soaking = [r.id for r in transitions if r.status is Status.SOAKING]
    waiting = (
        " Pending transitions may be approved now: " + ", ".join(f"`{i}`" for i in pending) + "."
        if pending
        else ""
    ) + (
        " Soaking, its other hosts go on when the soak is over: "
        + ", ".join(f"`{i}`" for i in soaking)
        + "."
        if soaking
        else ""
    )
    by = "" if holder else f" (held by <@{lock.holder}>)"
    return Reply(
        text=f":unlock: <@{user}> unlocked *{env}*{by} after {held_for}: "
        f"{escape(lock.reason)}.{waiting}",
        public=True,
    )
