"""The plan an approval covers, as the approvers read it on the request."""

from __future__ import annotations

from bot.core.plan import Plan

# More hosts than this are shown as a count and the first few.
SHOWN_HOSTS = 5


def hosts_text(plan: Plan) -> str:
    hosts = [f"`{host}`" for host in plan.hosts]
    if len(hosts) <= SHOWN_HOSTS:
        return ", ".join(hosts) or "_none_"
    more = len(hosts) - SHOWN_HOSTS
    return f"{len(hosts)} hosts: " + ", ".join(hosts[:SHOWN_HOSTS]) + f" and {more} more"


def plan_text(plan: Plan) -> str:
    """The lines of a request's message that say what an approval covers."""
    lines = [
        f"*Plan* `{plan.short_digest}` — the approval covers exactly this:",
        f"• *Hosts ({plan.env}):* {hosts_text(plan)}",
        f"• *Change:* `{plan.change}`",
    ]
    if plan.phase is not None:
        terms = ", ".join(f"{name} {text}" for name, text in plan.terms)
        lines.append(f"• *Phase:* {plan.phase} ({terms})")
    return "\n".join(lines)
