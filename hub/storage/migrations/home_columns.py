"""Operations the migrations use to make a table home-owned (or tenant-level), and back.

Frozen like the revisions that call it (the core's and integrations'): change behaviour by
adding a function, never by editing one a shipped revision uses.

A home-owned table gets `tenant_id` and `home_id` (String(36), NOT NULL); rows that exist
already are stamped with the default tenant and home (`DEFAULT_ID`), the ones a single-home
install has always served. On PostgreSQL the table then gets row-level security: ENABLE and
FORCE, and the policy `hub_home` keyed on the per-transaction settings `app.tenant_id` and
`app.home_id` that scoped sessions set (hub/storage/scoped.py). SQLite has no row-level
security; it relies on the application's filter alone (and serves one home).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations

DEFAULT_ID = "default"  # hub.core.scope.DEFAULT_TENANT_ID and DEFAULT_HOME_ID
ID_LENGTH = 36
HOME_POLICY = "hub_home"
TENANT_POLICY = "hub_tenant"
OWNER_POLICY = "hub_owner"
HOME_CHECK = (
    "tenant_id = current_setting('app.tenant_id', true) AND home_id = current_setting('app.home_id', true)"
)
TENANT_CHECK = "tenant_id = current_setting('app.tenant_id', true)"


def is_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def add_scope_columns(table: str, *, home: bool = True) -> None:
    """Add `tenant_id` (and `home_id`) NOT NULL, stamping existing rows with the default ids.

    The server default only fills the rows there are now; new rows get their ids from the
    session's scope (`drop_scope_defaults` removes it in the same revision).
    """
    names = ["tenant_id", "home_id"] if home else ["tenant_id"]
    with op.batch_alter_table(table) as batch:
        for name in names:
            batch.add_column(sa.Column(name, sa.String(ID_LENGTH), nullable=False, server_default=DEFAULT_ID))


def drop_scope_defaults(batch: BatchOperations, *, home: bool = True) -> None:
    """In a batch of the table, remove the server defaults `add_scope_columns` filled rows with."""
    for name in ["tenant_id", "home_id"] if home else ["tenant_id"]:
        batch.alter_column(name, existing_type=sa.String(ID_LENGTH), existing_nullable=False, server_default=None)


def enable_home_rls(table: str) -> None:
    """ENABLE and FORCE row-level security on a home-owned table, with the `hub_home` policy."""
    _enable(table, HOME_POLICY, HOME_CHECK)


def enable_tenant_rls(table: str, check: str = TENANT_CHECK) -> None:
    """ENABLE and FORCE row-level security on a tenant-level table, with the `hub_tenant` policy."""
    _enable(table, TENANT_POLICY, check)


def allow_owner(table: str) -> None:
    """Let the table's owner (the role that runs migrations and administers tenants) see every row.

    For the tenant-level tables only: the `SECURITY DEFINER` functions of a login (which runs
    before any tenant is known) and `hub tenant|home` act through it. The application role is
    never the owner when many homes are served (hub.storage.rls.check_rls_role).
    """
    if not is_postgresql():
        return
    owner = op.get_bind().execute(
        sa.text("SELECT tableowner FROM pg_tables WHERE schemaname = current_schema() AND tablename = :t"),
        {"t": table},
    ).scalar_one()
    op.execute(f'CREATE POLICY {OWNER_POLICY} ON {table} TO "{owner}" USING (true) WITH CHECK (true)')


def disable_rls(table: str) -> None:
    """Undo `enable_*_rls` and `allow_owner` (a downgrade)."""
    if not is_postgresql():
        return
    for policy in (HOME_POLICY, TENANT_POLICY, OWNER_POLICY):
        op.execute(f"DROP POLICY IF EXISTS {policy} ON {table}")
    op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")


def _enable(table: str, policy: str, check: str) -> None:
    if not is_postgresql():
        return
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY {policy} ON {table} USING ({check}) WITH CHECK ({check})")


def refuse_other_homes(table: str) -> None:
    """Before a downgrade drops the columns: refuse if rows of another home would merge."""
    others = op.get_bind().execute(
        sa.text(f"SELECT count(*) FROM {table} WHERE tenant_id <> :d OR home_id <> :d"), {"d": DEFAULT_ID}
    ).scalar_one()
    if others:
        message = (
            f"{table} holds {others} row(s) of homes other than the default one: a downgrade would merge "
            "them; remove those homes first (hub home remove)"
        )
        raise RuntimeError(message)


def make_home_owned(
    table: str, *, primary: Sequence[str] = (), unique: Sequence[str] = (), index: bool = False
) -> None:
    """Make an integration's table home-owned in one call (its revision's upgrade).

    Args:
        table: the table.
        primary: the primary key's columns, to become `home_id` + these (per home).
        unique: the columns of a unique constraint `uq_<table>_<columns>`, to become per home.
        index: add `ix_<table>_home_id` (when no key starts with home_id).
    """
    add_scope_columns(table)
    with op.batch_alter_table(table) as batch:
        drop_scope_defaults(batch)
        if primary:
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.create_primary_key(f"pk_{table}", ["home_id", *primary])
        if unique:
            batch.drop_constraint(f"uq_{table}_{'_'.join(unique)}", type_="unique")
            batch.create_unique_constraint(f"uq_{table}_home_id_{'_'.join(unique)}", ["home_id", *unique])
        if index:
            batch.create_index(f"ix_{table}_home_id", ["home_id"], unique=False)
    enable_home_rls(table)


def undo_home_owned(
    table: str, *, primary: Sequence[str] = (), unique: Sequence[str] = (), index: bool = False
) -> None:
    """Reverse `make_home_owned` (its revision's downgrade); refuses when other homes have rows."""
    refuse_other_homes(table)
    disable_rls(table)
    with op.batch_alter_table(table) as batch:
        if primary:
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.create_primary_key(f"pk_{table}", list(primary))
        if unique:
            batch.drop_constraint(f"uq_{table}_home_id_{'_'.join(unique)}", type_="unique")
            batch.create_unique_constraint(f"uq_{table}_{'_'.join(unique)}", list(unique))
        if index:
            batch.drop_index(f"ix_{table}_home_id")
        batch.drop_column("home_id")
        batch.drop_column("tenant_id")


__all__ = [
    "make_home_owned",
    "undo_home_owned",
    "DEFAULT_ID",
    "HOME_CHECK",
    "TENANT_CHECK",
    "add_scope_columns",
    "allow_owner",
    "disable_rls",
    "drop_scope_defaults",
    "enable_home_rls",
    "enable_tenant_rls",
    "refuse_other_homes",
]
