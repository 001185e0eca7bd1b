"""PostgreSQL row-level security: is the hub's role one it holds for, and granting a role.

The migrations put the policies on every tenant-owned table (migrations/home_columns.py).
They bind only a role that is neither superuser, nor owner of the tables, nor BYPASSRLS: the
owner runs the migrations (`storage: migrate_url`), the hub serves homes as an application
role (`storage: db_url`). `check_rls_role` says what is wrong with the role of an engine;
a hub serving more than one home refuses to start on any problem. `grant_app_role` gives an
application role what the hub needs (`hub db grant-app-role ROLE`, as the owner).
"""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.exceptions import HubError

# The SECURITY DEFINER functions of migration 0009: what a login, a token lookup and a user's homes need.
FUNCTIONS = ("hub_login_user(text)", "hub_token_scope(text)", "hub_user_homes(text)")
_ROLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")
_FIX = (
    "connect the hub (storage: db_url) as an application role made for it (create it, then run "
    "`hub db grant-app-role ROLE` with storage: migrate_url set to the owner) and keep the owner "
    "for storage: migrate_url"
)

_TENANT_TABLES = text(
    "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, pg_has_role(current_user, c.relowner, 'USAGE') "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = current_schema() AND c.relkind = 'r' AND (c.relname = 'tenants' OR EXISTS ("
    "  SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped"
    ")) ORDER BY c.relname"
)


class RlsRoleError(HubError):
    """The database role cannot be made an application role, or is not one."""


async def check_rls_role(engine: AsyncEngine) -> list[str]:
    """Return what keeps row-level security from holding for `engine`'s role ([] if nothing).

    On PostgreSQL: the role is a superuser, has BYPASSRLS, owns (or may act as the owner of) a
    tenant-owned table, or such a table lacks ENABLE/FORCE ROW LEVEL SECURITY. On SQLite,
    which has no row-level security, the one problem is SQLite itself.
    """
    if engine.dialect.name != "postgresql":
        return [
            f"{engine.dialect.name} has no row-level security: a hub serving many homes needs PostgreSQL "
            "(storage: db_url)"
        ]
    problems: list[str] = []
    async with engine.connect() as connection:
        role, superuser, bypass = (
            await connection.execute(
                text("SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            )
        ).one()
        tables = (await connection.execute(_TENANT_TABLES)).all()
    # What is wrong with the role, each said once, then the one fix for all of it.
    wrong = []
    if superuser:
        wrong.append("is a superuser, which row-level security never binds")
    if bypass:
        wrong.append("has BYPASSRLS")
    owned = [name for name, _, _, owner in tables if owner]
    if owned and not superuser:
        wrong.append(f"owns (or is a member of the owner of) the tables {', '.join(owned)}, "
                     "and an owner can switch row-level security off")
    if wrong:
        problems.append(f"database role {role!r} {' and '.join(wrong)}; {_FIX}")
    if not tables:
        problems.append("no tenant-owned tables found: the database is not migrated (run the hub once with "
                        "storage: migrate_url)")
    open_tables = [name for name, enabled, forced, _ in tables if not (enabled and forced)]
    if open_tables:
        problems.append(
            f"row-level security is not enabled and forced on {', '.join(open_tables)}: migrate the database "
            "(the hub does at start, as storage: migrate_url)"
        )
    return problems


async def grant_app_role(owner: AsyncEngine, role: str) -> list[str]:
    """Grant `role` what the hub needs, connected as the tables' owner; return the SQL run.

    Raises:
        RlsRoleError: not PostgreSQL, the role does not exist, or it would not be bound by
            row-level security (superuser, BYPASSRLS, or the owner itself).
    """
    if owner.dialect.name != "postgresql":
        raise RlsRoleError("row-level security and application roles need PostgreSQL; SQLite serves one home")
    if not _ROLE_NAME.match(role):
        raise RlsRoleError(f"{role!r} is not a role name (letters, digits, _ and $, at most 63 characters)")
    async with owner.begin() as connection:
        found = (
            await connection.execute(
                text("SELECT rolsuper, rolbypassrls, pg_has_role(:r, current_user, 'USAGE') "
                     "FROM pg_roles WHERE rolname = :r"),
                {"r": role},
            )
        ).one_or_none()
        if found is None:
            message = (f"role {role!r} does not exist; create it first, e.g. "
                       f"CREATE ROLE \"{role}\" LOGIN PASSWORD '...' NOSUPERUSER NOBYPASSRLS")
            raise RlsRoleError(message)
        superuser, bypass, member_of_owner = found
        if superuser or bypass or member_of_owner:
            what = "a superuser" if superuser else "BYPASSRLS" if bypass else "the owner (or a member of it)"
            raise RlsRoleError(f"role {role!r} is {what}: row-level security would not bind it; use another role")
        schema = (await connection.execute(text("SELECT current_schema()"))).scalar_one()
        statements = [
            f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"',
            f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"',
            f'REVOKE INSERT, UPDATE, DELETE ON TABLE "{schema}".alembic_version FROM "{role}"',
            f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{schema}" TO "{role}"',
            # Tables later migrations make (as this owner) are granted as they are made.
            f'ALTER DEFAULT PRIVILEGES IN SCHEMA "{schema}" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "{role}"',
            f'ALTER DEFAULT PRIVILEGES IN SCHEMA "{schema}" GRANT USAGE, SELECT ON SEQUENCES TO "{role}"',
            *(f'GRANT EXECUTE ON FUNCTION "{schema}".{function} TO "{role}"' for function in FUNCTIONS),
        ]
        for statement in statements:
            await connection.execute(text(statement))
    return statements


__all__ = ["FUNCTIONS", "RlsRoleError", "check_rls_role", "grant_app_role"]
