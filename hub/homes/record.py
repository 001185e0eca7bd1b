"""What the process knows of one home: its identity and the settings its core starts with."""

from __future__ import annotations

from dataclasses import dataclass

from hub.core.scope import HomeScope


@dataclass(frozen=True, slots=True)
class HomeRecord:
    """A row of the homes table (id, tenant_id, name, topic_root, time_zone, currency) and its tenant's plan."""

    scope: HomeScope
    name: str
    topic_root: str
    time_zone: str = "UTC"
    currency: str = "EUR"
    plan: str | None = None  # hub/tenancy/plans.py; None: no plan, no limits

    @property
    def home_id(self) -> str:
        return self.scope.home_id
