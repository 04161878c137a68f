"""Running a request's flag change on every host of its env, with every SSH command in
the audit trail tied to the request."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.core.approvals import ApprovalRequest
from bot.core.changes import ChangeOutcome, FlagChange, Timeouts
from bot.core.host_address import HostAddress
from bot.core.ports import CommandResult
from bot.core.spec_fleet import EnvironmentSpec
from bot.hosts.flag_change import CommandObserver, apply_everywhere
from bot.rollout.context import BotContext
from bot.rollout.execution_lease import still_held
from bot.store.audit import AuditEntry


def ssh_observer(context: BotContext, request: ApprovalRequest) -> CommandObserver:
    def observe(result: CommandResult) -> None:
        context.record(
            AuditEntry(
                "bot",
                "bot",
                "ssh",
                request.env,
                {"request": request.id, **ssh_args(result)},
                ssh_outcome(result),
            )
        )

    return observe


# The write's check sums the env file, which holds the app's secrets: a digest in the
# audit trail would let anyone with an export guess a weak password offline.
_DIGEST = re.compile(r"\b[0-9a-f]{64}\b")


def _without_digests(command: str) -> str:
    return _DIGEST.sub("[sha256]", command)


def ssh_args(result: CommandResult) -> dict[str, str | int | float]:
    """An SSH command as the audit trail keeps it: never its output, never a digest."""
    return {
        "host": result.host,
        "command": _without_digests(result.command),
        "exit_status": result.exit_status,
        "duration_s": round(result.duration_s, 3),
    }


def ssh_outcome(result: CommandResult) -> str:
    return "ok" if result.ok else ("timeout" if result.timed_out else "failed")


def apply_for_request(
    context: BotContext,
    request: ApprovalRequest,
    environment: EnvironmentSpec,
    change: FlagChange,
    hosts: Sequence[HostAddress] | None = None,
) -> ChangeOutcome:
    if request.plan is not None:
        # The approval covered the pinned plan's hosts: those, and no others, are changed.
        pinned = list(request.plan.hosts)
        environment = environment.model_copy(update={"hosts": pinned})
        if hosts is not None:
            addresses = {HostAddress.parse(host) for host in pinned}
            hosts = [host for host in hosts if host in addresses]
    return apply_everywhere(
        environment,
        change,
        context.transport,
        timeouts=Timeouts(context.spec.ssh.command_timeout_s, context.spec.flag.verify_timeout_s),
        stamp=context.clock.now().strftime("%Y%m%dT%H%M%SZ"),
        observe=ssh_observer(context, request),
        still_owner=lambda: still_held(request.id),
        hosts=hosts,
    )
