"""The hand-made fast paths of event encoding give exactly what the plain ways give."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime

from hub.api import ws_messages
from hub.core.bus import EVENT_STATE_CHANGED, Event, EventOrigin, callback, iso_utc
from hub.core.context import _CROCKFORD, Context, ulid_at
from hub.core.hub import Hub
from hub.core.states import ReadOnlyDict, State


def test_iso_utc_is_datetime_isoformat() -> None:
    rng = random.Random(23)
    now = time.time()
    stamps = [0.0, 1.0, 1.5, 0.0000005, 0.0000015, 1e9 + 0.9999995, -0.25, now, float(int(now))]
    stamps += [rng.random() * 4e9 for _ in range(20_000)]
    stamps += [now + rng.random() for _ in range(20_000)]  # many within one second: the cached part
    stamps += [round(now + rng.random(), rng.randint(0, 7)) for _ in range(20_000)]
    for stamp in stamps:
        assert iso_utc(stamp) == datetime.fromtimestamp(stamp, UTC).isoformat(), stamp


def _decode(ulid: str) -> int:
    value = 0
    for char in ulid:
        value = value * 32 + _CROCKFORD.index(char)
    return value


def test_ulids_carry_their_millisecond_and_are_unique_and_sorted() -> None:
    now = time.time()
    ids = [ulid_at(now + i * 0.0004) for i in range(5_000)]  # 2-3 per millisecond
    for i, ulid in enumerate(ids):
        assert len(ulid) == 26
        assert ulid[0] in "01234567"  # 130 bits of characters for 128 bits
        assert _decode(ulid) >> 80 == int((now + i * 0.0004) * 1000)
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)  # monotonic within a millisecond, as the spec allows
    burst = [ulid_at(now) for _ in range(5_000)]  # more than 1,024 in one millisecond: new random bits
    assert len(set(burst)) == len(burst)
    assert {_decode(ulid) >> 80 for ulid in burst} == {int(now * 1000)}


def _plain(event: Event) -> bytes:
    return ws_messages.dumps(event.as_dict())


def test_state_changed_is_encoded_from_its_states_json() -> None:
    context = Context(user_id="abc")
    old = State("sensor.power", "1.5", {"unit_of_measurement": "W", "when": datetime(2024, 1, 1, tzinfo=UTC)})
    new = State("sensor.power", "2.5", {"unit_of_measurement": "W"}, last_changed=time.time() - 3, context=context)
    for before, after in ((old, new), (None, new), (new, None)):
        event = Event(EVENT_STATE_CHANGED, {"entity_id": "sensor.power", "old_state": before, "new_state": after},
                      EventOrigin.remote, context=context)
        assert ws_messages.encode_event(event) == _plain(event)
    assert new.encoded is not None  # kept: the next event sends it as old_state without encoding it again


async def test_a_reported_state_is_encoded_again(hub: Hub) -> None:
    hub.states.set("sensor.x", "1")
    state = hub.states.get("sensor.x")
    first = ws_messages.state_json(state)
    hub.states.set("sensor.x", "1", timestamp=time.time() + 5)  # same value: only last_reported moves
    assert hub.states.get("sensor.x") is state
    assert ws_messages.state_json(state) != first
    assert ws_messages.state_json(state) == ws_messages.dumps(state.as_dict())


def test_other_shapes_of_state_changed_are_encoded_plainly() -> None:
    # Fired through the API with any data: no fast path, same JSON as before.
    for data in ({"entity_id": "sensor.a"}, {"entity_id": 5, "old_state": None, "new_state": None},
                 {"entity_id": "sensor.a", "old_state": {"state": "1"}, "new_state": None}):
        event = Event(EVENT_STATE_CHANGED, data)
        assert ws_messages.encode_event(event) == _plain(event)


def test_a_state_put_together_from_its_parts_is_its_dict_encoded() -> None:
    now = time.time()
    contexts = [Context(), Context(user_id="u1"), Context(parent_id="p1"), Context(id='odd "id"\\'),
                Context(id="ümlaut"), Context(id="01HABCDEF")]
    attributes: list[dict[str, object]] = [
        {}, {"unit_of_measurement": "°C", "friendly_name": 'A "quoted" name'},
        {"when": datetime(2024, 1, 1, tzinfo=UTC), "tags": {"a"}, 1: "non-string key", "n": 1.5, "none": None}]
    for context in contexts:
        for attrs in attributes:
            for changed, reported in ((now, now), (now - 3, now), (now - 3, now + 2)):
                state = State("sensor.power", "2.5", attrs, last_changed=changed, last_updated=now, context=context,
                              last_reported=reported)
                assert ws_messages.state_json(state) == ws_messages.dumps(state.as_dict())
                assert ws_messages.context_json(context) == ws_messages.dumps(context.as_dict())
    for origin in EventOrigin:
        event = Event(EVENT_STATE_CHANGED, {"entity_id": "sensor.power", "old_state": None, "new_state": state}, origin)
        assert ws_messages.encode_event(event) == _plain(event)


async def test_a_stream_of_readings_is_encoded_as_its_dicts(hub: Hub) -> None:
    """Readings of entities that keep their attributes object (as MQTT entities do) share the
    attributes' JSON from state to state; one that changes its attributes is encoded anew."""
    events: list[Event] = []

    @callback
    def collect(event: Event) -> None:  # inline, in firing order
        events.append(event)

    hub.bus.listen(EVENT_STATE_CHANGED, collect)
    kept = ReadOnlyDict({"unit_of_measurement": "W", "friendly_name": "Power"})
    for value in range(5):
        hub.states.set("sensor.power", str(value), kept)
        hub.states.set("sensor.other", str(value), {"n": value})  # a new dict each time
        hub.states.set("sensor.power_b", str(value), kept)  # the same object on another entity
    hub.states.set("sensor.power", "9", ReadOnlyDict({"unit_of_measurement": "kW"}))  # new attributes
    hub.states.remove("sensor.power")
    assert len(events) == 17
    for event in events:
        assert ws_messages.encode_event(event) == _plain(event)
    power = [e.data["new_state"] for e in events if e.data["entity_id"] == "sensor.power" and e.data["new_state"]]
    assert power[1].encoded_parts is power[0].encoded_parts  # taken over, not encoded again
    assert power[-1].encoded_parts is not power[-2].encoded_parts
    assert b'"kW"' in ws_messages.state_json(power[-1])


