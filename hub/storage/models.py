"""SQLAlchemy models of the hub's core tables (SQLite by default, PostgreSQL optionally).

Core means what the hub itself needs whatever integrations run: users, tokens, the device and
entity registries, restore states, and (in `models_api`) the audit log and signing keys.
Integrations own their tables: each declares them on its own `MetaData` (see `new_metadata`)
and migrates them from its own folder (docs/integrations.md, "Persist data").

The schema is created and changed only by the Alembic migrations in
`hub/storage/migrations/versions`; a test proves those migrations produce exactly these
models. When you change a model, add a migration (see `hub/storage/migrations/env.py`).

Conventions:
* ids are strings (ULIDs made by the hub);
* every datetime is timezone-aware UTC on the Python side (`UTCDateTime`), whatever the
  database gives back: SQLite has no time zones, so values are stored there as naive UTC;
* JSON columns are `JSON`, with `JSONB` on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    MetaData,
    String,
    Table,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeEngine

from hub.exceptions import HubError
from hub.storage.scoped import home_id_default, tenant_id_default

# Deterministic constraint names on every dialect: Alembic needs names to alter or drop
# constraints later (SQLite batch mode in particular).
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

USER_ROLES = ("owner", "admin", "user", "read-only")
TOKEN_KINDS = ("long_lived", "refresh")

# Lengths shared with the migrations.
ID_LENGTH = 36  # a ULID is 26 characters; 36 leaves room for imported UUIDs
NAME_LENGTH = 255
ENTITY_ID_LENGTH = 255
SHORT_LENGTH = 64
STATE_LENGTH = 255
URL_LENGTH = 2048


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A `DateTime(timezone=True)` that only accepts aware datetimes and always returns aware UTC.

    SQLite keeps no time zone: values are converted to UTC and stored naive, and naive values
    read back are marked UTC. PostgreSQL stores `timestamptz`; values are normalised to UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the hub stores only timezone-aware datetimes")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], datetime | None] | None:
        """On SQLite, read the stored text as aware UTC in one call (`fromisoformat` with "+00:00").

        The same datetime as SQLite's own processor (`datetime.fromisoformat`) followed by
        `process_result_value`, 0.15 instead of ~1.1 us a value: a warm start reads ~21,000 of
        them (the entity registry's and the restored states' times, 5,000 entities). Text that
        does not parse so (an offset of its own, another format) takes that path as before.
        """
        general = super().result_processor(dialect, coltype)
        if dialect.name != "sqlite" or general is None:
            return general

        def process(value: Any) -> datetime | None:
            if type(value) is str:
                try:
                    return datetime.fromisoformat(value + "+00:00")
                except ValueError:
                    pass
            return general(value)

        return process


class JSONDocument(TypeDecorator[Any]):
    """JSON on every dialect, JSONB on PostgreSQL.

    The same as `JSON().with_variant(JSONB(), "postgresql")`, without importing the PostgreSQL
    dialect (~25 ms and 20 modules) at every start of a hub on SQLite: JSONB is made when a
    PostgreSQL engine first uses the column.
    """

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB  # noqa: PLC0415 - see the docstring

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


def json_type() -> JSONDocument:
    """JSON on every dialect, JSONB on PostgreSQL (`JSONDocument`)."""
    return JSONDocument()


def new_metadata() -> MetaData:
    """Return an empty `MetaData` with the hub's constraint naming convention.

    The core tables have one; each integration that persists data makes its own, so that its
    tables, and Alembic's comparisons of them, stay apart from everyone else's.
    """
    return MetaData(naming_convention=NAMING_CONVENTION)


# Python types of mapped columns -> column types, shared by the core and integrations' bases.
TYPE_ANNOTATION_MAP: dict[Any, Any] = {datetime: UTCDateTime(), dict[str, Any]: json_type()}


class Base(DeclarativeBase):
    """Declarative base of the hub's core tables."""

    metadata = new_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


def table_of(model: type[DeclarativeBase]) -> Table:
    """Return the table a model maps, typed as a `Table` for `insert()`, `update()` and `delete()`.

    SQLAlchemy types `__table__` as any `FromClause`, since a model may map a join or a subquery;
    a model with a `__tablename__` maps a `Table`.

    Args:
        model: A declarative model class of the core or of an integration.

    Returns:
        The model's `__table__`.

    Raises:
        HubError: the model maps something other than a table.
    """
    table = model.__table__
    if not isinstance(table, Table):
        message = f"{model.__name__} maps a {type(table).__name__}, not a Table"
        raise HubError(message)
    return table


class TenantOwned:
    """Columns of a tenant-level row (users): `tenant_id`, stamped from the session's scope."""

    tenant_id: Mapped[str] = mapped_column(String(ID_LENGTH), default=tenant_id_default)


class HomeOwned:
    """Columns of a home's row: `tenant_id` and `home_id`, stamped from the session's scope.

    Every table that holds a home's data mixes this in (the core's and integrations'); its
    natural keys are unique per home, and on PostgreSQL row-level security keys on both
    columns (hub/storage/scoped.py, hub/storage/migrations/home_columns.py).
    """

    tenant_id: Mapped[str] = mapped_column(String(ID_LENGTH), default=tenant_id_default)
    home_id: Mapped[str] = mapped_column(String(ID_LENGTH), default=home_id_default)


