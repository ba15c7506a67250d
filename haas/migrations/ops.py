"""Operations that HaaS's migration scripts share, and an extension's may.

A released script must keep doing what it did, so these functions never
change what they do once released: a new behaviour gets a new function.

`widen_keys` and `narrow_keys` change key columns between 32 and 64 bits
on PostgreSQL, rewriting each table once: the foreign keys on those columns
and the ones that refer to them are dropped first and restored after, so
that no constraint is checked twice and no table is rewritten for a
constraint.  SQLite's INTEGER is 64-bit already: there they do nothing.
"""

import typing
from collections.abc import Iterable, Mapping, Sequence

import sqlalchemy as sa
from alembic import op

#: {table: [column]}: the key columns an operation changes.
Columns = Mapping[str, Sequence[str]]

#: The largest value of a 32-bit key.
INT_MAX = 2 ** 31 - 1


def _postgresql() -> bool:
    return op.get_bind().dialect.name == 'postgresql'


def _foreign_keys(
        columns: Columns) -> list[tuple[str, str, str]]:
    """(table, name, definition) of each foreign key on one of `columns`
    ({table: [column]}) or referring to one of them."""
    bind = op.get_bind()
    wanted = {(t, c) for t, cs in columns.items() for c in cs}
    rows = bind.execute(sa.text(
        "SELECT c.conrelid::regclass::text, c.conname, "
        "pg_get_constraintdef(c.oid), "
        "ARRAY(SELECT attname FROM pg_attribute WHERE attrelid = c.conrelid "
        "      AND attnum = ANY(c.conkey)), "
        "c.confrelid::regclass::text, "
        "ARRAY(SELECT attname FROM pg_attribute WHERE attrelid = c.confrelid "
        "      AND attnum = ANY(c.confkey)) "
        "FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
        "WHERE c.contype = 'f' AND n.nspname = current_schema() "
        "ORDER BY 1, 2")).all()
    found = []
    for table, name, definition, own, target, referred in rows:
        table, target = table.strip('"'), target.strip('"')
        if any((table, c) in wanted for c in own) or \
                any((target, c) in wanted for c in referred):
            found.append((table, name, definition))
    return found


def _retype(columns: Columns, sequences: Iterable[str],
            type_: str) -> None:
    foreign_keys = [] if op.get_context().as_sql else _foreign_keys(columns)
    for table, name, _ in foreign_keys:
        op.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
    for table, names in columns.items():
        # One statement per table: PostgreSQL rewrites it once.
        op.execute(f'ALTER TABLE "{table}" ' + ', '.join(
            f'ALTER COLUMN "{c}" TYPE {type_}' for c in names))
    for sequence in sequences:
        op.execute(f'ALTER SEQUENCE IF EXISTS "{sequence}" AS {type_}')
    for table, name, definition in foreign_keys:
        op.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" '
                   f'{definition}')


def widen_keys(columns: Columns,
               sequences: Iterable[str] = ()) -> None:
    """Make `columns` ({table: [column]}) bigint, and `sequences` bigint
    sequences, on PostgreSQL.  Offline (--sql), where nothing can be read,
    the foreign keys stay in place: PostgreSQL checks them again itself."""
    if _postgresql():
        _retype(columns, sequences, 'bigint')


def narrow_keys(columns: Columns,
                sequences: Iterable[str] = ()) -> None:
    """Make `columns` integer again, and `sequences` integer sequences, on
    PostgreSQL; refused, naming the column, where a value does not fit in
    32 bits (nothing is changed then)."""
    if not _postgresql():
        return
    if not op.get_context().as_sql:
        bind = op.get_bind()
        for table, names in columns.items():
            for column in names:
                top = bind.execute(sa.text(
                    f'SELECT max(abs("{column}")) FROM "{table}"')).scalar()
                if top is not None and top > INT_MAX:
                    raise RuntimeError(
                        f'{table}.{column} holds {top}, which a 32-bit key '
                        f'cannot: it cannot go back to integer')
        for sequence in sequences:
            if bind.execute(sa.text(
                    'SELECT to_regclass(:s) IS NOT NULL'),
                    {'s': sequence}).scalar():
                last: int = typing.cast(int, bind.execute(sa.text(
                    f'SELECT last_value FROM "{sequence}"')).scalar())
                if last > INT_MAX:
                    raise RuntimeError(
                        f'sequence {sequence} is at {last}, past what a '
                        f'32-bit key holds: it cannot go back to integer')
    _retype(columns, sequences, 'integer')
