"""Approvals pinned to the plan: a pending request whose plan the spec no longer gives
lapses, on a spec reload and at the approve click, saying what changed.

A request keeps the plan it was made for (`bot.core.plan`). When a reload changes any of
the plan's own fields — the env's hosts, the flag or its value, the target phase's terms
— the request is closed as lapsed (status `cancelled`), its message and thread say what
changed, and it must be requested again: an approval never covers what its approvers did
not see. Who may approve is not part of the plan; it is read at the click as before.

A request made before plans were kept (no plan stored) is pinned at its first click to
the plan the running spec gives, and lapses on any reload before that: what it covered
can't be compared, so the safe answer is to ask again.
"""

from __future__ import annotations

from dataclasses import replace
from typing import NoReturn

from bot.core.approvals import ApprovalRequest, Status
from bot.core.errors import NotAllowed
from bot.core.plan import Plan, PlanUnavailable, plan_of
from bot.core.replies import Source
from bot.core.spec import Spec
from bot.rollout.context import BotContext
from bot.rollout.request_message import refresh_request_message
from bot.rollout.waiting_rollback import repin_after_reload, runs_without_approval
from bot.store.audit import AuditEntry

LAPSED = "lapsed: "
_UNPINNED = (
    "the spec was reloaded, and the request was made before approvals were pinned to a "
    "plan, so what it covers can't be compared"
)


def with_plan(spec: Spec, request: ApprovalRequest) -> ApprovalRequest:
    """The request pinned to the plan `spec` gives it (kept if it has one)."""
    if request.plan is not None:
        return request
    return replace(request, plan=plan_of(spec, request.action, request.env, request.args))


def why_changed(spec: Spec, request: ApprovalRequest) -> str | None:
    """Why `request`'s pinned plan no longer holds under `spec`, or None if it does."""
    try:
        plan = plan_of(spec, request.action, request.env, request.args)
    except PlanUnavailable as gone:
        return f"the plan changed: {gone}"
    if request.plan is None:
        return None
    changes = plan.changes_from(request.plan)
    return "the plan changed: " + "; ".join(changes) if changes else None


def lapse_changed_plans(context: BotContext) -> list[ApprovalRequest]:
    """After a spec reload: every pending request whose plan changed lapses — but a
    rollback that needs no approval, re-pinned to the new plan instead."""
    lapsed = []
    for request in context.store.open_requests():
        if request.status is not Status.PENDING:
            continue
        if runs_without_approval(request):  # waits for a busy env: re-pinned, kept
            why = repin_after_reload(context, request)
        else:
            why = why_changed(context.spec, request) if request.plan else _UNPINNED
        if why is not None and lapse(context, request, why):
            lapsed.append(request)
    return lapsed


def lapse(context: BotContext, request: ApprovalRequest, why: str) -> bool:
    """Close a pending request as lapsed, audited and said in its message and thread;
    False if it was no longer pending."""
    outcome = LAPSED + why
    if not context.store.transition(
        request.id,
        (Status.PENDING,),
        Status.CANCELLED,
        decided_by="stagger-bot",
        decided_at=context.clock.now(),
        outcome=outcome,
    ):
        return False
    context.record(
        AuditEntry(
            "bot",
            "bot",
            "request.lapsed",
            request.env,
            {"request": request.id, "plan": _short(request.plan)},
            "lapsed",
            why,
        )
    )
    closed = replace(request, status=Status.CANCELLED, outcome=outcome)
    refresh_request_message(context, closed, f"Lapsed: {why}. Nothing was run; request it again.")
    context.poster.post(
        context.spec.channel,
        f":warning: `{request.id}` ({request.description}) lapsed: {why}. Its approvals "
        "covered the plan as it was; nothing was run. Request it again if it is still needed.",
        thread_ts=request.message_ts,
    )
    return True


def checked_at_click(
    context: BotContext, request: ApprovalRequest, user: str, source: Source
) -> ApprovalRequest:
    """The request an approve click may count on: pinned to its plan (one made before
    plans were kept is pinned now), the plan still the one the spec gives. Otherwise it
    lapses now (if it has not already) and NotAllowed tells the clicker what changed."""
    if request.status is Status.CANCELLED and request.outcome.startswith(LAPSED):
        _refuse(context, request, user, source, request.outcome.removeprefix(LAPSED))
    if request.status is not Status.PENDING or context.clock.now() >= request.expires_at:
        return request
    why = why_changed(context.spec, request)
    if why is not None:
        lapse(context, request, why)
        _refuse(context, request, user, source, why)
    if request.plan is None:
        pinned = with_plan(context.spec, request)
        if pinned.plan is not None and context.store.pin_plan(request.id, pinned.plan):
            return pinned
        return _stored(context, request)
    return request


def _stored(context: BotContext, request: ApprovalRequest) -> ApprovalRequest:
    return context.store.request(request.id) or request


def _refuse(
    context: BotContext, request: ApprovalRequest, user: str, source: Source, why: str
) -> NoReturn:
    context.record(
        AuditEntry(
            user, source, "approve.refused", request.env, {"request": request.id},
            "refused", LAPSED + why,
        )
    )  # fmt: skip
    raise NotAllowed(f"Request `{request.id}` lapsed: {why}. Nothing was run; request it again.")


def _short(plan: Plan | None) -> str:
    return plan.short_digest if plan else "none"
