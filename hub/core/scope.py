"""Which home a hub core serves: the identity every home-owned row, point and request carries.

A hub process serves one home by default (the embedded install) and can host many (issue
"many homes on one hub"). Each home has its own hub core; `HubConfig.scope` says whose it is.
A single-home install never sees these ids: it runs in `DEFAULT_SCOPE`.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_TENANT_ID = "default"
DEFAULT_HOME_ID = "default"


@dataclass(frozen=True, slots=True)
class HomeScope:
    """A tenant and one of its homes."""

    tenant_id: str
    home_id: str

    def __str__(self) -> str:
        return f"{self.tenant_id}/{self.home_id}"


DEFAULT_SCOPE = HomeScope(DEFAULT_TENANT_ID, DEFAULT_HOME_ID)
