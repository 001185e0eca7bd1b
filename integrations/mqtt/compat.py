"""What the compatibility modules share: the check that a library still has the internals we use.

The MQTT client reaches past the public API of gmqtt, paho-mqtt and aiomqtt in a few places,
for speed (see bench/mqtt_ingest.py). Each library's private access lives in one module
(compat_gmqtt.py, compat_paho.py, compat_aiomqtt.py) that calls `require()` when imported, so
an upgrade that renames one of those internals stops the hub at start with a message naming the
library, its version and what is missing, instead of failing on the first message.
"""

from __future__ import annotations

import dis

from hub.exceptions import HubError


class UnsupportedLibraryError(HubError):
    """An installed MQTT library lacks an internal the hub's client relies on."""


def has_member(owner: type, name: str) -> bool:
    """Return whether owner has the attribute, or assigns it to its instances in `__init__`.

    Instance attributes (`self._connection = ...`) exist only on instances; building one at
    import may need a running loop, so the constructor's bytecode is read instead.
    """
    if hasattr(owner, name):
        return True
    code = getattr(getattr(owner, "__init__", None), "__code__", None)
    if code is None:
        return False  # a constructor written in C: nothing to read
    return any(op.opname == "STORE_ATTR" and op.argval == name for op in dis.get_instructions(code))


def require(library: str, version: str, supported: str, owner: type, *names: str) -> None:
    """Raise UnsupportedLibraryError unless owner has every one of names.

    Args:
        library: the distribution's name, for the message (e.g. "gmqtt").
        version: its installed version.
        supported: the versions known to work, for the message (e.g. "0.8.x").
        owner: the class whose attributes are read or replaced.
        names: the attributes.

    Raises:
        UnsupportedLibraryError: an attribute is missing.
    """
    for name in names:
        if not has_member(owner, name):
            where = f"{owner.__module__}.{owner.__qualname__}"
            message = f"{library} {version} is not supported: {where} has no {name}; supported: {supported}"
            raise UnsupportedLibraryError(message)