class UserRow(TenantOwned, Base):
    """A person (or system account) who may log in."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('owner', 'admin', 'user', 'read-only')", name="role"),
        Index("ix_users_tenant_id", "tenant_id"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("tenants.id", ondelete="CASCADE"), default=tenant_id_default
    )
    # Unique in the whole process: a login names a user before any tenant is known.
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]


class TokenRow(HomeOwned, Base):
    """An access credential of a user. Only the SHA-256 hex digest of the raw token is stored.

    A token belongs to its user and to the home it was made in.
    """

    __tablename__ = "tokens"
    __table_args__ = (
        CheckConstraint("kind IN ('long_lived', 'refresh')", name="kind"),
        Index("ix_tokens_token_hash", "token_hash", unique=True),
        Index("ix_tokens_home_id", "home_id"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    token_hash: Mapped[str] = mapped_column(String(64))
    # Refresh-token rotation: every token of one login session shares a family.
    family_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class AreaRow(HomeOwned, Base):
    """The area registry: a room or zone that devices and entities are placed in."""

    __tablename__ = "areas"
    # The name case-folded without spaces: two areas of a home may not share it (HA's rule).
    __table_args__ = (UniqueConstraint("home_id", "normalized_name"),)

    home_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=home_id_default)
    # HA's area_id: a slug of the name, `_2`, `_3`... when taken; unique per home.
    id: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    normalized_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    aliases: Mapped[list[str]] = mapped_column(json_type())
    floor_id: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    humidity_entity_id: Mapped[str | None] = mapped_column(String(ENTITY_ID_LENGTH))
    temperature_entity_id: Mapped[str | None] = mapped_column(String(ENTITY_ID_LENGTH))
    icon: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    labels: Mapped[list[str]] = mapped_column(json_type())
    picture: Mapped[str | None] = mapped_column(String(URL_LENGTH))
    created_at: Mapped[datetime]
    modified_at: Mapped[datetime]


class DeviceRow(HomeOwned, Base):
    """The device registry: one physical or logical device."""

    __tablename__ = "devices"
    __table_args__ = (
        Index("ix_devices_home_id", "home_id"),
        # An area of the same home; deleting an area takes it off its devices first (AreaRegistry).
        ForeignKeyConstraint(["home_id", "area_id"], ["areas.home_id", "areas.id"], name="fk_devices_area_id_areas"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    # JSON lists of [domain, id] (identifiers) and [type, value] (connections) pairs.
    identifiers: Mapped[list[list[str]]] = mapped_column(json_type())
    connections: Mapped[list[list[str]]] = mapped_column(json_type())
    integration: Mapped[str] = mapped_column(String(SHORT_LENGTH))
    name: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    name_by_user: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    manufacturer: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    model: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    model_id: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    sw_version: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    hw_version: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    serial_number: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    suggested_area: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    area_id: Mapped[str | None] = mapped_column(String(NAME_LENGTH), index=True)
    configuration_url: Mapped[str | None] = mapped_column(String(URL_LENGTH))
    via_device_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("devices.id", ondelete="SET NULL")
    )
    disabled_by: Mapped[str | None] = mapped_column(String(SHORT_LENGTH))
    created_at: Mapped[datetime]
    modified_at: Mapped[datetime]
    location: Mapped[str | None] = mapped_column(String(NAME_LENGTH))


class EntityRow(HomeOwned, Base):
    """The entity registry: what the hub remembers about an entity across restarts."""

    __tablename__ = "entities"
    __table_args__ = (
        UniqueConstraint("home_id", "entity_id"),
        UniqueConstraint("home_id", "domain", "platform", "unique_id"),
        ForeignKeyConstraint(["home_id", "area_id"], ["areas.home_id", "areas.id"], name="fk_entities_area_id_areas"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    entity_id: Mapped[str] = mapped_column(String(ENTITY_ID_LENGTH))
    unique_id: Mapped[str] = mapped_column(String(NAME_LENGTH))
    platform: Mapped[str] = mapped_column(String(SHORT_LENGTH))
    domain: Mapped[str] = mapped_column(String(SHORT_LENGTH))
    device_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("devices.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    original_name: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    icon: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    original_icon: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    device_class: Mapped[str | None] = mapped_column(String(SHORT_LENGTH))
    original_device_class: Mapped[str | None] = mapped_column(String(SHORT_LENGTH))
    unit_of_measurement: Mapped[str | None] = mapped_column(String(SHORT_LENGTH))
    entity_category: Mapped[str | None] = mapped_column(String(SHORT_LENGTH))
    disabled_by: Mapped[str | None] = mapped_column(String(SHORT_LENGTH))
    hidden_by: Mapped[str | None] = mapped_column(String(SHORT_LENGTH))
    area_id: Mapped[str | None] = mapped_column(String(NAME_LENGTH), index=True)
    capabilities: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    modified_at: Mapped[datetime]


class RestoreStateRow(HomeOwned, Base):
    """The last known state of an entity, restored at start."""

    __tablename__ = "restore_states"

    home_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=home_id_default)
    entity_id: Mapped[str] = mapped_column(String(ENTITY_ID_LENGTH), primary_key=True)
    state: Mapped[str] = mapped_column(String(STATE_LENGTH))
    attributes: Mapped[dict[str, Any]]
    last_changed: Mapped[datetime]
    last_updated: Mapped[datetime]


__all__ = [
    "Base",
    "DeviceRow",
    "HomeOwned",
    "JSONDocument",
    "TenantOwned",
    "EntityRow",
    "RestoreStateRow",
    "TOKEN_KINDS",
    "TYPE_ANNOTATION_MAP",
    "TokenRow",
    "USER_ROLES",
    "UTCDateTime",
    "UserRow",
    "json_type",
    "new_metadata",
    "utcnow",
]
from hub.storage import models_api  # noqa: E402,F401
from hub.tenancy import models as tenancy_models  # noqa: E402,F401
