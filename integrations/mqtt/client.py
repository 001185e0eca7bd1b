"""The connection to the broker: connect, reconnect with backoff, resubscribe, publish, dispatch.

The protocol work is a backend's (client_gmqtt.py or client_paho.py, chosen by `mqtt: client:`);
everything else is here and shared: the subscription table and batched SUBSCRIBEs, the
reconnect loop, birth and will, the connection state. A backend hands each received message
to `_handle` inline in the event loop: no queue and no task per message.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from hub.exceptions import HubError
from integrations.mqtt.acks import DeferredAcks, Durable
from integrations.mqtt.subscriptions import Message, MessageHandler, Subscriptions

_LOGGER = logging.getLogger(__name__)


# The MQTT library used unless `mqtt: client:` names one. gmqtt: in bench/mqtt_ingest.py the
# hub's client receives 90-120k msg/s on it against 16-22k on paho, and the hub with recorder
# and a WebSocket client sustains 10k msg/s against 5k; both pass the same tests.
DEFAULT_BACKEND = "gmqtt"


# At a clean stop, wait this long for held acknowledgements (the recorder's last commit).
ACK_DRAIN_TIMEOUT = 0.5


# Filters refused for being outside the confining root that are remembered (to log each once).
_REFUSED_LIMIT = 1024


def _refused_undo() -> None:
    """The undo of a subscription that was refused: nothing to undo."""


class MqttClientError(HubError):
    """Publishing or subscribing failed (the broker is unreachable or refused it)."""


@dataclass(frozen=True, slots=True)
class PublishMessage:
    """A message the hub publishes (birth, will)."""

    topic: str
    payload: str
    qos: int = 0
    retain: bool = False


@dataclass(slots=True)
class ConnectionSettings:
    """Where and how to connect."""

    host: str
    port: int = 1883
    tls: bool = False
    username: str | None = None
    password: str | None = None
    client_id: str = "powerhub"
    keepalive: int = 60
    ca_certs: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    tls_insecure: bool = False
    birth: PublishMessage | None = None
    will: PublishMessage | None = None
    # The first retry after a lost connection comes after reconnect_min; then the delay doubles
    # (with jitter) up to reconnect_max. While the broker refuses connections (nothing listens:
    # it restarts), retries stay within reconnect_refused_max, so the hub is back within that
    # long of the broker accepting again; a refused TCP connect costs the broker nothing.
    reconnect_min: float = 0.05
    reconnect_max: float = 60.0
    reconnect_refused_max: float = 0.4
    # Which library speaks MQTT: "gmqtt" or "paho" (see backend_factory).
    backend: str = DEFAULT_BACKEND
    extra: dict[str, Any] = field(default_factory=dict)


class Connection(Protocol):
    """One connection to the broker, as a backend offers it; failures raise MqttClientError.

    A backend hands each received message to `deliver` and then holds its acknowledgement in
    `acks` (integrations.mqtt.acks), which sends it once the hub says the message is durable.
    """

    acks: DeferredAcks

    async def open(self) -> None:
        """Connect, send CONNECT (persistent session, will) and wait for a successful CONNACK."""

    async def wait_closed(self) -> None:
        """Return or raise once the connection is lost."""

    async def close(self) -> None:
        """Disconnect cleanly if connected; safe to call more than once and after a failed open."""

    async def subscribe(self, items: list[tuple[str, int]]) -> None:
        """Send one SUBSCRIBE for (filter, qos) pairs and wait for the SUBACK."""

    async def unsubscribe(self, filters: list[str]) -> None:
        """Send one UNSUBSCRIBE and wait for the UNSUBACK."""

    async def publish(self, topic: str, payload: str | bytes, qos: int, retain: bool, timeout: float = 10) -> None:
        """Publish; QoS 1/2 return once the broker acknowledged (within timeout seconds)."""


ConnectionFactory = Callable[
    [ConnectionSettings, "ssl.SSLContext | None", Callable[[Message], "Durable | None"], "Durable | None"], Connection
]


def backend_factory(name: str) -> ConnectionFactory:
    """Return the connection class of a backend; only its library is imported."""
    if name == "gmqtt":
        from integrations.mqtt.client_gmqtt import GmqttConnection

        return GmqttConnection
    if name == "paho":
        from integrations.mqtt.client_paho import PahoConnection

        return PahoConnection
    message = f"Unknown MQTT client backend {name!r}; expected gmqtt or paho"
    raise ValueError(message)


class MqttClient:
    """Keep one connection to the broker for as long as the hub runs."""

    def __init__(
        self,
        settings: ConnectionSettings,
        on_connection_change: Callable[[bool], None] | None = None,
        durable: Durable | None = None,
    ) -> None:
        self.settings = settings
        # The hub's durability barrier: QoS 1/2 messages are acknowledged once it releases them.
        self.durable = durable
        self.subscriptions = Subscriptions()
        self.connected = False
        self.messages_received = 0
        # The home's plan rate (hub.tenancy.limits.message_gate): False drops the message; None checks nothing.
        self.admit: Callable[[Message], bool] | None = None
        self.connections = 0  # connections made so far; messages received belong to the latest
        # A home's topic root in a hub of many homes: subscriptions and publishes outside it are
        # refused, whoever asks (discovery configs' topics, triggers, services, other integrations),
        # so that one home can neither read nor write another's topics. None: the whole broker.
        self.confine: str | None = None
        self._refused_filters: set[str] = set()
        self._on_connection_change = on_connection_change
        self._factory = backend_factory(settings.backend)
        self._client: Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._pending_subscribe: dict[str, int] = {}
        self._pending_unsubscribe: set[str] = set()
        self._flush_scheduled = False
        self._flushes: set[asyncio.Task[None]] = set()
        self._on_connect_callbacks: list[Callable[[], None]] = []
        self._connected_event = asyncio.Event()
        self._retry_now = asyncio.Event()
        self._tls_context: ssl.SSLContext | None = None
        self.closing_on_purpose = False  # the hub closes it to reconnect at once: not worth a warning

    # ---- lifecycle ----

    async def start(self) -> None:
        """Start connecting in the background; returns at once, the broker may be down."""
        if self.settings.tls:
            # Loading certificates reads files: do it once, off the event loop.
            self._tls_context = await asyncio.get_running_loop().run_in_executor(None, self._make_tls_context)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="mqtt connection")

    async def stop(self) -> None:
        """Acknowledge what is durable, say offline (the will), disconnect and stop reconnecting."""
        self._stopping = True
        client = self._client
        if client is not None and self.connected:
            # Messages handled but not acknowledged yet: a clean stop sends what it can, so
            # that the broker does not deliver them again at the next start.
            await client.acks.drain(ACK_DRAIN_TIMEOUT)
        if client is not None and self.connected and self.settings.will is not None:
            will = self.settings.will
            try:
                await client.publish(will.topic, will.payload, will.qos, will.retain, timeout=1)
            except (MqttClientError, TimeoutError):
                pass
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._task = None

    async def wait_connected(self, timeout: float) -> bool:
        """Wait until connected (True) or timeout seconds passed (False)."""
        try:
            await asyncio.wait_for(self._connected_event.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def reconnect_now(self) -> None:
        """Retry connecting at once (the embedded broker was restarted and listens again)."""
        self._retry_now.set()

    def on_connect(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call callback after every (re)connect, once subscriptions and birth are sent."""
        self._on_connect_callbacks.append(callback)
        return lambda: self._on_connect_callbacks.remove(callback)

    # ---- subscribing and publishing ----

    def subscribe(self, topic_filter: str, handler: MessageHandler, qos: int = 0) -> Callable[[], None]:
        """Call handler (inline, must not block) for each message on topic_filter; return the undo.

        Broker subscriptions are batched: many calls in one loop iteration send one SUBSCRIBE.
        A filter outside the confining root is not subscribed (logged once per filter).
        """
        if self.confine is not None and not topic_filter.startswith(self.confine):
            if topic_filter not in self._refused_filters and len(self._refused_filters) < _REFUSED_LIMIT:
                self._refused_filters.add(topic_filter)
                _LOGGER.warning("Not subscribing to MQTT topic %r: this home's topics are under %r, and another "
                                "home's are not its to read", topic_filter, self.confine)
            return _refused_undo
        before = self.subscriptions.qos_of(topic_filter)
        remove = self.subscriptions.add(topic_filter, handler, qos)
        # Subscribe again even when the filter is already subscribed: the broker then resends
        # the retained message, which the new handler has not seen (an availability topic
        # shared by all of a device's entities). Home Assistant re-subscribes the same way;
        # the handlers that already saw it get an identical message, which changes nothing.
        self._pending_unsubscribe.discard(topic_filter)
        self._pending_subscribe[topic_filter] = max(qos, before or 0, self._pending_subscribe.get(topic_filter, 0))
        self._schedule_flush()
        return _Unsubscribe(self, remove, topic_filter)

    def _unsubscribe(self, remove: Callable[[], bool], topic_filter: str) -> None:
        if remove():
            self._pending_subscribe.pop(topic_filter, None)
            self._pending_unsubscribe.add(topic_filter)
            self._schedule_flush()

    async def publish(self, topic: str, payload: str | bytes, qos: int = 0, retain: bool = False) -> None:
        """Publish a message; QoS 1/2 wait for the broker's acknowledgement.

        Raises:
            MqttClientError: not connected, the broker did not acknowledge in time, or the topic is
                outside the confining root.
        """
        if self.confine is not None and not topic.startswith(self.confine):
            message = f"Cannot publish to {topic}: this home's MQTT topics are under {self.confine!r}"
            raise MqttClientError(message)
        client = self._client
        if client is None or not self.connected:
            message = f"Cannot publish to {topic}: not connected to the MQTT broker"
            raise MqttClientError(message)
        try:
            await client.publish(topic, payload, qos, retain)
        except MqttClientError as err:
            message = f"Publishing to {topic} failed: {err}"
            raise MqttClientError(message) from err

    def _schedule_flush(self) -> None:
        if self._flush_scheduled or not self.connected:
            return
        self._flush_scheduled = True
        asyncio.get_running_loop().call_soon(self._start_flush)

    def _start_flush(self) -> None:
        self._flush_scheduled = False
        if self.connected and (self._pending_subscribe or self._pending_unsubscribe):
            task = asyncio.get_running_loop().create_task(self._flush(), name="mqtt subscribe")
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)

    async def wait_subscribed(self) -> None:
        """Wait until the broker acknowledged every subscription asked for so far."""
        while self.connected and (self._flush_scheduled or self._flushes):
            if self._flushes:
                await asyncio.wait(set(self._flushes))
            else:
                await asyncio.sleep(0)

    async def _flush(self) -> None:
        client = self._client
        subscribe, self._pending_subscribe = self._pending_subscribe, {}
        unsubscribe, self._pending_unsubscribe = self._pending_unsubscribe, set()
        if client is None:
            return
        try:
            if unsubscribe:
                await client.unsubscribe(sorted(unsubscribe))
            await self._subscribe_many(client, subscribe)
        except MqttClientError as err:
            # The next connect resubscribes everything from the table anyway.
            _LOGGER.warning("MQTT subscribe failed, retrying after reconnect: %s", err)

    async def _subscribe_many(self, client: Connection, filters: dict[str, int]) -> None:
        items = sorted(filters.items())
        # Keep each SUBSCRIBE packet a sane size.
        for start in range(0, len(items), 500):
            await client.subscribe(items[start : start + 500])

    # ---- connection loop ----

    def _handle(self, message: Message) -> Durable | None:
        """Dispatch a received message; return the barrier its acknowledgement waits for (None: ours).

        The hot path: every received message, inline from the backend's socket callback.
        """
        self.messages_received += 1
        if self.admit is not None and not self.admit(message):
            return None  # over the home's plan rate: dropped and counted (hub.tenancy.limits)
        self.subscriptions.dispatch(message)
        return None

    def _make_tls_context(self) -> ssl.SSLContext:
        settings = self.settings
        context = ssl.create_default_context(cafile=settings.ca_certs)
        if settings.certfile:
            context.load_cert_chain(settings.certfile, settings.keyfile)
        if settings.tls_insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _set_connected(self, connected: bool) -> None:
        if connected == self.connected:
            return
        self.connected = connected
        if connected:
            self._connected_event.set()
        else:
            self._connected_event.clear()
        if self._on_connection_change is not None:
            try:
                self._on_connection_change(connected)
            except Exception:  # noqa: BLE001 - a status listener must not stop the connection
                _LOGGER.exception("Error in MQTT connection listener")

    async def _run(self) -> None:
        settings = self.settings
        attempt = 0
        where = f"{'mqtts' if settings.tls else 'mqtt'}://{settings.host}:{settings.port}"
        while not self._stopping:
            # Cleared before the attempt, not after it failed: a reconnect_now() that comes while an
            # attempt is refused (the broker is just starting) must cut the next wait short.
            self._retry_now.clear()
            client = self._factory(settings, self._tls_context, self._handle, self.durable)
            self._client = client
            refused = False
            try:
                await client.open()
                attempt = 0
                _LOGGER.info("Connected to MQTT broker %s as %s", where, settings.client_id)
                await self._while_open(client)
                raise MqttClientError("connection closed")
            except (MqttClientError, OSError, TimeoutError) as err:
                if self._stopping:
                    break
                refused = _refused(err)
                level = logging.WARNING if self.connected or attempt == 0 else logging.DEBUG
                if self.closing_on_purpose:
                    self.closing_on_purpose, level = False, logging.INFO
                _LOGGER.log(level, "MQTT broker %s unreachable or disconnected: %s", where, err or type(err).__name__)
            finally:
                self._set_connected(False)
                await client.close()
            attempt += 1
            delay = self._retry_delay(attempt, refused)
            _LOGGER.debug("Reconnecting to MQTT broker %s in %.2f s", where, delay)
            try:
                await asyncio.wait_for(self._retry_now.wait(), delay)
            except TimeoutError:
                pass

    async def _while_open(self, client: Connection) -> None:
        """Subscribe, send the birth, run the connect callbacks; return when the connection is lost.

        The connection can drop while the SUBSCRIBE waits for its SUBACK (a broker killed just
        after accepting): a backend may then leave that wait to its own timeout (aiomqtt: 10 s),
        so the setup is abandoned the moment the connection is known to be lost.
        """
        closed = asyncio.ensure_future(client.wait_closed())
        setup = asyncio.ensure_future(self._connected(client))
        try:
            await asyncio.wait({closed, setup}, return_when=asyncio.FIRST_COMPLETED)
            if setup.done():
                setup.result()  # a failed setup ends the connection like a lost one
            await closed
        finally:
            for task in (setup, closed):
                if not task.done():
                    task.cancel()
            await asyncio.gather(setup, closed, return_exceptions=True)

    def _retry_delay(self, attempt: int, refused: bool) -> float:
        """Return how long to wait before connect attempt number `attempt` (1 = the first retry)."""
        settings = self.settings
        # Exponential backoff with jitter, so that many hubs do not reconnect in step.
        delay: float = min(settings.reconnect_max, settings.reconnect_min * 2.0 ** min(attempt - 1, 16))
        if refused:
            # Nothing listens: the broker is restarting. Trying again costs it nothing, and the
            # hub is back within reconnect_refused_max of it accepting connections.
            delay = min(delay, settings.reconnect_refused_max)
        return delay * random.uniform(0.5, 1.0)

    async def _connected(self, client: Connection) -> None:
        self.connections += 1
        self._pending_subscribe.clear()
        self._pending_unsubscribe.clear()
        filters = self.subscriptions.filters()
        self._set_connected(True)
        if filters:
            await self._subscribe_many(client, filters)
        birth = self.settings.birth
        if birth is not None:
            await client.publish(birth.topic, birth.payload, birth.qos, birth.retain)
        for callback in list(self._on_connect_callbacks):
            try:
                callback()
            except Exception:  # noqa: BLE001
                _LOGGER.exception("Error in MQTT connect callback")


def _refused(err: BaseException) -> bool:
    """Return whether a failed connect means that nothing listens at the broker's address."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if isinstance(current, ConnectionRefusedError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    # aiomqtt wraps the socket error in its own, keeping only the text.
    return "[errno 111]" in str(err).lower()


class _Unsubscribe:
    """The undo of one `MqttClient.subscribe` (slotted: every discovered entity holds a few)."""

    __slots__ = ("_client", "_remove", "_topic_filter")

    def __init__(self, client: MqttClient, remove: Callable[[], bool], topic_filter: str) -> None:
        self._client = client
        self._remove = remove
        self._topic_filter = topic_filter

    def __call__(self) -> None:
        """Drop the handler; unsubscribe from the broker when nobody else uses the filter."""
        self._client._unsubscribe(self._remove, self._topic_filter)
