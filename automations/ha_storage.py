"""Home Assistant's `.storage` JSON files: `{"version", "minor_version", "key", "data"}` in the data dir.

What the UI and the API create (schedules, scenes made with `scene.create`) is kept here, in
the shape Home Assistant keeps its storage collections (`data: {"items": [...]}`), written
atomically and readable by the hub's user only. A file that cannot be read is reported with
its path and set aside (renamed `<key>.corrupt`), never a reason not to start.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.storage.private_files import read_private, write_private

if TYPE_CHECKING:
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)


class ItemsFile:
    """One storage collection's file: a list of items, each a JSON object with an `id`."""

    def __init__(self, hub: Hub, key: str, version: int = 1, minor_version: int = 1) -> None:
        data_dir = getattr(hub.config, "data_dir", None)
        self.path: Path | None = Path(data_dir) / key if data_dir else None
        self.key = key
        self.version = version
        self.minor_version = minor_version

    def load(self) -> list[dict[str, Any]]:
        """Return the stored items ([] when there is no file, or it is not what it should be)."""
        items: list[dict[str, Any]] = self.load_data()["items"]
        return items

    def load_data(self) -> dict[str, Any]:
        """Return the whole `data` object: `items` and whatever else the hub keeps beside them."""
        if self.path is None:
            return {"items": []}
        try:
            document = json.loads(read_private(self.path))
        except FileNotFoundError:
            return {"items": []}
        except (OSError, ValueError) as err:
            self._set_aside(f"it is not JSON ({err})")
            return {"items": []}
        data = document.get("data") if isinstance(document, dict) else None
        items = data.get("items") if isinstance(data, dict) else None
        if not isinstance(items, list) or not all(isinstance(i, dict) and "id" in i for i in items):
            self._set_aside("expected {\"data\": {\"items\": [{\"id\": ...}, ...]}}")
            return {"items": []}
        return dict(data)  # type: ignore[arg-type]  # checked above: a dict with items

    def save(self, items: list[dict[str, Any]], **beside: Any) -> None:
        """Write every item (atomically, 0600), and `beside` them other keys of `data` (Home
        Assistant reads `items` only); without a data dir they live in memory only."""
        if self.path is None:
            return
        document = {"version": self.version, "minor_version": self.minor_version, "key": self.key,
                    "data": {"items": items, **beside}}
        write_private(self.path, json.dumps(document, indent=2, ensure_ascii=False).encode())

    def _set_aside(self, why: str) -> None:
        assert self.path is not None
        aside = self.path.with_name(self.path.name + ".corrupt")
        os.replace(self.path, aside)
        _LOGGER.error("%s cannot be used: %s. It was renamed %s; its items are not loaded", self.path, why, aside.name)
