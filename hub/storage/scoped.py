"""Home-scoped database sessions: every row a hub core reads or writes is its home's.

`scoped_sessions(engine, scope)` is the session factory of one home (`HubConfig.scope`). Three
things make its sessions home-bound, without the stores that use them knowing:

* **New rows** get `tenant_id` and `home_id` from the scope: the engine behind the sessions
  carries the scope as an execution option (`SCOPE_OPTION`), and the columns' Python-side
  defaults (`tenant_id_default`, `home_id_default`) read it. Python-side defaults apply to ORM
  flushes and to Core `insert()` statements alike, executemany included (the registries'
  batched writer, the upserts of restore states and discovery); a row that names its ids
  explicitly keeps them (and PostgreSQL's row-level security refuses them if they are another
  home's).
* **Reads, updates and deletes** are filtered by `home_filter`, the one place where the
  application adds `WHERE home_id = :home` (or `tenant_id = :tenant` on tenant-level tables).
  It runs for every statement a scoped session executes (the `do_orm_execute` event).
* **On PostgreSQL** every transaction starts with `SET_SCOPE_SQL`, which the row-level security
  policies of the migrations read: a query that forgets its filter still sees only its home.

Unscoped sessions (`hub.storage.session_factory`) stamp `DEFAULT_SCOPE` on new rows and filter
nothing: they are what a single-home install and its tools have always used.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Delete, Join, Select, Table, Update, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction
from sqlalchemy.sql.expression import Alias, ColumnElement, FromClause

from hub.core.scope import DEFAULT_SCOPE, HomeScope

# The execution option (on the engine behind a scoped session) that carries its HomeScope.
SCOPE_OPTION = "hub_scope"
# Run at the start of every transaction of a scoped session on PostgreSQL.
SET_SCOPE_SQL = "SELECT set_config('app.tenant_id', :tenant, true), set_config('app.home_id', :home, true)"
_SET_SCOPE = text(SET_SCOPE_SQL)


def _scope_of(context: Any) -> HomeScope:
    scope = context.execution_options.get(SCOPE_OPTION) if context is not None else None
    return scope if isinstance(scope, HomeScope) else DEFAULT_SCOPE


def tenant_id_default(context: Any) -> str:
    """Column default of `tenant_id`: the tenant of the session's scope (`DEFAULT_SCOPE` if none)."""
    return _scope_of(context).tenant_id


def home_id_default(context: Any) -> str:
    """Column default of `home_id`: the home of the session's scope (`DEFAULT_SCOPE` if none)."""
    return _scope_of(context).home_id


class HomeSession(Session):
    """The sync session class behind every scoped `AsyncSession`; `info["hub_scope"]` is its home."""


def scoped_sessions(engine: AsyncEngine, scope: HomeScope) -> async_sessionmaker[AsyncSession]:
    """A session factory whose sessions read and write only `scope`'s rows (see the module doc)."""
    return async_sessionmaker(
        engine.execution_options(**{SCOPE_OPTION: scope}),
        expire_on_commit=False,
        sync_session_class=HomeSession,
        info={SCOPE_OPTION: scope},
    )


def scope_of_sessions(sessions: async_sessionmaker[AsyncSession]) -> HomeScope:
    """The home a session factory is scoped to (`DEFAULT_SCOPE` for an unscoped one)."""
    scope = sessions.kw.get("info", {}).get(SCOPE_OPTION)
    return scope if isinstance(scope, HomeScope) else DEFAULT_SCOPE


def home_filter(statement: Any, scope: HomeScope) -> Any:
    """Return `statement` restricted to `scope`: the application's own tenant filter.

    SELECTs get `home_id = :home` for every home-owned table they read from (`tenant_id =
    :tenant` for tenant-level tables such as users), UPDATEs and DELETEs for the table they
    change. Tables without those columns, INSERTs and text statements pass unchanged.
    """
    if isinstance(statement, Select):
        criteria = [c for source in statement.get_final_froms() for c in _criteria(source, scope)]
        return statement.where(*criteria) if criteria else statement
    if isinstance(statement, (Update, Delete)):
        criteria = _criteria(statement.table, scope)
        return statement.where(*criteria) if criteria else statement
    return statement


def _criteria(source: FromClause, scope: HomeScope) -> list[ColumnElement[bool]]:
    if isinstance(source, Join):
        # The right side of an outer join may be absent: filtering it would drop the left's rows.
        right = [] if source.isouter else _criteria(source.right, scope)
        return _criteria(source.left, scope) + right
    if isinstance(source, (Table, Alias)):
        columns = source.c
        if "home_id" in columns:
            return [columns["home_id"] == scope.home_id]
        if "tenant_id" in columns:
            return [columns["tenant_id"] == scope.tenant_id]
    return []


@event.listens_for(HomeSession, "after_begin")
def _set_scope(session: Session, transaction: SessionTransaction, connection: Connection) -> None:
    scope = session.info.get(SCOPE_OPTION)
    if isinstance(scope, HomeScope) and connection.dialect.name == "postgresql":
        connection.execute(_SET_SCOPE, {"tenant": scope.tenant_id, "home": scope.home_id})


@event.listens_for(HomeSession, "do_orm_execute")
def _filter(state: ORMExecuteState) -> None:
    scope = state.session.info.get(SCOPE_OPTION)
    if isinstance(scope, HomeScope) and (state.is_select or state.is_update or state.is_delete):
        state.statement = home_filter(state.statement, scope)
        if state.is_update and isinstance(state.parameters, list):
            # An ORM bulk UPDATE by primary key (a list of rows) takes extra WHERE criteria only
            # without synchronizing objects of the session, which such writers do not keep.
            state.update_execution_options(synchronize_session=None)


__all__ = [
    "SCOPE_OPTION",
    "SET_SCOPE_SQL",
    "HomeSession",
    "home_filter",
    "home_id_default",
    "scope_of_sessions",
    "scoped_sessions",
    "tenant_id_default",
]
