"""One MQTT connection per process, shared by the homes of a many-homes hub (docs/homes.md, "One connection").

A single-home hub keeps its own `MqttClient` and never comes here. In a hub of many homes each
home's MQTT integration gets a `HomeClient`: the same interface as `MqttClient` (its own
subscription table, confined to its topic root; its own plan gate, counters and connect
callbacks), over the process's `SharedConnection` for its broker URL and credentials.

- **Subscriptions**: each home's filters are subscribed one to one, with their own QoS (discovery
  at 0, state topics at 1); never one `<root>#`. A reconnect subscribes every home's filters again.
- **Dispatch**: a message goes to the home whose root its topic is under. Roots end with "/" and
  no root may be a prefix of another (`attach` refuses such a home), so at most one home matches.
  A message under no home's root is dropped (and acknowledged), with one warning per topic.
- **Acknowledgements** (integrations/mqtt/acks.py): a QoS 1 message waits for its own home's
  barrier (the recorder's spool) and for every message received before it, whichever home's;
  PUBACKs leave in the order the PUBLISHes came. A barrier that fails (a home's spool cannot take
  the message) makes the connection reconnect, so the broker delivers everything not
  acknowledged again: that home gets its message back, the others duplicates at most.
- **The process stops**: from the moment a home's MQTT stops, its messages are neither handled
  nor acknowledged (`BLOCKED`): they stay the broker's, its filters stay in the process's
  session. The connection closes once the last home stopped, and the next start receives them.
- **A home leaves the running process** (`HomeClient.leave`, from the `home_leaving` hook: removed,
  suspended, its record changed): its filters are unsubscribed; it handles what comes until the
  UNSUBACK (all that the broker routed to it before arrived by then, on the one TCP stream) and
  leaves the dispatch table once its spool has it, so nothing of it holds the others'
  acknowledgements. A suspended or restarting home first parks its QoS 1 filters in a session of
  its own at the broker, read out when it runs again (parking.py). Should a stopped home's
  message hold the acknowledgements up still, forgetting it reconnects the connection.
- **Roots at runtime**: a home added while the process runs attaches its root when its MQTT is set
  up (a stopped home with that root gives way); a removed one's root leaves the table. A root
  that overlaps a running home's is refused, naming both homes.
- **Will and birth**: the will is the process's (the `will_message` without a home's root,
  `homeassistant/status` `offline` by default); each home publishes its birth
  (`<root>homeassistant/status` `online`) when it starts and its `offline` when it stops cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable, Collection
from dataclasses import replace
from pathlib import Path
from typing import Any

from hub.exceptions import HubError
from integrations.mqtt import parking
from integrations.mqtt.acks import BLOCKED, Durable
from integrations.mqtt.client import ACK_DRAIN_TIMEOUT, Connection, ConnectionSettings, MqttClient, MqttClientError
from integrations.mqtt.subscriptions import Message

_LOGGER = logging.getLogger(__name__)

# Topics under no home's root that are remembered, to warn once for each.
_UNROUTED_LIMIT = 1024

# The process's connections, one per event loop and broker account (what a home's `mqtt:` names
# but its root, prefix, birth and will). Connections hold no home's data: only the homes' clients.
_CONNECTIONS: dict[tuple[Any, ...], SharedConnection] = {}


class SharedConnection(MqttClient):
    """The one connection of the process to a broker, and the homes it carries."""

    def __init__(self, settings: ConnectionSettings, key: tuple[Any, ...]) -> None:
        super().__init__(settings)
        self.key = key
        self.homes: dict[str, HomeClient] = {}  # root -> the home's client (running or stopping)
        self.messages_unrouted = 0
        # The roots of every home the process serves or starts (hub.homes.roots), None: the attached ones.
        self.expected: Callable[[], Collection[str]] | None = None
        self._held_for_start = False  # a message of a home not started yet holds the acknowledgements
        self._levels = 0  # the most topic levels of a root
        self._unrouted: set[str] = set()
        self._gone: set[str] = set()  # roots of detached homes: their messages match no home
        make = self._factory

        def wired(*args: Any) -> Connection:
            connection = make(*args)
            connection.acks.on_failed = self._barrier_failed
            return connection

        self._factory = wired

    # ---- the homes ----

    def attach(self, home: HomeClient) -> None:
        """Carry this home's messages.

        Raises:
            HubError: its root is empty, or it overlaps the root of another home on this connection.
        """
        root = home.root
        if not root:
            message = f"home {home.home!r} needs an MQTT topic root of its own (`topic_root:`); it has none"
            raise HubError(message)
        for other_root, other in list(self.homes.items()):
            if not (other_root.startswith(root) or root.startswith(other_root)):
                continue
            if other.leaving:
                self.forget(other)  # a stopped home (a failed start, a restart): the new one takes its root
                continue
            message = (f"home {home.home!r}'s MQTT topic root {root!r} overlaps home {other.home!r}'s "
                       f"{other_root!r} on this process's connection: each home needs a root that is no prefix "
                       "of another's")
            raise HubError(message)
        self.homes[root] = home
        self._gone.discard(root)
        self._levels = max(self._levels, root.count("/"))

    def forget(self, home: HomeClient) -> None:
        """Stop carrying a detached home's messages; reconnect if one of them holds up the others' acks."""
        if self.homes.get(home.root) is not home:
            return
        del self.homes[home.root]
        self._gone.add(home.root)
        self._levels = max((root.count("/") for root in self.homes), default=0)
        client = self._client
        if client is not None and self.connected and client.acks.blocked:
            _LOGGER.info("Reconnecting to the MQTT broker: messages of the removed home %r held up the other homes' "
                         "acknowledgements", home.root)
            self._drop()

    @property
    def running(self) -> list[HomeClient]:
        """The homes whose messages are handled (not stopping)."""
        return [home for home in self.homes.values() if not home.leaving]

    async def leave(self, home: HomeClient) -> None:
        """A home stopped: close the connection once no home runs on it any more."""
        if home.forgotten:
            self.forget(home)
        if self.running or self._stopping:
            return
        if _CONNECTIONS.get(self.key) is self:
            del _CONNECTIONS[self.key]
        await self.stop()

    # ---- receiving ----

    def _handle(self, message: Message) -> Durable | None:
        self.messages_received += 1
        topic = message.topic
        homes = self.homes
        end = topic.find("/")
        levels = self._levels
        while end >= 0 and levels:
            home = homes.get(topic[: end + 1])
            if home is not None:
                return home.receive(message)
            end = topic.find("/", end + 1)
            levels -= 1
        if self.expected is not None and self._starting_root(topic):
            self._held_for_start = True
            return BLOCKED  # a home that has not started yet: the broker keeps it, and delivers it again
        self.messages_unrouted += 1
        if topic not in self._unrouted and len(self._unrouted) < _UNROUTED_LIMIT:
            self._unrouted.add(topic)
            _LOGGER.warning("Dropping the MQTT message on %r: it is under the topic root of no home of this process",
                            topic)
        return None  # acknowledged: no home will ever take it

    def _starting_root(self, topic: str) -> bool:
        assert self.expected is not None
        return any(topic.startswith(root) for root in self.expected() if root and root not in self._gone)

    def held(self) -> None:
        """A message of a home that has not started is held (not acknowledged)."""
        self._held_for_start = True

    def home_started(self) -> None:
        """Once every home of the process runs, have what was held for them delivered again."""
        if not self._held_for_start:
            return
        started = {root for root, home in self.homes.items() if home.started}
        expected = (set(self.expected()) if self.expected is not None else set(self.homes)) - self._gone
        if expected <= started:
            self._held_for_start = False
            _LOGGER.info("Every home runs: reconnecting to the MQTT broker for the messages it holds for them")
            self._drop()

    def _barrier_failed(self) -> None:
        _LOGGER.warning("Reconnecting to the MQTT broker so that it delivers again what was not acknowledged")
        self._drop()

    def _drop(self) -> None:
        """Close the connection (the loop reconnects): the broker delivers what was not acknowledged again."""
        client = self._client
        if client is None or self._stopping:
            return
        self.closing_on_purpose = True
        task = asyncio.get_running_loop().create_task(client.close(), name="mqtt reconnect")
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    # ---- connecting ----

    def _set_connected(self, connected: bool) -> None:
        super()._set_connected(connected)
        if not connected:
            for home in self.homes.values():
                home._set_connected(False)

    async def _connected(self, client: Connection) -> None:
        self.connections += 1
        filters: dict[str, int] = {}
        running = [home for home in self.running if home.starting]
        for home in running:
            home.reset_pending()
            home.connections += 1  # what the SUBSCRIBE brings (retained configs) is this connection's
            filters.update(home.subscriptions.filters())
        self._set_connected(True)
        if filters:
            await self._subscribe_many(client, filters)
        await asyncio.gather(*(home.joined(client) for home in running))


class HomeClient(MqttClient):
    """One home's MQTT client in a hub of many: its own table and root, over the shared connection."""

    def __init__(self, settings: ConnectionSettings, root: str, shared: SharedConnection,
                 on_connection_change: Any = None, durable: Durable | None = None, home: str = "",
                 folder: Path | None = None) -> None:
        super().__init__(settings, on_connection_change, durable)
        self.home = home or root  # its id, for messages
        self.folder = folder  # its data folder: where a parked session is noted (integrations/mqtt/parking.py)
        self.kept_read: int | None = None  # messages the broker kept while it was away, once read
        self._reading: asyncio.Task[None] | None = None
        self.root = root
        self.confine = root
        self.shared = shared
        self.starting = False  # start() was called: it joins every (re)connect
        self.leaving = False  # its MQTT stops: its messages are not acknowledged any more
        self.forgotten = False  # detached: removed from the running hub
        self.started = False  # joined the connection once (its sources stage ran)
        self._birth_sent = False
        self._joined_to: Connection | None = None
        shared.attach(self)

    def receive(self, message: Message) -> Durable | None:
        """Handle a message under this home's root; return the barrier its acknowledgement waits for."""
        if self.leaving:
            return BLOCKED
        if not self.starting:
            if message.qos:
                self.shared.held()  # a QoS 0 message is not delivered again: nothing to wait for
            return BLOCKED  # its sources stage has not come: the broker keeps it until every home runs
        self.messages_received += 1
        if self.admit is None or self.admit(message):
            self.subscriptions.dispatch(message)
        return self.durable

    def reset_pending(self) -> None:
        """The connection subscribes every filter of the table again: nothing is pending."""
        self._pending_subscribe.clear()
        self._pending_unsubscribe.clear()

    async def joined(self, client: Connection) -> None:
        """The shared connection is (re)connected and subscribed to this home's filters."""
        if self._joined_to is client or self.leaving:
            return
        self._joined_to = client
        self._client = client
        self._set_connected(True)
        birth = self.settings.birth
        if birth is not None and not self._birth_sent:
            try:
                await client.publish(birth.topic, birth.payload, birth.qos, birth.retain)
                self._birth_sent = True
            except (MqttClientError, TimeoutError) as err:
                _LOGGER.warning("Cannot publish the birth message on %s: %s", birth.topic, err)
        for callback in list(self._on_connect_callbacks):
            try:
                callback()
            except Exception:  # noqa: BLE001
                _LOGGER.exception("Error in MQTT connect callback")
        # What was asked for while the connection came up.
        self._schedule_flush()
        if not self.started:
            self.started = True
            self.shared.home_started()
            if self.folder is not None and (self.folder / parking.MARKER).exists():
                self._reading = asyncio.get_running_loop().create_task(self._read_parked(), name="mqtt parked session")

    async def _read_parked(self) -> None:
        """Handle what the broker kept for this home while it was away (integrations/mqtt/parking.py)."""
        assert self.folder is not None
        try:
            count = await parking.read_parked(parking.parked_settings(self.shared.settings, self.home), self.folder,
                                              self.receive, self.root)
        except (MqttClientError, OSError) as err:
            _LOGGER.warning("Home %s: cannot read what the MQTT broker kept while it was away: %s", self.home, err)
            return
        if count is not None:
            self.kept_read = count
            _LOGGER.info("Home %s: %d MQTT message(s) that the broker kept while it was away", self.home, count)

    async def _stop_reading(self) -> None:
        reading, self._reading = self._reading, None
        if reading is not None and not reading.done():
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)

    async def start(self) -> None:
        """Connect the shared connection if it is not yet; join it at once if it is."""
        shared = self.shared
        self.starting = True
        if shared._task is None:
            await shared.start()
        elif shared.connected and shared._client is not None:
            await shared.wait_subscribed()
            client = shared._client
            self.connections += 1
            try:
                if self.subscriptions.filters():
                    self.reset_pending()
                    await self._subscribe_many(client, self.subscriptions.filters())
                await self.joined(client)
            except MqttClientError as err:
                # The connection dropped while this home joined it. As for a single home's client, the
                # broker's trouble does not fail the start: the next connection subscribes the filters
                # of every started home (SharedConnection._connected), this one's too.
                _LOGGER.info("Home %s: the MQTT connection dropped while the home joined it (%s); it joins "
                             "when the connection is back", self.home, err)

    async def stop(self) -> None:
        """Stop handling this home's messages, acknowledge what is durable, say offline, leave.

        Its filters stay subscribed in the process's persistent session (a hub that stops): the
        broker keeps what comes for them until the next start.
        """
        await self._stop_reading()
        if self.leaving:
            await self.shared.leave(self)  # it left the running process already (leave())
            return
        self.leaving = True
        self._stopping = True
        client = self._client
        if client is not None and self.connected:
            await client.acks.drain(ACK_DRAIN_TIMEOUT)
            await self._say_offline(client)
        self._set_connected(False)
        self._client = None
        await self.shared.leave(self)

    async def _say_offline(self, client: Connection) -> None:
        will = self.settings.will
        if will is not None:
            with contextlib.suppress(MqttClientError, TimeoutError):
                await client.publish(will.topic, will.payload, will.qos, will.retain, timeout=1)

    async def leave(self, park: bool) -> None:
        """Leave the running process's connection: removed for good, or away a while (`park`).

        Called once the home left the HTTP routing (its sockets send nothing more), before its
        core stops (docs/homes.md, "Leaving a running hub"). With `park`, its QoS 1/2 filters are
        first subscribed in a parked session that the broker keeps for it (parking.py). Then its
        filters are unsubscribed from the shared connection; until the UNSUBACK it still handles
        what comes (every message routed to it before then arrived on the one TCP stream), and
        what it handled is acknowledged once durable. Then it leaves the dispatch table: nothing
        of it is held, so the other homes' acknowledgements never wait on it.
        """
        if self.forgotten:
            return
        self.forgotten = True
        if self.leaving:  # its MQTT stopped already: what it holds goes with it
            await self.shared.leave(self)
            return
        await self._stop_reading()
        shared = self.shared
        filters = self.subscriptions.filters()
        if park and self.folder is not None:
            try:
                await parking.park(parking.parked_settings(shared.settings, self.home), filters, self.folder, self.root)
            except (MqttClientError, OSError) as err:
                _LOGGER.warning("Home %s: cannot keep its MQTT readings at the broker while it is away: %s",
                                self.home, err)
        client = self._client
        if client is not None and self.connected and filters:
            try:
                names = sorted(filters)
                for start in range(0, len(names), 500):
                    await client.unsubscribe(names[start : start + 500])
            except MqttClientError as err:
                _LOGGER.warning("Home %s: cannot unsubscribe its MQTT topics: %s", self.home, err)
        barrier = self.durable() if self.durable is not None else None
        if barrier is not None:  # what it handled is acknowledged once durable (acks.py releases them)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(barrier), ACK_DRAIN_TIMEOUT)
        self.leaving = True
        self._stopping = True
        if client is not None and self.connected:
            await self._say_offline(client)
        shared.forget(self)
        self._set_connected(False)
        self._client = None
        await shared.leave(self)

    async def detach(self) -> None:
        """The home is removed from the running hub for good: leave the connection, stop."""
        await self.leave(park=False)
        await self.stop()

    def reconnect_now(self) -> None:
        """Retry connecting at once (the shared connection)."""
        self.shared.reconnect_now()


