"""What differs between MicroPython and CPython, in one place: json, time, hashing, tick counters."""

try:
    import ujson as json  # noqa: F401 - MicroPython
except ImportError:
    import json  # noqa: F401

try:
    import utime as time  # noqa: F401
except ImportError:
    import time  # noqa: F401

try:
    import uhashlib as hashlib  # noqa: F401
except ImportError:
    import hashlib  # noqa: F401

try:
    import ubinascii as binascii  # noqa: F401
except ImportError:
    import binascii  # noqa: F401

try:
    import uos as os  # noqa: F401
except ImportError:
    import os  # noqa: F401

# Embedded MicroPython ports count seconds from 2000-01-01; MQTT payloads use the Unix epoch.
EPOCH_OFFSET = 946684800 if time.gmtime(0)[0] == 2000 else 0
# A wall clock before this (2023-01-01) has not been set by NTP yet.
MIN_VALID_EPOCH = 1672531200


def epoch():
    """Return the wall-clock time in Unix seconds (an int)."""
    return int(time.time()) + EPOCH_OFFSET


if hasattr(time, "ticks_ms"):
    ticks_ms = time.ticks_ms
    ticks_diff = time.ticks_diff
    ticks_add = time.ticks_add
    sleep_ms = time.sleep_ms
else:
    def ticks_ms():
        """Return a millisecond counter (monotonic)."""
        return int(time.monotonic() * 1000)

    def ticks_diff(a, b):
        """Return a - b in milliseconds."""
        return a - b

    def ticks_add(a, delta):
        """Return a + delta in milliseconds."""
        return a + delta

    def sleep_ms(ms):
        """Sleep for ms milliseconds."""
        time.sleep(ms / 1000)


def hexlify(data):
    """Return data as lowercase hex text."""
    return binascii.hexlify(data).decode()


def unhexlify(text):
    """Return the bytes of a hex string; raise ValueError when it is not hex."""
    try:
        return binascii.unhexlify(text)
    except Exception:
        raise ValueError("not a hex string")


def path_exists(path):
    """Return True when a file exists (os.path is missing on MicroPython)."""
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def remove(path):
    """Delete a file if it exists."""
    try:
        os.remove(path)
    except OSError:
        pass


def join(root, name):
    """Join a directory and a file name ("" or "/" root means the flash root)."""
    if not root or root == "/":
        return name if root == "" else "/" + name
    return root.rstrip("/") + "/" + name
log = print
