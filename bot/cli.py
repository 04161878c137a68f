"""The `stagger-bot` command: a thin CLI over the same handlers Slack uses."""

from __future__ import annotations

import argparse
import logging
import os
import pwd
import socket
import sys
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from bot import serving
from bot.cli_emergency import (
    add_emergency_parser,
    add_import_parser,
    audit_import,
    emergency_rollback,
)
from bot.cli_help import describe_commands
from bot.cli_store import store_migrate
from bot.core.audit_head import AuditHead, parse_head
from bot.core.errors import ConfigError, SpecError, StaggerError
from bot.core.replies import Invocation
from bot.core.spec import Spec, load_spec
from bot.core.spec_warnings import spec_warnings
from bot.hosts.ssh_files import ssh_file_warnings
from bot.rehearsal.scenarios import SCENARIOS
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.store.audit import VerifyResult

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
# As a shell reports a process ended by Ctrl-C (SIGINT) or by a closed pipe (SIGPIPE).
EXIT_INTERRUPTED, EXIT_PIPE_CLOSED = 128 + 2, 128 + 13
# Package data: an installed stagger-bot rehearses without a checkout. The checkout's
# top-level stagger.example.toml, which users copy, is a link to this file.
EXAMPLE_SPEC = Path(__file__).resolve().parent / "stagger.example.toml"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stagger-bot",
        description="Run the job-stagger rollout from Slack: status, approvals, verified "
        "rollbacks over SSH, and an audit trail.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve", help="Serve Slack over HTTP (commands, buttons, /healthz)."
    )
    serve.add_argument(
        "--host",
        default="0.0.0.0",  # noqa: S104 - Slack must reach it
        help="Address to listen on (default 0.0.0.0).",
    )
    serve.add_argument("--port", type=int, help="Port (default: $PORT or 3000).")
    socket = commands.add_parser(
        "socket", help="Connect to Slack in Socket Mode (needs SLACK_APP_TOKEN)."
    )
    for slack_process in (serve, socket):
        slack_process.add_argument(
            "--no-scheduler",
            action="store_true",
            help="Leave the scheduled jobs to a `stagger-bot scheduler` process.",
        )
    commands.add_parser(
        "scheduler",
        help="Run only the scheduled jobs: checkpoints, alerts, validation checks, reports.",
    )

    rehearse = commands.add_parser(
        "rehearse",
        help="Rehearse the whole rollout on a simulated fleet, in accelerated time; exit 0 "
        "when the scenario's expected outcome happened.",
    )
    rehearse.add_argument(
        "--scenario",
        choices=sorted(SCENARIOS),
        default="happy",
        help="What goes wrong (default: happy, where nothing does).",
    )
    rehearse.add_argument(
        "--speed",
        type=float,
        default=0.0,
        help="Simulated seconds per real second, to watch it (default: as fast as it goes; "
        "with --interactive, 300).",
    )
    rehearse.add_argument(
        "--keep",
        type=_empty_folder,
        metavar="DIR",
        help="Keep the simulated fleet and the store in this folder, new or empty (default: "
        "a temporary folder, removed at the end).",
    )
    rehearse.add_argument(
        "--out",
        type=_empty_folder,
        metavar="DIR",
        help="Write the channel's transcript, each chart the bot uploads and the rollout "
        "report here, new or empty (default: a new stagger-rehearsal-SCENARIO-TIME folder "
        "in the current directory).",
    )
    rehearse.add_argument(
        "--spec", type=Path, help="Rollout spec to rehearse (default: the runbook's example)."
    )
    rehearse.add_argument(
        "--interactive",
        action="store_true",
        help="Type /stagger commands yourself while the fleet runs; approve at prompts.",
    )

    cmd = commands.add_parser("cmd", help="Run one /stagger command locally and print the reply.")
    cmd.add_argument("--user", required=True, help="Slack user ID to act as, e.g. U0OPS1.")
    cmd.add_argument("text", help="The command text, e.g. \"rollback prod --reason 'pool 90%%'\".")

    kpi = commands.add_parser("kpi", help="Measure an environment's KPIs now and print them.")
    kpi.add_argument("env", help="Environment name from the spec, e.g. prod.")
    kpi.add_argument("--window", default="6h", help="How far back: 30m, 6h, 2d (default 6h).")
    kpi.add_argument("--json", action="store_true", help="Print JSON for scripts.")

    replay = commands.add_parser(
        "replay",
        help="Replay a recorded rollout's stored events through another spec's thresholds "
        "and criteria: what would have fired, beside what did. Touches no host.",
    )
    replay.add_argument(
        "--store", type=Path, help="The store the rollout was recorded in (default: $STAGGER_DB)."
    )
    replay.add_argument(
        "--spec",
        type=Path,
        required=True,
        help="The spec whose alerts, triggers, criteria and cadences to replay it through.",
    )
    replay.add_argument("--env", help="Replay only this environment's phases.")

    check = commands.add_parser("check-config", help="Validate a rollout spec; exit 2 on errors.")
    check.add_argument("file", nargs="?", type=Path, help="Spec file (default: $STAGGER_CONFIG).")

    audit = commands.add_parser("audit", help="Verify or export the audit trail.")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = audit_commands.add_parser(
        "verify", help="Check the HMAC chain (needs STAGGER_AUDIT_KEY); name the first bad row."
    )
    verify.add_argument(
        "--head",
        type=_head_argument,
        action="append",
        default=[],
        metavar="ID:HASH",
        help="An audit head the bot posted (e.g. 1234:9f2c8a1b3c4d5e6f): fail unless the "
        "trail still holds that entry intact and everything after it chains to it. Give "
        "it more than once to check older posted heads too.",
    )
    verify.add_argument(
        "--plain-until",
        type=int,
        default=0,
        metavar="ID",
        help="Accept rows up to ID that are plain SHA-256 (a trail from before the audit "
        "key); any other unsigned row fails.",
    )
    export = audit_commands.add_parser("export", help="Write every audit row as CSV or JSON lines.")
    export.add_argument(
        "--format", choices=("csv", "jsonl"), default="jsonl", help="Output format."
    )
    export.add_argument("--output", type=Path, help="File to write (default: standard output).")
    add_import_parser(audit_commands)
    add_emergency_parser(commands)
    store = commands.add_parser("store", help="Copy a store to another engine (bot stopped).")
    store_commands = store.add_subparsers(dest="store_command", required=True, metavar="ACTION")
    migrate = store_commands.add_parser(
        "migrate",
        help="Copy every table (state, requests, the audit trail) of a stopped bot's store "
        "into a new, empty one, then verify the audit trail on the copy.",
    )
    migrate.add_argument(
        "--from", dest="source", required=True, metavar="PATH_OR_DSN",
        help="The store to copy: a SQLite file or a postgresql:// DSN.",
    )  # fmt: skip
    migrate.add_argument(
        "--to", dest="target", required=True, metavar="PATH_OR_DSN",
        help="The new store: a SQLite file or a postgresql:// DSN (empty or new).",
    )  # fmt: skip
    describe_commands(parser)
    return parser


