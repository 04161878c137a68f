"""A command's answer too big for Slack (`bot.render.message_caps`): the answer is its
summary, and the full text follows as a file in the channel the command was typed in —
a post of the command, so it counts in its three."""

from __future__ import annotations

from dataclasses import replace

from bot.core.replies import Invocation, Reply
from bot.render import message_caps
from bot.render.blocks import mention
from bot.rollout.context import BotContext


def capped_reply(context: BotContext, invocation: Invocation, reply: Reply) -> Reply:
    blocks = list(reply.blocks) or None
    capped = message_caps.cap(reply.text, blocks)
    if capped.file is None:
        return reply
    content, filename = capped.file, capped.filename
    channel = invocation.channel or context.spec.channel
    title = f"{capped.title} (for {invocation.user})"
    comment = f"The full answer to `/stagger {_command(invocation)}` by {mention(invocation.user)}."

    def upload() -> None:
        if not context.poster.upload(channel, content, filename, title, comment=comment):
            context.poster.ephemeral(
                channel, invocation.user, f":warning: The file `{filename}` could not be posted."
            )

    return replace(
        reply,
        text=capped.text,
        blocks=tuple(capped.blocks or ()),
        followups=(upload, *reply.followups),
    )


def _command(invocation: Invocation) -> str:
    return " ".join(invocation.text.split()[:1]) or "help"
