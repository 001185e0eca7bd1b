"""Find integrations (entry points and custom_integrations/), order them, and call their hooks."""

from __future__ import annotations

import asyncio
import importlib
import importlib.metadata
import importlib.util
import inspect
import json
import logging
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from hub import hookspecs
from hub.exceptions import IntegrationError

_LOGGER = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "hub.integrations"
CUSTOM_DIR = "custom_integrations"
# Where an integration keeps the Alembic revisions of its tables, inside its package.
VERSIONS_FOLDER = Path("migrations", "versions")


@dataclass(slots=True)
class Integration:
    """An integration the hub knows about: where it comes from and its manifest."""

    domain: str
    source: str  # "entry point <value>" or a folder path, for error messages
    loader: Any  # EntryPoint, or Path of a custom integration folder
    module: ModuleType | None = None
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def dependencies(self) -> list[str]:
        """Return the domains this integration needs set up first."""
        return list(self.manifest.get("dependencies", []))

    @property
    def config_schema(self) -> Any:
        """Return the module's CONFIG_SCHEMA (a voluptuous schema for its section), or None."""
        return getattr(self.module, "CONFIG_SCHEMA", None)

    @property
    def labelled_sections(self) -> Any:
        """Return how the integration's labelled sections combine ("list", "mapping"), or None."""
        return getattr(self.module, "LABELLED_SECTIONS", None)

    @property
    def migrations(self) -> Path | None:
        """Return the Alembic version folder of the integration's tables, or None if it has none.

        By convention it is `migrations/versions/` inside the integration's package. An
        integration that is not loaded is located without running it (its parent packages
        are imported).
        """
        package = self._package_dir()
        if package is None:
            return None
        folder = package / VERSIONS_FOLDER
        return folder if folder.is_dir() else None

    def _package_dir(self) -> Path | None:
        if self.module is not None:
            paths = getattr(self.module, "__path__", None)  # a plain module has no folder of its own
            return Path(next(iter(paths))).resolve() if paths else None
        if isinstance(self.loader, Path):
            return self.loader.resolve()
        try:
            spec = importlib.util.find_spec(self.loader.module)
        except (ImportError, ValueError):
            return None
        if spec is None or not spec.submodule_search_locations:
            return None
        return Path(next(iter(spec.submodule_search_locations))).resolve()

    def load(self) -> ModuleType:
        """Import the integration's module and read its manifest.json."""
        if self.module is not None:
            return self.module
        try:
            if isinstance(self.loader, Path):
                self.module = _import_folder(self.domain, self.loader)
            else:
                self.module = self.loader.load()
        except Exception as err:
            message = f"Integration '{self.domain}' ({self.source}) failed to import: {err}"
            raise IntegrationError(message) from err
        self.manifest = _read_manifest(self.domain, self.module)
        return self.module


