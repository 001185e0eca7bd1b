"""YAML loading with Home Assistant's tags, keeping each node's file and line.

Supports ``!include``, ``!include_dir_list``, ``!include_dir_named``,
``!include_dir_merge_list``, ``!include_dir_merge_named``, ``!secret``,
``!env_var`` and ``!input``. Mappings, sequences and strings come back as
:class:`NodeDict`, :class:`NodeList` and :class:`NodeStr` carrying
``__config_file__`` and a 1-based ``__line__``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from hub.config.issues import ConfigIssue, display_path
from hub.config.objects import (
    Input,
    Location,
    NodeDict,
    NodeList,
    NodeStr,
    get_location,
    item_locations,
    node_list,
    set_location,
)
from hub.exceptions import ConfigError

try:
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

_LOGGER = logging.getLogger(__name__)

SECRET_YAML = "secrets.yaml"


class Secrets:
    """Looks up ``!secret`` values in secrets.yaml files, caching each file."""

    def __init__(self, config_dir: Path) -> None:
        """Create a secrets store.

        Args:
            config_dir: The configuration folder; secrets.yaml files are searched
                from the requesting file's folder up to this one.
        """
        self.config_dir = Path(config_dir)
        self._cache: dict[Path, dict[str, Any]] = {}

    def get(self, requester: str | Path, key: str, line: int | None = None) -> Any:
        """Return a secret's value.

        Args:
            requester: The file holding the ``!secret`` tag.
            key: The secret's name.
            line: The line of the tag, for error reporting.

        Returns:
            The value from the nearest secrets.yaml defining ``key``.

        Raises:
            ConfigError: No secrets.yaml between the file and the config dir
                defines ``key``.
        """
        folder = Path(requester).parent
        searched: list[str] = []
        while True:
            try:
                folder.relative_to(self.config_dir)
            except ValueError:
                break
            secrets = self._load(folder / SECRET_YAML)
            searched.append(display_path(str(folder / SECRET_YAML), self.config_dir))
            if key in secrets:
                return secrets[key]
            if folder == self.config_dir or folder.parent == folder:
                break
            folder = folder.parent
        raise ConfigError(
            [
                _issue(
                    str(requester),
                    line,
                    f"secret '{key}' not defined (looked in {', '.join(searched) or 'no secrets.yaml'})",
                    self.config_dir,
                )
            ]
        )

    def _load(self, path: Path) -> dict[str, Any]:
        """Load (once) one secrets.yaml file; a missing file holds no secrets."""
        if path not in self._cache:
            if not path.is_file():
                self._cache[path] = {}
            else:
                secrets = _load_file(path, None, self.config_dir)
                if secrets is None:
                    secrets = {}
                if not isinstance(secrets, dict):
                    raise ConfigError([_issue(str(path), 1, "secrets file must contain a mapping", self.config_dir)])
                self._cache[path] = secrets
        return self._cache[path]


def _issue(file: str, line: int | None, message: str, base_dir: Path | None) -> ConfigIssue:
    return ConfigIssue(file, line, "", message, str(base_dir) if base_dir is not None else None)


class HubLoader(_BaseLoader):
    """A safe YAML loader that records file and line on every node it builds."""

    def __init__(
        self, stream: str, file: str, secrets: Secrets | None, base_dir: Path | None, chain: tuple[Path, ...] = ()
    ) -> None:
        super().__init__(stream)
        self.file = file
        self.secrets = secrets
        self.base_dir = base_dir
        self.chain = chain

    def load(self, path: Path, node: yaml.Node) -> Any:
        """Load an included file, refusing include cycles."""
        if path.resolve() in self.chain:
            raise self.error(node, f"include cycle: {path} is already being loaded")
        return _load_file(path, self.secrets, self.base_dir, self.chain)

    def line_of(self, node: yaml.Node) -> int:
        """Return the 1-based line a node starts on."""
        return int(node.start_mark.line) + 1

    def error(self, node: yaml.Node, message: str) -> ConfigError:
        """Build a ConfigError for ``node`` in the file being loaded."""
        return ConfigError([_issue(self.file, self.line_of(node), message, self.base_dir)])

    def here(self, obj: Any, node: yaml.Node) -> Any:
        """Annotate ``obj`` with this file and the node's line."""
        return set_location(obj, self.file, self.line_of(node))


