"""The tiers one request's execution runs in: the env's tiers (a rollback's, unless the
env rolls back in tiers, is one tier of every host; a break-glass's or `auto_rollback`'s
always is), cut to a retry's hosts and to the hosts its approval covered. Pure: what
the runners plan, and what an execution's time limit is scaled by."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.approvals import ApprovalRequest
from bot.core.spec import Spec
from bot.core.spec_fleet import EnvironmentSpec
from bot.core.tiers import ALL_HOSTS, Tier, restricted


def retry_hosts(request: ApprovalRequest) -> list[str] | None:
    """The hosts a retry runs on (its `hosts` argument); None for a first run."""
    hosts = request.args.get("hosts")
    return [host for host in hosts.split(",") if host] if hosts else None


def planned_tiers(request: ApprovalRequest, tiers: Sequence[Tier]) -> tuple[Tier, ...]:
    """A first run's tiers; a retry's: the same tiers with only its hosts that are still
    in the spec (the others are skipped), and any of them the spec no longer tiers."""
    wanted = retry_hosts(request)
    if request.plan is not None:
        # The approval covered the pinned plan's hosts: those, and no others, are changed.
        pinned = set(request.plan.hosts)
        wanted = [host for host in (wanted or request.plan.hosts) if host in pinned]
    if wanted is None:
        return tuple(tiers)
    return restricted(tiers, wanted)


def execution_tiers(spec: Spec, request: ApprovalRequest) -> tuple[Tier, ...]:
    """The tiers `request` runs in under `spec` (none if its env left the spec)."""
    environment = spec.environment(request.env)
    if environment is None:
        return ()
    tiers = (
        environment.tiers
        if request.action == "transition"
        else rollback_tiers(environment, request)
    )
    return planned_tiers(request, tiers)


def runs_at_once(request: ApprovalRequest) -> bool:
    """A break-glass rollback, or the bot's own under `auto_rollback`: executed at once."""
    if request.action != "rollback":
        return False
    auto = request.required == 0 and (
        request.requester == "stagger-bot" or request.decided_by == "auto_rollback"
    )
    return "break_glass" in request.args or auto


def rollback_tiers(environment: EnvironmentSpec, request: ApprovalRequest) -> tuple[Tier, ...]:
    """A rollback's tiers: the env's `rollback_in_tiers` ones, except that a break-glass
    or `auto_rollback` goes to every host at once, whatever that says."""
    if runs_at_once(request):
        return (Tier(ALL_HOSTS, tuple(environment.hosts)),)
    return environment.rollback_tiers()
