"""Templates in MQTT configs (value_template, command_template ...), compiled once per config."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any, Protocol

from hub.templating import Template
from hub.templating.template import Origin

if TYPE_CHECKING:
    from hub.core.hub import Hub

_SENTINEL: Any = object()


class MqttTemplate(Template):
    """A template from an MQTT config (a trigger's, a tag scanner's, mqtt.publish's), compiled at once.

    A hub Template with the renders MQTT configs need (one object: thousands of entities hold
    some). A template that fails to compile or render raises the hub's `TemplateError`
    (hub.exceptions).
    """

    __slots__ = ()

    def __init__(self, source: str, hub: Hub | None = None, origin: Origin = None) -> None:
        """Compile the template; `origin` names it in errors (see hub.templating.Template).

        Raises:
            TemplateError: the template does not compile.
        """
        super().__init__(source, hub, origin)
        self.ensure_valid()

    @property
    def source(self) -> str:
        """The template's text."""
        return self.template

    def variables(self) -> dict[str, Any]:
        """Return the variables every render sees besides its own (none here)."""
        return {}

    def render_value(self, payload: str | bytes, default: Any = _SENTINEL) -> Any:
        """Render with `value` and `value_json`; on error return default (else the payload).

        Home Assistant's `async_render_with_possible_json_value`: `value_json` exists only
        when the payload is valid JSON.
        """
        if default is _SENTINEL:
            return self.render_with_possible_json_value(payload, variables=self.variables())
        return self.render_with_possible_json_value(payload, default, self.variables())

    def render_command(self, value: Any) -> str | bytes:
        """Render a command_template with `value`; a rendered bytes literal is sent raw.

        Raises:
            TemplateError: the template failed to render.
        """
        variables = self.variables()
        variables["value"] = value
        rendered = str(self.render(variables, parse_result=False))
        if rendered.startswith(("b'", 'b"')):
            try:
                literal = ast.literal_eval(rendered)
            except (ValueError, SyntaxError):
                return rendered
            if isinstance(literal, bytes):
                return literal
        return rendered

    def render_plain(self, variables: dict[str, Any] | None = None) -> str:
        """Render with the given variables, as text (mqtt.publish's payload_template).

        Raises:
            TemplateError: the template failed to render.
        """
        return str(self.render({**self.variables(), **(variables or {})}, parse_result=False))


class TemplateOwner(Protocol):
    """What an entity template reads of its entity: its hub, its names, how to name it in errors."""

    @property
    def hub(self) -> Hub | None: ...

    @property
    def entity_id(self) -> str | None: ...

    @property
    def name(self) -> str | None: ...

    def _template_owner(self) -> str: ...


class EntityTemplate(MqttTemplate):
    """A template of a discovered entity's config: `entity_id` and `name` in every render.

    It reads them from its entity at each render (no dict of its own kept per entity), and it is
    its own origin: an error names the entity and the key ("sensor.x value_template"), read only
    then. Thousands of entities hold one or more each, hence the slots and no extra objects.
    """

    __slots__ = ("entity", "key")

    def __init__(self, source: str, entity: TemplateOwner, key: str) -> None:
        """Compile the template of `key` in entity's config.

        Raises:
            TemplateError: the template does not compile.
        """
        self.entity = entity
        self.key = key
        super().__init__(source, entity.hub, self)

    def variables(self) -> dict[str, Any]:
        """Return the entity's entity_id and name, as they are now."""
        entity = self.entity
        return {"entity_id": entity.entity_id, "name": entity.name}

    def __call__(self) -> str:
        """Name the template in an error: the entity, then the key."""
        return f"{self.entity._template_owner()} {self.key}"
