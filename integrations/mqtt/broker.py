"""The embedded broker a new user gets when the config names none: Mosquitto if installed, else amqtt.

By default both listen on loopback only, anonymously. Bound to a LAN address (`mqtt: embedded:
bind`), only Mosquitto with its dynamic-security plugin serves: nobody connects without an
account, each device has its own account and topics (integrations/mqtt/provisioning.py), the
hub's account reaches everything, and MQTT over TLS listens on `tls_port` with certificates from
integrations/mqtt/broker_tls.py. Mosquitto runs as a supervised child process with a generated
config and persistence in the data dir: saved every second (what it acknowledged to a device
and had not delivered to the hub survives a crash, less at most a second), restarted at once
when it dies (with backoff if it keeps dying), and the hub's client told to reconnect then.
amqtt runs inside the hub's event loop.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import shutil
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.exceptions import HubError
from hub.storage.private_files import write_private
from integrations.mqtt.broker_log import RefusalRelay
from integrations.mqtt.dynsec import find_plugin
from integrations.mqtt.provisioning import HUB_USERNAME, DeviceStore, dynamic_security

if TYPE_CHECKING:
    from integrations.mqtt import broker_tls

_LOGGER = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 10.0
# QoS 1 messages on their way to one client at a time. The hub acknowledges a reading once it is
# in the recorder's spool (a group commit every few milliseconds), so the broker must have more
# than a commit's worth in flight: 2,000 keeps 15,000 readings/s flowing at 100 ms per commit.
MAX_INFLIGHT = 2000
# A broker that dies again this soon after a restart is in a crash loop: back off.
STABLE_AFTER = 30.0
RESTART_MAX_DELAY = 30.0


def is_loopback(address: str) -> bool:
    """Return whether an address to bind to is reachable from this machine only."""
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address == "localhost"


def lan_address() -> str:
    """Return this machine's address on its network (what devices connect to), else its name."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("10.255.255.255", 1))  # no packet is sent: this only picks a route
            return str(sock.getsockname()[0])
        except OSError:
            return socket.gethostname()


def check_lan_settings(embedded: dict[str, Any]) -> None:
    """Refuse settings that would open the broker to the network without authentication.

    Raises:
        HubError: says what to set instead.
    """
    bind = embedded["bind"]
    if is_loopback(bind):
        return
    if embedded.get("allow_anonymous"):
        message = (f"mqtt.embedded.bind is {bind}, reachable from your network, and allow_anonymous is true: "
                   "anybody there could switch your devices. Remove allow_anonymous (each device then logs in "
                   "with the account `hub device add` gives it) or set bind: 127.0.0.1")
        raise HubError(message)
    if embedded["engine"] == "amqtt":
        message = (f"mqtt.embedded.bind is {bind} but engine is amqtt, which cannot enforce per-device accounts "
                   "and topics here: install mosquitto (apt install mosquitto) and set engine: mosquitto, or set "
                   "bind: 127.0.0.1")
        raise HubError(message)
    if find_mosquitto() is None or find_plugin() is None:
        message = (f"mqtt.embedded.bind is {bind}: serving devices on your network needs Mosquitto 2 with its "
                   "dynamic-security plugin (apt install mosquitto), which is not installed; or set bind: 127.0.0.1")
        raise HubError(message)


