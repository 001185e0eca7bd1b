"""Home Assistant's config API for automations, scripts and scenes: read, save and delete one item.

`GET/POST/DELETE /api/config/{automation,script,scene}/config/<id>` (admins) edit the file that
configuration.yaml includes for the domain (`automation: !include automations.yaml`). A save is
checked first exactly as check-config checks (the answer names file:line and what is wrong),
then written atomically (a temporary file renamed over the old one, whose previous version is
kept as `<file>.bak`), then the domain reloads, which rebuilds only the items that changed.

Items from `!include_dir_*` folders or packages are refused with where they come from: the
hub cannot know which of several files a new version belongs in.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from aiohttp import web

from automations.loader import LABELLED_KINDS
from automations.pointers import last_key, locate
from hub.api.keys import HUB_KEY, USER_KEY
from hub.config import load_configuration
from hub.config.labelled import combine
from hub.config.loader import Secrets, load_yaml
from hub.config.objects import get_location
from hub.core.runtime import HubKey
from hub.exceptions import ConfigError, HubError

if TYPE_CHECKING:
    from hub.core.hub import Hub

DOMAINS = ("automation", "script", "scene")
_LOCK: HubKey[asyncio.Lock] = HubKey("automation.config_store_lock")


@dataclass(frozen=True)
class Problem:
    """One problem of a saved item: as check-config words it, and where it is in the item.

    Attributes:
        text: `file:line: key: what is wrong`.
        pointer: a JSON pointer into the item as sent ("" for the whole item).
    """

    text: str
    pointer: str


class ConfigStoreError(HubError):
    """The config API cannot do what was asked; the message says why and what to do."""

    def __init__(self, message: str, status: int = 400, problems: tuple[Problem, ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.problems = problems


@dataclass(frozen=True)
class Tagged:
    """A value written with a tag the hub resolves at load (`!secret`, `!input`, `!env_var` ...),
    kept as written so that saving one item never expands another's secrets."""

    tag: str
    value: Any


class _RawLoader(yaml.SafeLoader):
    pass


class _RawDumper(yaml.SafeDumper):
    pass


def _construct_tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Tagged:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return Tagged("!" + suffix, value)


def _represent_tagged(dumper: yaml.SafeDumper, data: Tagged) -> yaml.Node:
    if isinstance(data.value, list):
        return dumper.represent_sequence(data.tag, data.value)
    if isinstance(data.value, dict):
        return dumper.represent_mapping(data.tag, data.value)
    return dumper.represent_scalar(data.tag, str(data.value))


_RawLoader.add_multi_constructor("!", _construct_tagged)
_RawDumper.add_representer(Tagged, _represent_tagged)


def to_json(value: Any) -> Any:
    """A raw item as JSON: tagged values as the text written (`!secret name`)."""
    if isinstance(value, Tagged):
        return f"{value.tag} {value.value}" if not isinstance(value.value, list | dict) else to_json(value.value)
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    return value


def dump(document: Any) -> str:
    return yaml.dump(document, Dumper=_RawDumper, sort_keys=False, allow_unicode=True, default_flow_style=False)


def _section_node(config_file: Path, domain: str) -> yaml.Node | None:
    """The node of `domain:` in configuration.yaml, tags unresolved."""
    try:
        root = yaml.compose(config_file.read_text(encoding="utf-8"), Loader=_RawLoader)
    except (OSError, yaml.YAMLError) as err:
        raise ConfigStoreError(f"{config_file.name} cannot be read: {err}") from err
    if not isinstance(root, yaml.MappingNode):
        return None
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == domain:
            found: yaml.Node = value
            return found
    return None


def managed_file(config_dir: Path, domain: str) -> Path:
    """The file the config API writes a domain's items to.

    Raises:
        ConfigStoreError: configuration.yaml does not include one file for the domain.
    """
    config_file = config_dir / "configuration.yaml"
    node = _section_node(config_file, domain)
    expected = f"`{domain}: !include {domain}s.yaml`"
    if node is None:
        message = f"configuration.yaml has no `{domain}:` section; add {expected} to edit {domain}s here"
        raise ConfigStoreError(message)
    line = node.start_mark.line + 1
    if node.tag.startswith("!include_dir"):
        message = (
            f"configuration.yaml:{line}: {domain} comes from `{node.tag}` (a folder of files): "
            f"edit those files, or use {expected} to edit {domain}s here"
        )
        raise ConfigStoreError(message)
    if node.tag != "!include" or not isinstance(node, yaml.ScalarNode):
        message = (
            f"configuration.yaml:{line}: {domain} is written inside configuration.yaml: "
            f"move it to its own file with {expected} to edit {domain}s here"
        )
        raise ConfigStoreError(message)
    return (config_file.parent / str(node.value)).resolve()


