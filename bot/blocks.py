"""Block Kit rendering: pure functions from the bot's data to Slack blocks."""

from __future__ import annotations

from bot.approvals import ApprovalRequest, Status
from bot.flag_change import ChangeOutcome
from bot.replies import Block

APPROVE_ACTION = "stagger_approve"
DENY_ACTION = "stagger_deny"

_STATUS_MARK = {
    Status.PENDING: ":hourglass_flowing_sand:",
    Status.EXECUTING: ":gear:",
    Status.SUCCEEDED: ":white_check_mark:",
    Status.FAILED: ":x:",
    Status.DENIED: ":no_entry:",
    Status.EXPIRED: ":alarm_clock:",
    Status.CANCELLED: ":heavy_multiplication_x:",
    Status.INTERRUPTED: ":warning:",
}


def escape(text: str) -> str:
    """Slack mrkdwn escaping: user text can't ping channels or forge links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]}


def request_summary(request: ApprovalRequest) -> str:
    approvals = f"{len(request.approved_by)}/{request.required}"
    approvers = ", ".join(f"<@{user}>" for user in request.approved_by) or "none yet"
    return (
        f"*{escape(request.description)}* — request `{request.id}`\n"
        f"*Requested by:* <@{request.requester}>\n"
        f"*Reason:* {escape(request.reason) or '_none given_'}\n"
        f"*Approvals:* {approvals} ({approvers})\n"
        f"*Expires:* <!date^{int(request.expires_at.timestamp())}^{{time}} {{date_short}}|"
        f"{request.expires_at:%Y-%m-%d %H:%M} UTC>"
    )


def approval_request_blocks(request: ApprovalRequest) -> list[Block]:
    return [
        section(f":rotating_light: Approval needed: {request_summary(request)}"),
        {
            "type": "actions",
            "block_id": f"approval:{request.id}",
            "elements": [
                {
                    "type": "button",
                    "action_id": APPROVE_ACTION,
                    "text": {"type": "plain_text", "text": "Approve"},
                    "style": "primary",
                    "value": request.id,
                },
                {
                    "type": "button",
                    "action_id": DENY_ACTION,
                    "text": {"type": "plain_text", "text": "Deny"},
                    "style": "danger",
                    "value": request.id,
                },
            ],
        },
    ]


def closed_request_blocks(request: ApprovalRequest, note: str) -> list[Block]:
    """The request's message once it can no longer be acted on: no buttons."""
    mark = _STATUS_MARK[request.status]
    return [
        section(f"{mark} *{request.status.value.upper()}*: {request_summary(request)}"),
        context(escape(note)),
    ]


def outcome_text(title: str, outcome: ChangeOutcome) -> str:
    lines = [title]
    for host in outcome.hosts:
        mark = ":white_check_mark:" if host.verified else ":x:"
        lines.append(f"{mark} `{host.host}` — {escape(host.detail)}")
    return "\n".join(lines)
