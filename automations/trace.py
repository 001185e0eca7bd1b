"""Run traces: what each automation or script run did, kept per item with retention per outcome.

Traces are stored as one JSON file per automation/script in `<data_dir>/traces/`. A trace is a
nested document that is only ever read whole (trace/get) or summarised (trace/list), written
once per run and pruned by count: a file per item does that without a schema, without a
migration shared with the registries, and without growing the metadata database's write load
with every run. Writes are coalesced and run in the executor.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.core.context import Context, ulid_at
from hub.core.runtime import HubKey
from hub.storage.private_files import write_private

if TYPE_CHECKING:
    from prometheus_client.core import Metric

    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)
DEFAULT_STORED_TRACES = 5
TRACE_STORE: HubKey[TraceStore] = HubKey("automation.traces")


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    as_dict = getattr(value, "as_dict", None)
    if callable(as_dict):
        return _jsonable(as_dict())
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


class Trace:
    """One run: trigger, condition results, each step's result, timing and error."""

    def __init__(self, domain: str, item_id: str, config: Any, context: Context, now: float) -> None:
        self.domain = domain
        self.item_id = item_id
        self.config = config
        self.context = context
        self.run_id = ulid_at(now).lower()
        self.start = now
        self.finish: float | None = None
        self.steps: dict[str, list[dict[str, Any]]] = {}
        self.last_step: str | None = None
        self.script_execution: str | None = None
        self.error: str | None = None
        self.trigger_description: str | None = None
        self.variables: dict[str, Any] = {}

    def add(self, path: str, result: Any = None, error: str | None = None, started: float | None = None, variables: Any = None) -> dict[str, Any]:
        """Record one step at path (e.g. "action/2/then/0"); returns the mutable record."""
        now = time.time()
        record: dict[str, Any] = {"path": path, "timestamp": _iso(started if started is not None else now)}
        if started is not None:
            record["duration_ms"] = round((now - started) * 1000, 3)
        if result is not None:
            record["result"] = result
        if error is not None:
            record["error"] = error
        if variables:
            record["changed_variables"] = variables
        self.steps.setdefault(path, []).append(record)
        self.last_step = path
        return record

    def finished(self, execution: str, error: str | None = None) -> None:
        """Close the trace with its outcome: finished, failed_conditions, error, cancelled..."""
        self.finish = time.time()
        self.script_execution = execution
        if error is not None:
            self.error = error

    @property
    def state(self) -> str:
        """running or stopped."""
        return "stopped" if self.finish is not None else "running"

    def summary(self) -> dict[str, Any]:
        """The trace/list entry."""
        summary: dict[str, Any] = {
            "domain": self.domain,
            "item_id": self.item_id,
            "last_step": self.last_step,
            "run_id": self.run_id,
            "state": self.state,
            "script_execution": self.script_execution,
            "timestamp": {"start": _iso(self.start), "finish": _iso(self.finish) if self.finish else None},
            "context": self.context.as_dict(),
        }
        if self.trigger_description:
            summary["trigger"] = self.trigger_description
        if self.error is not None:
            summary["error"] = self.error
        return summary

    def as_dict(self) -> dict[str, Any]:
        """The full trace, as trace/get returns it."""
        return {
            **self.summary(),
            "trace": _jsonable(self.steps),
            "config": _jsonable(self.config),
            "variables": _jsonable(self.variables),
        }


