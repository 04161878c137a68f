"""`/stagger lock <env> --reason TEXT [--for 2h]`: hold an env's phase transitions (new
requests and the approval of pending ones) until unlocked; rollbacks are never held."""

from __future__ import annotations

from bot.core.approvals import Status
from bot.core.clock import format_time
from bot.core.errors import UsageError, UserError
from bot.core.kpi_report import parse_window
from bot.core.replies import Invocation, Reply
from bot.render.blocks import escape
from bot.rollout.context import BotContext
from bot.rollout.holds import ROLLBACKS_GO, lock_text
from bot.store.audit import AuditEntry
from bot.store.locks import AlreadyLocked, EnvLocks
from commands.parsing import parse_options, require_env, single_line

NAME = "lock"
USAGE = "lock <env> --reason TEXT [--for 2h]"
SUMMARY = "Hold an environment's transitions (not rollbacks) until unlocked or for a while."
_OPTIONS = ("--reason", "--for")


def target_env(context: BotContext, words: list[str]) -> str:
    parsed = parse_options(words, NAME, _OPTIONS)
    return require_env(context.spec, parsed.positionals[0] if parsed.positionals else None, NAME)


def run(context: BotContext, invocation: Invocation, words: list[str]) -> Reply:
    parsed = parse_options(words, NAME, _OPTIONS)
    if len(parsed.positionals) > 1:
        raise UsageError(f"Unexpected `{parsed.positionals[1]}`.", NAME)
    env = target_env(context, words)
    reason = single_line(parsed.options.get("--reason", ""), "reason", limit=300)
    if not reason:
        raise UsageError(
            "Say why with `--reason TEXT`: a lock nobody can explain is forgotten.", NAME
        )
    now = context.clock.now()
    window = parsed.options.get("--for")
    expires_at = now + parse_window(window, NAME) if window is not None else None
    try:
        # Only Slack vouches for who is typing: the CLI's `--user` can't be the holder's.
        acquired = EnvLocks(context.store).acquire(
            env, invocation.user, reason, expires_at, now, may_update=invocation.source == "slack"
        )
    except AlreadyLocked as locked:
        context.record(
            AuditEntry(
                invocation.user, invocation.source, "lock.refused", env,
                {"holder": locked.lock.holder}, "refused", "already locked",
            )
        )  # fmt: skip
        raise UserError(f"Not locked again: {lock_text(context, locked.lock, now)}") from None
    lock = acquired.lock
    arguments = {"lock": str(lock.id), "until": expires_at.isoformat() if expires_at else ""}
    if acquired.updated:
        arguments["updated"] = "yes"
    context.record(
        AuditEntry(
            invocation.user, invocation.source, "lock.acquired", env, arguments, "ok", reason
        )
    )
    until = f" until {format_time(expires_at, context.spec.timezone)}" if expires_at else ""
    # An executing change finishes; a pending one's approval and a soak's batches wait.
    pending = [
        r.id
        for r in context.store.open_requests(env)
        if r.action == "transition" and r.status in (Status.PENDING, Status.SOAKING)
    ]
    held = (
        " Held now: " + ", ".join(f"`{request_id}`" for request_id in pending) + "."
        if pending
        else ""
    )
    verb = "updated the lock of" if acquired.updated else "locked"
    return Reply(
        text=f":lock: <@{invocation.user}> {verb} *{env}*{until}: {escape(reason)}. "
        f"New transitions and the approval of pending ones are held. {ROLLBACKS_GO} "
        f"`/stagger unlock {env}` ends it.{held}",
        public=True,
    )