def _port_free(port: int, address: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError:
            return False
        return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def find_mosquitto() -> str | None:
    """Return the mosquitto binary's path, if installed."""
    found = shutil.which("mosquitto")
    if found:
        return found
    for directory in ("/usr/sbin", "/usr/local/sbin"):
        candidate = os.path.join(directory, "mosquitto")
        if os.access(candidate, os.X_OK):
            return candidate
    return None


class EmbeddedBroker:
    """Start and stop the embedded broker; `url` says where it listens once started."""

    def __init__(self, data_dir: Path, port: int = 1883, engine: str = "auto", bind: str = LOOPBACK,
                 tls_port: int = 8883, store: DeviceStore | None = None, own_tls: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir / "mqtt_broker"
        self.wanted_port = port
        self.engine = engine
        self.bind = bind
        # On a LAN bind: accounts and ACLs from the store, and TLS on tls_port.
        self.store = store if not is_loopback(bind) else None
        self.wanted_tls_port = tls_port
        self.tls_port = 0
        self.tls: broker_tls.TlsFiles | None = None
        self._own_tls = own_tls
        self.port = 0
        self.running = False
        self.restarts = 0
        self.last_exit: int | None = None  # the exit code of the last unexpected exit
        # Called with True when the broker (re)starts listening, False when it died.
        self.on_change: Callable[[bool], None] | None = None
        self._binary: str | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False
        self._amqtt: Any = None
        self.refusals: RefusalRelay | None = None
        self._relay: asyncio.Task[None] | None = None

    @property
    def host(self) -> str:
        """Return the address the hub's own client connects to."""
        return LOOPBACK if is_loopback(self.bind) or self.bind in ("0.0.0.0", "::") else self.bind  # noqa: S104

    @property
    def url(self) -> str:
        """Return the broker's URL."""
        return f"mqtt://{self.host}:{self.port}"

    @property
    def secured(self) -> bool:
        """Return whether every client must log in (a LAN bind)."""
        return self.store is not None

    def endpoint(self) -> dict[str, Any]:
        """Return where devices reach this broker, as also saved in `mqtt_broker/endpoint.json`
        for `hub device add` (which runs beside the hub)."""
        return {
            "host": self.host, "port": self.port, "secured": self.secured,
            "tls_port": self.tls_port if self.tls is not None else None,
            "fingerprint": self.tls.fingerprint if self.tls is not None else None,
            "ca_fingerprint": self.tls.ca_fingerprint if self.tls is not None else None,
        }

    def _account_exists(self, username: str) -> bool:
        """Return whether the broker has an account of this name now (the hub's or a device's)."""
        if self.store is None:
            return False
        self.store.load()  # `hub device add|remove` may have changed it beside the running hub
        return username == HUB_USERNAME or any(d.username == username for d in self.store.devices.values())

    def hub_credentials(self) -> tuple[str, str] | None:
        """Return the hub's own username and password on a secured broker."""
        return None if self.store is None else (HUB_USERNAME, self.store.hub_password())

    async def start(self) -> None:
        """Start the broker and wait until it accepts connections.

        Raises:
            HubError: no broker could be started.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        await self._stop_orphan()
        self.port = self._pick_port(self.wanted_port)
        if self.store is not None:
            self.tls_port = self._pick_port(self.wanted_tls_port)
            hosts = [self.bind] if self.bind not in ("0.0.0.0", "::") else []  # noqa: S104
            # Imported here: cryptography (~9 MB resident) only for a broker that serves TLS.
            from integrations.mqtt import broker_tls

            self.tls = broker_tls.ensure(self.data_dir / "tls", [*hosts, lan_address()], self._own_tls)
        binary = find_mosquitto() if self.engine in ("auto", "mosquitto") else None
        if binary is not None:
            self._binary = binary
            await self._start_mosquitto(binary)
            self._supervisor = asyncio.get_running_loop().create_task(self._supervise(), name="mqtt embedded broker")
            if self.secured:
                self.refusals = RefusalRelay(self.data_dir / "mosquitto.log", self._account_exists,
                                             frozenset({HUB_USERNAME}))
                self._relay = asyncio.get_running_loop().create_task(self.refusals.run(), name="mqtt broker refusals")
        elif self.engine == "mosquitto":
            message = "mqtt.embedded.engine is 'mosquitto' but the mosquitto binary is not installed"
            raise HubError(message)
        else:
            await self._start_amqtt()
        self.running = True
        write_private(self.data_dir / "endpoint.json", json.dumps(self.endpoint()).encode())
        _LOGGER.info("Embedded MQTT broker (%s) listening on %s", self.engine_name, self.url)

    def _pick_port(self, wanted: int) -> int:
        address = self.host
        if wanted and _port_free(wanted, address):
            return wanted
        port = _free_port()
        if wanted:
            _LOGGER.warning("Port %d is busy; the embedded MQTT broker listens on %d instead", wanted, port)
        return port

    @property
    def engine_name(self) -> str:
        """Return which broker runs: mosquitto or amqtt."""
        return "mosquitto" if self._binary else "amqtt"

    async def _supervise(self) -> None:
        """Restart Mosquitto whenever it exits while the hub runs."""
        delay = 0.0
        while not self._stopping:
            process = self._process
            if process is None:
                return
            started = time.monotonic()
            code = await process.wait()
            if self._stopping:
                return
            self.running = False
            self.last_exit = code
            _LOGGER.warning("The embedded MQTT broker exited with code %s; restarting it", code)
            self._changed(False)
            # A broker that ran a while restarts at once; one that keeps dying, ever more slowly.
            delay = 0.0 if time.monotonic() - started > STABLE_AFTER else min(max(delay * 2, 0.5), RESTART_MAX_DELAY)
            while not self._stopping:
                if delay:
                    await asyncio.sleep(delay)
                try:
                    assert self._binary is not None
                    await self._start_mosquitto(self._binary)
                except (HubError, OSError) as err:
                    _LOGGER.error("Restarting the embedded MQTT broker failed: %s", err)
                    delay = min(max(delay * 2, 0.5), RESTART_MAX_DELAY)
                    continue
                break
            if self._stopping:
                return
            self.restarts += 1
            self.running = True
            _LOGGER.warning("The embedded MQTT broker runs again on %s (restart %d)", self.url, self.restarts)
            self._changed(True)

    def _changed(self, running: bool) -> None:
        if self.on_change is not None:
            try:
                self.on_change(running)
            except Exception:  # noqa: BLE001 - a status listener must not stop the supervisor
                _LOGGER.exception("Error in the embedded broker's status listener")

    async def _start_mosquitto(self, binary: str) -> None:
        config = self.data_dir / "mosquitto.conf"
        access, tls_listener = self._access_lines()
        lines = [*access, f"listener {self.port} {self.bind}", *tls_listener]
        lines += [
            "persistence true",
            f"persistence_location {self.data_dir}/",
            # Saved every second, so a crash of the broker loses at most a second of what it
            # holds (what the hub has acknowledged is gone from it already).
            "autosave_interval 1",
            f"max_inflight_messages {MAX_INFLIGHT}",
            "max_queued_messages 100000",
            "persistent_client_expiration 7d",
            # Without it, Nagle's algorithm holds a small PUBLISH to a subscriber that only
            # receives until the previous one is acknowledged: ~20-40 ms per sensor reading.
            "set_tcp_nodelay true",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            # Refused connections ("not authorised") are notices: the hub relays them to its log.
            "log_type notice",
            "connection_messages true",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # the data dir belongs to the hub's user
        config.write_text("\n".join(lines) + "\n")
        log = open(self.data_dir / "mosquitto.log", "ab")  # noqa: SIM115 - handed to the child
        try:
            # A session of its own: Ctrl-C in the terminal reaches the hub only, which then
            # disconnects cleanly before it stops the broker.
            self._process = await asyncio.create_subprocess_exec(
                binary, "-c", str(config), stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True,
            )
        finally:
            log.close()
        self._pid_file.write_text(f"{self._process.pid}\n")
        await self._wait_listening()

    def _access_lines(self) -> tuple[list[str], list[str]]:
        """Return the configuration that decides who may connect, and the TLS listener's."""
        if self.store is None:
            return ["allow_anonymous true"], []
        plugin = find_plugin()
        if plugin is None:
            message = "The mosquitto dynamic-security plugin (mosquitto_dynamic_security.so) is not installed"
            raise HubError(message)
        # Rewritten from the hub's device store at every start: the store is the truth.
        dynsec = self.data_dir / "dynamic-security.json"
        write_private(dynsec, json.dumps(dynamic_security(self.store), indent=1).encode())
        access = ["per_listener_settings false", "allow_anonymous false", f"plugin {plugin}",
                  f"plugin_opt_config_file {dynsec}"]
        tls: list[str] = []
        if self.tls is not None and self.tls_port:
            tls = [f"listener {self.tls_port} {self.bind}", f"cafile {self.tls.ca}",
                   f"certfile {self.tls.certificate}", f"keyfile {self.tls.key}", "tls_version tlsv1.2"]
        return access, tls

    @property
    def _pid_file(self) -> Path:
        return self.data_dir / "mosquitto.pid"

    async def _stop_orphan(self) -> None:
        """Stop a Mosquitto of this data dir left running by a hub that was killed.

        It runs in a session of its own, so it outlives a `kill -9` of the hub, keeping what it
        holds for the hub; stopped with SIGTERM, it saves all of it before the new one starts.
        """
        try:
            pid = int(self._pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return
        if not cmdline or not cmdline[0].endswith(b"mosquitto") or str(self.data_dir / "mosquitto.conf").encode() not in cmdline:
            return
        _LOGGER.warning("Stopping the embedded MQTT broker (pid %d) left running by the previous start", pid)
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)

    async def _start_amqtt(self) -> None:
        try:
            from amqtt.broker import Broker
        except ImportError as err:
            message = "No embedded MQTT broker available: install mosquitto or the amqtt package"
            raise HubError(message) from err
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{LOOPBACK}:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        self._amqtt = Broker(config)
        # start() returns once the server socket listens; a probe connection would only leave
        # amqtt a half-open session to clean up.
        await self._amqtt.start()

    async def _wait_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process is not None and self._process.returncode is not None:
                log = (self.data_dir / "mosquitto.log").read_text(errors="replace")[-2000:]
                message = f"The embedded mosquitto exited with code {self._process.returncode}: {log}"
                raise HubError(message)
            try:
                _, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            return
        message = f"The embedded MQTT broker did not listen on port {self.port} within {START_TIMEOUT:.0f} s"
        raise HubError(message)

    async def stop(self) -> None:
        """Stop the broker (Mosquitto saves its persistence file on SIGTERM)."""
        self._stopping = True
        self.running = False
        if self._relay is not None:
            self._relay.cancel()
            self._relay = None
        if self._supervisor is not None:
            self._supervisor.cancel()
            try:
                await self._supervisor
            except asyncio.CancelledError:
                pass
            self._supervisor = None
        if self._process is not None and self._process.returncode is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self._process.wait(), 1.0)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()
        self._process = None
        if self._amqtt is not None:
            await self._amqtt.shutdown()
            self._amqtt = None
