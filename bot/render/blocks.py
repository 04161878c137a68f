"""Block Kit rendering: pure functions from the bot's data to Slack blocks."""

from __future__ import annotations

from bot.core.approvals import ApprovalRequest, Status
from bot.core.changes import ChangeOutcome
from bot.core.clock import format_time
from bot.core.kpi_report import KpiReport, format_value, window_text
from bot.core.replies import Block
from bot.core.spec import Spec
from bot.core.spec_fields import SLACK_USER_ID
from bot.render.comparisons import judgement_note, windows_line
from bot.render.plan_text import plan_text

APPROVE_ACTION = "stagger_approve"
DENY_ACTION = "stagger_deny"
REQUEST_ROLLBACK_ACTION = "stagger_request_rollback"
ACKNOWLEDGE_ACTION = "stagger_acknowledge"
SNOOZE_ACTION = "stagger_snooze"
RETRY_ACTION = "stagger_retry"

_STATUS_MARK = {
    Status.PENDING: ":hourglass_flowing_sand:",
    Status.EXECUTING: ":gear:",
    Status.SUCCEEDED: ":white_check_mark:",
    Status.FAILED: ":x:",
    Status.DENIED: ":no_entry:",
    Status.EXPIRED: ":alarm_clock:",
    Status.CANCELLED: ":heavy_multiplication_x:",
    Status.INTERRUPTED: ":warning:",
    Status.SOAKING: ":hourglass:",
}


def escape(text: str) -> str:
    """Slack mrkdwn escaping: user text can't ping channels or forge links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]}


def mention(user: str) -> str:
    """A Slack user as a mention; the bot itself (a proposal's requester) by name."""
    return f"<@{user}>" if SLACK_USER_ID.match(user) else user


def request_summary(request: ApprovalRequest, zone: str) -> str:
    approvals = f"{len(request.approved_by)}/{request.required}"
    approvers = ", ".join(f"<@{user}>" for user in request.approved_by) or "none yet"
    return (
        f"*{escape(request.description)}* — request `{request.id}`\n"
        f"*Requested by:* {mention(request.requester)}\n"
        f"*Reason:* {escape(request.reason) or '_none given_'}\n"
        + (f"*Gates:*\n{request.args['gates']}\n" if request.args.get("gates") else "")
        + (f"{escape(plan_text(request.plan))}\n" if request.plan else "")
        + f"*Approvals:* {approvals} ({approvers})\n"
        f"*Expires:* <!date^{int(request.expires_at.timestamp())}^{{time}} {{date_short}}|"
        f"{format_time(request.expires_at, zone)}>"
    )


def approval_request_blocks(request: ApprovalRequest, zone: str) -> list[Block]:
    return [
        section(f":rotating_light: Approval needed: {request_summary(request, zone)}"),
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


def rollback_offer_blocks(text: str, env: str) -> list[Block]:
    """A message with a one-click `Request rollback` (it still needs the approvals)."""
    return [
        section(text),
        {
            "type": "actions",
            "block_id": f"offer:{env}",
            "elements": [
                {
                    "type": "button",
                    "action_id": REQUEST_ROLLBACK_ACTION,
                    "text": {"type": "plain_text", "text": f"Request rollback of {env}"},
                    "style": "danger",
                    "value": env,
                }
            ],
        },
    ]


def closed_request_blocks(request: ApprovalRequest, note: str, zone: str) -> list[Block]:
    """The request's message once it can no longer be acted on: no buttons."""
    mark = _STATUS_MARK[request.status]
    return [
        section(f"{mark} *{request.status.value.upper()}*: {request_summary(request, zone)}"),
        context(escape(note)),
    ]


def outcome_text(title: str, outcome: ChangeOutcome) -> str:
    lines = [title]
    for host in outcome.hosts:
        mark = ":white_check_mark:" if host.verified else ":x:"
        lines.append(f"{mark} `{host.host}` — {escape(host.detail)}")
    return "\n".join(lines)


_VERDICT_MARK = {
    "met": ":white_check_mark:",
    "not met": ":large_yellow_circle:",
    "alert": ":red_circle:",
    "unavailable": ":grey_question:",
}


def kpi_table_text(report: KpiReport, spec: Spec) -> str:
    """The KPI table as a monospace block, one row per KPI with its verdict (a dry-run
    KPI's marked so)."""
    rows = [f"{'KPI':<24}{'value':>10}  {'target':<16}{'alert':<16}verdict"]
    for judgement in report.judgements:
        kpi = spec.kpis[judgement.kpi]
        note = judgement_note(judgement, kpi.unit)
        rows.append(
            f"{kpi.label[:23]:<24}{format_value(judgement.value, kpi.unit):>10}  "
            f"{kpi.target:<16}{kpi.alert:<16}{judgement.verdict.value}"
            + (" (dry run)" if judgement.dry_run else "")
            + (f" ({note})" if note else "")
        )
    extra = [
        f"{name}: {format_value(report.measurements[name].value)}"
        for name in ("job_starts", "job_completions", "job_failures", "slow_queries")
    ]
    hosts = [
        f"{_VERDICT_MARK['unavailable'] if host.error else ':white_check_mark:'} `{host.host}`"
        + (f" — unavailable: {escape(host.error)}" if host.error else "")
        for host in report.hosts
    ]
    return (
        f"*KPIs for {report.env}* — {window_text(report.start, report.end, spec.timezone)}\n"
        + windows_line(report, spec.timezone) + "\n"
        + "```\n" + "\n".join(rows) + "\n```\n" + ", ".join(extra) + "\n" + "\n".join(hosts)
    )  # fmt: skip


def alert_blocks(
    text: str,
    alert_id: str,
    env: str,
    snooze_kpi: str | None,
    acknowledged: str | None = None,
) -> list[Block]:
    """An alert with its buttons: Acknowledge (gone once someone has, `acknowledged` then
    says who and when), Snooze 1h (only where one KPI can be silenced: never a trigger),
    and Request rollback."""
    buttons: list[Block] = []
    if acknowledged is None:
        buttons.append(_button(ACKNOWLEDGE_ACTION, "Acknowledge", alert_id, "primary"))
    if snooze_kpi is not None:
        buttons.append(_button(SNOOZE_ACTION, "Snooze 1h", snooze_kpi))
    buttons.append(_button(REQUEST_ROLLBACK_ACTION, "Request rollback", env, "danger"))
    shown = [section(text)] + ([context(acknowledged)] if acknowledged else [])
    return [*shown, {"type": "actions", "block_id": f"alert:{alert_id}", "elements": buttons}]


def _button(action_id: str, label: str, value: str, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label},
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def retry_offer_blocks(text: str, env: str, request_id: str, label: str) -> list[Block]:
    """A failed change's message with `Request rollback` and `Retry the N failed and M
    not-started hosts` (the same change, on exactly those hosts of `request_id`)."""
    offer = rollback_offer_blocks(text, env)
    retry = {
        "type": "button",
        "action_id": RETRY_ACTION,
        "text": {"type": "plain_text", "text": label},
        "value": request_id,
    }
    actions = offer[1]
    actions["block_id"] = f"retry:{request_id}"
    actions["elements"] = [retry, *actions["elements"]]
    return offer