def _construct_mapping(loader: HubLoader, node: yaml.MappingNode) -> NodeDict:
    loader.flatten_mapping(node)
    pairs = loader.construct_pairs(node)
    seen: dict[Any, int] = {}
    duplicates: list[tuple[Any, int, int, str]] = []
    for (key, _), (key_node, _) in zip(pairs, node.value, strict=True):
        line = loader.line_of(key_node)
        try:
            hash(key)
        except TypeError:
            raise loader.error(key_node, f"invalid key: {key!r} (a mapping key must be a scalar)") from None
        if key in seen:
            _LOGGER.warning(
                'YAML file %s contains duplicate key "%s". Check lines %d and %d', loader.file, key, seen[key], line
            )
            duplicates.append((key, seen[key], line, loader.file))
        seen[key] = line
    mapping = NodeDict(pairs)
    if duplicates:
        # (key, first line, repeated line, file): the later value won; sections that are keyed by id
        # (scripts) report it at check-config instead of losing the first silently.
        mapping.duplicate_keys = duplicates
    return loader.here(mapping, node)  # type: ignore[no-any-return]


def _construct_sequence(loader: HubLoader, node: yaml.SequenceNode) -> NodeList:
    locations: list[Location] = [(loader.file, loader.line_of(child)) for child in node.value]
    return node_list(loader.construct_sequence(node), locations, loader.file, loader.line_of(node))


def _construct_str(loader: HubLoader, node: yaml.ScalarNode) -> NodeStr:
    return loader.here(NodeStr(loader.construct_scalar(node)), node)  # type: ignore[no-any-return]


def _tag_argument(loader: HubLoader, node: yaml.Node, tag: str) -> str:
    if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
        raise loader.error(node, f"{tag} expects a file or folder name")
    return str(node.value).strip()


def _include(loader: HubLoader, node: yaml.Node) -> Any:
    """``!include file.yaml``: the content of another file (an empty file gives {})."""
    target = Path(loader.file).parent / _tag_argument(loader, node, "!include")
    if not target.is_file():
        shown = display_path(str(target), loader.base_dir)
        raise loader.error(node, f"!include {node.value}: unable to read file {shown}: file not found")
    loaded = loader.load(target, node)
    return loader.here(NodeDict() if loaded is None else loaded, node)


def _find_files(folder: Path) -> list[Path]:
    """Return the visible ``*.yaml`` files under ``folder``, recursively, sorted by path."""
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [name for name in dirs if not name.startswith(".")]
        found.extend(
            Path(root) / name
            for name in files
            if name.endswith(".yaml") and not name.startswith(".") and name != SECRET_YAML
        )
    return sorted(found, key=lambda path: path.relative_to(folder).as_posix())


def _dir_files(loader: HubLoader, node: yaml.Node, tag: str) -> list[Path]:
    folder = Path(loader.file).parent / _tag_argument(loader, node, tag)
    if not folder.is_dir():
        # Home Assistant silently treats a missing folder as empty.
        _LOGGER.warning("%s:%d: %s %s: folder %s not found", loader.file, loader.line_of(node), tag, node.value, folder)
        return []
    return _find_files(folder)


def _include_dir_list(loader: HubLoader, node: yaml.Node) -> NodeList:
    """``!include_dir_list``: a list with one item per file (empty files skipped)."""
    items: list[Any] = []
    locations: list[Location] = []
    for path in _dir_files(loader, node, "!include_dir_list"):
        loaded = loader.load(path, node)
        if loaded is not None:
            items.append(loaded)
            locations.append(get_location(loaded) if get_location(loaded)[1] is not None else (str(path), 1))
    return node_list(items, locations, loader.file, loader.line_of(node))


def _include_dir_named(loader: HubLoader, node: yaml.Node) -> NodeDict:
    """``!include_dir_named``: a mapping of file name (without .yaml) to file content."""
    mapping = NodeDict()
    for path in _dir_files(loader, node, "!include_dir_named"):
        loaded = loader.load(path, node)
        key = set_location(NodeStr(path.stem), str(path), 1)
        mapping[key] = set_location(NodeDict(), str(path), 1) if loaded is None else loaded
    return loader.here(mapping, node)  # type: ignore[no-any-return]


def _include_dir_merge_list(loader: HubLoader, node: yaml.Node) -> NodeList:
    """``!include_dir_merge_list``: the concatenation of the lists in each file."""
    merged: list[Any] = []
    locations: list[Location] = []
    for path in _dir_files(loader, node, "!include_dir_merge_list"):
        loaded = loader.load(path, node)
        if isinstance(loaded, list):
            merged.extend(loaded)
            locations.extend(item_locations(loaded))
        elif loaded is not None:
            _LOGGER.warning("%s: skipped by !include_dir_merge_list: it does not contain a list", path)
    return node_list(merged, locations, loader.file, loader.line_of(node))


def _include_dir_merge_named(loader: HubLoader, node: yaml.Node) -> NodeDict:
    """``!include_dir_merge_named``: the union of the mappings in each file."""
    merged = NodeDict()
    for path in _dir_files(loader, node, "!include_dir_merge_named"):
        loaded = loader.load(path, node)
        if isinstance(loaded, dict):
            for key in loaded:
                if key in merged:
                    _LOGGER.warning('%s: key "%s" overrides the one loaded from another file', path, key)
                    del merged[key]
            merged.update(loaded)
        elif loaded is not None:
            _LOGGER.warning("%s: skipped by !include_dir_merge_named: it does not contain a mapping", path)
    return loader.here(merged, node)  # type: ignore[no-any-return]


