"""The data dir and the private files in it: readable by the hub's own user only.

The data dir is created 0700 and the files the hub writes for itself 0600 (written whole to
a temporary file, then renamed, so a reader never sees half a key). A data dir made by an
older hub (0755, databases 0644 from the umask) is tightened when the hub starts.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

_LOGGER = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600
_LOOSE = stat.S_IRWXG | stat.S_IRWXO  # any permission for the group or other users


def prepare_data_dir(data_dir: Path, *, announce: bool = True) -> int:
    """Create the data dir 0700, or tighten an existing one and everything in it.

    Args:
        data_dir: the hub's data dir.
        announce: log a line when something had to be tightened (an install from before).

    Returns:
        How many directories and files were tightened.
    """
    data_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    tightened = 0
    for root, dirs, files in os.walk(data_dir):
        for name in (root, *(os.path.join(root, d) for d in dirs), *(os.path.join(root, f) for f in files)):
            try:
                info = os.lstat(name)
            except FileNotFoundError:  # a temporary file that came and went
                continue
            if stat.S_ISLNK(info.st_mode) or not info.st_mode & _LOOSE:
                continue
            wanted = DIR_MODE if stat.S_ISDIR(info.st_mode) else FILE_MODE
            try:
                os.chmod(name, stat.S_IMODE(info.st_mode) & ~_LOOSE & 0o7777 | (wanted & stat.S_IRWXU))
            except FileNotFoundError:
                continue
            except PermissionError:
                _LOGGER.warning("Cannot tighten the permissions of %s (owned by another user); "
                                "other users may read it", name)
                continue
            tightened += 1
    if tightened and announce:
        _LOGGER.warning(
            "Tightened the permissions of %d files and folders in the data dir %s: they were readable "
            "by other users of this machine (now 0700 folders, 0600 files). If anyone else could log in "
            "here, rotate the token signing key with `hub auth rotate-key`.",
            tightened, data_dir,
        )
    return tightened


def create_private_file(path: Path) -> None:
    """Create an empty file 0600 if it does not exist (SQLite then keeps its journals alike)."""
    path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    os.close(descriptor)


def write_private(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write data to path atomically, as a file only the hub's user can read (0600).

    The folder is created 0700 when missing. The data goes to a temporary file created
    0600 (never wider, whatever the umask), is flushed to disk, and replaces path.
    `durable=False` skips the flushes, for data not worth a disk sync per write (traces).
    """
    path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(descriptor, FILE_MODE)  # a leftover temporary file may have had other bits
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view):]
        if durable:
            os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(temporary, path)
    if not durable:
        return
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power cut
    finally:
        os.close(directory)


def read_private(path: Path) -> bytes:
    """Read a private file; tighten it (with a warning) if other users could read it.

    Raises:
        FileNotFoundError: there is no such file.
    """
    with open(path, "rb") as file:
        info = os.fstat(file.fileno())
        if info.st_mode & _LOOSE:
            _LOGGER.warning("%s was readable by other users (mode %o); made it 0600. Anyone who read it "
                            "may hold its secret: replace it (`hub auth rotate-key` for the signing key).",
                            path, stat.S_IMODE(info.st_mode))
            os.fchmod(file.fileno(), FILE_MODE)
        return file.read()
