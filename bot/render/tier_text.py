"""How an execution's tiers read in its thread: each tier with its hosts' outcomes, and
where a failure stopped the change."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.tiers import HostStanding, HostState, counts, not_started_text, tiers_of
from bot.render.blocks import escape


def progress_text(title: str, standings: Sequence[HostStanding]) -> str:
    """`title`, then a line per host under its tier: verified / failed / not started."""
    lines = [title]
    for tier in tiers_of(standings):
        lines.append(f"*{tier.name}*")
        for standing in standings:
            if standing.tier != tier.name:
                continue
            detail = f" — {escape(standing.detail)}" if standing.detail else ""
            shown = detail and standing.state in (HostState.VERIFIED, HostState.FAILED)
            word = "" if shown else f" {standing.state}"
            lines.append(f"{standing.state.mark} `{standing.host}`{word}{detail}")
    return "\n".join(lines)


def stopped_text(standings: Sequence[HostStanding]) -> str:
    """`stopped: batch 2 failed on web-3; batch 3 (web-4, web-5) not started`, or "" when
    no tier failed."""
    tiers = tiers_of(standings)
    if len(tiers) < 2:
        return ""  # every host at once: nothing else was held back
    by_host = {standing.host: standing for standing in standings}
    failed = [
        tier
        for tier in tiers
        if any(by_host[host].state is HostState.FAILED for host in tier.hosts)
    ]
    if not failed:
        return ""
    stop = failed[0]
    hosts = ", ".join(h for h in stop.hosts if by_host[h].state is HostState.FAILED)
    after = tiers[tiers.index(stop) + 1 :]
    untouched = [
        t for t in after if all(by_host[h].state is HostState.NOT_STARTED for h in t.hosts)
    ]
    rest = not_started_text(untouched)
    return f"stopped: {stop.name} failed on {hosts}" + (f"; {rest}" if rest else "")


def retry_label(standings: Sequence[HostStanding]) -> str:
    """`Retry the 1 failed and 1 not-started hosts`."""
    found = counts(standings)
    return (
        f"Retry the {found[HostState.FAILED]} failed and "
        f"{found[HostState.NOT_STARTED]} not-started hosts"
    )


def needs_retry(standings: Sequence[HostStanding]) -> bool:
    found = counts(standings)
    return bool(found[HostState.FAILED] or found[HostState.NOT_STARTED])