def _secret(loader: HubLoader, node: yaml.Node) -> Any:
    """``!secret name``: a value from the nearest secrets.yaml."""
    if loader.secrets is None:
        raise loader.error(node, "!secret is not supported in this file")
    if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
        raise loader.error(node, "!secret expects a secret name")
    value = loader.secrets.get(loader.file, str(node.value).strip(), loader.line_of(node))
    if isinstance(value, str):
        value = loader.here(NodeStr(value), node)
        value.__secret__ = True
    return value


def _env_var(loader: HubLoader, node: yaml.Node) -> NodeStr:
    """``!env_var NAME [default]``: an environment variable, or the default when unset."""
    args = str(node.value).split() if isinstance(node, yaml.ScalarNode) else []
    if not args:
        raise loader.error(node, "!env_var expects a variable name and an optional default")
    if args[0] in os.environ:
        return loader.here(NodeStr(os.environ[args[0]]), node)  # type: ignore[no-any-return]
    if len(args) > 1:
        return loader.here(NodeStr(" ".join(args[1:])), node)  # type: ignore[no-any-return]
    raise loader.error(node, f"environment variable {args[0]} not defined and no default given")


_CONSTRUCTORS: dict[str, Callable[[HubLoader, Any], Any]] = {
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG: _construct_mapping,
    yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG: _construct_sequence,
    yaml.resolver.BaseResolver.DEFAULT_SCALAR_TAG: _construct_str,
    "!include": _include,
    "!include_dir_list": _include_dir_list,
    "!include_dir_named": _include_dir_named,
    "!include_dir_merge_list": _include_dir_merge_list,
    "!include_dir_merge_named": _include_dir_merge_named,
    "!secret": _secret,
    "!env_var": _env_var,
    "!input": Input.from_node,
}
for _tag, _constructor in _CONSTRUCTORS.items():
    HubLoader.add_constructor(_tag, _constructor)


def _tab_issue(file: str, text: str, exc: yaml.YAMLError, base_dir: Path | None) -> ConfigIssue | None:
    """A tab where YAML expects spaces: say so, and where (libyaml only says it cannot start a token)."""
    mark = getattr(exc, "problem_mark", None)
    if mark is None:
        return None
    lines = text.splitlines()
    line = lines[mark.line] if mark.line < len(lines) else ""
    column = mark.column if mark.column < len(line) and line[mark.column] == "\t" else line.find("\t")
    if column < 0 or "cannot start any token" not in str(getattr(exc, "problem", "")):
        return None
    message = f"invalid YAML syntax: a tab character at column {column + 1}: YAML indentation must use spaces, not tabs"
    return _issue(file, mark.line + 1, message, base_dir)


def _syntax_issue(file: str, exc: yaml.YAMLError, base_dir: Path | None) -> ConfigIssue:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    if isinstance(exc, yaml.MarkedYAMLError):
        details = [part for part in (exc.context, exc.problem) if part]
        context_mark, problem_mark = exc.context_mark, exc.problem_mark
        if exc.context and context_mark and problem_mark and context_mark.line != problem_mark.line:
            details[0] = f"{details[0]} (started on line {context_mark.line + 1})"
        text = ": ".join(details) or str(exc)
    else:
        text = str(exc)
    return _issue(file, line, f"invalid YAML syntax: {text}", base_dir)


def _load_file(path: Path, secrets: Secrets | None, base_dir: Path | None, chain: tuple[Path, ...] = ()) -> Any:
    """Read and parse one YAML file; every failure becomes a ConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([_issue(str(path), None, "file not found", base_dir)]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([_issue(str(path), None, f"unable to read file: {exc}", base_dir)]) from None
    loader = HubLoader(text, str(path), secrets, base_dir, (*chain, path.resolve()))
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        issue = _tab_issue(str(path), text, exc, base_dir) or _syntax_issue(str(path), exc, base_dir)
        raise ConfigError([issue]) from None
    finally:
        loader.dispose()


def load_yaml(path: Path, secrets: Secrets | None = None) -> Any:
    """Load a YAML file with Home Assistant's tags and line tracking.

    Args:
        path: The file to load.
        secrets: Where ``!secret`` values are looked up; defaults to secrets.yaml
            files from the file's own folder (which is then the config dir).

    Returns:
        The loaded document (NodeDict, NodeList, NodeStr, scalar), or None for
        an empty file.

    Raises:
        ConfigError: The file or an included one is missing or unreadable, its
            YAML is invalid, or a secret or environment variable is undefined.
    """
    path = Path(path)
    if secrets is None:
        secrets = Secrets(path.parent)
    return _load_file(path, secrets, secrets.config_dir)
