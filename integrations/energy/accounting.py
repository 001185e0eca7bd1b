"""Live energy accounting: each new meter reading becomes kWh, cost, utility-meter use and budget use.

The energy used between two readings is spread evenly over the time between them and priced
segment by segment at the tariff's boundaries, so a reading taken after a price change pays
the old price for the part before it. That is exact to the readings' resolution (the raw points).
A reading is attributed to the utility-meter cycle and budget period in which it arrives.

A counter's rise is consumption (a `return` meter's rise is energy returned to the grid, which
earns its tariff's price); a power sensor's reading holds until the next one, and the energy
over that time is consumption above zero and return below. Cost sensors show the net: cost
minus what return earned. Budgets count consumption.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hub.core.bus import EVENT_STATE_CHANGED, EVENT_STATE_REPORTED, Event, callback
from integrations.energy.budget import EVENT_BUDGET_THRESHOLD, Budget
from integrations.energy.catalog import remember
from integrations.energy.cycles import counter_step, kwh_factor, meter_unit
from integrations.energy.sensors import BudgetSensor, CostSensor, UtilityMeter, UtilityMeterSensor
from integrations.energy.tariff import Tariff

if TYPE_CHECKING:
    from hub.core.clock import Clock
    from hub.core.hub import Hub
    from hub.core.states import State
    from integrations.energy.store import EnergyStore

_LOGGER = logging.getLogger(__name__)
TOTAL_COST_ID = "energy_total_cost"


def to_number(state: str) -> float | None:
    """Return a state as a float, None for unknown/unavailable/non-numeric."""
    try:
        value = float(state)
    except (TypeError, ValueError):
        return None
    return value if value == value and value not in (float("inf"), float("-inf")) else None


def is_energy_meter(state: State) -> bool:
    """Return whether a state is an energy counter (device_class energy, total or total_increasing)."""
    attributes = state.attributes
    return attributes.get("device_class") == "energy" and attributes.get("state_class") in ("total", "total_increasing")


@dataclass(slots=True)
class Source:
    """The last reading of an entity the energy integration counts."""

    entity_id: str
    last_value: float | None = None  # a counter's base (its highest reading this cycle), a power sensor's reading
    last_ts: float | None = None
    kwh: float = 0.0
    cost: float = 0.0
    return_kwh: float = 0.0
    credit: float = 0.0
    tariff: Tariff | None = None
    return_tariff: Tariff | None = None
    flow: str = "consumption"
    is_meter: bool = False
    classified: bool = False
    utility_meters: list[UtilityMeter] = field(default_factory=list)
    cost_sensor: CostSensor | None = None


class EnergyManager:
    """Own the sources, utility meters and budgets, and keep their entities current."""

    def __init__(
        self,
        hub: Hub,
        clock: Clock,
        store: EnergyStore,
        tariffs: dict[str, Tariff],
        meters: list[dict[str, Any]] | None,
        utility_meters: dict[str, dict[str, Any]],
        budgets: list[Budget],
    ) -> None:
        self.hub = hub
        self.clock = clock
        self.zone = clock.time_zone
        self.store = store
        self.tariffs = tariffs
        self.default_tariff = next(iter(tariffs.values()), None)
        self.currency = hub.config.currency
        self.auto = meters is None  # no list: every energy sensor is a meter
        self.meter_config = {m["entity_id"]: m for m in meters or []}
        self.sources: dict[str, Source] = {}
        self.ignored: set[str] = set()
        self.utility = {name: UtilityMeter(name, c["source"], c["cycle"], self.zone) for name, c in utility_meters.items()}
        self.utility_sensors = {name: UtilityMeterSensor(m, utility_meters[name].get("name")) for name, m in self.utility.items()}
        self.budgets = budgets
        self.budget_sensors = {b.name: BudgetSensor(b.name) for b in budgets}
        self.total = CostSensor(TOTAL_COST_ID, "Energy total cost", self.currency, TOTAL_COST_ID) if tariffs else None
        self._cancel_timer: Any = None
        self._unsub: Any = None

    # -- lifecycle

    async def start(self) -> None:
        """Restore totals, add the entities, follow state changes and arm the cycle timers."""
        saved = await self.store.load()
        for meter in self.utility.values():
            meter.load(saved.get(f"utility:{meter.name}", {}))
        for budget in self.budgets:
            budget.load(saved.get(f"budget:{budget.name}", {}))
        for key, value in saved.items():
            if key.startswith("source:"):
                source = self._source(key.partition(":")[2])
                source.last_value, source.last_ts = value.get("last_value"), value.get("last_ts")
                source.kwh, source.cost = float(value.get("kwh", 0.0)), float(value.get("cost", 0.0))
                source.return_kwh, source.credit = float(value.get("return_kwh", 0.0)), float(value.get("credit", 0.0))
        self._roll(self.clock.time())
        if self.total is not None:
            await self.hub.entities.add(self.total, "energy")
        for sensor in self.utility_sensors.values():
            sensor.meter.unit = sensor.meter.unit or self._unit(sensor.meter.source)
            await self.hub.entities.add(sensor, "energy")
            sensor.show()
            sensor.write_state()
        for budget in self.budgets:
            await self.hub.entities.add(self.budget_sensors[budget.name], "energy")
        self._show_budgets()
        now = self.clock.time()
        for state in self.hub.states.all():
            counted = self.classify(state.entity_id, state)
            if counted is not None and counted.last_value is None:
                # The reading in force when counting starts is the baseline, as in Home Assistant.
                counted.last_value, counted.last_ts = to_number(state.state), now
        for source in list(self.sources.values()):
            if source.is_meter:
                await self._ensure_cost_sensor(source)
        self._show_total()
        # Unchanged readings (state_reported) matter too: they end the interval the next use is spread over.
        unsubs = [self.hub.bus.listen(event, self._on_state_changed) for event in (EVENT_STATE_CHANGED, EVENT_STATE_REPORTED)]
        self._unsub = lambda: [unsub() for unsub in unsubs]
        self._arm()

    async def stop(self) -> None:
        """Stop following readings and write what changed."""
        if self._unsub is not None:
            self._unsub()
        if self._cancel_timer is not None:
            self._cancel_timer()
        await self.store.save()

    # -- readings

    def _unit(self, entity_id: str) -> str | None:
        state = self.hub.states.get(entity_id)
        return state.attributes.get("unit_of_measurement") if state is not None else None

    def _source(self, entity_id: str) -> Source:
        source = self.sources.get(entity_id)
        if source is None:
            source = self.sources[entity_id] = Source(entity_id)
            source.utility_meters = [m for m in self.utility.values() if m.source == entity_id]
        return source

    def classify(self, entity_id: str, state: State | None) -> Source | None:
        """Return the source for an entity we count, or None (and remember that we don't)."""
        source = self.sources.get(entity_id)
        if source is not None and source.classified:
            return source if source.is_meter or source.utility_meters else None
        if entity_id in self.ignored:
            return None
        is_meter = entity_id in self.meter_config or (
            self.auto and state is not None and is_energy_meter(state) and entity_id not in self._own_ids()
        )
        used_by_utility = any(m.source == entity_id for m in self.utility.values())
        if not is_meter and not used_by_utility:
            if not self.auto or (state is not None and state.attributes.get("device_class") not in (None, "energy")):
                self.ignored.add(entity_id)
            return None
        source = self._source(entity_id)
        source.is_meter, source.classified = is_meter, True
        if is_meter:
            source.flow, source.tariff, source.return_tariff = self.meter_terms(entity_id)
            if state is not None:
                # Reports keep counting a meter whose device is replaced or removed later.
                remember(self.hub, self, entity_id, state)
        return source

    def meter_terms(self, entity_id: str) -> tuple[str, Tariff | None, Tariff | None]:
        """Return a meter's flow, its tariff and (power sensors) its return tariff, as configured."""
        conf = self.meter_config.get(entity_id, {})
        flow = conf.get("flow", "consumption")
        # A return meter earns only what its own tariff says; consumption defaults to the first tariff.
        default = None if flow == "return" else self.default_tariff
        tariff = self.tariffs.get(conf["tariff"]) if conf.get("tariff") else default
        return_tariff = self.tariffs.get(conf["return_tariff"]) if conf.get("return_tariff") else None
        return flow, tariff, return_tariff

    def _own_ids(self) -> set[str]:
        # Utility meters look like energy meters; counting them again would double the cost.
        return {s.entity_id for s in self.utility_sensors.values() if s.entity_id}

    @callback
    def _on_state_changed(self, event: Event) -> None:
        entity_id: str = event.data["entity_id"]
        new_state: State | None = event.data.get("new_state")
        if new_state is None or entity_id in self.ignored:
            return
        source = self.classify(entity_id, new_state)
        if source is None:
            return
        value = to_number(new_state.state)
        unit = new_state.attributes.get("unit_of_measurement")
        if value is None:
            # Unavailable or unknown: a counter's next valid reading counts from the last one;
            # a power sensor's last reading stops holding (nobody knows what it drew meanwhile).
            kind = meter_unit(unit) if source.is_meter else None
            if kind is not None and kind[0] == "power":
                now = self.clock.time()
                if source.last_value is not None and source.last_ts is not None:
                    self._count(source, source.last_value * kind[1] * (now - source.last_ts) / 3600, source.last_ts, now)
                source.last_value, source.last_ts = None, now
            return
        self.reading(source, value, unit)

    def reading(self, source: Source, value: float, unit: str | None) -> None:
        """Count a new reading of a source at the clock's now."""
        now = self.clock.time()
        if self._roll(now):
            self._arm()
        kind = meter_unit(unit) if source.is_meter else None
        start = source.last_ts if source.last_ts is not None else now
        if kind is not None and kind[0] == "power":
            held = source.last_value
            kwh = held * kind[1] * (now - start) / 3600 if held is not None else 0.0
            source.last_value, source.last_ts = value, now
            self._count(source, kwh, start, now)
        else:
            delta, source.last_value = counter_step(source.last_value, value)
            source.last_ts = now
            for meter in source.utility_meters:
                meter.unit = unit
                meter.add(delta)
                self.store.put(f"utility:{meter.name}", meter.dump())
                sensor = self.utility_sensors[meter.name]
                sensor.show()
                sensor.write_state()
            if source.is_meter:
                factor = kwh_factor(unit)
                if factor is None:
                    _LOGGER.warning("energy: %s has unit %r, neither energy nor power; not counted", source.entity_id, unit)
                    source.is_meter = False
                else:
                    kwh = delta * factor
                    self._count(source, -kwh if source.flow == "return" else kwh, start, now)
        self.store.put(f"source:{source.entity_id}", {
            "last_value": source.last_value, "last_ts": source.last_ts, "kwh": source.kwh, "cost": source.cost,
            "return_kwh": source.return_kwh, "credit": source.credit})

    def _count(self, source: Source, kwh: float, start: float, now: float) -> None:
        """Count consumption (kwh > 0) or return (kwh < 0) of a meter over [start, now)."""
        if kwh > 0:
            cost = source.tariff.cost(kwh, start, now) if source.tariff is not None else 0.0
            source.kwh += kwh
            source.cost += cost
            self._count_budgets(source.entity_id, kwh, cost, now)
        elif kwh < 0:
            tariff = source.return_tariff if source.flow != "return" else source.tariff
            source.return_kwh -= kwh
            source.credit += tariff.cost(-kwh, start, now) if tariff is not None else 0.0
        else:
            return
        if source.cost_sensor is None and (source.tariff is not None or source.return_tariff is not None):
            self.hub.create_task(self._ensure_cost_sensor(source), f"energy cost sensor {source.entity_id}")
        self._show_cost(source)
        self._show_total()

    def _count_budgets(self, entity_id: str, kwh: float, cost: float, now: float) -> None:
        changed = False
        for budget in self.budgets:
            if not budget.counts(entity_id):
                continue
            crossed = budget.add(kwh if budget.measure == "kwh" else cost, now, self.zone)
            self.store.put(f"budget:{budget.name}", budget.dump())
            changed = True
            for threshold in crossed:
                self.hub.bus.fire(EVENT_BUDGET_THRESHOLD, budget.event(threshold, self.zone))
            if crossed:
                # A restart must not announce the same threshold twice.
                self.hub.create_task(self.store.save(), "energy save")
        if changed:
            self._show_budgets()

    def catch_up(self, budget: Budget, used: float, now: float) -> None:
        """Let a budget's live count catch up with the period's use as history knows it.

        History may know more than the live count: readings backfilled from a device's offline
        buffer, or use while the hub was down. The threshold events that use crossed fire now.
        """
        budget.roll(now, self.zone)
        if used <= budget.used + 1e-9:
            return
        crossed = budget.add(used - budget.used, now, self.zone)
        self.store.put(f"budget:{budget.name}", budget.dump())
        for threshold in crossed:
            self.hub.bus.fire(EVENT_BUDGET_THRESHOLD, budget.event(threshold, self.zone))
        self._show_budgets()

    # -- entities

    async def _ensure_cost_sensor(self, source: Source) -> None:
        if source.cost_sensor is not None or (source.tariff is None and source.return_tariff is None):
            return
        object_id = source.entity_id.partition(".")[2]
        state = self.hub.states.get(source.entity_id)
        friendly = (state.attributes.get("friendly_name") if state else None) or object_id.replace("_", " ")
        sensor = CostSensor(f"{object_id}_cost", f"{friendly} cost", self.currency, f"energy_cost_{source.entity_id}")
        source.cost_sensor = sensor
        await self.hub.entities.add(sensor, "energy")
        self._show_cost(source)

    def _show_cost(self, source: Source) -> None:
        sensor = source.cost_sensor
        if sensor is None or sensor.hub is None:
            return
        tariff = source.tariff
        extra: dict[str, Any] = {}
        if source.return_kwh or source.flow == "return" or source.return_tariff is not None:
            extra = {"return_kwh": round(source.return_kwh, 6), "credit": round(source.credit, 4)}
        sensor.show(source.cost - source.credit, source.kwh, meter=source.entity_id, tariff=tariff.name if tariff else None,
                    price=tariff.price_at(self.clock.time()) if tariff else None, **extra)
        sensor.write_state()

    def _show_total(self) -> None:
        if self.total is None or self.total.hub is None:
            return
        meters = [s for s in self.sources.values() if s.is_meter]
        self.total.show(sum(s.cost - s.credit for s in meters), sum(s.kwh for s in meters), meters=len(meters),
                        return_kwh=round(sum(s.return_kwh for s in meters), 6),
                        credit=round(sum(s.credit for s in meters), 4))
        self.total.write_state()

    def _show_budgets(self) -> None:
        for budget in self.budgets:
            sensor = self.budget_sensors[budget.name]
            if sensor.hub is not None:
                sensor.show(budget.as_dict(self.zone))
                sensor.write_state()

    # -- cycles

    def _roll(self, now: float) -> bool:
        """Start new utility-meter cycles and budget periods that began by now."""
        rolled = False
        for meter in self.utility.values():
            if meter.roll(now):
                rolled = True
                self.store.put(f"utility:{meter.name}", meter.dump())
                sensor = self.utility_sensors[meter.name]
                if sensor.hub is not None:
                    sensor.show()
                    sensor.write_state()
        for budget in self.budgets:
            if budget.roll(now, self.zone):
                rolled = True
                self.store.put(f"budget:{budget.name}", budget.dump())
        if rolled:
            self._show_budgets()
        return rolled

    def _arm(self) -> None:
        """Wake at the next cycle or period boundary to reset what starts there."""
        if self._cancel_timer is not None:
            self._cancel_timer()
        ends = [m.next_reset() for m in self.utility.values()] + [b.period_end(self.zone) for b in self.budgets]
        due = [t for t in ends if t is not None]
        if not due:
            self._cancel_timer = None
            return

        def fire() -> None:
            self._cancel_timer = None
            self._roll(self.clock.time())
            self.hub.create_task(self.store.save(), "energy save")
            self._arm()

        self._cancel_timer = self.clock.call_at(min(due), fire)

    def info(self) -> dict[str, Any]:
        """Return meters, tariffs, utility meters and budgets for the web UI."""
        now = self.clock.time()
        return {
            "currency": self.currency,
            "time_zone": str(self.zone),
            "meters": [
                {"entity_id": s.entity_id, "tariff": s.tariff.name if s.tariff else None, "flow": s.flow,
                 "kwh": round(s.kwh, 6), "cost": round(s.cost, 4), "return_kwh": round(s.return_kwh, 6),
                 "credit": round(s.credit, 4), "cost_entity_id": s.cost_sensor.entity_id if s.cost_sensor else None}
                for s in self.sources.values() if s.is_meter
            ],
            "tariffs": [{"name": t.name, "price": t.price_at(now)} for t in self.tariffs.values()],
            "utility_meters": [
                {"entity_id": s.entity_id, **s.meter.dump(), "cycle": s.meter.cycle, "source": s.meter.source}
                for s in self.utility_sensors.values()
            ],
            "budgets": [{**b.as_dict(self.zone), "entity_id": self.budget_sensors[b.name].entity_id} for b in self.budgets],
        }
