"""A thread pool that can tell when everything it was given has finished: the rehearsal
waits for the bot to be idle before its clock moves on."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class IdleTrackingExecutor(ThreadPoolExecutor):
    """Bolt's listener executor, which knows when the bot has finished what it started."""

    def __init__(self) -> None:
        super().__init__(max_workers=4, thread_name_prefix="rehearsal-bot")
        self._busy = 0
        self._idle = threading.Condition()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._idle:
            self._busy += 1

        def tracked() -> Any:
            try:
                return fn(*args, **kwargs)
            finally:
                with self._idle:
                    self._busy -= 1
                    self._idle.notify_all()

        return super().submit(tracked)

    def wait_idle(self) -> None:
        with self._idle:
            self._idle.wait_for(lambda: self._busy == 0)
