"""`stagger-bot rehearse --interactive`: the simulated fleet runs on its own clock while
you type `/stagger ...` commands as the on-call operator, and approve or deny at prompts
as a lead."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

from bot.core.approvals import ApprovalRequest, Status
from bot.core.clock import format_time
from bot.rehearsal.bot_spec import LEAD, LEAD_2, NAMES, OPERATOR
from bot.rehearsal.rehearsal_bot import RehearsalBot
from bot.rehearsal.terminal_render import Terminal
from bot.render.blocks import APPROVE_ACTION, DENY_ACTION
from bot.store.timeline import Timeline

# Without --speed: five simulated minutes a second, an hour in twelve seconds.
DEFAULT_SPEED = 300.0
HELP = (
    "Type /stagger commands as @ops-oncall (`status`, `advance`, `kpi prod 1h`, "
    "`rollback prod --reason TEXT`, `help`); `quit` ends. Approval requests are put to you "
    "as the lead."
)


def _read(prompt: str) -> str | None:
    try:
        return input(prompt)
    except EOFError:
        return None


class Interactive:
    def __init__(
        self,
        bot: RehearsalBot,
        tick: Callable[[], timedelta],
        terminal: Terminal,
        speed: float,
        read: Callable[[str], str | None] = _read,
    ) -> None:
        """`tick` moves the simulated world one step and returns the step taken."""
        self._bot, self._tick, self._terminal, self._read = bot, tick, terminal, read
        self._failure: BaseException | None = None  # what stopped the clock's thread
        self._speed = speed or DEFAULT_SPEED
        self._stop = threading.Event()
        # The clock waits while a command runs: a reload must not race the fleet's writes.
        self._turn = threading.Lock()
        self._asked: set[str] = set()

    def run(self) -> None:
        say = self._terminal.say
        say(HELP)
        clock = threading.Thread(target=self._run_clock, name="rehearsal-clock", daemon=True)
        clock.start()
        try:
            while True:
                self._ask_approvals()
                line = self._read(self._prompt())
                if self._failure is not None:
                    raise self._failure
                if line is None or line.strip().lower() in ("quit", "exit"):
                    break
                text = line.strip().removeprefix("/stagger").strip()
                if not text:
                    continue
                with self._turn:
                    # The ack first, then what the command posts after it: the bot may
                    # post before its answer to the command has arrived here.
                    self._terminal.hold()
                    try:
                        reply = self._bot.sender.command(OPERATOR, text)
                        ok = reply.status == 200
                        body = reply.json() if ok else {"text": f"HTTP {reply.status}"}
                        say(f"  (only @{NAMES[OPERATOR]} sees) {body.get('text', '')}")
                    finally:
                        self._terminal.release()
                    self._bot.executor.wait_idle()
        finally:
            self._stop.set()
            clock.join(timeout=30)

    def _run_clock(self) -> None:
        try:
            while not self._stop.is_set():
                with self._turn:
                    step = self._tick()
                self._stop.wait(step.total_seconds() / self._speed)
        except BaseException as error:  # raised again in the main thread, after its read
            self._failure = error

    def _prompt(self) -> str:
        now = self._bot.clock.now()
        current = Timeline(self._bot.context.store).current()
        phase = current.phase if current else "not started"
        return f"[{format_time(now, self._bot.context.spec.timezone)} · {phase}] /stagger "

    def _ask_approvals(self) -> None:
        pending = [
            request
            for request in self._bot.context.store.open_requests()
            if request.status is Status.PENDING and request.id not in self._asked
        ]
        for request in pending:
            self._asked.add(request.id)
            self._decide(request)

    def _decide(self, request: ApprovalRequest) -> None:
        lead = LEAD if request.requester != LEAD else LEAD_2
        answer = self._read(
            f"Approve {request.id} ({request.description}) as @{NAMES[lead]}? [y]es, [n]o, "
            "Enter to leave it: "
        )
        choice = (answer or "").strip().lower()[:1]
        if choice not in ("y", "n"):
            return
        action = APPROVE_ACTION if choice == "y" else DENY_ACTION
        approvers = [a for a in (LEAD, LEAD_2) if a != request.requester]
        with self._turn:
            for approver in approvers[: request.required if choice == "y" else 1]:
                self._bot.sender.click(
                    approver, action, request.id, message_ts=request.message_ts or "1.0"
                )
                self._bot.executor.wait_idle()
