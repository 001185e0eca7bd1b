"""The Hub: owns the bus, the states, the services and the entities, and runs their lifecycle."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from hub import __version__
from hub.core.bus import (
    EVENT_HUB_CLOSE,
    EVENT_HUB_FINAL_WRITE,
    EVENT_HUB_START,
    EVENT_HUB_STARTED,
    EVENT_HUB_STOP,
    EventBus,
)
from hub.core.clock import Clock, SystemClock
from hub.core.durability import Durability
from hub.core.entities import Entities, register_core_services
from hub.core.runtime import HubRuntime
from hub.core.scope import DEFAULT_SCOPE, HomeScope
from hub.core.services import ServiceRegistry
from hub.core.states import StateMachine
from hub.exceptions import HubError

if TYPE_CHECKING:
    # Types only: the core never imports the adapters at run time.
    import pluggy
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from hub.auth.store import AuthStore
    from hub.registry.areas import AreaRegistry
    from hub.registry.devices import DeviceRegistry
    from hub.registry.entities import EntityRegistry

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")


class CoreState(StrEnum):
    """Where the hub is in its life."""

    not_running = "NOT_RUNNING"
    starting = "STARTING"
    running = "RUNNING"
    stopping = "STOPPING"
    final_write = "FINAL_WRITE"
    stopped = "STOPPED"


@dataclass(slots=True)
class HubConfig:
    """The core settings of a hub (the `homeassistant:` section and where things live)."""

    config_dir: Path | None = None
    data_dir: Path | None = None
    name: str = "Home"
    time_zone: str = "UTC"
    latitude: float = 0.0
    longitude: float = 0.0
    elevation: int = 0
    unit_system: str = "metric"
    currency: str = "EUR"
    country: str | None = None
    language: str = "en"
    internal_url: str | None = None
    external_url: str | None = None
    components: set[str] = field(default_factory=set)
    raw: dict[str, Any] = field(default_factory=dict)
    # The home this core serves, and its tenant's plan (None: no plan, no limits: single-home).
    scope: HomeScope = DEFAULT_SCOPE
    plan: str | None = None

    def as_dict(self, state: str) -> dict[str, Any]:
        """Return the config in the shape of Home Assistant's get_config."""
        metric = self.unit_system == "metric"
        return {
            "allowlist_external_dirs": [],
            "allowlist_external_urls": [],
            "components": sorted(self.components),
            "config_dir": str(self.config_dir) if self.config_dir else None,
            "config_source": "yaml",
            "country": self.country,
            "currency": self.currency,
            "debug": False,
            "elevation": self.elevation,
            "external_url": self.external_url,
            "internal_url": self.internal_url,
            "language": self.language,
            "latitude": self.latitude,
            "location_name": self.name,
            "longitude": self.longitude,
            "radius": 100,
            "recovery_mode": False,
            "safe_mode": False,
            "state": state,
            "time_zone": self.time_zone,
            "unit_system": {
                "length": "km" if metric else "mi",
                "accumulated_precipitation": "mm" if metric else "in",
                "area": "m²" if metric else "ft²",
                "mass": "g" if metric else "lb",
                "pressure": "Pa" if metric else "psi",
                "temperature": "°C" if metric else "°F",
                "volume": "L" if metric else "gal",
                "wind_speed": "m/s" if metric else "mph",
            },
            "version": __version__,
            "whitelist_external_dirs": [],
        }


