"""A request the hub cannot even read is the client's error (400), never a 500 with a traceback.

Bodies that are not UTF-8 where text is expected, multipart bodies without their boundary,
forms that do not parse: aiohttp and the decoders raise ValueError (UnicodeDecodeError is
one) while a handler reads the request. Handlers check what they read; this catches what
reading itself raised, answers 400 with the reason, and logs one line (no traceback), so a
fuzzer or a broken client cannot fill the log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

_LOGGER = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LOG_EVERY = 10.0  # seconds between log lines about malformed requests


def malformed_request_middleware() -> Callable[..., Awaitable[web.StreamResponse]]:
    """Return the middleware answering 400 when reading a request raised ValueError."""
    last_logged = -LOG_EVERY

    @web.middleware
    async def malformed(request: web.Request, handler: Handler) -> web.StreamResponse:
        nonlocal last_logged
        try:
            return await handler(request)
        except ValueError as err:
            reason = "the body is not valid UTF-8" if isinstance(err, UnicodeDecodeError) else str(err)[:200]
            now = time.monotonic()
            if now - last_logged >= LOG_EVERY:
                last_logged = now
                _LOGGER.warning("Malformed request %s %s from %s: %s",
                                request.method, request.path[:200], request.remote, reason)
            return web.json_response({"message": f"400: Bad Request ({reason})"}, status=400)

    return malformed


class ProtocolErrorLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's server logger, minus the tracebacks for requests that do not parse.

    aiohttp logs a request line over 8 KiB, a broken header or a bad chunk as "Error handling
    request" with a full traceback, so anyone who can reach the port can fill the log. Those
    become one warning line every LOG_EVERY seconds; every other exception keeps its traceback.
    """

    def __init__(self) -> None:
        super().__init__(logging.getLogger("aiohttp.server"), {})
        self._last_logged = -LOG_EVERY
        self._suppressed = 0

    def exception(self, msg: Any, *args: Any, exc_info: Any = True, **kwargs: Any) -> None:
        """Log an exception: one line for a request that does not parse, else with its traceback."""
        if isinstance(exc_info, HttpProcessingError):
            now = time.monotonic()
            if now - self._last_logged < LOG_EVERY:
                self._suppressed += 1
                return
            more = f" ({self._suppressed} more since the last report)" if self._suppressed else ""
            self._last_logged, self._suppressed = now, 0
            reason = str(exc_info.message)[:200] if exc_info.message else type(exc_info).__name__
            self.logger.warning("Malformed HTTP request: %s: %s%s", msg % args if args else msg, reason, more)
            return
        self.logger.exception(msg, *args, exc_info=exc_info, **kwargs)
