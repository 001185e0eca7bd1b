"""X-Forwarded-For, believed only from the proxies `http: trusted_proxies` names (as Home Assistant).

Behind a reverse proxy every request comes from the proxy's address; the client's address is in
X-Forwarded-For, which anyone can write. The hub reads it only when the connection comes from
a trusted proxy, walking the list from the right and taking the first address that is not a
trusted proxy. The header from anyone else, or a malformed one, is refused with 400 and a log
line that names the setting, rather than believed (login throttling and bans key on the
address) or silently ignored (then everybody behind the proxy would share one address).
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import hdrs, web

_LOGGER = logging.getLogger(__name__)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LOG_EVERY = 60.0  # seconds between log lines about the same kind of refused header


def forwarded_middleware(trusted: Sequence[Network], enabled: bool) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Return the middleware that sets request.remote from a trusted proxy's X-Forwarded-For."""
    networks = tuple(trusted)
    last_logged: dict[str, float] = {}

    def refuse(kind: str, message: str, *args: object) -> web.Response:
        now = time.monotonic()
        if now - last_logged.get(kind, -LOG_EVERY) >= LOG_EVERY:
            last_logged[kind] = now
            _LOGGER.error(message, *args)
        return web.json_response({"message": "400: Bad Request (X-Forwarded-For)"}, status=400)

    @web.middleware
    async def forwarded(request: web.Request, handler: Handler) -> web.StreamResponse:
        values = request.headers.getall(hdrs.X_FORWARDED_FOR, [])
        if not values:
            return await handler(request)
        peer = request.transport.get_extra_info("peername") if request.transport is not None else None
        if not peer:
            return await handler(request)
        try:
            connected = ipaddress.ip_address(peer[0])
        except ValueError:  # a Unix socket
            return await handler(request)
        if not enabled:
            return refuse("off", "A request with X-Forwarded-For came from %s, but the hub is not set up for a "
                          "reverse proxy: list the proxy in http: trusted_proxies", connected)
        if not any(connected in network for network in networks):
            return refuse("untrusted", "X-Forwarded-For from %s, which is not in http: trusted_proxies; refused",
                          connected)
        try:
            chain = [ipaddress.ip_address(part.strip()) for value in values for part in value.split(",")]
        except ValueError:
            return refuse("malformed", "Malformed X-Forwarded-For from proxy %s: %s", connected, values[0][:200])
        client = chain[0]
        for address in reversed(chain):
            if not any(address in network for network in networks):
                client = address
                break
        return await handler(request.clone(remote=str(client)))

    return forwarded
