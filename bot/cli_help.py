"""What `stagger-bot COMMAND --help` says: what the command does, and the environment
variables it reads (`bot.settings` reads them all, once, at start)."""

from __future__ import annotations

import argparse
import textwrap

# Every variable a command may read.
VARIABLES = {
    "STAGGER_CONFIG": "the rollout spec (default ./stagger.toml)",
    "STAGGER_DB": "the store: a SQLite file (default ./stagger.db) or a postgresql:// DSN",
    "STAGGER_DB_BUSY_TIMEOUT_S": "how long a write waits for the store's lock (default 10)",
    "STAGGER_AUDIT_KEY": "the audit trail's key (required; README: The audit trail)",
    "STAGGER_AUDIT_OLD_KEYS": "retired audit keys, comma-separated",
    "SLACK_BOT_TOKEN": "the bot's token, xoxb-...",
    "SLACK_SIGNING_SECRET": "the app's signing secret, which proves a request is Slack's",
    "SLACK_APP_TOKEN": "the app-level token for Socket Mode, xapp-...",
    "SLACK_API_URL": "the Web API's base URL (default https://slack.com/api/)",
    "SLACK_TIMEOUT_S": "a Web API call unanswered this long is queued (default 10)",
    "SLACK_TEAM_ID": "refuse requests naming another workspace (optional)",
    "SLACK_APP_ID": "refuse requests naming another app (optional)",
    "PORT": "the port to listen on (default 3000)",
    "DATABASE_URL": "a PostgreSQL for the simulated job rows (optional: the database KPIs)",
    "<database_url_env>": "the DSN in the variable each env's database_url_env names",
    "NO_COLOR": "set (to anything): print no colour, even on a terminal (no-color.org)",
    "TMPDIR": "where the rehearsal's work folder is made, without --keep (default /tmp)",
}
_STORE = ("STAGGER_CONFIG", "STAGGER_DB", "STAGGER_DB_BUSY_TIMEOUT_S")
_AUDIT = ("STAGGER_AUDIT_KEY", "STAGGER_AUDIT_OLD_KEYS")
_POSTS = ("SLACK_BOT_TOKEN", "SLACK_API_URL", "SLACK_TIMEOUT_S")
_SLACK_EDGE = ("SLACK_SIGNING_SECRET", "SLACK_TEAM_ID", "SLACK_APP_ID")
_DSN = ("<database_url_env>",)

# What `stagger-bot COMMAND --help` says the command does, and what it reads.
ABOUT: dict[str, tuple[str, tuple[str, ...]]] = {
    "serve": (
        "Serve Slack over HTTP: slash commands and buttons at /slack/events, health at "
        "/healthz, and (unless --no-scheduler) the scheduled jobs. SIGHUP reloads the spec.",
        (*_STORE, *_AUDIT, *_POSTS, *_SLACK_EDGE, "PORT", *_DSN),
    ),
    "socket": (
        "Connect to Slack in Socket Mode (no inbound port) and answer commands and buttons; "
        "runs the scheduled jobs too unless --no-scheduler.",
        (*_STORE, *_AUDIT, *_POSTS, *_SLACK_EDGE, "SLACK_APP_TOKEN", *_DSN),
    ),
    "scheduler": (
        "Run the scheduled jobs alone — checkpoints, alerts, validation checks, daily "
        "analyses, the audit head — beside `serve --no-scheduler` on the same store.",
        (*_STORE, *_AUDIT, *_POSTS, *_DSN),
    ),
    "rehearse": (
        "Rehearse the whole rollout: the real bot against a simulated fleet in accelerated "
        "time, simulated people approving; exit 0 when the scenario's expected outcome "
        "happened. Needs no Slack workspace and no servers.",
        ("DATABASE_URL", "NO_COLOR", "TMPDIR"),
    ),
    "cmd": (
        "Run one /stagger command as the user given, through the same handlers as Slack, "
        "and print the reply; what the command posts goes to Slack when SLACK_BOT_TOKEN "
        "is set. approve and deny work only from Slack.",
        (*_STORE, *_AUDIT, *_POSTS, *_DSN, "NO_COLOR"),
    ),
    "kpi": (
        "Scan the environment's hosts' logs (and its database) now and print the KPI "
        "table, or JSON with --json.",
        (*_STORE, *_AUDIT, *_DSN),
    ),
    "check-config": (
        "Check a rollout spec as the bot would load it and list every problem with its key "
        "path (exit 2); print warnings for what starts but will bite later, such as an SSH "
        "key missing on this machine (exit 0).",
        ("STAGGER_CONFIG",),
    ),
    "replay": (
        "Replay the rollout a store recorded through another spec's thresholds, rollback "
        "triggers, success criteria and cadences, from the events the store kept: phase by "
        "phase, when each alert, trigger and gate would have fired or been met, beside what "
        "actually happened. Reads a copy of the store; touches no host, Slack or database.",
        ("STAGGER_DB",),
    ),
    "audit": ("Check the audit trail's chain, export its rows, or import a journal.", ()),
    "audit verify": (
        "Walk the audit trail's HMAC chain in one read snapshot and name the first row "
        "that breaks it (exit 1); with --head, also prove the trail still holds a head the "
        "bot posted in Slack.",
        ("STAGGER_DB", *_AUDIT),
    ),
    "audit export": (
        "Write every audit row as CSV or JSON lines; needs no key.",
        ("STAGGER_DB",),
    ),
    "audit import": (
        "Add an emergency-rollback journal to the audit trail: its chain is checked first "
        "(a broken one is refused, naming the first bad line, and nothing imported); each "
        "entry is recorded once, marked as made outside the bot; the env's state is set "
        "from what the rollback did, unless the bot has moved the env since.",
        ("STAGGER_DB", *_AUDIT),
    ),
    "emergency-rollback": (
        "Roll the env back when the store or the bot is down: the same verified flag change "
        "as a bot rollback, over SSH with the spec's key and known_hosts, on every host at "
        "once. Needs no store and no Slack; writes its audit entries to a local journal "
        "(signed when STAGGER_AUDIT_KEY is set) for `audit import`. Exit 0 when every host "
        "verified, 1 when any failed, 2 on bad input.",
        ("STAGGER_CONFIG", *_AUDIT),
    ),
    "store": ("Copy the store to another engine (SQLite, PostgreSQL), the bot stopped.", ()),
    "store migrate": (
        "Copy every table of a stopped bot's store (its state, requests and audit trail) "
        "from --from into a new, empty store at --to, each a SQLite file or a postgresql:// "
        "DSN; refused while a process holds the store. Then verify the audit trail on the "
        "copy, as `audit verify` with STAGGER_DB set to it would.",
        _AUDIT,
    ),
}


def describe_commands(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """Gives each command's --help its description and the variables it reads."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for name, command in action.choices.items():
            # A command missing from ABOUT still runs; its --help test fails instead.
            description, reads = ABOUT.get(prefix + name, ("", ()))
            command.formatter_class = argparse.RawDescriptionHelpFormatter
            command.description = textwrap.fill(description, 88)
            if reads:
                width = max(len(variable) for variable in reads) + 2
                lines = [f"  {v:<{width}}{VARIABLES[v]}" for v in reads]
                command.epilog = "environment:\n" + "\n".join(lines)
            describe_commands(command, f"{prefix}{name} ")
