"""`/stagger audit [env] [N]`: the latest entries of the audit trail."""

from __future__ import annotations

import json

from bot.core.clock import format_time, parse_iso
from bot.core.errors import UsageError
from bot.core.replies import Invocation, Reply
from bot.rollout.context import BotContext
from commands.parsing import require_env

NAME = "audit"
USAGE = "audit [env] [N]"
SUMMARY = "The latest N (default 20, at most 100) audit entries, for one environment or all."
MAX_ROWS = 100


def run(context: BotContext, invocation: Invocation, words: list[str]) -> Reply:
    env: str | None = None
    limit = 20
    for word in words:
        if word.isdigit():
            limit = int(word)
            if not 1 <= limit <= MAX_ROWS:
                raise UsageError(f"N must be between 1 and {MAX_ROWS}.", NAME)
        elif env is None:
            env = require_env(context.spec, word, NAME)
        else:
            raise UsageError(f"Unexpected `{word}`.", NAME)
    rows = context.audit.latest(env, limit)
    if not rows:
        return Reply(text="The audit trail has no entries" + (f" for {env}." if env else "."))
    lines = [f"*Audit trail{' for ' + env if env else ''}* (newest first)"]
    for row in rows:
        # An emergency rollback's actor is the shell's `user@host`, not a Slack user.
        plain = row["actor"] in ("bot", "policy") or row["source"] == "emergency"
        actor = row["actor"] if plain else f"<@{row['actor']}>"
        detail = f" — {row['detail']}" if row["detail"] else ""
        origin = json.loads(row["args"] or "{}").get("origin")
        via = f"{row['source']} ({origin})" if origin else row["source"]
        at = format_time(parse_iso(row["at"]), context.spec.timezone)
        lines.append(
            f"`{row['id']}` {at} {actor} via {via}: "
            f"*{row['action']}* {row['env'] or ''} → {row['outcome']}{detail[:300]}"
        )
    return Reply(text="\n".join(lines))
