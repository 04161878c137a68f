"""The `/stagger` subcommands: one module each, one dispatcher for Slack and the CLI.

`dispatch` is the one place where errors become replies: a user-facing error shows its
message (and the usage where the words were wrong); anything else is logged and answered
with a short apology — never a stack trace. It is also the one place where the
authorization matrix (`bot.core.authorization`) is enforced, before a command runs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from bot.core.errors import StaggerError, StoreUnreachable, UsageError, UserError
from bot.core.replies import Invocation, Reply
from bot.rollout.context import BotContext
from bot.store.audit import AuditEntry
from bot.store.outbox import Outbox
from commands import (
    ack,
    advance,
    analysis,
    approve,
    audit,
    baseline,
    checkpoint,
    deny,
    help,
    history,
    kpi,
    lock,
    offsets,
    phase,
    recover,
    report,
    retry,
    rollback,
    silence,
    status,
    unlock,
    unsilence,
)
from commands.authorize import authorize
from commands.parsing import split_words
from commands.post_budget import PostBudget
from commands.registry import COMMANDS, close_names, register, usage_text
from commands.reply_file import capped_reply

logger = logging.getLogger(__name__)

# What a command answers while the store does not: the transaction it needed was never
# committed, so nothing it would have done was done (README: "When the store is down").
STORE_DOWN = (
    ":x: The store is down, so nothing was done; try again when it is back "
    "(`/healthz` says). For an emergency rollback on the hosts: `stagger-bot "
    "emergency-rollback`. ({error})"
)

register(
    help,
    status,
    advance,
    phase,
    history,
    report,
    kpi,
    checkpoint,
    baseline,
    analysis,
    offsets,
    rollback,
    recover,
    approve,
    deny,
    silence,
    unsilence,
    audit,
    lock,
    unlock,
    ack,
    retry,
)


def dispatch(context: BotContext, invocation: Invocation, *, cap_reply: bool = False) -> Reply:
    """The reply to one command; one line in the log says who ran which command, how it
    ended and how long it took (never the words typed: they may hold anything).
    The command and its follow-ups post through a budget of three posts (`post_budget`);
    with `cap_reply` (Slack), an answer too big for a message is a summary and a file."""
    started = time.perf_counter()
    context = replace(context, poster=PostBudget(context.poster, outbox=Outbox(context.store)))
    reply, outcome = _dispatch(context, invocation)
    if cap_reply:
        reply = capped_reply(context, invocation, reply)
    logger.info(
        "%s by %s from %s: %s in %d ms",
        command_name(invocation.text),
        invocation.user[:24],
        invocation.source,
        outcome,
        (time.perf_counter() - started) * 1000,
    )
    return reply


def command_name(text: str) -> str:
    """The subcommand typed, when it is one; what else was typed stays out of the log."""
    first = text.split(maxsplit=1)[:1]
    if not first:
        return "help"
    name = first[0].lower()
    return name if name in COMMANDS else "(unknown)"


def _dispatch(context: BotContext, invocation: Invocation) -> tuple[Reply, str]:
    if invocation.origin is not None:
        # Every audit entry this command writes, its follow-ups' too, names where it came from.
        context = replace(context, origin=invocation.origin)
    try:
        words = split_words(invocation.text)
        if not words:
            return help.run(context, invocation, []), "ok"
        name, rest = words[0].lower(), words[1:]
        module = COMMANDS.get(name)
        if module is None:
            raise UsageError(f"Unknown command `{words[0][:40]}`. {close_names(words[0][:40])}")
        authorize(context, invocation, module, rest)
        reply: Reply = module.run(context, invocation, rest)
        return reply, "ok" if reply.ok else "failed"
    except UsageError as error:
        usage = f"\n{usage_text(error.command)}" if error.command else ""
        return Reply(text=f":warning: {error}{usage}", ok=False), "refused"
    except UserError as error:
        return Reply(text=f":warning: {error}", ok=False), "refused"
    except StoreUnreachable as error:
        logger.error("command %s: the store is down: %s", command_name(invocation.text), error)
        return Reply(text=STORE_DOWN.format(error=error), ok=False), "failed"
    except StaggerError as error:
        logger.error("command %s failed: %s", command_name(invocation.text), error)
        return Reply(text=f":x: {error}", ok=False), "failed"
    except Exception:
        logger.exception("command %s crashed", command_name(invocation.text))
        try:
            context.record(
                AuditEntry(
                    invocation.user,
                    invocation.source,
                    "command.crashed",
                    None,
                    {"text": invocation.text[:200]},
                    "failed",
                    "internal error",
                )
            )
        except StaggerError:
            logger.exception("could not audit the crash")
        return Reply(
            text=":x: Something went wrong inside stagger-bot; nothing was changed by this "
            "command. The error is in the bot's log.",
            ok=False,
        ), "crashed"
