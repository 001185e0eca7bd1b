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

from aiohttp import web

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
