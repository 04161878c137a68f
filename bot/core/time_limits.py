"""How long the bot's work on hosts may take at most, from the spec's timeouts: what an
execution's or a validation check's lease may be renewed up to."""

from __future__ import annotations

from bot.core.approvals import ApprovalRequest
from bot.core.request_tiers import execution_tiers
from bot.core.spec import Spec

# What one host's change runs, each bounded by the SSH command timeout: read the env file,
# write it, measure the log, reload, the log watch (which has the verify time on top),
# read the env file back.
FLAG_CHANGE_COMMANDS = 6
# A transition measures its env first (the gates are checked again): a log scan per host.
LOG_SCAN_TIMEOUT_S = 120.0
# Posting (a Slack timeout and its retries) and the store (a busy timeout per audit row)
# around the SSH work.
EXECUTION_MARGIN_S = 120.0


def measurement_time_limit(spec: Spec) -> float:
    """Seconds measuring an env may take at most: a log scan per host (in parallel) and
    the database's queries."""
    database = spec.database
    return (
        spec.ssh.connect_timeout_s
        + LOG_SCAN_TIMEOUT_S
        + database.connect_timeout_s
        + database.statement_timeout_ms / 1000
        + EXECUTION_MARGIN_S
    )


def execution_time_limit(spec: Spec, action: str, tiers: int = 1) -> float:
    """Seconds an execution in `tiers` tiers may take at most: each tier's steps'
    timeouts added up (a tier's hosts run in parallel, the tiers one after another).
    Past it, its lease is no longer renewed, so a stuck executor frees the env."""
    ssh, flag = spec.ssh, spec.flag
    change = ssh.connect_timeout_s + FLAG_CHANGE_COMMANDS * ssh.command_timeout_s
    limit = max(tiers, 1) * (change + flag.verify_timeout_s + EXECUTION_MARGIN_S)
    if action == "transition":  # the gates are measured again before the change
        limit += measurement_time_limit(spec)
    return limit


def request_time_limit(spec: Spec, request: ApprovalRequest) -> float:
    """`execution_time_limit` of `request`: scaled by the tiers (batches) it runs in — the
    env's, or a retry's subset of them."""
    return execution_time_limit(spec, request.action, len(execution_tiers(spec, request)))
