"""Check automation YAML typed in the web UI editor, with the line of every problem.

The same checks the hub runs when it loads automations.yaml (blueprints resolved, then the
automation schema), so the editor shows exactly what a reload would reject.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub.config.objects import get_location
from hub.exceptions import ConfigError, HubError

if TYPE_CHECKING:
    from hub.core.hub import Hub

MAX_YAML = 256 * 1024


def load_text(config_dir: Path | None, text: str) -> tuple[Any, list[dict[str, Any]]]:
    """Parse YAML with the hub's loader (tags, line numbers); return (document, syntax problems)."""
    from hub.config.loader import Secrets, load_yaml  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "automation.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            return load_yaml(path, Secrets(config_dir) if config_dir else None), []
        except ConfigError as err:
            return None, [{"line": i.line, "key": i.key, "message": i.message} for i in err.issues]


def check_document(hub: Hub, document: Any) -> list[dict[str, Any]]:
    """Return the problems of one automation (or a list of them) as {line, key, message}."""
    # Imported here: the automation engine is optional, the rest of the UI works without it.
    from automations.automation import AutomationEntity  # noqa: PLC0415
    from automations.blueprints import resolve  # noqa: PLC0415
    from automations.config import InvalidConfig, normalize_automation  # noqa: PLC0415

    if document is None:
        return [{"line": 1, "key": "", "message": "The automation is empty."}]
    items = document if isinstance(document, list) else [document]
    problems: list[dict[str, Any]] = []
    for index, raw in enumerate(items):
        prefix = f"automation[{index}]" if len(items) > 1 else "automation"
        try:
            if not isinstance(raw, dict):
                raise InvalidConfig("An automation must be a mapping (alias, triggers, actions).", raw)
            config = resolve(hub.config.config_dir, "automation", raw)
            # Building the entity compiles triggers, conditions and actions; it is never added.
            AutomationEntity(hub, normalize_automation(config), index)
        except InvalidConfig as err:
            issue = err.issue(prefix, raw)
            problems.append({"line": issue.line, "key": issue.key, "message": issue.message})
        except (HubError, vol.Invalid, ValueError, TypeError, KeyError) as err:
            _file, line = get_location(raw)
            problems.append({"line": line, "key": prefix, "message": str(err)})
    return problems


async def validate_automation(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
    """Answer frontend/automation/validate: {"valid": bool, "errors": [{line, key, message}]}."""
    # Parsing writes a temporary file and may read !include targets: keep it off the event loop.
    document, errors = await hub.run_in_executor(load_text, hub.config.config_dir, msg["yaml"])
    if not errors:
        errors = check_document(hub, document)
    connection.send_result(msg["id"], {"valid": not errors, "errors": errors})


def register_commands(register: Any) -> None:
    """Register the automation check (only where the automation engine is installed)."""
    try:
        import automations.config  # noqa: F401, PLC0415
    except ImportError:
        return
    register(
        "frontend/automation/validate",
        validate_automation,
        {vol.Required("yaml"): vol.All(str, vol.Length(max=MAX_YAML))},
    )
