"""The backup archive: a tar.gz with manifest.json first, then files whose sha256 the manifest lists."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from hub import __version__, plugins
from hub.exceptions import HubError
from hub.storage import engine as storage

FORMAT = 1
MANIFEST = "manifest.json"
_CHUNK = 1024 * 1024


class ArchiveError(HubError):
    """A backup archive is unreadable, corrupt, or from a newer hub."""


@dataclass(slots=True)
class Manifest:
    """What an archive holds and what wrote it."""

    hub_version: str
    created_at: str
    schema_revisions: list[str]
    database: dict[str, Any]
    history: dict[str, Any] | None = None
    secrets_included: bool = False
    files: list[dict[str, Any]] = field(default_factory=list)
    format: int = FORMAT

    def as_json(self) -> bytes:
        """Return the manifest as indented JSON."""
        body = {
            "format": self.format,
            "hub_version": self.hub_version,
            "created_at": self.created_at,
            "schema_revisions": sorted(self.schema_revisions),
            "database": self.database,
            "history": self.history,
            "secrets_included": self.secrets_included,
            "files": self.files,
        }
        return json.dumps(body, indent=2).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        """Read a manifest, or raise ArchiveError naming what is wrong with it."""
        try:
            body = json.loads(data)
            return cls(
                hub_version=str(body["hub_version"]),
                created_at=str(body["created_at"]),
                schema_revisions=list(body["schema_revisions"]),
                database=dict(body["database"]),
                history=body.get("history"),
                secrets_included=bool(body.get("secrets_included", False)),
                files=list(body["files"]),
                format=int(body.get("format", FORMAT)),
            )
        except (ValueError, KeyError, TypeError) as err:
            message = f"the archive's manifest.json is not valid ({type(err).__name__}: {err})"
            raise ArchiveError(message) from err


def sha256_of(path: Path) -> str:
    """Return the hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_archive(out: Path, staging: Path, manifest: Manifest) -> None:
    """Checksum every file under staging into the manifest and write out (atomically)."""
    files = sorted(p for p in staging.rglob("*") if p.is_file())
    manifest.files = [
        {"path": p.relative_to(staging).as_posix(), "size": p.stat().st_size, "sha256": sha256_of(p)} for p in files
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with tarfile.open(partial, "w:gz") as tar:
        data = manifest.as_json()
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(data)
        info.mtime = int(os.path.getmtime(staging))
        tar.addfile(info, io.BytesIO(data))
        for path in files:
            tar.add(path, arcname=path.relative_to(staging).as_posix(), recursive=False)
    with partial.open("rb") as file:
        os.fsync(file.fileno())
    # A crash mid-write leaves a .partial file, never a truncated archive under the real name.
    partial.replace(out)


def _safe_name(name: str) -> str:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        message = f"the archive holds an unsafe path {name!r}"
        raise ArchiveError(message)
    return path.as_posix()


def read_archive(archive: Path, target: Path) -> Manifest:
    """Extract an archive into target, checking every file against the manifest's sha256.

    Raises:
        ArchiveError: the archive is unreadable or truncated, lacks a manifest, holds files
            the manifest does not list (or misses some), or a checksum does not match.
    """
    try:
        return _read(archive, target)
    except (tarfile.TarError, EOFError, OSError) as err:
        if isinstance(err, FileNotFoundError):
            message = f"no archive at {archive}"
        else:
            message = f"{archive} is not a readable backup archive (corrupt or truncated: {err})"
        raise ArchiveError(message) from err


def _read(archive: Path, target: Path) -> Manifest:
    manifest: Manifest | None = None
    seen: dict[str, str] = {}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            name = _safe_name(member.name)
            if member.isdir():
                continue
            if not member.isfile():
                message = f"the archive holds {name!r}, which is not a regular file"
                raise ArchiveError(message)
            source = tar.extractfile(member)
            assert source is not None
            if name == MANIFEST:
                manifest = Manifest.from_json(source.read())
                continue
            destination = target / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            with destination.open("wb") as file:
                while chunk := source.read(_CHUNK):
                    digest.update(chunk)
                    file.write(chunk)
            seen[name] = digest.hexdigest()
    if manifest is None:
        message = f"{archive} has no manifest.json: it is not a hub backup"
        raise ArchiveError(message)
    listed = {entry["path"]: entry["sha256"] for entry in manifest.files}
    for name, digest in listed.items():
        if name not in seen:
            message = f"{archive} is corrupt: {name} is listed in the manifest but missing"
            raise ArchiveError(message)
        if seen[name] != digest:
            message = f"{archive} is corrupt: the checksum of {name} does not match the manifest"
            raise ArchiveError(message)
    extra = sorted(set(seen) - set(listed))
    if extra:
        message = f"{archive} is corrupt: it holds files the manifest does not list: {', '.join(extra)}"
        raise ArchiveError(message)
    return manifest


def known_revisions(config_dir: Path | None = None) -> set[str]:
    """Return every schema revision this hub knows: the core's and every installed integration's.

    `config_dir` adds the integrations in its `custom_integrations/` folder.
    """
    folders = [f for i in plugins.discover(config_dir).values() if (f := i.migrations) is not None]
    return storage.known_revisions(folders)


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for part in re.split(r"[.+-]", version):
        if not part.isdigit():
            break
        parts.append(int(part))
    return tuple(parts)


def check_compatible(manifest: Manifest, config_dir: Path | None = None) -> None:
    """Refuse an archive this hub cannot restore: a newer format, hub version or schema.

    `config_dir` is the archived configuration, whose custom integrations may own revisions.

    Raises:
        ArchiveError: with a message saying which is newer and what to do.
    """
    if manifest.format > FORMAT:
        message = f"the archive has format {manifest.format}; this hub reads up to format {FORMAT}. Upgrade the hub first."
        raise ArchiveError(message)
    if _version_tuple(manifest.hub_version) > _version_tuple(__version__):
        message = (
            f"the archive was made by hub {manifest.hub_version}, newer than this hub ({__version__}); "
            "upgrade the hub to restore it"
        )
        raise ArchiveError(message)
    unknown = sorted(set(manifest.schema_revisions) - known_revisions(config_dir))
    if unknown:
        message = (
            f"the archive's database schema is newer than this hub knows (revisions {', '.join(unknown)}); "
            "upgrade the hub, or install the integrations that made them, to restore it"
        )
        raise ArchiveError(message)
