"""Onboarding as Home Assistant does it: `/api/onboarding` says which steps are done, and
`POST /api/onboarding/users` creates the owner of a new hub and answers an `auth_code` that the
client exchanges at `/auth/token` (grant_type=authorization_code) for its first tokens.

Guarded, so that nobody else on the network claims a new hub: the owner step is open to
requests from this machine (loopback, no proxy header) and to anyone who gives the one-time
code the hub prints in its log at start while it has no user. Five wrong codes replace the code
with a new one (printed again), so guessing it is no shortcut.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from hub.api.keys import HUB_KEY
from hub.api.responses import json_message
from hub.auth.store import ROLE_OWNER, AuthError, UserExistsError

_LOGGER = logging.getLogger(__name__)

STEPS = ("user", "core_config", "analytics", "integration")
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read from a log, typed by hand
CODE_LENGTH = 8
MAX_WRONG_CODES = 5
AUTH_CODE_LIFETIME = 600.0  # seconds an auth_code may wait for its exchange at /auth/token


def _new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


@dataclass
class Onboarding:
    """The one-time code of a hub without users, and the auth codes it handed out."""

    code: str = field(default_factory=_new_code)
    wrong: int = 0
    auth_codes: dict[str, tuple[str, float]] = field(default_factory=dict)  # code -> (user id, expiry)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def announce(self, url: str) -> None:
        where = f"{url}/onboarding"
        _LOGGER.warning(
            "This hub has no user yet. Create its owner at %s from this machine, or from another "
            "one with the one-time onboarding code %s",
            where, self.code,
        )

    def check_code(self, given: Any) -> bool:
        if isinstance(given, str) and secrets.compare_digest(given.strip().upper().encode(), self.code.encode()):
            return True
        if given:
            self.wrong += 1
            if self.wrong >= MAX_WRONG_CODES:
                self.code, self.wrong = _new_code(), 0
                _LOGGER.warning("%d wrong onboarding codes: the code is now %s", MAX_WRONG_CODES, self.code)
        return False

    def issue_auth_code(self, user_id: str) -> str:
        now = time.monotonic()
        self.auth_codes = {c: v for c, v in self.auth_codes.items() if v[1] > now}
        auth_code = secrets.token_urlsafe(24)
        self.auth_codes[auth_code] = (user_id, now + AUTH_CODE_LIFETIME)
        return auth_code

    def redeem(self, auth_code: str) -> str | None:
        """The user id of an unexpired auth code, which is spent by this call."""
        found = self.auth_codes.pop(auth_code, None)
        if found is None or found[1] < time.monotonic():
            return None
        return found[0]


ONBOARDING_KEY: web.AppKey[Onboarding] = web.AppKey("onboarding", Onboarding)


def from_this_machine(request: web.Request) -> bool:
    """A request made on the hub's machine itself, not forwarded by a proxy on it."""
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False
    try:
        address = ipaddress.ip_address((request.remote or "").split("%")[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 on a dual-stack socket
    return bool((mapped or address).is_loopback)


async def get_onboarding(request: web.Request) -> web.Response:
    """GET /api/onboarding: HA's list of steps and whether each is done."""
    auth = request.app[HUB_KEY].auth
    has_users = auth is not None and await auth.has_users()
    return web.json_response([{"step": step, "done": has_users or step != "user"} for step in STEPS])


async def post_user(request: web.Request) -> web.Response:
    """POST /api/onboarding/users {client_id, name, username, password, language[, code]}."""
    hub = request.app[HUB_KEY]
    auth = hub.require_auth()
    onboarding = request.app[ONBOARDING_KEY]
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return json_message("Expected a JSON object with name, username and password", 400)
    async with onboarding.lock:
        if await auth.has_users():
            return json_message("User step already done", 403)
        given = body.get("code") or request.headers.get("X-Onboarding-Code")
        if not from_this_machine(request) and not onboarding.check_code(given):
            auth.audit.record(None, "onboarding", None, "refused", request.remote, user_name=str(body.get("username"))[:64],
                              reason="not from this machine and no valid onboarding code")
            message = (
                "Only this machine may create the first user, or whoever has the one-time onboarding "
                "code printed in the hub's log at start" + (": that code is wrong" if given else "")
            )
            return json_message(message, 403)
        username = body.get("username")
        password = body.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            return json_message("Expected 'username' and 'password' strings", 400)
        try:
            user = await auth.add_user(username, password, ROLE_OWNER)
        except (AuthError, UserExistsError) as err:
            return json_message(str(err), 400)
    auth.audit.record(user, "onboarding", user.name, "ok", request.remote)
    _LOGGER.info("Onboarding: owner %s created from %s", user.name, request.remote)
    return web.json_response({"auth_code": onboarding.issue_auth_code(user.id)})


def setup_onboarding(app: web.Application) -> None:
    """Add the onboarding routes (bootstrap prints the code once the hub's address is known)."""
    app[ONBOARDING_KEY] = Onboarding()
    app.router.add_get("/api/onboarding", get_onboarding)
    app.router.add_post("/api/onboarding/users", post_user)
