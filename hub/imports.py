"""Importing a library without the optional extras it would pull in when they are installed, or beside another.

Some libraries import another package just because it is there, for features the hub never
uses: Mako (through Alembic) imports Pygments to highlight HTML error pages, PyJWT imports
cryptography for the RSA and EC algorithms while the hub signs its tokens with HS256 only.
Both stay in memory for the life of the process (Pygments ~5 MB, cryptography ~9 MB). While
such a library is imported, `without_modules` makes those packages unimportable (Python's rule
for a `None` entry in sys.modules), so the library takes its own fallback; the packages stay
importable for anyone who imports them afterwards.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress


@contextmanager
def without_modules(*names: str) -> Iterator[None]:
    """Make the top-level packages `names` unimportable within the block (those not imported yet).

    Args:
        names: top-level package names ("pygments"). One already imported is left as it is:
            the library then finds it, as it would have anyway.
    """
    blocked = [name for name in names if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]  # an import of it raises ImportError
    try:
        yield
    finally:
        for name in blocked:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


def side_by_side(background: str, foreground: Sequence[str]) -> None:
    """Import `background` in a thread while this thread imports `foreground`; return once both are in.

    For a library whose import waits outside the interpreter: aiohttp builds its two client SSL
    contexts when imported, and OpenSSL parses the system's CA bundle for each (~25 ms each)
    without holding the GIL, so this thread's imports go on on the other core meanwhile. Import
    locks are per module: the two sides only wait for each other on a module both import, and
    only a circular import between such modules could deadlock (Python then raises in one of
    them). A failed background import is left for the next import of it to raise, where the
    hub imports it anyway.
    """

    def run() -> None:
        with suppress(Exception):
            importlib.import_module(background)

    thread = threading.Thread(target=run, name=f"import {background}", daemon=True)
    thread.start()
    for name in foreground:
        importlib.import_module(name)
    thread.join()