def _read(path: Path) -> Any:
    if not path.exists():
        return None
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_RawLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        raise ConfigStoreError(f"{path.name} is not valid YAML, fix it first: {err}") from err


def _find(document: Any, domain: str, item_id: str) -> Any:
    if domain == "script":
        return document.get(item_id) if isinstance(document, dict) else None
    for item in document if isinstance(document, list) else []:
        if isinstance(item, dict) and str(item.get("id")) == item_id:
            return item
    return None


def _replace(document: Any, domain: str, item_id: str, new: Any | None) -> Any:
    """document with the item replaced (appended when new), or removed when new is None."""
    if domain == "script":
        mapping = dict(document) if isinstance(document, dict) else {}
        if new is None:
            mapping.pop(item_id, None)
        else:
            mapping[item_id] = new
        return mapping
    items = list(document) if isinstance(document, list) else []
    index = next(
        (i for i, item in enumerate(items) if isinstance(item, dict) and str(item.get("id")) == item_id), None
    )
    if new is None:
        if index is not None:
            del items[index]
    elif index is None:
        items.append(new)
    else:
        items[index] = new
    return items


class ConfigStore:
    """Read and write the items of one domain's file, checked and reloaded."""

    def __init__(self, hub: Hub, domain: str) -> None:
        if hub.config.config_dir is None:
            message = "This hub has no configuration folder"
            raise ConfigStoreError(message)
        self.hub = hub
        self.domain = domain
        self.config_dir = Path(hub.config.config_dir)

    def get(self, item_id: str) -> Any:
        path = managed_file(self.config_dir, self.domain)
        item = _find(_read(path), self.domain, item_id)
        if item is None:
            raise ConfigStoreError("Resource not found", 404)
        return to_json(item)

    def items(self) -> list[dict[str, Any]]:
        """Every item of the file that has an id, as JSON (scripts: keyed by their id)."""
        document = _read(managed_file(self.config_dir, self.domain))
        if self.domain == "script":
            return [{"id": str(k), **to_json(v)} for k, v in (document or {}).items() if isinstance(v, dict)]
        return [to_json(item) for item in document if isinstance(item, dict) and item.get("id") is not None] \
            if isinstance(document, list) else []

    async def save(self, item_id: str, config: dict[str, Any], *, only_new: bool = False) -> None:
        """Check, write and reload one item (added when new; with only_new, 409 if it exists)."""
        if self.domain != "script":
            config = {"id": item_id, **{k: v for k, v in config.items() if k != "id"}}
        async with self.hub.runtime.setdefault(_LOCK, asyncio.Lock):
            path = managed_file(self.config_dir, self.domain)
            self._refuse_foreign(path, item_id)
            current = _read(path)
            if only_new and _find(current, self.domain, item_id) is not None:
                raise ConfigStoreError(f"{self.domain} {item_id} exists", 409)
            document = _replace(current, self.domain, item_id, config)
            await self._write_checked(path, document, item_id)
        await self._reload()

    async def delete(self, item_id: str) -> None:
        async with self.hub.runtime.setdefault(_LOCK, asyncio.Lock):
            path = managed_file(self.config_dir, self.domain)
            document = _read(path)
            if _find(document, self.domain, item_id) is None:
                self._refuse_foreign(path, item_id)
                raise ConfigStoreError("Resource not found", 404)
            self._write(path, dump(_replace(document, self.domain, item_id, None)))
        await self._reload()

    def _refuse_foreign(self, path: Path, item_id: str) -> None:
        """Refuse an id that the running configuration has from another file (a package, a folder)."""
        try:
            raw = load_configuration(self.config_dir)
        except ConfigError:
            return  # the check of the new file reports what is wrong
        section, _ = combine(raw, self.domain, LABELLED_KINDS[self.domain], str(self.config_dir))
        existing = _find(section, self.domain, item_id)
        if existing is None:
            return
        file, line = get_location(existing)
        if file is not None and Path(file).resolve() != path:
            where = f"{os.path.relpath(file, self.config_dir)}:{line}"
            message = f"{self.domain} {item_id} is defined in {where}, not in {path.name}: edit it there"
            raise ConfigStoreError(message)

    async def _write_checked(self, path: Path, document: Any, item_id: str) -> None:
        text = dump(document)
        temporary = path.with_name(f".{path.name}.new")
        temporary.write_text(text, encoding="utf-8")
        try:
            issues = await self._check(temporary, item_id)
            if issues:
                problems = tuple(self._problem(i, text, temporary, path, item_id) for i in issues)
                message = f"Message malformed: {'; '.join(p.text for p in problems)}"
                raise ConfigStoreError(message, problems=problems)
            self._commit(path, temporary)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()

    def _problem(self, issue: Any, text: str, candidate: Path, path: Path, item_id: str) -> Problem:
        shown = issue.format(self.config_dir).replace(candidate.name, path.name)
        if issue.file is None or Path(issue.file).resolve() != candidate.resolve():
            return Problem(shown, "")  # in a blueprint or an included file: no place in the body
        key = last_key(issue.key, f"{self.domain}.{item_id}")
        return Problem(shown, locate(text, item_id, issue.line, key))

    async def _check(self, candidate: Path, item_id: str) -> list[Any]:
        """The problems of the saved item as check-config reports them (file:line: key: what)."""
        try:
            loaded = load_yaml(candidate, Secrets(self.config_dir))
        except ConfigError as err:
            raise ConfigStoreError(f"Message malformed: {err}") from err
        item = _find(loaded, self.domain, item_id)
        # A check is not a load: it neither logs nor records what it finds (loader.build_each).
        if self.domain == "automation":
            from automations.integration import check_integration_config  # noqa: PLC0415

            return list(await check_integration_config(self.hub, [item]))
        if self.domain == "script":
            from automations.scripts import check_integration_config as check_scripts  # noqa: PLC0415

            return list(check_scripts(self.hub, {item_id: item}))
        from automations.scenes import check_scenes  # noqa: PLC0415

        return check_scenes(self.hub, [item])

    def _commit(self, path: Path, temporary: Path) -> None:
        if path.exists():
            shutil.copy2(path, path.with_name(path.name + ".bak"))
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)

    def _write(self, path: Path, text: str) -> None:
        temporary = path.with_name(f".{path.name}.new")
        temporary.write_text(text, encoding="utf-8")
        self._commit(path, temporary)

    async def _reload(self) -> None:
        await self.hub.services.call(self.domain, "reload", {}, blocking=True)


