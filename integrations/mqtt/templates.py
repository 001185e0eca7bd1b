"""Templates in MQTT configs (value_template, command_template ...), compiled once per config."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from hub.templating import Template
from hub.templating.template import Origin

if TYPE_CHECKING:
    from hub.core.hub import Hub

_SENTINEL: Any = object()


class MqttTemplate:
    """A template from an MQTT config, bound to the entity whose values it renders.

    `variables` (entity_id, name) is shared with the entity and read at each render. A template
    that fails to compile or render raises the hub's `TemplateError` (hub.exceptions).
    """

    __slots__ = ("source", "_template", "_variables")

    def __init__(
        self, source: str, hub: Hub | None = None, variables: dict[str, Any] | None = None, origin: Origin = None
    ) -> None:
        """Compile the template; `origin` names it in errors (see hub.templating.Template).

        Raises:
            TemplateError: the template does not compile.
        """
        self.source = source
        self._variables = variables if variables is not None else {}
        self._template = Template(source, hub, origin)
        self._template.ensure_valid()

    def render_value(self, payload: str | bytes, default: Any = _SENTINEL) -> Any:
        """Render with `value` and `value_json`; on error return default (else the payload).

        Home Assistant's `async_render_with_possible_json_value`: `value_json` exists only
        when the payload is valid JSON.
        """
        if default is _SENTINEL:
            return self._template.render_with_possible_json_value(payload, variables=self._variables)
        return self._template.render_with_possible_json_value(payload, default, self._variables)

    def render_command(self, value: Any) -> str | bytes:
        """Render a command_template with `value`; a rendered bytes literal is sent raw.

        Raises:
            TemplateError: the template failed to render.
        """
        rendered = str(self._template.render({**self._variables, "value": value}, parse_result=False))
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
        return str(self._template.render({**self._variables, **(variables or {})}, parse_result=False))
