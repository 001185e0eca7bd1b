"""One configured notify target: throttle, deliver with retries and backoff, report failures."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from integrations.notify.message import DeliveryError, Message
from integrations.notify.senders import SENDERS
from integrations.notify.throttle import Throttle

if TYPE_CHECKING:
    import aiohttp

    from hub.core.clock import Clock
    from hub.core.context import Context
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)
EVENT_NOTIFY_FAILED = "notify_failed"
EVENT_NOTIFY_SUPPRESSED = "notify_suppressed"


class Target:
    """Where notify.<name> sends: a platform, its settings and its own throttle."""

    def __init__(self, hub: Hub, config: dict[str, Any], clock: Clock, session: aiohttp.ClientSession) -> None:
        self.hub = hub
        self.config = config
        self.name: str = config["name"]
        self.platform: str = config["platform"]
        self.clock = clock
        self.session = session
        self.throttle = Throttle(config["throttle"], clock.time)
        self._send = SENDERS[self.platform]
        self.sent = 0
        self.failed = 0

    def key(self, message: Message) -> str:
        """Return the throttle key: data.throttle_key, else target + title + message."""
        custom = message.data.get("throttle_key")
        if custom is not None:
            return f"{self.name}\x1f{custom}"
        return f"{self.name}\x1f{message.title or ''}\x1f{message.message}"

    async def notify(self, message: Message, context: Context | None = None) -> bool:
        """Deliver the message unless its key is throttled; wait at most the timeout.

        Returns:
            False when the message was held back by the throttle, else True (delivery may
            still be retrying in the background after the caller was released).
        """
        suppressed = self.throttle.admit(self.key(message))
        if suppressed is None:
            _LOGGER.debug("notify.%s: held back a repeat of %r", self.name, message.title or message.message)
            self.hub.bus.fire(
                EVENT_NOTIFY_SUPPRESSED,
                {"target": self.name, "title": message.title, "suppressed": self.throttle.suppressed(self.key(message))},
                context=context,
            )
            return False
        message.suppressed = suppressed
        first: asyncio.Future[None] = self.hub.loop.create_future()
        self.hub.create_task(self.deliver(message, context, first), f"notify.{self.name}")
        # The caller (an automation, a service call) waits for the first attempt at most;
        # retries go on in the background.
        await asyncio.wait({first}, timeout=self.config["timeout"])
        return True

    async def deliver(
        self, message: Message, context: Context | None = None, first: asyncio.Future[None] | None = None
    ) -> bool:
        """Try, retry with doubling backoff on the hub's clock, and fire notify_failed at the end."""
        attempts = self.config["retries"] + 1
        delay = self.config["backoff"]
        error: Exception | None = None
        for attempt in range(1, attempts + 1):
            try:
                await asyncio.wait_for(self._send(message, self.config, self.session), self.config["timeout"])
            except Exception as err:  # noqa: BLE001 - a sender's failure, whatever it is, is a failed attempt
                error = err if isinstance(err, DeliveryError) else DeliveryError(_describe(err, self.config["timeout"]))
                _LOGGER.warning("notify.%s: attempt %d of %d failed: %s", self.name, attempt, attempts, error)
                _settle(first)
                if attempt < attempts:
                    await self.clock.sleep(delay)
                    delay *= 2
                continue
            self.sent += 1
            _settle(first)
            return True
        self.failed += 1
        _LOGGER.error("notify.%s: gave up after %d attempts: %s", self.name, attempts, error)
        self.hub.bus.fire(
            EVENT_NOTIFY_FAILED,
            {
                "target": self.name,
                "platform": self.platform,
                "title": message.title,
                "message": message.message,
                "attempts": attempts,
                "error": str(error),
            },
            context=context,
        )
        return False


def _describe(err: BaseException, timeout: float) -> str:
    if isinstance(err, TimeoutError):
        return f"timed out after {timeout} s"
    return f"{type(err).__name__}: {err}"


def _settle(future: asyncio.Future[None] | None) -> None:
    if future is not None and not future.done():
        future.set_result(None)
