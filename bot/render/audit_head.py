"""The audit head as posts show it: `audit head `ID:HASH``, the newest entry of the
trail, which `stagger-bot audit verify --head ID:HASH` checks later. Pure."""

from __future__ import annotations

from bot.core.audit_head import AuditHead


def audit_head_line(head: AuditHead) -> str:
    return f"audit head `{head}`"


def with_audit_head(text: str, head: AuditHead | None) -> str:
    """`text` with the head on a line of its own at the end (none while the trail is empty)."""
    return f"{text}\n{audit_head_line(head)}" if head is not None else text


def daily_audit_head_text(head: AuditHead) -> str:
    return (
        f":link: Daily {audit_head_line(head)} — the newest entry of the audit trail. "
        f"`stagger-bot audit verify --head {head}` proves the trail up to it was not changed "
        "since."
    )