# ---- HTTP ----


def _json_error(message: str, status: int, problems: tuple[Problem, ...] = ()) -> web.Response:
    """HA's `{"message"}`, plus `errors`: each problem with its JSON pointer into the body sent."""
    body: dict[str, Any] = {"message": message}
    if problems:
        body["errors"] = [{"pointer": p.pointer, "message": p.text} for p in problems]
    return web.json_response(body, status=status)


async def config_view(request: web.Request) -> web.Response:
    """GET/POST/DELETE /api/config/{domain}/config/{item_id} (admins), in Home Assistant's shapes."""
    hub = request.app[HUB_KEY]
    user = request[USER_KEY]
    domain, item_id = request.match_info["domain"], request.match_info["item_id"]
    if not user.is_admin:
        if hub.auth is not None:
            hub.auth.audit.record(user, f"config/{domain}", item_id, "refused", request.remote,
                                  reason=f"admins only; user is {user.role}")
        return _json_error("Unauthorized", 401)
    try:
        store = ConfigStore(hub, domain)
        if request.method == "GET":
            return web.json_response(store.get(item_id))
        if request.method == "DELETE":
            await store.delete(item_id)
        else:
            try:
                body = await request.json()
            except ValueError:
                return _json_error("Invalid JSON specified.", 400)
            if not isinstance(body, dict):
                return _json_error("Message malformed: expected a JSON object", 400)
            await store.save(item_id, body)
    except (ConfigStoreError, HubError) as err:
        status = err.status if isinstance(err, ConfigStoreError) else 400
        if hub.auth is not None and request.method != "GET":
            hub.auth.audit.record(user, f"config/{domain}/{request.method.lower()}", item_id, "refused",
                                  request.remote, reason=str(err))
        return _json_error(str(err), status, err.problems if isinstance(err, ConfigStoreError) else ())
    if hub.auth is not None:
        hub.auth.audit.record(user, f"config/{domain}/{request.method.lower()}", item_id, "ok", request.remote)
    return web.json_response({"result": "ok"})


_REGISTERED = web.AppKey("config_api_routes", bool)


def register_config_routes(app: web.Application) -> None:
    """Add the config API's routes once, whichever of its users asks first.

    As in Home Assistant, where the `config` integration the frontend depends on serves them, the
    routes do not depend on `automation:` being configured: the web UI, automation, script and
    scene each add them, and a domain that configuration.yaml does not include one file for is
    answered with what to add.
    """
    if app.get(_REGISTERED):
        return
    app[_REGISTERED] = True
    path = "/api/config/{domain:automation|script|scene}/config/{item_id}"
    for method in ("GET", "POST", "DELETE"):
        app.router.add_route(method, path, config_view)
