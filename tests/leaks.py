"""Name the test that leaked a child process.

A ``subprocess.Popen`` dropped while its process still runs warns ``ResourceWarning: subprocess N
is still running`` only when the object is collected: if it sits in a reference cycle (a frame
kept by a traceback, a transport and its protocol), that is at the next collection, in whatever
test triggers it, and the failure names the wrong test. Every Popen made during the run (asyncio's
subprocesses included) is tagged with the test that made it and its command, and the warning
says both, so the test that leaks the process is the one to fix.
"""

from __future__ import annotations

import os
import subprocess
import warnings
from typing import Any

_original_init = subprocess.Popen.__init__
_original_del = subprocess.Popen.__del__


def _init(self: subprocess.Popen, *args: Any, **kwargs: Any) -> None:
    command = args[0] if args else kwargs.get("args")
    self._leak_origin = (os.environ.get("PYTEST_CURRENT_TEST", "outside a test"), command)  # type: ignore[attr-defined]
    _original_init(self, *args, **kwargs)


def _del(self: subprocess.Popen, *args: Any, **kwargs: Any) -> None:
    origin = getattr(self, "_leak_origin", None)
    if origin is not None and getattr(self, "returncode", 0) is None and self.poll() is None:
        test, command = origin
        shown = command if isinstance(command, (str, bytes)) else " ".join(map(str, command or ()))[:200]
        warnings.warn(f"subprocess {self.pid} ({shown}) started by {test} is still running",
                      ResourceWarning, stacklevel=1)
        kwargs["_warn"] = _said  # said once, with its origin; Popen.__del__ still keeps it to reap
    _original_del(self, *args, **kwargs)


def _said(*args: Any, **kwargs: Any) -> None:
    pass


subprocess.Popen.__init__ = _init  # type: ignore[method-assign]
subprocess.Popen.__del__ = _del  # type: ignore[method-assign]
