"""Structured logs: JSON lines, per-integration levels, and an in-memory ring for the admin log view.

    logger:
      default: info
      format: json          # or text (the default)
      logs:
        mqtt: debug         # an integration's domain ...
        homeassistant.components.recorder: warning   # ... Home Assistant's name for it ...
        aiohttp.access: warning                      # ... or any logger name
"""

from __future__ import annotations

import asyncio
import logging
import threading
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

DEFAULT_BUFFER = 500
HA_COMPONENTS = "homeassistant.components."
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({})))
LogRecordDict = dict[str, Any]


class JsonFormatter(logging.Formatter):
    """Format each record as one JSON object per line (time, level, logger, message, extras)."""

    def __init__(self, replaced: logging.Formatter | None = None) -> None:
        super().__init__()
        # The handler's text formatter, given back when JSON is switched off again.
        self.replaced = replaced

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        # `extra={...}` fields become keys of their own, which is what log shippers index.
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and key not in payload and not key.startswith("_"):
                payload[key] = value
        return orjson.dumps(payload, default=str).decode()


def logger_names(name: str, modules: Mapping[str, str]) -> list[str]:
    """Return the loggers a `logs:` key means: an integration's module for its domain, else the name.

    Args:
        name: the key under `logger: logs:`.
        modules: enabled integrations' domain -> module name (e.g. "mqtt" -> "integrations.mqtt").
    """
    domain = name[len(HA_COMPONENTS):] if name.startswith(HA_COMPONENTS) else name
    module = modules.get(domain)
    return [module, name] if module is not None and module != name else [name]


# Libraries that log routine work at INFO (Alembic each plugin it loads, gmqtt every packet);
# only their warnings matter to a user. `logger: logs:` can still lower them.
QUIET_LIBRARIES = ("alembic", "gmqtt")


def quiet_libraries() -> None:
    """Raise the noisy libraries' loggers to WARNING."""
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)


def configure(section: Mapping[str, Any], modules: Mapping[str, str] | None = None) -> None:
    """Apply the `logger:` section: root level, per-logger levels and the output format."""
    logging.getLogger().setLevel(section.get("default", "INFO"))
    quiet_libraries()
    for name, level in (section.get("logs") or {}).items():
        for logger_name in logger_names(name, modules or {}):
            logging.getLogger(logger_name).setLevel(level)
    as_json = section.get("format") == "json"
    for handler in logging.getLogger().handlers:
        if isinstance(handler, LogBuffer):
            continue
        # Text is whatever the handler had (the command line's format): JSON is switched on and
        # off over it, giving each handler its own formatter back.
        if as_json and not isinstance(handler.formatter, JsonFormatter):
            handler.setFormatter(JsonFormatter(handler.formatter))
        elif not as_json and isinstance(handler.formatter, JsonFormatter):
            handler.setFormatter(handler.formatter.replaced or logging.Formatter(TEXT_FORMAT))


class LogBuffer(logging.Handler):
    """Keep the last records in memory and pass new ones to live subscribers on the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, size: int = DEFAULT_BUFFER, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.records: deque[LogRecordDict] = deque(maxlen=size)
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._subscribers: list[Callable[[LogRecordDict], None]] = []
        self._delivering = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            entry = as_entry(record)
        except Exception:  # noqa: BLE001 - a record that cannot be read must not break logging
            self.handleError(record)
            return
        self.records.append(entry)
        if not self._subscribers:
            return
        if threading.get_ident() == self._loop_thread:
            self._deliver(entry)
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._deliver, entry)

    def _deliver(self, entry: LogRecordDict) -> None:
        # A subscriber that logs while receiving would otherwise recurse without end.
        if self._delivering:
            return
        self._delivering = True
        try:
            for subscriber in tuple(self._subscribers):
                subscriber(entry)
        finally:
            self._delivering = False

    def subscribe(self, subscriber: Callable[[LogRecordDict], None]) -> Callable[[], None]:
        """Call subscriber (on the loop) with every new record; return the unsubscribe."""
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe

    def list(self, limit: int | None = None, min_level: int = logging.NOTSET) -> list[LogRecordDict]:
        """Return the kept records at or above min_level, oldest first (the last `limit`)."""
        entries = [e for e in tuple(self.records) if e["levelno"] >= min_level]
        return entries[-limit:] if limit else entries


def as_entry(record: logging.LogRecord) -> LogRecordDict:
    """Return a record in the shape of Home Assistant's system_log entries."""
    exception = ""
    if record.exc_info and record.exc_info[0] is not None:
        exception = "".join(traceback.format_exception(*record.exc_info))
    return {
        "name": record.name,
        "message": [record.getMessage()],
        "level": record.levelname,
        "levelno": record.levelno,
        "source": [record.pathname, record.lineno],
        "timestamp": record.created,
        "first_occurred": record.created,
        "count": 1,
        "exception": exception,
    }


def install_buffer(loop: asyncio.AbstractEventLoop, size: int = DEFAULT_BUFFER) -> tuple[LogBuffer, Callable[[], None]]:
    """Attach a LogBuffer to the root logger; return it and the function that detaches it."""
    buffer = LogBuffer(loop, size)
    root = logging.getLogger()
    root.addHandler(buffer)
    return buffer, lambda: root.removeHandler(buffer)


def module_names(integrations: Iterable[Any]) -> dict[str, str]:
    """Return domain -> module name for loaded integrations."""
    return {i.domain: i.module.__name__ for i in integrations if getattr(i, "module", None) is not None}