def _import_folder(domain: str, folder: Path) -> ModuleType:
    name = f"{CUSTOM_DIR}.{domain}"
    if CUSTOM_DIR not in sys.modules:
        package = ModuleType(CUSTOM_DIR)
        package.__path__ = [str(folder.parent)]
        sys.modules[CUSTOM_DIR] = package
    spec = importlib.util.spec_from_file_location(
        name, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    if spec is None or spec.loader is None:
        message = f"{folder} has no __init__.py"
        raise IntegrationError(message)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _read_manifest(domain: str, module: ModuleType) -> dict[str, Any]:
    module_file = getattr(module, "__file__", None)
    if module_file is None:
        return {"domain": domain}
    path = Path(module_file).parent / "manifest.json"
    if not path.exists():
        return {"domain": domain}
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        message = f"{path}:{err.lineno}: invalid JSON in manifest: {err.msg}"
        raise IntegrationError(message) from err
    if not isinstance(manifest, dict):
        message = f"{path}: expected a JSON object"
        raise IntegrationError(message)
    if manifest.get("domain", domain) != domain:
        message = f"{path}: manifest domain '{manifest['domain']}' does not match '{domain}'"
        raise IntegrationError(message)
    deps = manifest.get("dependencies", [])
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        message = f"{path}: 'dependencies' must be a list of domains"
        raise IntegrationError(message)
    return manifest


def discover(config_dir: Path | None) -> dict[str, Integration]:
    """Return every integration the hub can find, by domain, without importing any.

    Entry points of the `hub.integrations` group come first; a folder in
    `<config>/custom_integrations/` with the same domain overrides them, as in Home Assistant.
    """
    found: dict[str, Integration] = {}
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        found[entry_point.name] = Integration(
            entry_point.name, f"entry point {entry_point.value}", entry_point
        )
    if config_dir is not None:
        custom = config_dir / CUSTOM_DIR
        if custom.is_dir():
            for folder in sorted(custom.iterdir()):
                if (folder / "__init__.py").exists():
                    if folder.name in found:
                        _LOGGER.warning("Custom integration %s overrides the built-in one", folder.name)
                    found[folder.name] = Integration(folder.name, str(folder), folder)
    return found


def load_integration(domain: str, config_dir: Path | None) -> ModuleType:
    """Import one integration by its domain, found as at start (entry points, custom_integrations/).

    Raises:
        IntegrationError: no integration has that domain, or it fails to import.
    """
    integration = discover(config_dir).get(domain)
    if integration is None:
        message = f"Integration '{domain}' not found"
        raise IntegrationError(message)
    return integration.load()


def resolve_order(enabled: Iterable[str], known: Mapping[str, Integration]) -> list[Integration]:
    """Load the enabled integrations and their dependencies; return them in setup order.

    Raises:
        IntegrationError: a dependency is missing or the dependencies form a cycle.
    """
    order: list[Integration] = []
    done: set[str] = set()

    def visit(domain: str, path: list[str]) -> None:
        if domain in done:
            return
        if domain in path:
            cycle = " -> ".join([*path[path.index(domain):], domain])
            message = f"Dependency cycle between integrations: {cycle}"
            raise IntegrationError(message)
        integration = known.get(domain)
        if integration is None:
            if path:
                message = f"Integration '{path[-1]}' depends on '{domain}', which was not found"
            else:
                message = f"Integration '{domain}' not found"
            raise IntegrationError(message)
        integration.load()
        for dependency in integration.dependencies:
            visit(dependency, [*path, domain])
        done.add(domain)
        order.append(integration)

    for domain in sorted(enabled):
        visit(domain, [])
    return order


def migration_locations(integrations: Iterable[Integration]) -> list[Path]:
    """Return the version folders of those integrations that keep tables, in setup order."""
    return [folder for integration in integrations if (folder := integration.migrations) is not None]


def build_plugin_manager(integrations: Iterable[Integration]) -> pluggy.PluginManager:
    """Return a plugin manager with the hub's hookspecs and the given integrations registered."""
    manager = pluggy.PluginManager("hub")
    manager.add_hookspecs(hookspecs)
    for integration in integrations:
        manager.register(integration.load(), name=integration.domain)
    return manager


async def _await_maybe(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


async def call_hook(manager: pluggy.PluginManager, name: str, **kwargs: Any) -> list[Any]:
    """Call a hook on every plugin, awaiting the results that are awaitable, concurrently."""
    results = getattr(manager.hook, name)(**kwargs)
    return list(await asyncio.gather(*(_await_maybe(result) for result in results)))


async def call_hook_for(
    manager: pluggy.PluginManager, plugin_name: str, name: str, **kwargs: Any
) -> Any:
    """Call one plugin's implementation of a hook (None if it has none) and await it."""
    plugin = manager.get_plugin(plugin_name)
    for impl in getattr(manager.hook, name).get_hookimpls():
        if impl.plugin is plugin:
            return await _await_maybe(impl.function(**{k: kwargs[k] for k in impl.argnames}))
    return None
