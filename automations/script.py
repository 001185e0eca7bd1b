"""A runnable action sequence with Home Assistant's run modes: single, restart, queued, parallel."""

from __future__ import annotations

import asyncio
import logging
from collections import ChainMap
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from automations.actions import ActionError, StopRun, compile_sequence
from automations.config import InvalidConfig
from automations.trace import Trace, get_trace_store
from hub.core.clock import Clock
from hub.core.context import Context

if TYPE_CHECKING:
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)
MODES = ("single", "restart", "queued", "parallel")
DEFAULT_MAX = 10
_LOG_LEVELS = {
    "silent": None,
    "critical": logging.CRITICAL,
    "fatal": logging.CRITICAL,
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "notset": logging.NOTSET,
}


class Run:
    """One execution: its trace, context and clock."""

    __slots__ = ("name", "trace", "context", "clock", "task", "actor")

    def __init__(self, name: str, trace: Trace, context: Context, clock: Clock, actor: str | None = None) -> None:
        self.name = name
        self.actor = actor or name  # who acts, for the audit log: "automation <id>", "schedule <id>"
        self.trace = trace
        self.context = context
        self.clock = clock
        self.task: asyncio.Task[Any] | None = None

    def trace_condition(self, prefix: str) -> Callable[[str, dict[str, Any]], None]:
        """A tracer recording condition results under prefix."""
        def record(path: str, result: dict[str, Any]) -> None:
            self.trace.add(f"{prefix}/{path}", result)

        return record


class Script:
    """A compiled sequence and its running executions."""

    def __init__(
        self,
        hub: Hub,
        sequence: Sequence[Mapping[str, Any]],
        *,
        name: str,
        domain: str,
        item_id: str,
        config: Any = None,
        mode: str = "single",
        max_runs: int = DEFAULT_MAX,
        max_exceeded: str = "warning",
        stored_traces: int | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        if mode not in MODES:
            raise InvalidConfig(f"invalid mode {mode!r} (expected one of {', '.join(MODES)})", config, "mode")
        if str(max_exceeded).lower() not in _LOG_LEVELS:
            raise InvalidConfig(f"invalid max_exceeded {max_exceeded!r}", config, "max_exceeded")
        self.hub = hub
        self.name = name
        self.domain = domain
        self.item_id = item_id
        self.config = config
        self.mode = mode
        self.max_runs = max_runs
        self.max_exceeded = str(max_exceeded).lower()
        self.clock = hub.clock
        self._sequence = compile_sequence(hub, sequence, "action" if domain == "automation" else "sequence")
        self._runs: list[Run] = []
        self._queue_lock = asyncio.Lock()
        self._on_change = on_change
        self.traces = get_trace_store(hub)
        if stored_traces is not None:
            self.traces.set_limit(f"{domain}.{item_id}", stored_traces)

    @property
    def runs(self) -> int:
        """How many runs are in progress (queued ones included)."""
        return len(self._runs)

    @property
    def is_running(self) -> bool:
        """Whether a run is in progress."""
        return bool(self._runs)

    def new_trace(self, context: Context) -> Trace:
        """Start a trace for a run (the caller may add trigger and condition steps first)."""
        trace = Trace(self.domain, self.item_id, self.config, context, self.clock.time())
        self.traces.add(trace)
        return trace

    def _exceeded(self, trace: Trace) -> None:
        level = _LOG_LEVELS[self.max_exceeded]
        if level is not None:
            if self.mode == "single":
                _LOGGER.log(level, "%s: Already running", self.name)
            else:
                _LOGGER.log(level, "%s: Maximum number of runs exceeded", self.name)
        trace.finished(f"failed_{self.mode}")
        self.traces.finished(trace)

    def start(self, variables: dict[str, Any], context: Context, trace: Trace | None = None) -> asyncio.Task[Any] | None:
        """Start a run as a task, or refuse it per the mode; returns the task (None if refused)."""
        trace = trace or self.new_trace(context)
        if self.mode == "single" and self._runs:
            self._exceeded(trace)
            return None
        if self.mode in ("queued", "parallel") and len(self._runs) >= self.max_runs:
            self._exceeded(trace)
            return None
        if self.mode == "restart":
            for old in list(self._runs):
                if old.task is not None:
                    old.task.cancel()
        run = Run(self.name, trace, context, self.clock, f"{self.domain} {self.item_id}")
        self._runs.append(run)
        run.task = self.hub.create_task(self._execute(run, variables), f"{self.domain} {self.item_id}")
        self._changed()
        return run.task

    async def run(self, variables: dict[str, Any], context: Context | None = None) -> Any:
        """Run and wait for the result (the response of a `stop` step, if any)."""
        task = self.start(variables, context or Context())
        if task is None:
            return None
        return await task

    async def _execute(self, run: Run, variables: dict[str, Any]) -> Any:
        trace = run.trace
        trace.variables = variables
        response = None
        try:
            if self.mode == "queued":
                async with self._queue_lock:
                    response = await self._steps(run, variables)
            else:
                response = await self._steps(run, variables)
        except asyncio.CancelledError:
            trace.finished("cancelled")
            raise
        except ActionError as err:
            _LOGGER.error("%s: %s", self.name, err)
            trace.finished("error", str(err))
        except StopRun as stop:
            if stop.error:
                _LOGGER.error("%s: stopped with an error: %s", self.name, stop.reason)
                trace.finished("error", stop.reason)
            else:
                trace.finished("finished")
            response = stop.response
        else:
            trace.finished("finished")
        finally:
            if trace.finish is None:
                trace.finished("aborted")
            self._runs.remove(run)
            self.traces.finished(trace)
            self._changed()
        return response

    async def _steps(self, run: Run, variables: dict[str, Any]) -> Any:
        # `context` is a variable of every run, as in Home Assistant (blueprints use context.id).
        await self._sequence(run, ChainMap({}, {"context": run.context, **variables}), "action" if self.domain == "automation" else "sequence")
        return None

    async def stop(self) -> None:
        """Cancel every run and wait for them to end."""
        tasks = [run.task for run in self._runs if run.task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()
