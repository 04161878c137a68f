"""What `check-config` warns about in a valid spec: settings that start but will bite
later, each naming the key and why."""

from __future__ import annotations

from bot.core.approvals import unsatisfiable
from bot.core.criteria import ERROR_RATE_KPI, margin_for
from bot.core.spec import Spec
from bot.core.thresholds import Condition


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
    for index, freeze in enumerate(spec.freeze):
        if freeze.cron is not None:
            warnings.extend(_weekday_numbers(freeze.cron, f"freeze[{index}].cron"))
    warnings.extend(_tight_error_rate_margins(spec))
    warnings.extend(_unwatched_canaries(spec))
    warnings.extend(_soaks_without_canaries(spec))
    return warnings


def _soaks_without_canaries(spec: Spec) -> list[str]:
    """The soak is the canary hosts' alone: without them it never happens. (`max_parallel`
    works without a canary: the hosts go in batches.)"""
    return [
        f"environments.{name}.canary_soak_min: has no effect without canary hosts (there is "
        "no soak); list them in `canary`, or leave canary_soak_min out"
        for name, environment in spec.environments.items()
        if not environment.canary and "canary_soak_min" in environment.model_fields_set
    ]


def _unwatched_canaries(spec: Spec) -> list[str]:
    """A soak shorter than the first validation check ends before any check has looked at
    the canary hosts: the rest of the fleet follows unwatched."""
    first = min(spec.validation.checks_after_min)
    return [
        f"environments.{name}.canary_soak_min: the soak ({environment.canary_soak_min} min) "
        f"ends before the first validation check (+{first} min), so no check watches the "
        "canary hosts before the other hosts follow"
        for name, environment in spec.environments.items()
        if environment.canary and environment.canary_soak_min < first
    ]


# Below this relative margin a "no worse" error rate needs thousands of failures a side.
_TIGHT_PCT = 10.0


def _tight_error_rate_margins(spec: Spec) -> list[str]:
    """A failure rate of ~1 % "no worse" within +2.5 % of itself settles only after some
    30,000 failures a side: inconclusive for the whole rollout."""
    found = []
    for index, phase in enumerate(spec.phases):
        criterion = phase.success.get(ERROR_RATE_KPI)
        if criterion is None or criterion.dry_run or criterion.margin_points is not None:
            continue
        margin = margin_for(ERROR_RATE_KPI, criterion, spec.rollback_triggers, spec.kpis)
        if (
            margin is not None
            and Condition.parse(criterion.condition).threshold == 0
            and (margin.value < _TIGHT_PCT)
        ):
            found.append(
                f"phases[{index}] ({phase.name}).success.error_rate: 'no worse' within "
                f"{margin.value:g} % of the baseline's own rate ({margin.source}) needs tens "
                "of thousands of failures a side to be shown: it would stay inconclusive. "
                'Give it in percentage points: { condition = "change <= 0%", '
                "margin_points = 0.5 }"
            )
    return found


def _weekday_numbers(cron: str, key: str = "checkpoints.cron") -> list[str]:
    """APScheduler 3 reads a crontab's day-of-week numbers from Monday = 0, where cron
    itself counts from Sunday = 0: `1-5` would run Tuesday to Saturday."""
    fields = cron.split()
    if len(fields) != 5 or not any(character.isdigit() for character in fields[4]):
        return []
    return [
        f"{key}: {cron!r} counts weekdays from Monday = 0 (the scheduler's rule), "
        "not Sunday = 0 as crontab does, so each number means the day after crontab's; "
        "write day names instead, like mon-fri"
    ]
