"""One exception root for the hub: every error the hub raises on purpose is a HubError."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.config.issues import ConfigIssue


class HubError(Exception):
    """Base of every error the hub raises on purpose."""


class InvalidEntityFormatError(HubError):
    """An entity_id does not have the form `domain.object_id`."""


class InvalidStateError(HubError):
    """A state value cannot be stored (too long, wrong type)."""


class ServiceNotFound(HubError):
    """A service call names a service that is not registered."""

    def __init__(self, domain: str, service: str) -> None:
        self.domain = domain
        self.service = service
        message = f"Service {domain}.{service} not found."
        super().__init__(message)


class ServiceValidationError(HubError):
    """A service call's data does not fit the service's schema, or its target is wrong."""


class Unauthorized(HubError):
    """The caller is not allowed to do this."""


class ConfigError(HubError):
    """The configuration is invalid; `issues` names each file, line and key."""

    def __init__(self, issues: Sequence[ConfigIssue], message: str | None = None) -> None:
        self.issues = list(issues)
        if message is None:
            message = "\n".join(str(issue) for issue in self.issues) or "Invalid configuration"
        super().__init__(message)


class IntegrationError(HubError):
    """An integration cannot be found, loaded or set up (missing dependency, cycle, bad manifest)."""


class TemplateError(HubError):
    """A template failed to compile or render."""
