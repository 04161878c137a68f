"""What `check-config` warns about in a valid spec: settings that start but will bite
later, each naming the key and why."""

from __future__ import annotations

from bot.core.approvals import unsatisfiable
from bot.core.spec import Spec


def spec_warnings(spec: Spec) -> list[str]:
    warnings = []
    for name, environment in spec.environments.items():
        policy = environment.approvals
        for approver in dict.fromkeys(policy.approvers):
            problem = unsatisfiable(policy, approver)
            if problem is not None:
                warnings.append(
                    f"environments.{name}.approvals: a request by an approver (<@{approver}>) "
                    f"could never be approved: {problem}; raise the approvers or set "
                    "allow_self = true"
                )
                break
        forced = unsatisfiable(policy, "", forced=True)
        if policy.required and forced is not None:
            warnings.append(
                f"environments.{name}.approvals: a forced move (one approval more than "
                f"usual) could never be approved: {forced}"
            )
    warnings.extend(_weekday_numbers(spec.checkpoints.cron))
    return warnings


def _weekday_numbers(cron: str) -> list[str]:
    """APScheduler 3 reads a crontab's day-of-week numbers from Monday = 0, where cron
    itself counts from Sunday = 0: `1-5` would run Tuesday to Saturday."""
    fields = cron.split()
    if len(fields) != 5 or not any(character.isdigit() for character in fields[4]):
        return []
    return [
        f"checkpoints.cron: {cron!r} counts weekdays from Monday = 0 (the scheduler's rule), "
        "not Sunday = 0 as crontab does, so each number means the day after crontab's; "
        "write day names instead, like mon-fri"
    ]