class Hub:
    """The root object: it wires the collaborators together and runs start and stop."""

    def __init__(self, config: HubConfig | None = None) -> None:
        self.config = config or HubConfig()
        self.bus = EventBus(self)
        self.states = StateMachine(self.bus)
        self.services = ServiceRegistry(self)
        self.entities = Entities(self)
        self.durability = Durability()
        self.state = CoreState.not_running
        self.runtime = HubRuntime()
        self._clock: Clock | None = None
        # Set by hub.bootstrap when the hub runs with storage; None for an in-memory hub.
        self.plugins: pluggy.PluginManager | None = None
        self.db: async_sessionmaker[AsyncSession] | None = None
        self.auth: AuthStore | None = None
        self.area_registry: AreaRegistry | None = None
        self.device_registry: DeviceRegistry | None = None
        self.entity_registry: EntityRegistry | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._on_stop: list[Callable[[], Awaitable[object] | None]] = []
        self._executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="hub-executor")
        self._loop: asyncio.AbstractEventLoop | None = None
        register_core_services(self)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """Return the event loop the hub runs on."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    @property
    def clock(self) -> Clock:
        """Return the hub's one clock (wall time in the hub's time zone unless a test sets another)."""
        if self._clock is None:
            self._clock = SystemClock(self.config.time_zone or "UTC")
        return self._clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self._clock = clock
        self.bus.now = clock.time

    def require_db(self) -> async_sessionmaker[AsyncSession]:
        """Return the session factory of the hub's database.

        Raises:
            HubError: the hub runs without storage (an in-memory hub).
        """
        if self.db is None:
            message = "This hub has no database: it runs without storage"
            raise HubError(message)
        return self.db

    def require_auth(self) -> AuthStore:
        """Return the auth store (users, tokens, audit log).

        Raises:
            HubError: the hub runs without storage, so it has no users.
        """
        if self.auth is None:
            message = "This hub has no auth store: it runs without storage"
            raise HubError(message)
        return self.auth

    def require_area_registry(self) -> AreaRegistry:
        """Return the area registry.

        Raises:
            HubError: the hub runs without storage, so it has no area registry.
        """
        if self.area_registry is None:
            message = "This hub has no area registry: it runs without storage"
            raise HubError(message)
        return self.area_registry

    def require_device_registry(self) -> DeviceRegistry:
        """Return the device registry.

        Raises:
            HubError: the hub runs without storage, so it has no device registry.
        """
        if self.device_registry is None:
            message = "This hub has no device registry: it runs without storage"
            raise HubError(message)
        return self.device_registry

    def require_entity_registry(self) -> EntityRegistry:
        """Return the entity registry.

        Raises:
            HubError: the hub runs without storage, so it has no entity registry.
        """
        if self.entity_registry is None:
            message = "This hub has no entity registry: it runs without storage"
            raise HubError(message)
        return self.entity_registry

    @property
    def is_running(self) -> bool:
        """Return whether the hub is starting or running."""
        return self.state in (CoreState.starting, CoreState.running)

    def create_task(self, coro: Coroutine[Any, Any, _T], name: str | None = None) -> asyncio.Task[_T]:
        """Run a coroutine as a task the hub tracks, logs when it fails and cancels on stop."""
        task = self.loop.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self.loop.call_exception_handler(
                {"message": f"Error in task {task.get_name()}", "exception": error, "task": task}
            )

    def run_in_executor(self, func: Callable[..., _T], *args: Any) -> asyncio.Future[_T]:
        """Run blocking work in the hub's thread pool."""
        return self.loop.run_in_executor(self._executor, func, *args)

    def on_stop(self, teardown: Callable[[], Awaitable[object] | None]) -> None:
        """Run teardown when the hub stops (last registered, first run); what it returns is ignored."""
        self._on_stop.append(teardown)

    def entity_ids_for_devices(self, device_ids: Iterable[str]) -> list[str]:
        """Return the entity_ids of the entities that belong to the given devices."""
        wanted = set(device_ids)
        return [e.entity_id for e in self.entities if e.device_id in wanted and e.entity_id]

    def entity_ids_for_areas(self, area_ids: Iterable[str]) -> list[str]:
        """Return the entity_ids in the given areas, as Home Assistant resolves an area target.

        An entity is in an area when its registry entry names the area, or when it names none
        and its device is in the area. Hidden entities and configuration or diagnostic entities
        are left out, as HA leaves them out of area targets.
        """
        wanted = set(area_ids)
        entities, devices = self.entity_registry, self.device_registry
        if not wanted or entities is None:
            return []
        devices_in = {d.id for d in devices if d.area_id in wanted} if devices is not None else set()
        return [
            e.entity_id
            for e in entities
            if e.hidden_by is None
            and e.entity_category is None
            and (e.area_id in wanted or (e.area_id is None and e.device_id in devices_in))
        ]

    async def block_till_done(self, timeout: float = 10.0) -> None:
        """Wait until no tracked task is pending (tasks may start more tasks)."""
        loop = self.loop
        deadline = loop.time() + timeout
        while True:
            # Let callbacks scheduled with call_soon run, and the tasks they create start.
            await asyncio.sleep(0)
            pending = [t for t in self._tasks if not t.done() and t is not asyncio.current_task()]
            if not pending:
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                message = f"Tasks still pending after {timeout} s: {[t.get_name() for t in pending]}"
                raise TimeoutError(message)
            await asyncio.wait(pending, timeout=remaining)

    async def start(self) -> None:
        """Start: fire homeassistant_start, let setup work settle, then homeassistant_started."""
        self.state = CoreState.starting
        self.bus.fire(EVENT_HUB_START)
        await asyncio.sleep(0)
        self.state = CoreState.running
        self.bus.fire(EVENT_HUB_STARTED)

    async def stop(self, timeout: float = 1.5) -> None:
        """Stop within timeout seconds: announce it, run teardowns, cancel what is left."""
        if self.state in (CoreState.stopping, CoreState.stopped):
            return
        self.state = CoreState.stopping
        self.bus.fire(EVENT_HUB_STOP)
        try:
            await asyncio.wait_for(self._run_teardowns(), timeout)
        except TimeoutError:
            _LOGGER.warning("Teardown did not finish within %.1f s; cancelling the rest", timeout)
        self.state = CoreState.final_write
        self.bus.fire(EVENT_HUB_FINAL_WRITE)
        pending = [t for t in self._tasks if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=0.5)
        self.state = CoreState.stopped
        self.bus.fire(EVENT_HUB_CLOSE)
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _run_teardowns(self) -> None:
        while self._on_stop:
            teardown = self._on_stop.pop()
            try:
                result = teardown()
                if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                    await result
            except Exception:  # noqa: BLE001 - one failing teardown must not block the others
                _LOGGER.exception("Error while stopping %r", teardown)
