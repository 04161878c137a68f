"""The `/stagger` subcommands: one module each, one dispatcher for Slack and the CLI.

`dispatch` is the one place where errors become replies: a user-facing error shows its
message (and the usage where the words were wrong); anything else is logged and answered
with a short apology — never a stack trace. It is also the one place where the
authorization matrix (`bot.core.authorization`) is enforced, before a command runs.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from bot.core.errors import StaggerError, UsageError, UserError
from bot.core.replies import Invocation, Reply
from bot.rollout.context import BotContext
from bot.store.audit import AuditEntry
from commands import (
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
    offsets,
    phase,
    recover,
    report,
    rollback,
    silence,
    status,
    unsilence,
)
from commands.authorize import authorize
from commands.parsing import split_words
from commands.registry import COMMANDS, register, usage_text

logger = logging.getLogger(__name__)

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
)


def dispatch(context: BotContext, invocation: Invocation) -> Reply:
    if invocation.origin is not None:
        # Every audit entry this command writes, its follow-ups' too, names where it came from.
        context = replace(context, origin=invocation.origin)
    try:
        words = split_words(invocation.text)
        if not words:
            return help.run(context, invocation, [])
        name, rest = words[0].lower(), words[1:]
        module = COMMANDS.get(name)
        if module is None:
            raise UsageError(f"Unknown command `{words[0][:40]}`. Try `/stagger help`.")
        authorize(context, invocation, module, rest)
        reply: Reply = module.run(context, invocation, rest)
        return reply
    except UsageError as error:
        usage = f"\n{usage_text(error.command)}" if error.command else ""
        return Reply(text=f":warning: {error}{usage}", ok=False)
    except UserError as error:
        return Reply(text=f":warning: {error}", ok=False)
    except StaggerError as error:
        logger.error("command %r failed: %s", invocation.text[:80], error)
        return Reply(text=f":x: {error}", ok=False)
    except Exception:
        logger.exception("command %r crashed", invocation.text[:80])
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
        )
