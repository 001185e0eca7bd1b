"""The reference hub the API's document describes: the shipped configuration with device telemetry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hub import bootstrap
from hub.api.openapi import document
from scripts.api_docs import reference_config


@dataclass
class ApiHub:
    runtime: bootstrap.Runtime
    token: str

    @property
    def url(self) -> str:
        return self.runtime.url

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def document(self) -> dict[str, Any]:
        assert self.runtime.runner is not None
        return document(self.runtime.runner.app)


@pytest.fixture
async def api_hub(tmp_path: Path, start_hub: Any) -> AsyncIterator[ApiHub]:
    """The reference hub running, with an admin and their long-lived token."""
    runtime = await start_hub(reference_config(tmp_path / "config"))
    auth = runtime.hub.auth
    auth._rounds = 4
    admin = await auth.add_user("admin", "correct horse battery", "admin")
    yield ApiHub(runtime, await auth.create_long_lived_token(admin.id, "api tests"))
