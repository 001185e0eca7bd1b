"""Stop a render that runs past its budget without ticking it (a slow filter on a large value).

Loops and calls tick the render's budget (hub.templating.limits), but a single filter may
loop in Python for a long time on a large input (`wordwrap(1)` over 200,000 characters takes
a second) without coming back to the template. One daemon thread per process looks at the
renders in progress every few milliseconds; a render whose thread has used its CPU budget
(garbage collection not counted) gets `RenderPreempted` raised in its thread by the interpreter
(`PyThreadState_SetAsyncExc`), at the next bytecode: the filter unwinds like any exception
and the render fails with a template error. What it cannot stop is one C function that
holds the interpreter lock that long (a regular expression backtracking), which no
in-process mechanism can.

Each render arms the watchdog with its budget and disarms it on the way out (a dict write
and pop, about 0.2 us). An exception is raised at most once per render, and only while the
render is still armed: the disarm clears one that came too late to land in the render.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from typing import TYPE_CHECKING

from hub.templating.limits import BudgetExceeded, over_budget

if TYPE_CHECKING:
    from hub.templating.limits import RenderBudget

_LOGGER = logging.getLogger(__name__)
POLL_INTERVAL = 0.005  # seconds between looks at the renders in progress
_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc


class RenderPreempted(BudgetExceeded):
    """Raised by the watchdog in a render that ran past its budget (the render says by how much)."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(args or ("stopped by the watchdog: over its budget without coming back to the template",)))


class Watchdog:
    """The renders in progress, by thread, and the thread that stops the ones over budget."""

    def __init__(self) -> None:
        self.renders: dict[int, RenderBudget] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def arm(self, budget: RenderBudget) -> bool:
        """Watch a render starting in this thread; False when one is already watched (nested)."""
        thread = threading.get_ident()
        if thread in self.renders:
            return False
        budget.thread = thread
        self.renders[thread] = budget
        if self._thread is None:
            self._start()
        return True

    def disarm(self, budget: RenderBudget) -> None:
        """Stop watching; drop an exception the watchdog raised too late to land in the render."""
        if self.renders.get(budget.thread) is budget:
            del self.renders[budget.thread]
        if budget.preempting:
            with self._lock:  # the watchdog finished deciding, and raising if it did
                if budget.preempted:
                    _set_async_exc(ctypes.c_ulong(budget.thread), None)

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="template watchdog", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(POLL_INTERVAL)
            if not self.renders:
                continue
            now = time.perf_counter()
            for thread, budget in list(self.renders.items()):
                try:
                    self._look(thread, budget, now)
                except Exception:  # noqa: BLE001 - the watchdog must outlive any one render
                    _LOGGER.exception("Template watchdog failed on a render")

    def _look(self, thread: int, budget: RenderBudget, now: float) -> None:
        if budget.preempting:
            return
        try:
            cpu = time.clock_gettime(time.pthread_getcpuclockid(thread))
        except OSError:  # the thread is gone
            return
        if budget.watch_cpu0 is None:
            # First sight (at most one poll interval after the render began): count from here,
            # so time the process spent waiting for a CPU is never charged to the render.
            budget.watch_cpu0 = cpu
            return
        paused = budget.paused()
        if not over_budget(cpu - budget.watch_cpu0 - paused, now - budget.started - paused, budget.limits.cpu_budget):
            return
        budget.preempting = True
        with self._lock:
            if self.renders.get(thread) is budget:  # still in the render: raise there
                budget.preempted = True
                _set_async_exc(ctypes.c_ulong(thread), ctypes.py_object(RenderPreempted))


WATCHDOG = Watchdog()  # one per process: it holds no hub's state, only the renders in progress
