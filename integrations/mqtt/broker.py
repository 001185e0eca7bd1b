"""The embedded broker a new user gets when the config names none: Mosquitto if installed, else amqtt.

Both listen on loopback only. Mosquitto runs as a managed child process with a generated config
and persistence in the data dir; amqtt runs inside the hub's event loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import socket
import time
from pathlib import Path
from typing import Any

from hub.exceptions import HubError

_LOGGER = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 10.0


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
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

    def __init__(self, data_dir: Path, port: int = 1883, engine: str = "auto") -> None:
        self.data_dir = data_dir / "mqtt_broker"
        self.wanted_port = port
        self.engine = engine
        self.port = 0
        self._process: asyncio.subprocess.Process | None = None
        self._amqtt: Any = None

    @property
    def url(self) -> str:
        """Return the broker's URL."""
        return f"mqtt://{LOOPBACK}:{self.port}"

    async def start(self) -> None:
        """Start the broker and wait until it accepts connections.

        Raises:
            HubError: no broker could be started.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        port = self.wanted_port
        if port == 0 or not _port_free(port):
            port = _free_port()
            if self.wanted_port:
                _LOGGER.warning("Port %d is busy; the embedded MQTT broker listens on %d instead", self.wanted_port, port)
        self.port = port
        binary = find_mosquitto() if self.engine in ("auto", "mosquitto") else None
        if binary is not None:
            await self._start_mosquitto(binary)
        elif self.engine == "mosquitto":
            message = "mqtt.embedded.engine is 'mosquitto' but the mosquitto binary is not installed"
            raise HubError(message)
        else:
            await self._start_amqtt()
        _LOGGER.info("Embedded MQTT broker (%s) listening on %s", "mosquitto" if binary else "amqtt", self.url)

    async def _start_mosquitto(self, binary: str) -> None:
        config = self.data_dir / "mosquitto.conf"
        lines = [
            f"listener {self.port} {LOOPBACK}",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {self.data_dir}/",
            "autosave_interval 30",
            "max_queued_messages 100000",
            "persistent_client_expiration 7d",
            # Without it, Nagle's algorithm holds a small PUBLISH to a subscriber that only
            # receives until the previous one is acknowledged: ~20-40 ms per sensor reading.
            "set_tcp_nodelay true",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
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
        await self._wait_listening()

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
                _, writer = await asyncio.open_connection(LOOPBACK, self.port)
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
