"""The seam through which a route outside the ingest integration recognises a device's API key.

The integration that issues device keys (integrations/http_ingest) fills the slot at setup;
a reader such as `GET /api/v1/telemetry` asks it who a key belongs to:

    check = hub.runtime.get(DEVICE_KEYS)
    credential = await check(raw_key) if check is not None else None
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hub.core.runtime import HubKey


@dataclass(frozen=True, slots=True)
class DeviceCredential:
    """Who a valid device key stands for."""

    device: str  # the device as its key names it (e.g. "garden"), for messages
    device_id: str | None  # its device registry id; None until the device has sent anything


class DeviceKeyCheck(Protocol):
    """Return the credential of a raw device key, or None when it is wrong, expired or revoked."""

    async def __call__(self, raw: str) -> DeviceCredential | None: ...


DEVICE_KEYS: HubKey[DeviceKeyCheck] = HubKey("device_keys")
