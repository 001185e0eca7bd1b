"""Short-lived JWT access tokens (HS256, 15 minutes by default), each bound to its login session.

The signing keys live in a private file of the data dir (hub.auth.signing_keys), never in the
database. A token names its key (`kid`) and its session (`fam`, the refresh-token family);
`verify()` refuses a token whose lifetime is longer than this hub issues, one issued in the
future, one signed by a retired key, and one whose session was revoked (an in-memory set:
no database query per request).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub.imports import without_modules

# HS256 only: PyJWT's RSA and EC algorithms (cryptography, ~9 MB resident) are not loaded for it.
with without_modules("cryptography"):
    import jwt

from hub.auth.signing_keys import KeyFile, KeyRing, new_key
from hub.core.clock import Clock

_LOGGER = logging.getLogger(__name__)

ACCESS_TOKEN_LIFETIME = 15 * 60  # seconds
MIN_LIFETIME, MAX_LIFETIME = 60, 24 * 3600  # what `http: access_token_lifetime` may be set to
ALGORITHM = "HS256"
ISSUER = "powerhub"
CLOCK_SKEW = 60.0  # seconds a token's iat may lie ahead (hub processes on several machines)
RELOAD_INTERVAL = 1.0  # at most this often, an unknown key id re-reads the key file


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What a valid access token says."""

    user_id: str
    family_id: str
    issued_at: float
    expires_at: float
    home_id: str | None = None  # the home (of many in a process) whose login or refresh issued it


def looks_like_jwt(token: str) -> bool:
    """Return whether a bearer token has a JWT's three dot-separated parts."""
    return token.count(".") == 2


class AccessTokens:
    """Issue and verify access tokens against the hub's clock (a test's ManualClock moves expiry).

    Args:
        key_file: where the signing keys live; None keeps one random key in memory (a hub
            without a data dir, and maintenance commands, which issue no tokens).
        clock: the hub's clock.
        lifetime: seconds an access token lives; also the longest lifetime `verify()` accepts.
        is_revoked: tells whether a session (family id) was revoked.
    """

    def __init__(
        self,
        key_file: KeyFile | None,
        clock: Clock,
        lifetime: int = ACCESS_TOKEN_LIFETIME,
        is_revoked: Callable[[str], bool] = lambda family_id: False,
    ) -> None:
        self.key_file = key_file
        self.clock = clock
        self.lifetime = lifetime
        self.is_revoked = is_revoked
        self._ring: KeyRing | None = None
        self._last_reload = 0.0

    @property
    def ring(self) -> KeyRing:
        """Return the key ring, loading (or making) the key file on first use."""
        if self._ring is None:
            if self.key_file is None:
                self._ring = KeyRing(new_key(self.clock.time()))
            else:
                self._ring = self.key_file.load_or_create(self.clock.time())
        return self._ring

    def reload_if_changed(self) -> bool:
        """Re-read the key file if another process (`hub auth rotate-key`) changed it."""
        if self.key_file is None or self._ring is None or not self.key_file.changed():
            return False
        self._ring = self.key_file.load()
        _LOGGER.info("Token signing keys reloaded from %s (current key %s)", self.key_file.path, self._ring.current.kid)
        return True

    def rotate(self) -> KeyRing:
        """Make a new current key; the old one verifies for one more token lifetime."""
        now = self.clock.time()
        if self.key_file is None:
            self._ring = self.ring.rotated(now, self.lifetime)
        else:
            self._ring = self.key_file.rotate(now, self.lifetime)
        return self._ring

    def issue(self, user_id: str, family_id: str, home_id: str | None = None) -> str:
        """Return a signed access token for the user's session, valid for `lifetime` seconds.

        `home_id` names the home of a multi-home process it was issued in (claim `home`).
        """
        now = int(self.clock.time())
        key = self.ring.current
        claims: dict[str, Any] = {"iss": ISSUER, "sub": user_id, "fam": family_id, "iat": now,
                                  "exp": now + self.lifetime}
        if home_id is not None:
            claims["home"] = home_id
        return jwt.encode(claims, key.secret, algorithm=ALGORITHM, headers={"kid": key.kid})

    def verify(self, token: str) -> AccessClaims | None:
        """Return the claims of a genuine, unexpired token of a live session, else None."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            return None
        now = self.clock.time()
        key = self.ring.find(kid, now)
        if key is None and self._may_reload():
            self.reload_if_changed()
            key = self.ring.find(kid, now)
        if key is None:
            return None
        try:
            # Expiry is checked against our own clock below (pyjwt would use the wall clock).
            claims = jwt.decode(
                token,
                key.secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"verify_exp": False, "verify_iat": False, "require": ["exp", "sub", "iat", "fam"]},
            )
        except jwt.PyJWTError:
            return None
        issued, expires, user_id, family_id = claims["iat"], claims["exp"], claims["sub"], claims["fam"]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (issued, expires)):
            return None
        if not isinstance(user_id, str) or not isinstance(family_id, str):
            return None
        if expires - issued > self.lifetime or issued > now + CLOCK_SKEW or now >= expires:
            return None  # longer-lived than we ever issue, from the future, or expired
        if self.is_revoked(family_id):
            return None
        home = claims.get("home")
        return AccessClaims(user_id, family_id, float(issued), float(expires), home if isinstance(home, str) else None)

    def _may_reload(self) -> bool:
        # An unknown kid is either a forgery or a key rotated by another process: re-read the
        # file, but not for every forged token.
        now = time.monotonic()
        if now - self._last_reload < RELOAD_INTERVAL:
            return False
        self._last_reload = now
        return True


class HomeAccessTokens(AccessTokens):
    """The access tokens of one home of a multi-home process: the process's keys (one ring, one
    reload, one rotation for every home), and this home named in every token it issues."""

    def __init__(self, shared: AccessTokens, home_id: str) -> None:
        super().__init__(shared.key_file, shared.clock, shared.lifetime, shared.is_revoked)
        self._shared = shared
        self.home_id = home_id

    @property
    def ring(self) -> KeyRing:
        return self._shared.ring

    def reload_if_changed(self) -> bool:
        return self._shared.reload_if_changed()

    def rotate(self) -> KeyRing:
        return self._shared.rotate()

    def issue(self, user_id: str, family_id: str, home_id: str | None = None) -> str:
        return self._shared.issue(user_id, family_id, home_id or self.home_id)