def _version() -> str:
    try:
        return metadata.version("stagger-bot")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def _empty_folder(text: str) -> Path:
    """A folder the rehearsal may fill: a new one, or an empty one. Filling one in use
    would wipe or mix what is there."""
    path = Path(text)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise argparse.ArgumentTypeError(
            f"{path}: the folder is not empty" if path.is_dir() else f"{path} is not a folder"
        )
    return path


def _head_argument(text: str) -> AuditHead:
    try:
        return parse_head(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


# Every process that writes or verifies the audit trail needs its key, and checks for it
# before it starts anything.
NEEDS_AUDIT_KEY = frozenset({"serve", "socket", "scheduler", "cmd", "kpi"})


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    settings = Settings.from_environ()
    from bot.runtime import configure_logging

    configure_logging(settings)
    try:
        return _run(arguments, settings)
    except SpecError as error:
        _print_spec_problems(error)
        return EXIT_CONFIG
    except ConfigError as error:
        print(f"stagger-bot: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except StaggerError as error:
        print(f"stagger-bot: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("stagger-bot: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Whoever read the output went away (`| head`). Python flushes stdout once more at
        # exit and would complain that it can't: point it at /dev/null first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PIPE_CLOSED


def _print_spec_problems(error: SpecError) -> None:
    print(f"{error.source}: {len(error.problems)} problem(s)", file=sys.stderr)
    for problem in error.problems:
        print(f"  - {problem}", file=sys.stderr)


def _run(arguments: argparse.Namespace, settings: Settings) -> int:
    if arguments.command == "emergency-rollback":  # no store, no Slack: only spec and SSH
        return emergency_rollback(arguments, settings, shell_origin())
    if arguments.command == "rehearse":
        return _rehearse(arguments, settings)
    if arguments.command == "check-config":
        path = arguments.file or settings.config_path
        spec = load_spec(path)
        print(
            f"{path}: OK — {len(spec.environments)} environment(s), {len(spec.jobs)} job(s), "
            f"{len(spec.phases)} phase(s)"
        )
        for warning in [*spec_warnings(spec), *ssh_file_warnings(spec.ssh)]:
            print(f"warning: {warning}", file=sys.stderr)
        return EXIT_OK
    if arguments.command == "replay":
        return _replay(arguments, settings)
    keyed_audit = getattr(arguments, "audit_command", "") in ("verify", "import")
    if arguments.command in NEEDS_AUDIT_KEY or keyed_audit:
        settings.audit_keys()
    if arguments.command == "audit":
        return _audit(arguments, settings)
    if arguments.command == "store":
        return store_migrate(arguments.source, arguments.target, settings)
    spec = load_spec(settings.config_path)
    if arguments.command == "cmd":
        return _cmd(arguments, settings, spec)
    if arguments.command == "kpi":
        return _kpi(arguments, settings, spec)
    if arguments.command == "serve":
        serving.serve(
            settings,
            spec,
            arguments.host,
            arguments.port or settings.port,
            with_scheduler=not arguments.no_scheduler,
        )
        return EXIT_OK
    if arguments.command == "socket":
        serving.socket_mode(settings, spec, with_scheduler=not arguments.no_scheduler)
        return EXIT_OK
    if arguments.command == "scheduler":
        serving.scheduler_only(settings, spec)
        return EXIT_OK
    raise AssertionError(arguments.command)


def _audit(arguments: argparse.Namespace, settings: Settings) -> int:
    """Needs only the store: an audit trail can be checked without the spec it ran under."""
    from bot.runtime import secrets_of
    from bot.store.audit import AuditTrail
    from bot.store.store import Store

    location = settings.store_location()
    if isinstance(location, Path) and not location.is_file():
        raise StaggerError(f"no store at {location} (set STAGGER_DB to the bot's store)")
    if arguments.audit_command == "import":
        return audit_import(arguments, settings, shell_origin())
    if arguments.audit_command == "verify":
        audit = AuditTrail(Store(location), secrets_of(settings), settings.audit_keys())
        result = audit.verify(arguments.head, plain_until=arguments.plain_until)
        if result.ok:
            notes = _verified(result, arguments.head)
            print(f"audit trail OK: {result.rows_checked} row(s), chain intact{notes}")
            return EXIT_OK
        print(f"audit trail BROKEN: {result.problem} ({result.rows_checked} row(s) good before it)")
        return EXIT_FAILED
    audit = AuditTrail(Store(location), secrets_of(settings))
    if arguments.output:
        with arguments.output.open("w", encoding="utf-8", newline="") as out:
            count = audit.export(out, arguments.format)
        print(f"wrote {count} row(s) to {arguments.output}", file=sys.stderr)
    else:
        audit.export(sys.stdout, arguments.format)
    return EXIT_OK


def _replay(arguments: argparse.Namespace, settings: Settings) -> int:
    """Needs the store and the other spec only: no key, no Slack, no host. Each error is
    one line (a spec's problems too, all of them)."""
    from bot.render.replay_text import replay_text
    from bot.rollout.replay import replay_rollout

    if arguments.store is None and settings.db_url is not None:
        raise StaggerError(
            "replay reads a SQLite store and STAGGER_DB is PostgreSQL: copy it with "
            "`stagger-bot store migrate --from $STAGGER_DB --to FILE`, then --store FILE"
        )
    try:
        report = replay_rollout(arguments.store or settings.db_path, arguments.spec, arguments.env)
    except SpecError as error:
        print(f"stagger-bot: replay: {error}", file=sys.stderr)
        return EXIT_CONFIG
    print(replay_text(report))
    return EXIT_OK


def _verified(result: VerifyResult, heads: list[AuditHead]) -> str:
    notes = [
        f"it holds the posted head {head} and every later entry chains to it" for head in heads
    ]
    if result.plain_rows:
        notes.append(f"{result.plain_rows} row(s) from before the keyed chain are plain SHA-256")
    if result.newest is not None:
        notes.append(f"newest entry {result.newest}")
    return f" ({'; '.join(notes)})" if notes else ""


def _cmd(arguments: argparse.Namespace, settings: Settings, spec: Spec) -> int:
    from bot.runtime import build_context
    from bot.slack.app import FOLLOWUP_FAILED, run_followups
    from commands import dispatch

    context = build_context(settings, spec)
    invocation = Invocation(
        user=arguments.user, text=arguments.text, source="cli", origin=shell_origin()
    )
    reply = dispatch(context, invocation)
    _print_mrkdwn(reply.text, no_color=settings.no_color)
    broke: list[bool] = []
    run_followups(reply, lambda: broke.append(True))
    if broke:
        print(FOLLOWUP_FAILED.removeprefix(":warning: "), file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK if reply.ok else EXIT_FAILED


def _print_mrkdwn(text: str, no_color: bool) -> None:
    """A reply as a person reads it: styled on a terminal, plain text in a pipe or file."""
    from rich.console import Console

    from bot.render.mrkdwn_text import mrkdwn, tokens

    shown = mrkdwn(tokens(text, {}, {}))
    console = Console(no_color=no_color, highlight=False, soft_wrap=True)
    if console.is_terminal:
        console.print(shown)
    else:
        print(shown.plain)


def shell_origin() -> str:
    """`os-user@host` of this process. The user comes from the process's uid, not from
    $USER or $LOGNAME, which whoever runs the command may set to anything."""
    uid = os.getuid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid with no passwd entry, as in some containers
        user = f"uid-{uid}"
    return f"{user}@{socket.gethostname()}"


def _kpi(arguments: argparse.Namespace, settings: Settings, spec: Spec) -> int:
    from bot.core.kpi_report import parse_window
    from bot.render.blocks import kpi_table_text
    from bot.render.kpi_json import report_json
    from bot.rollout.measuring import measure
    from bot.runtime import build_context

    if spec.environment(arguments.env) is None:
        known = ", ".join(spec.environments)
        raise StaggerError(f"unknown environment {arguments.env!r} (known: {known})")
    context = build_context(settings, spec)
    report = measure(context, arguments.env, parse_window(arguments.window))
    print(report_json(report) if arguments.json else kpi_table_text(report, spec))
    return EXIT_OK


def _rehearse(arguments: argparse.Namespace, settings: Settings) -> int:
    from bot.rehearsal.runner import Rehearsal, RehearsalOptions

    spec_path = arguments.spec or EXAMPLE_SPEC
    if not spec_path.is_file():
        raise StaggerError(f"no spec to rehearse at {spec_path}; name one with --spec FILE")
    database = settings.database_urls.get("DATABASE_URL")
    options = RehearsalOptions(
        spec_path=spec_path,
        scenario=arguments.scenario,
        speed=arguments.speed,
        keep=arguments.keep,
        out=arguments.out,
        database_url=database.get_secret_value() if database else None,
        interactive=arguments.interactive,
        colour=not settings.no_color,
    )
    return Rehearsal(options, sys.stdout).run()


if __name__ == "__main__":
    sys.exit(main())
