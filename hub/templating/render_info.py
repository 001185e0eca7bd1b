"""What a render read: the entities, domains and clock it depends on."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

# Home Assistant's rate limits for re-rendering (reference f.5).
ALL_STATES_RATE_LIMIT = 60.0
DOMAIN_STATES_RATE_LIMIT = 1.0


@dataclass(slots=True)
class RenderInfo:
    """The outcome of one render and everything it listened to.

    Attributes:
        template: the source rendered.
        result: the rendered value (None when it raised).
        exception: the TemplateError raised, if any.
        entities: entity_ids read (states('x'), states.d.o, is_state, ...).
        domains: domains iterated (states.sensor).
        domains_lifecycle: domains whose size was read (states.sensor | count).
        all_states: every state was iterated.
        all_states_lifecycle: the number of states was read.
        has_time: now()/utcnow()/today_at()... was read: re-render every minute.
        is_static: the template has no Jinja syntax at all.
    """

    template: str = ""
    result: Any = None
    exception: Exception | None = None
    entities: set[str] = field(default_factory=set)
    domains: set[str] = field(default_factory=set)
    domains_lifecycle: set[str] = field(default_factory=set)
    all_states: bool = False
    all_states_lifecycle: bool = False
    has_time: bool = False
    is_static: bool = False

    @property
    def rate_limit(self) -> float | None:
        """Seconds between re-renders Home Assistant allows for what this render read."""
        if self.all_states or self.all_states_lifecycle or self.exception is not None:
            return ALL_STATES_RATE_LIMIT
        if self.domains or self.domains_lifecycle:
            return DOMAIN_STATES_RATE_LIMIT
        return None

    def filter(self, entity_id: str) -> bool:
        """Return whether a change of entity_id should re-render the template."""
        if self.all_states or entity_id in self.entities:
            return True
        return entity_id.partition(".")[0] in self.domains

    def listeners(self) -> dict[str, Any]:
        """Return the listeners in the shape of the WebSocket render_template event."""
        return {
            "all": self.all_states or self.all_states_lifecycle,
            "domains": sorted(self.domains | self.domains_lifecycle),
            "entities": sorted(self.entities),
            "time": self.has_time,
        }


current_render_info: ContextVar[RenderInfo | None] = ContextVar("current_render_info", default=None)
