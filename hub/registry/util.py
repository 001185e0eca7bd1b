"""Helpers shared by the registries: slugify, entity_id validation, UNDEFINED, errors."""

from __future__ import annotations

import enum
from typing import Final, Literal

from hub.core.states import MAX_ENTITY_ID_LENGTH, VALID_ENTITY_ID, split_entity_id, valid_entity_id
from hub.exceptions import HubError
from hub.util import slugify


class UndefinedType(enum.Enum):
    """The type of UNDEFINED: "argument not given" where None is a meaningful value."""

    _singleton = 0

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Final = UndefinedType._singleton
Undefined = Literal[UndefinedType._singleton]


class RegistryError(HubError):
    """A registry refused an operation."""


class DeviceNotFoundError(RegistryError, KeyError):
    """No device with this id is registered."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "Device not found"


class EntityNotFoundError(RegistryError, KeyError):
    """No entity with this entity_id is registered."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "Entity not found"


class EntityIdInUseError(RegistryError):
    """The requested entity_id already belongs to another registered entity."""


class IdentifierInUseError(RegistryError):
    """An identifier or connection already belongs to another device."""


__all__ = [
    "DeviceNotFoundError",
    "EntityIdInUseError",
    "EntityNotFoundError",
    "IdentifierInUseError",
    "MAX_ENTITY_ID_LENGTH",
    "RegistryError",
    "UNDEFINED",
    "Undefined",
    "UndefinedType",
    "VALID_ENTITY_ID",
    "slugify",
    "split_entity_id",
    "valid_entity_id",
]