def test_a_context_is_encoded_for_what_it_is_now() -> None:
    first, second = Context(), Context(user_id="u1")
    for context in (first, second, first, second):
        assert ws_messages.context_json(context) == ws_messages.dumps(context.as_dict())


def test_an_event_is_encoded_once_and_framed_per_subscription_id() -> None:
    cache = ws_messages.EncodedEventCache()
    encoded: list[Event] = []

    def encode(event: Event) -> bytes:
        encoded.append(event)
        return ws_messages.encode_event(event)

    first = Event("custom", {"n": 1})
    second = Event("custom", {"n": 2})
    assert cache.get(first, "event", encode) == _plain(first)
    for msg_id in (5, 2, 5, 7, 2):  # three clients' subscriptions, in any order
        assert cache.frame(first, "event", msg_id, encode) == ws_messages.event_message(msg_id, first.as_dict())
    for msg_id in (7, 7, 3):
        assert cache.frame(second, "event", msg_id, encode) == ws_messages.event_message(msg_id, second.as_dict())
    assert cache.frame(second, "other kind", 7, lambda event: b"{}") == b'{"id":7,"type":"event","event":{}}'
    assert encoded == [first, second]  # once per event and kind


def test_the_encoded_parts_an_entity_keeps_cost_what_they_hold() -> None:
    # An orjson result kept alive costs ~4 KiB of memory (its buffer's capacity): 5,000 entities'
    # entity_id and attributes JSON kept that way were ~43 MB; copies are a few hundred bytes each.
    import gc  # noqa: PLC0415

    def rss() -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * 4096

    states = [State(f"sensor.node_{i}_power", "1", ReadOnlyDict({"unit_of_measurement": "W", "device_class": "power",
                                                                  "friendly_name": f"Node {i} Power"}), context=Context())
              for i in range(5000)]
    gc.collect()
    before = rss()
    for state in states:
        ws_messages.state_json(state)
        state.encoded = None  # the state's own JSON goes with it; its parts stay with the entity
    gc.collect()
    per_entity = (rss() - before) / len(states)
    assert all(state.encoded_parts is not None for state in states)
    assert per_entity < 3000, f"{per_entity:,.0f} bytes of memory per entity for its encoded parts"
