"""Integrations: discovery by entry point and folder, dependency order, third-party packages."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hub import bootstrap, plugins
from hub.exceptions import ConfigError, IntegrationError
from tests.hubs import write_config

PLUGIN_PACKAGE = Path(__file__).resolve().parents[1] / "plugin_package"

SIMPLE = """
from hub import hookimpl
LOG = []

@hookimpl
def setup_integration(hub, config):
    LOG.append(("{domain}", config))
    hub.bus.fire("set_up", {{"domain": "{domain}"}})
"""


def integration(domain: str, dependencies: list[str] | None = None) -> str:
    return SIMPLE.format(domain=domain)


def manifest(config_dir: Path, domain: str, dependencies: list[str]) -> None:
    import json

    path = config_dir / "custom_integrations" / domain / "manifest.json"
    path.write_text(json.dumps({"domain": domain, "name": domain, "dependencies": dependencies}))


def test_custom_integrations_are_found_without_importing_them(tmp_path: Path) -> None:
    write_config(tmp_path, "{}", {"alpha": "raise RuntimeError('imported too early')"})
    found = plugins.discover(tmp_path)
    assert "alpha" in found
    assert found["alpha"].module is None


def test_dependencies_are_set_up_first(tmp_path: Path) -> None:
    write_config(tmp_path, "{}", {d: integration(d) for d in ("a", "b", "c")})
    manifest(tmp_path, "a", ["b"])
    manifest(tmp_path, "b", ["c"])
    manifest(tmp_path, "c", [])
    order = plugins.resolve_order({"a"}, plugins.discover(tmp_path))
    assert [i.domain for i in order] == ["c", "b", "a"]


def test_a_dependency_cycle_is_a_clear_error(tmp_path: Path) -> None:
    write_config(tmp_path, "{}", {d: integration(d) for d in ("a", "b")})
    manifest(tmp_path, "a", ["b"])
    manifest(tmp_path, "b", ["a"])
    with pytest.raises(IntegrationError, match="Dependency cycle between integrations: a -> b -> a"):
        plugins.resolve_order({"a"}, plugins.discover(tmp_path))


def test_a_missing_dependency_is_a_clear_error(tmp_path: Path) -> None:
    write_config(tmp_path, "a: {}\n", {"a": integration("a")})
    manifest(tmp_path, "a", ["nowhere"])
    with pytest.raises(ConfigError, match="Integration 'a' depends on 'nowhere', which was not found"):
        bootstrap.check_config(tmp_path)


def test_an_unknown_integration_key_names_file_and_line(tmp_path: Path) -> None:
    write_config(tmp_path, "homeassistant:\n  name: Test\n\nnot_a_thing:\n  x: 1\n")
    with pytest.raises(ConfigError) as caught:
        bootstrap.check_config(tmp_path)
    text = str(caught.value)
    assert "configuration.yaml:4" in text
    assert "Integration 'not_a_thing' not found" in text


async def test_only_configured_integrations_are_set_up(tmp_path: Path, start_hub) -> None:  # type: ignore[no-untyped-def]
    write_config(tmp_path / "config", "used:\n", {"used": integration("used"), "unused": integration("unused")})
    runtime = await start_hub(tmp_path / "config")
    assert runtime.hub.plugins.get_plugin("used") is not None
    assert runtime.hub.plugins.get_plugin("unused") is None
    assert runtime.hub.config.components == {"used"}


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Install the example package with pip, as a user would, into a folder put on sys.path."""
    target = tmp_path_factory.mktemp("site")
    # Build from a copy: pip leaves build/ and egg-info folders beside the sources.
    source = tmp_path_factory.mktemp("src") / "plugin_package"
    shutil.copytree(PLUGIN_PACKAGE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(source)],
        check=True,
        capture_output=True,
    )
    sys.path.insert(0, str(target))
    yield target
    sys.path.remove(str(target))
    for name in [m for m in sys.modules if m.startswith("hub_example_counter")]:
        del sys.modules[name]


async def test_third_party_package_is_found_by_entry_point(installed_plugin: Path, tmp_path: Path, start_hub) -> None:  # type: ignore[no-untyped-def]
    found = plugins.discover(None)
    assert found["example_counter"].source == "entry point hub_example_counter"

    write_config(tmp_path / "config", "example_counter:\n  name: Visitors\n  initial: 3\n  step: 2\n")
    runtime = await start_hub(tmp_path / "config")
    hub = runtime.hub
    assert hub.states.get("sensor.visitors").state == "3"
    await hub.services.call("example_counter", "increment", {})
    assert hub.states.get("sensor.visitors").state == "5"
    await hub.services.call("example_counter", "increment", {"amount": 10})
    assert hub.states.get("sensor.visitors").state == "15"
    assert hub.states.get("sensor.visitors").attributes["icon"] == "mdi:counter"


async def test_third_party_schema_errors_name_the_line(installed_plugin: Path, tmp_path: Path) -> None:
    write_config(tmp_path, "example_counter:\n  name: Visitors\n  step: 0\n")
    with pytest.raises(ConfigError) as caught:
        bootstrap.check_config(tmp_path)
    text = str(caught.value)
    assert "configuration.yaml:3" in text and "example_counter.step" in text


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def storage_yaml(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return ""
    return f"storage:\n  db_url: {request.getfixturevalue('pg_url')}\n"


async def test_third_party_package_keeps_its_rows_across_restarts(
    installed_plugin: Path, tmp_path: Path, storage_yaml: str
) -> None:
    from hub_example_counter.models import CounterRow
    from sqlalchemy import select, text

    found = plugins.discover(None)["example_counter"]
    assert found.migrations == installed_plugin / "hub_example_counter" / "migrations" / "versions"
    config = write_config(tmp_path / "config", storage_yaml + "example_counter:\n  name: Visitors\n  initial: 3\n")

    runtime = await bootstrap.start(config, tmp_path / "data", port=0)
    try:
        await runtime.hub.services.call("example_counter", "increment", {"amount": 4})
        assert runtime.hub.states.get("sensor.visitors").state == "7"
    finally:
        await bootstrap.stop(runtime)

    runtime = await bootstrap.start(config, tmp_path / "data", port=0)
    try:
        hub = runtime.hub
        assert hub.states.get("sensor.visitors").state == "7"  # from its own table, not `initial`
        async with hub.db() as session:
            rows = (await session.execute(select(CounterRow.name, CounterRow.value))).all()
            versions = set((await session.execute(text("SELECT version_num FROM alembic_version"))).scalars())
        assert rows == [("Visitors", 7)]
        assert "example_counter_0001" in versions
    finally:
        await bootstrap.stop(runtime)


async def test_third_party_migrations_build_its_models(installed_plugin: Path, tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from hub_example_counter import models

    import hub.storage
    from hub.storage.engine import create_engine, default_sqlite_url, migrate

    engine = create_engine(default_sqlite_url(tmp_path))
    try:
        await migrate(engine, [plugins.discover(None)["example_counter"].migrations])
        async with engine.connect() as connection:
            diff = await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}),
                    [hub.storage.Base.metadata, models.Base.metadata],
                )
            )
    finally:
        await engine.dispose()
    assert diff == []
