"""The topic root every device topic hangs under: `mqtt: topic_root:` ("" or e.g. "home1/").

A node with root "home1/" uses `home1/devices/<id>/...` where one without uses `devices/<id>/...`;
the device-side format below the root does not change. Several homes on one broker each get a root
of their own, and each device's account may use its own root's topics only.
"""

from __future__ import annotations

import re
from typing import Any

MAX_LENGTH = 64
_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]+$")
EXPECTED = ('empty, or topic words of letters, digits, "_", "-" or "." each followed by "/" '
            '(e.g. "home1/" or "site/home1/"), without wildcards')


def check(value: Any) -> str:
    """Return value as a topic root.

    Raises:
        ValueError: the message says what is wrong and what is expected.
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        message = f"expected {EXPECTED}; got {value!r}"
        raise ValueError(message)
    if value == "":
        return value
    if len(value) > MAX_LENGTH:
        message = f"at most {MAX_LENGTH} characters, got {len(value)}"
        raise ValueError(message)
    if not value.endswith("/"):
        message = f'{value!r} must end with "/" (e.g. {value.rstrip("/") + "/"!r}): the device topics follow it'
        raise ValueError(message)
    for word in value[:-1].split("/"):
        if not _SEGMENT.match(word):
            what = "a wildcard" if ("+" in word or "#" in word) else "an empty topic word" if not word else repr(word)
            message = f"{value!r} holds {what}; expected {EXPECTED}"
            raise ValueError(message)
    return value
