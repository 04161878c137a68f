"""How long the bot's work on hosts may take at most, from the spec's timeouts: what an
execution's or a validation check's lease may be renewed up to."""

from __future__ import annotations

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


def execution_time_limit(spec: Spec, action: str) -> float:
    """Seconds an execution may take at most: its steps' timeouts added up (hosts run in
    parallel). Past it, its lease is no longer renewed, so a stuck executor frees the env."""
    ssh, flag = spec.ssh, spec.flag
    change = ssh.connect_timeout_s + FLAG_CHANGE_COMMANDS * ssh.command_timeout_s
    limit = change + flag.verify_timeout_s + EXECUTION_MARGIN_S
    if action == "transition":  # the gates are measured again before the change
        limit += measurement_time_limit(spec)
    return limit
