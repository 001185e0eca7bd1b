"""Pytest plugin: a hub started in a test on a fresh SQLite file gets an already migrated copy.

Loaded from ``tests/conftest.py``. Most tests start a hub on a new data directory, and every
such start ran the whole Alembic history on an empty SQLite file: about 0.4 s of CPU and, on a
loaded machine whose disk is shared, 1 to 4 s of wall time each, hundreds of times per run.

Here the first hub of the session that starts on a fresh file runs the real migrations; the
result (for that set of migration folders: the core's plus those of the integrations it loads)
is kept as a template, and the next hub that starts on a fresh file with the same folders
gets a copy of it (SQLite's backup API, so WAL content is included). `migrate()` itself still
runs on the copy and finds every branch at its head, as a hub that restarts does.

Untouched: a database file that exists already (upgrade, restore and outage tests), PostgreSQL
(each test's own database still migrates; ``pg_url``), the hub CLI started as a subprocess,
and the migration tests (tests/storage), which call ``hub.storage.engine.migrate`` directly.
A test that needs the real migration of a fresh file at hub start marks itself
``@pytest.mark.fresh_migrations``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

_counts = {"copied": 0, "migrated": 0}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fresh_migrations: run the real migrations on a hub's fresh SQLite file")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _counts["copied"] or _counts["migrated"]:
        terminalreporter.write_line(f"hubs on a fresh SQLite file: {_counts['copied']} from a migrated template, "
                                    f"{_counts['migrated']} migrated (tests/migrated.py)")


def _sqlite_path(engine: Any) -> Path | None:
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _copy(source: Path, target: Path) -> None:
    """Copy a SQLite database consistently (its WAL included) into a new file."""
    src = sqlite3.connect(source)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


@pytest.fixture(scope="session")
def _migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, ...], Path]:
    tmp_path_factory.mktemp("migrated")  # the folder the templates live in is the session's
    return {}


@pytest.fixture(autouse=True)
def _migrated_sqlite(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
    _migrated_templates: dict[tuple[str, ...], Path],
) -> Iterator[None]:
    if request.node.get_closest_marker("fresh_migrations") is not None:
        yield
        return
    import hub.bootstrap as bootstrap

    real = bootstrap.migrate

    async def migrate(engine: Any, version_locations: Iterable[Path] = ()) -> None:
        path = _sqlite_path(engine)
        folders = list(version_locations)
        key = tuple(sorted(str(Path(folder).resolve()) for folder in folders))
        if path is None or (path.exists() and path.stat().st_size > 0):
            await real(engine, folders)
            return
        template = _migrated_templates.get(key)
        if template is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)
            _copy(template, path)
            await real(engine, folders)  # at head already: a check, as at every restart
            _counts["copied"] += 1
            return
        await real(engine, folders)
        _counts["migrated"] += 1
        made = tmp_path_factory.mktemp("migrated") / "template.db"
        _copy(path, made)
        _migrated_templates[key] = made

    monkeypatch.setattr(bootstrap, "migrate", migrate)
    yield
