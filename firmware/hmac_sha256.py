"""HMAC-SHA256 (RFC 2104) from hashlib.sha256, which MicroPython has (it lacks `hmac`)."""

from firmware.compat import hashlib

_BLOCK = 64


class HMAC:
    """Incremental HMAC-SHA256: feed the image chunk by chunk, then call digest() once."""

    def __init__(self, key, data=None):
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key + bytes(_BLOCK - len(key))
        self._outer_key = bytes(b ^ 0x5C for b in key)
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        if data:
            self._inner.update(data)

    def update(self, data):
        """Add data to the message."""
        self._inner.update(data)

    def digest(self):
        """Return the 32-byte MAC (only once: MicroPython's sha256 cannot be copied)."""
        outer = hashlib.sha256(self._outer_key)
        outer.update(self._inner.digest())
        return outer.digest()


def hmac_sha256(key, data):
    """Return HMAC-SHA256(key, data)."""
    return HMAC(key, data).digest()


def equal(a, b):
    """Compare two MACs in time that does not depend on where they differ."""
    if len(a) != len(b):
        return False
    diff = 0
    for x, y in zip(a, b):
        diff |= x ^ y
    return diff == 0
