"""A rollback that needs no approval (`auto_rollback`, a break-glass, an env whose policy
requires none) is pending only while it waits for a change executing on its env: it is
never lapsed, expired or denied — it must run as soon as that change ends, by its waiter
or, once that is gone, by the scheduler (`bot.rollout.orphaned_rollback`).

A spec reload re-pins it to the plan the new spec gives instead: a rollback goes to every
host now in the env (a retry's subset is dropped), and its thread says so.
"""

from __future__ import annotations

from dataclasses import replace

from bot.core.approvals import ApprovalRequest
from bot.core.plan import PlanUnavailable, plan_of
from bot.render.plan_text import hosts_text
from bot.rollout.context import BotContext
from bot.store.audit import AuditEntry

NOT_DENIABLE = "it needs no approval; it runs as soon as the change on the env ends"


def runs_without_approval(request: ApprovalRequest) -> bool:
    return request.action == "rollback" and request.required == 0


def repinned(context: BotContext, request: ApprovalRequest) -> ApprovalRequest | PlanUnavailable:
    """`request` on the plan the running spec gives, on every host now in its env."""
    args = {key: value for key, value in request.args.items() if key != "hosts"}
    try:
        plan = plan_of(context.spec, request.action, request.env, args)
    except PlanUnavailable as gone:
        return gone
    return replace(request, args=args, plan=plan)


def repin_after_reload(context: BotContext, request: ApprovalRequest) -> str | None:
    """Re-pin a waiting no-approval rollback to the reloaded spec's plan, said in its
    thread; why it can't run where the spec no longer has its env (None otherwise)."""
    updated = repinned(context, request)
    if isinstance(updated, PlanUnavailable):
        return f"the plan changed: {updated}"
    assert updated.plan is not None
    changes = updated.plan.changes_from(request.plan) if request.plan else []
    if request.plan is not None and not changes and updated.args == request.args:
        return None
    if not context.store.repin_pending(updated):
        return None
    what = "; ".join(changes) or (
        "its plan is pinned now" if request.plan is None else "a retry's host subset dropped"
    )
    context.record(
        AuditEntry(
            "bot", "bot", "request.repinned", request.env,
            {"request": request.id, "plan": updated.plan.short_digest}, "ok", what,
        )
    )  # fmt: skip
    context.poster.post(
        context.spec.channel,
        f":arrows_counterclockwise: The spec was reloaded while `{request.id}` "
        f"({request.description}) waits to run ({what}). "
        f"It needs no approval, so it still runs as soon as the change on {request.env} "
        f"ends — on every host now in {request.env}: {hosts_text(updated.plan)}.",
        thread_ts=request.message_ts,
    )
    return None
