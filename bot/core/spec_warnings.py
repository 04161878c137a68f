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
    return warnings
