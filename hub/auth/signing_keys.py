"""The keys that sign access tokens, kept in a private file of the data dir (never the database).

`<data dir>/secrets/token_signing_keys.json` (0600, folder 0700) holds the current key and,
after `hub auth rotate-key`, the previous one with the time it retires: one access-token
lifetime after the rotation, so tokens signed just before stay valid until they expire
anyway. Each key has an id (`kid` in the token header) so a token names the key it needs.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import orjson

from hub.exceptions import HubError
from hub.storage.private_files import read_private, write_private

_LOGGER = logging.getLogger(__name__)

KEY_FILE = Path("secrets") / "token_signing_keys.json"
FORMAT = 1


class SigningKeyError(HubError):
    """The signing key file cannot be read or does not hold what it should."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One HS256 key: its id, secret, and (for a previous key) when it stops verifying."""

    kid: str
    secret: str
    created_at: float
    retires_at: float | None = None

    def verifies_at(self, now: float) -> bool:
        """Whether tokens signed with this key are still accepted at `now`."""
        return self.retires_at is None or now < self.retires_at


def new_key(now: float) -> SigningKey:
    """Return a fresh random key (384 bits)."""
    return SigningKey(secrets.token_hex(8), secrets.token_urlsafe(48), now)


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The current key (which signs) and the keys that still verify."""

    current: SigningKey
    previous: tuple[SigningKey, ...] = ()

    def find(self, kid: str | None, now: float) -> SigningKey | None:
        """Return the key with this id if it still verifies at `now`."""
        for key in (self.current, *self.previous):
            if key.kid == kid and key.verifies_at(now):
                return key
        return None

    def rotated(self, now: float, grace: float) -> KeyRing:
        """Return the ring after a rotation: a new current key; the old one verifies `grace` s more."""
        old = SigningKey(self.current.kid, self.current.secret, self.current.created_at, now + grace)
        keep = tuple(key for key in self.previous if key.verifies_at(now))
        return KeyRing(new_key(now), (old, *keep))

    def to_json(self) -> bytes:
        keys = [self.current, *self.previous]
        return orjson.dumps(
            {"format": FORMAT, "keys": [{"kid": k.kid, "secret": k.secret, "created_at": k.created_at,
                                          "retires_at": k.retires_at} for k in keys]},
            option=orjson.OPT_INDENT_2,
        )

    @classmethod
    def from_json(cls, data: bytes, where: Path) -> KeyRing:
        try:
            parsed = orjson.loads(data)
            keys = [
                SigningKey(str(k["kid"]), str(k["secret"]), float(k["created_at"]),
                           None if k.get("retires_at") is None else float(k["retires_at"]))
                for k in parsed["keys"]
            ]
        except (ValueError, KeyError, TypeError) as err:
            message = f"{where}: not a signing key file ({err}); move it away and the hub makes a new one"
            raise SigningKeyError(message) from err
        current = [k for k in keys if k.retires_at is None]
        if len(current) != 1 or any(len(k.secret) < 32 for k in keys):
            message = f"{where}: expected exactly one current key of at least 32 characters"
            raise SigningKeyError(message)
        return cls(current[0], tuple(k for k in keys if k.retires_at is not None))


class KeyFile:
    """Load, create and rotate the key ring in its file; remembers the file's stamp to see changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> KeyFile:
        """Return the key file of a data dir."""
        return cls(data_dir / KEY_FILE)

    def load_or_create(self, now: float) -> KeyRing:
        """Return the ring in the file, making the file with a new key if there is none."""
        try:
            return self.load()
        except FileNotFoundError:
            ring = KeyRing(new_key(now))
            self.save(ring)
            _LOGGER.info("Made a new token signing key in %s", self.path)
            return ring

    def load(self) -> KeyRing:
        """Return the ring in the file.

        Raises:
            FileNotFoundError: there is no key file.
            SigningKeyError: the file is not a key file.
        """
        try:
            data = read_private(self.path)
        except PermissionError as err:
            message = f"{self.path}: cannot read the signing key file ({err.strerror})"
            raise SigningKeyError(message) from err
        self._stamp = self._current_stamp()
        return KeyRing.from_json(data, self.path)

    def save(self, ring: KeyRing) -> None:
        """Write the ring (0600, atomically)."""
        write_private(self.path, ring.to_json())
        self._stamp = self._current_stamp()

    def rotate(self, now: float, grace: float) -> KeyRing:
        """Replace the current key; the old one keeps verifying for `grace` seconds."""
        ring = self.load_or_create(now).rotated(now, grace)
        self.save(ring)
        return ring

    def changed(self) -> bool:
        """Whether the file changed since this object last read or wrote it (another process rotated)."""
        return self._current_stamp() != self._stamp

    def _current_stamp(self) -> tuple[int, int] | None:
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return None
        return info.st_mtime_ns, info.st_ino
