"""A full rollback that starts executing while a transition soaks after its canary: the
rest of that change is cancelled (audited, said in its thread) and the rollback runs on
every host. Only then: a rollback merely requested (it may be denied or withdrawn) or
a per-job one leaves the soak alone. Until the rollback's own result is written, the
env's state says what the fleet runs: mixed, the canary on the new phase."""

from __future__ import annotations

from dataclasses import replace

from bot.core.approvals import ApprovalRequest, Status
from bot.core.tiers import HostState
from bot.rollout.context import BotContext
from bot.rollout.request_message import refresh_request_message
from bot.store.audit import AuditEntry
from bot.store.execution_hosts import ExecutionHosts
from bot.store.soaks import Soaks


def cancel_soaking_transitions(context: BotContext, rollback: ApprovalRequest) -> None:
    for soaking in context.store.open_requests(rollback.env):
        if soaking.action != "transition" or soaking.status is not Status.SOAKING:
            continue
        standings = ExecutionHosts(context.store).of(soaking.id)
        changed = [s.host for s in standings if s.state is HostState.VERIFIED]
        untouched = [s.host for s in standings if s.state is HostState.NOT_STARTED]
        why = (
            f"cancelled during its soak: rollback {rollback.id} runs; "
            f"not started: {', '.join(untouched) or 'none'}"
        )
        if not context.store.transition(
            soaking.id,
            (Status.SOAKING,),
            Status.CANCELLED,
            decided_by="stagger-bot",
            decided_at=context.clock.now(),
            outcome=why,
        ):
            continue
        Soaks(context.store).close(soaking.id, "cancelled", why)
        phase = soaking.args.get("phase", "")
        state = context.store.env_state(soaking.env)
        context.store.set_env_state(
            replace(
                state,
                stagger_enabled=None,
                note=f"transition {soaking.id} to {phase} {why}; "
                f"{', '.join(changed) or 'no host'} run(s) {phase}; hosts differ",
            )
        )
        context.record(
            AuditEntry(
                "bot", "bot", "transition.cancelled", soaking.env,
                {"request": soaking.id, "rollback": rollback.id, "not_started": untouched},
                "cancelled", why,
            )
        )  # fmt: skip
        context.poster.post(
            context.spec.channel,
            f":heavy_multiplication_x: The rest of `{soaking.id}` ({soaking.description}) is "
            f"cancelled: rollback `{rollback.id}` runs during the soak, on every host. "
            f"Not started: {', '.join(untouched) or 'none'}.",
            thread_ts=soaking.message_ts,
            broadcast=True,
        )
        refresh_request_message(
            context, replace(soaking, status=Status.CANCELLED), why[0].upper() + why[1:] + "."
        )
