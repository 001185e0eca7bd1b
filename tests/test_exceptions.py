"""One exception root: every exception class the hub, its automations and integrations define is a HubError."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

from hub.exceptions import HubError

ROOT = Path(__file__).resolve().parents[1]
# Alembic scripts run only inside Alembic; __main__ runs the CLI on import.
NOT_IMPORTABLE = ("migrations", "__main__")
# integrations/mqtt's errors move under HubError with its typed client API; drop this then.
NOT_YET = ("integrations.mqtt",)


def first_party_modules() -> list[str]:
    """Return the dotted names of every module under hub/, automations/ and integrations/."""
    names = []
    for top in ("hub", "automations", "integrations"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join(parts)
            if any(part in NOT_IMPORTABLE for part in parts) or name.startswith(NOT_YET):
                continue
            names.append(name)
    return names


def test_every_exception_is_a_hub_error() -> None:
    outside = []
    for name in first_party_modules():
        module = importlib.import_module(name)
        for cls in vars(module).values():
            if (
                inspect.isclass(cls)
                and issubclass(cls, BaseException)
                and cls.__module__ == name
                and not issubclass(cls, HubError)
            ):
                outside.append(f"{name}.{cls.__qualname__}")
    assert outside == []


def test_errors_callers_catch_as_value_errors_still_are() -> None:
    from hub.recorder.api import QueryError
    from integrations.http_ingest.payload import PayloadError
    from integrations.telemetry_backfill.batch import BatchError

    for cls in (PayloadError, BatchError, QueryError):
        assert issubclass(cls, HubError) and issubclass(cls, ValueError), cls
