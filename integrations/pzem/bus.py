"""One serial bus of PZEM-004T meters: open the port, poll each meter in turn, reset counters.

Serial I/O blocks (the driver waits up to `timeout` for each reply), so every exchange runs
in the executor, one at a time per bus: Modbus-RTU is half duplex and two requests on the
wire at once would garble both replies.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from firmware.pzem import PZEM, PzemCrcError, PzemError, PzemTimeout

if TYPE_CHECKING:
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class MeterStatus:
    """What the hub knows about one meter's link: readings, error counts, availability."""

    address: int
    name: str
    reading: dict[str, Any] | None = None
    failures: int = 0  # consecutive failed polls
    timeouts: int = 0  # totals since start, shown as attributes
    crc_errors: int = 0
    other_errors: int = 0
    retried: int = 0  # attempts that failed but were retried (noise the retries absorbed)
    last_error: str | None = None
    available: bool = False
    listeners: list[Callable[[], None]] = field(default_factory=list)

    def attributes(self) -> dict[str, Any]:
        """Return the link diagnostics every entity of the meter carries."""
        return {
            "address": self.address,
            "timeouts": self.timeouts,
            "crc_errors": self.crc_errors,
            "errors": self.other_errors,
            "retried": self.retried,
            "last_error": self.last_error,
        }


class PzemBus:
    """Poll the meters of one serial port.

    Args:
        hub: the hub (executor, clock, tasks).
        config: the validated `pzem:` section.
        open_port: returns a UART-like object for the port (tests may pass their own).
    """

    def __init__(self, hub: Hub, config: dict[str, Any], open_port: Callable[[], Any]) -> None:
        self.hub = hub
        self.config = config
        self.port_name: str = config["port"]
        self._open_port = open_port
        self._uart: Any = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._port_error_logged = False
        self.meters = {
            m["address"]: MeterStatus(m["address"], m.get("name") or f"PZEM {m['address']}") for m in config["meters"]
        }

    def start(self) -> None:
        """Start polling."""
        self._task = self.hub.create_task(self._poll_forever(), f"pzem poll {self.port_name}")

    async def stop(self) -> None:
        """Stop polling and close the port."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        async with self._lock:
            if self._uart is not None:
                await self.hub.run_in_executor(self._uart.close)
                self._uart = None

    async def poll(self) -> None:
        """Read every meter once and tell its entities."""
        for status in self.meters.values():
            await self._poll_meter(status)

    async def reset_energy(self, address: int) -> None:
        """Set a meter's energy counter to zero (Modbus function 0x42), then read it again.

        Raises:
            PzemError: the meter did not confirm the reset (after the configured retries).
        """
        status = self.meters[address]
        await self._exchange(address, "reset_energy")
        _LOGGER.info("Energy counter of PZEM %d (%s) on %s reset", address, status.name, self.port_name)
        await self._poll_meter(status)

    async def _poll_forever(self) -> None:
        clock = self.hub.clock
        interval = self.config["scan_interval"]
        while True:
            await self.poll()
            await clock.sleep(interval)

    async def _poll_meter(self, status: MeterStatus) -> None:
        try:
            reading = await self._exchange(status.address, "read")
        except PzemError as err:
            self._failed(status, err)
        else:
            status.reading = reading
            if status.failures >= self.config["unavailable_after"] or not status.available:
                if status.failures:
                    _LOGGER.info("PZEM %d on %s answers again", status.address, self.port_name)
            status.failures = 0
            status.available = True
        for listener in status.listeners:
            listener()

    def _failed(self, status: MeterStatus, err: PzemError) -> None:
        status.failures += 1
        if isinstance(err, PzemTimeout):
            status.timeouts += 1
        elif isinstance(err, PzemCrcError):
            status.crc_errors += 1
        else:
            status.other_errors += 1
        status.last_error = str(err)
        limit = self.config["unavailable_after"]
        if status.failures == limit:
            _LOGGER.warning(
                "PZEM %d (%s) on %s failed %d polls in a row, now unavailable: %s",
                status.address, status.name, self.port_name, limit, err,
            )
            status.available = False
        elif status.failures < limit:
            _LOGGER.info("PZEM %d on %s: %s (will retry)", status.address, self.port_name, err)

    async def _exchange(self, address: int, method: str) -> Any:
        async with self._lock:
            if self._uart is None:
                try:
                    # Opening a USB serial adapter touches the device node: blocking I/O.
                    self._uart = await self.hub.run_in_executor(self._open_port)
                    self._port_error_logged = False
                except OSError as err:  # serial.SerialException is an OSError
                    if not self._port_error_logged:
                        _LOGGER.error("Cannot open serial port %s: %s (will retry)", self.port_name, err)
                        self._port_error_logged = True
                    raise PzemError(f"cannot open {self.port_name}: {err}") from err
            # firmware/pzem.py is the MicroPython driver the nodes run too, so it has no annotations.
            meter = PZEM(self._uart, address, int(self.config["timeout"] * 1000), self.config["retries"])  # type: ignore[no-untyped-call]
            try:
                # The driver waits for replies with sleeps and retries: run it off the loop.
                return await self.hub.run_in_executor(getattr(meter, method))
            except OSError as err:  # the adapter was unplugged: reopen on the next poll
                uart, self._uart = self._uart, None
                await self.hub.run_in_executor(_close_quietly, uart)
                raise PzemError(f"serial port {self.port_name} failed: {err}") from err
            finally:
                if meter.errors and address in self.meters:
                    self.meters[address].retried += meter.errors
                    _LOGGER.debug("PZEM %d on %s: %d failed attempts in this exchange", address, self.port_name, meter.errors)


def _close_quietly(uart: Any) -> None:
    try:
        uart.close()
    except OSError:
        pass
