"""Re-render a template when what it read changes (entities, domains, all states, the minute)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hub.core.bus import EVENT_STATE_CHANGED, Event, callback
from hub.templating import Template

if TYPE_CHECKING:
    from hub.core.hub import Hub

Rendered = Callable[[Any, Exception | None, Event | None], None]


class TemplateTracker:
    """Track one template: first render at start, then after each relevant change.

    Entity-only templates use the state machine's per-entity index, so they cost nothing
    for other entities' changes; domain or all-state templates listen to every change but are
    rate-limited as in Home Assistant; time-dependent or static ones re-render each minute.
    """

    def __init__(self, hub: Hub, template: Template, variables: dict[str, Any], rendered: Rendered) -> None:
        self._hub = hub
        self._template = template
        self._variables = variables
        self._rendered = rendered
        self._clock = hub.clock
        self._untrack: Callable[[], None] | None = None
        self._unlisten: Callable[[], None] | None = None
        self._cancel_timer: Callable[[], None] | None = None
        self._entities: frozenset[str] = frozenset()
        self._last_render = 0.0
        self._rate_limit: float | None = None
        self._stopped = False

    def start(self) -> None:
        """Render once and subscribe to what the render read."""
        self._render(None)

    def _render(self, event: Event | None) -> None:
        if self._stopped:
            return
        info = self._template.render_info(self._variables)
        self._last_render = self._clock.time()
        self._resubscribe(info)
        self._rendered(info.result, info.exception, event)

    def _resubscribe(self, info: Any) -> None:
        entities = frozenset(info.entities)
        if entities != self._entities or self._untrack is None:
            if self._untrack is not None:
                self._untrack()
            self._entities = entities
            self._untrack = self._hub.states.track(entities, self._changed) if entities else (lambda: None)
        wide = info.all_states or info.all_states_lifecycle or bool(info.domains) or bool(info.domains_lifecycle)
        self._rate_limit = info.rate_limit
        if wide and self._unlisten is None:
            self._domains = set(info.domains | info.domains_lifecycle)
            self._all = info.all_states or info.all_states_lifecycle
            self._unlisten = self._hub.bus.listen(EVENT_STATE_CHANGED, self._wide_changed)
        elif not wide and self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        if wide:
            self._domains = set(info.domains | info.domains_lifecycle)
            self._all = info.all_states or info.all_states_lifecycle
        # Time-dependent and entity-less templates are re-rendered every minute.
        if self._cancel_timer is not None:
            self._cancel_timer()
            self._cancel_timer = None
        if info.has_time or (not entities and not wide):
            now = self._clock.time()
            self._cancel_timer = self._clock.call_at(now - now % 60 + 60, lambda: self._render(None))

    @callback
    def _changed(self, event: Event) -> None:
        self._render(event)

    @callback
    def _wide_changed(self, event: Event) -> None:
        entity_id = event.data["entity_id"]
        if entity_id in self._entities:
            return  # the per-entity tracker handles it
        if not self._all and entity_id.partition(".")[0] not in self._domains:
            return
        if self._rate_limit and self._clock.time() - self._last_render < self._rate_limit:
            if self._cancel_timer is None:
                self._cancel_timer = self._clock.call_at(self._last_render + self._rate_limit, lambda: self._render(None))
            return
        self._render(event)

    def stop(self) -> None:
        """Unsubscribe everything."""
        self._stopped = True
        for undo in (self._untrack, self._unlisten, self._cancel_timer):
            if undo is not None:
                undo()
        self._untrack = self._unlisten = self._cancel_timer = None
