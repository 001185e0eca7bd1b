"""The WebSocket command registry: message type -> handler, schema and who may call it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub import plugins

if TYPE_CHECKING:
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)

CommandHandler = Callable[[Any, Any, dict[str, Any]], Awaitable[None]]

# Every command carries these; a handler's schema describes the rest of the message.
BASE_COMMAND = {vol.Required("id"): int, vol.Required("type"): str}


@dataclass(frozen=True, slots=True)
class Command:
    """A registered WebSocket command."""

    type: str
    handler: CommandHandler
    schema: vol.Schema | None
    admin_only: bool


class CommandRegistry:
    """The commands a WebSocket connection understands, by message type."""

    def __init__(self) -> None:
        self._commands: dict[str, Command] = {}

    def register(
        self,
        type: str,  # noqa: A002 - the message key is named `type` in the protocol
        handler: CommandHandler,
        schema: dict[Any, Any] | None = None,
        *,
        admin_only: bool = False,
    ) -> None:
        """Register (or replace) the handler of a message type.

        Args:
            type: the message `type`, e.g. "get_states" or "history/stream".
            handler: `async def handler(hub, connection, msg)`.
            schema: voluptuous markers for the message's keys besides `id` and `type`;
                None skips validation.
            admin_only: refuse users that are not owner or admin.
        """
        if not isinstance(type, str) or not type:
            message = f"A WebSocket command type must be a non-empty string, got {type!r}"
            raise ValueError(message)
        if type in self._commands:
            _LOGGER.warning("WebSocket command %s registered twice; the later one wins", type)
        compiled = None if schema is None else vol.Schema({**BASE_COMMAND, **schema})
        self._commands[type] = Command(type, handler, compiled, admin_only)

    def get(self, type: str) -> Command | None:  # noqa: A002
        """Return the command registered for a message type."""
        return self._commands.get(type)

    def __contains__(self, type: object) -> bool:  # noqa: A002
        return type in self._commands

    def types(self) -> list[str]:
        """Return the registered message types, sorted."""
        return sorted(self._commands)


async def collect_commands(hub: Hub, registry: CommandRegistry | None = None) -> CommandRegistry:
    """Add the commands integrations register by hook to registry (a new one if None)."""
    registry = registry if registry is not None else CommandRegistry()
    if hub.plugins is not None:
        await plugins.call_hook(
            hub.plugins, "register_websocket_commands", hub=hub, register=registry.register
        )
    return registry