def process_settings(home: ConnectionSettings, root: str, process_data_dir: Path, client_id: str | None
                     ) -> ConnectionSettings:
    """The settings of the process's connection, from one home's: the process's client id and will, no birth."""
    will = home.will
    if will is not None and will.topic.startswith(root):
        will = replace(will, topic=will.topic[len(root):])
    client = client_id or "powerhub-" + hashlib.sha1(str(process_data_dir).encode()).hexdigest()[:12]
    return replace(home, client_id=client, birth=None, will=will, extra=dict(home.extra))


def connection_for(settings: ConnectionSettings) -> SharedConnection:
    """The process's connection for these settings (one per broker account), made on first use."""
    loop = asyncio.get_running_loop()
    key = (id(loop), settings.host, settings.port, settings.tls, settings.username, settings.password,
           settings.client_id, settings.backend, settings.ca_certs, settings.certfile, settings.keyfile,
           settings.tls_insecure, settings.keepalive)
    shared = _CONNECTIONS.get(key)
    if shared is None or shared._stopping:
        shared = _CONNECTIONS[key] = SharedConnection(settings, key)
    return shared


def connections() -> list[SharedConnection]:
    """The process's shared connections (for tests and benches)."""
    return list(_CONNECTIONS.values())


def home_client(settings: ConnectionSettings, root: str, process_data_dir: Path, client_id: str | None,
                on_connection_change: Callable[[bool], None] | None, durable: Durable | None,
                roots: Callable[[], Collection[str]] | None, *, home: str = "", folder: Path | None = None
                ) -> HomeClient:
    """A home's client over the process's connection for its broker account.

    settings: the home's (its birth and will under its root); root: its topic root; process_data_dir:
    where the process keeps its data (names the connection's client id when `client_id` is not set);
    roots: the roots of the homes the process serves or starts now (hub.homes.roots: a live view),
    for messages of homes not started yet; home: its id; folder: its data folder (parking.py).

    Raises:
        HubError: the root is empty or overlaps another home's on that connection.
    """
    process = process_settings(settings, root, process_data_dir, client_id)
    connection = connection_for(process)
    if roots is not None:
        connection.expected = roots
    return HomeClient(replace(settings, client_id=process.client_id), root, connection, on_connection_change, durable,
                      home, folder)