class TraceStore:
    """Keeps the last traces of each item, by outcome, and persists them."""

    def __init__(self, hub: Hub, folder: Path | None) -> None:
        self._hub = hub
        self._folder = folder
        # Writes run in the executor; two of them for one file must not interleave.
        self._write_lock = threading.Lock()
        self._items: dict[str, deque[dict[str, Any] | Trace]] = {}
        self._limits: dict[str, int] = {}
        self._dirty: set[str] = set()
        self._flush_scheduled = False
        # Finished runs by (domain, outcome) since start, read by /metrics.
        self.outcomes: dict[tuple[str, str], int] = {}
        if folder is not None:
            self._load()

    def _load(self) -> None:
        assert self._folder is not None
        if not self._folder.is_dir():
            return
        for path in self._folder.glob("*.json"):
            try:
                data = json.loads(path.read_text())
                self._items[path.stem] = deque(data if isinstance(data, list) else [])
            except (OSError, ValueError) as err:
                _LOGGER.warning("Ignoring unreadable trace file %s: %s", path, err)

    def set_limit(self, key: str, stored_traces: int) -> None:
        """Set how many traces (and how many errored ones, besides) an item keeps."""
        self._limits[key] = max(1, stored_traces)

    def add(self, trace: Trace) -> None:
        """Store a trace (a running one shows as running until it finishes)."""
        key = f"{trace.domain}.{trace.item_id}"
        self._items.setdefault(key, deque()).append(trace)

    def finished(self, trace: Trace) -> None:
        """Prune by outcome and schedule the write."""
        key = f"{trace.domain}.{trace.item_id}"
        outcome = (trace.domain, _outcome(trace) or "unknown")
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        items = self._items.get(key)
        if items is None:
            return
        limit = self._limits.get(key, DEFAULT_STORED_TRACES)
        entries = list(items)
        # Keep the newest `limit` runs, and also the newest `limit` runs that ended in an
        # error, so a noisy automation that succeeds often does not hide its failures.
        newest = set(map(id, entries[-limit:]))
        errors = [e for e in entries if _outcome(e) == "error"]
        keep_errors = set(map(id, errors[-limit:]))
        self._items[key] = deque(e for e in entries if id(e) in newest or id(e) in keep_errors)
        self._dirty.add(key)
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if self._folder is None or self._flush_scheduled:
            return
        self._flush_scheduled = True
        try:
            self._hub.loop.call_soon(self._flush)
        except RuntimeError:
            self._flush_scheduled = False

    def _flush(self) -> None:
        self._flush_scheduled = False
        payloads = {}
        for key in self._dirty:
            payloads[key] = [
                e.as_dict() if isinstance(e, Trace) else e for e in self._items.get(key, ()) if not (isinstance(e, Trace) and e.finish is None)
            ]
        self._dirty.clear()
        if payloads:
            self._hub.run_in_executor(self._write, payloads).add_done_callback(self._written)

    def _written(self, future: Any) -> None:
        if not future.cancelled() and future.exception() is not None:
            _LOGGER.error("Writing traces to %s failed: %s", self._folder, future.exception())

    def _write(self, payloads: dict[str, list[dict[str, Any]]]) -> None:
        assert self._folder is not None
        with self._write_lock:
            # Traces hold the variables of runs: only the hub's user reads them, like the rest of
            # the data dir. Not durable: a trace lost to a power cut is not worth a disk sync per run.
            for key, payload in payloads.items():
                write_private(self._folder / f"{key}.json", json.dumps(payload, default=str).encode(), durable=False)

    def flush_now(self) -> None:
        """Write every pending trace synchronously (on stop)."""
        if self._folder is None:
            return
        payloads = {
            key: [e.as_dict() if isinstance(e, Trace) else e for e in self._items.get(key, ()) if not (isinstance(e, Trace) and e.finish is None)]
            for key in self._dirty
        }
        self._dirty.clear()
        if payloads:  # nothing ran: `hub check-config` must not write to the data dir
            self._write(payloads)

    def list(self, domain: str, item_id: str | None = None) -> list[dict[str, Any]]:
        """Summaries of the stored traces of a domain (or one item), oldest first."""
        result = []
        for key, entries in self._items.items():
            d, _, item = key.partition(".")
            if d != domain or (item_id is not None and item != item_id):
                continue
            for entry in entries:
                if isinstance(entry, Trace):
                    result.append(entry.summary())
                else:
                    result.append({k: v for k, v in entry.items() if k not in ("trace", "config", "variables")})
        return result

    def get(self, domain: str, item_id: str, run_id: str) -> dict[str, Any] | None:
        """The full trace of one run, or None."""
        for entry in self._items.get(f"{domain}.{item_id}", ()):
            data = entry.as_dict() if isinstance(entry, Trace) else entry
            if data["run_id"] == run_id:
                return data
        return None


def _outcome(entry: dict[str, Any] | Trace) -> str | None:
    if isinstance(entry, Trace):
        return "error" if entry.error is not None else entry.script_execution
    return "error" if entry.get("error") is not None else entry.get("script_execution")


def get_trace_store(hub: Hub) -> TraceStore:
    """Return the hub's trace store (persisted under data_dir/traces when the hub has one)."""
    store = hub.runtime.get(TRACE_STORE)
    if store is None:
        data_dir = getattr(hub.config, "data_dir", None)
        store = TraceStore(hub, Path(data_dir) / "traces" if data_dir else None)
        hub.runtime[TRACE_STORE] = store
        hub.on_stop(store.flush_now)
    return store


def run_metrics(hub: Hub, domain: str) -> list[Metric]:
    """Return the finished runs of one domain (automation, script) by outcome, for /metrics."""
    from prometheus_client.core import CounterMetricFamily  # noqa: PLC0415 - at scrape time, not at start

    runs = CounterMetricFamily(
        "hub_automation_runs", "Finished automation and script runs, by domain and outcome.", labels=["domain", "outcome"]
    )
    errors = CounterMetricFamily("hub_automation_errors", "Automation and script runs that ended in an error.", labels=["domain"])
    # Reading must not create the store: it exists once the first run or the engine made it.
    store = hub.runtime.get(TRACE_STORE)
    outcomes = store.outcomes if store is not None else {}
    failed = 0
    for (of_domain, outcome), count in sorted(outcomes.items()):
        if of_domain != domain:
            continue
        runs.add_metric([domain, outcome], count)
        if outcome == "error":
            failed += count
    if failed:
        errors.add_metric([domain], failed)
    return [runs, errors]
