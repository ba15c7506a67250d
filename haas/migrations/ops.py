"""Operations that HaaS's migration scripts share, and an extension's may.

A released script must keep doing what it did, so these functions never
change what they do once released: a new behaviour gets a new function.

`widen_keys` and `narrow_keys` change key columns between 32 and 64 bits
on PostgreSQL, rewriting each table once: the foreign keys on those columns
and the ones that refer to them are dropped first and restored after, so
that no constraint is checked twice and no table is rewritten for a
constraint.  SQLite's INTEGER is 64-bit already: there they do nothing.

`encrypt_column` and `decrypt_column` turn a column of passwords into
Fernet tokens under the key file of `[secrets]` and back (the
`haas.crypto.Encrypted` type reads and writes such a column), and
`key_check` is the data check that goes with them: see MIGRATIONS.md,
"Encrypted columns".

`backfill` fills a column in batches, each its own transaction, telling
its progress: the data migration between an expand and a contract
(MIGRATIONS.md, "Expand and contract").
"""

import sys
import time
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence

import sqlalchemy as sa
from alembic import op

from haas import crypto

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


# --- encrypted columns ------------------------------------------------------

#: A data check that Python runs: given the connection, the offending rows.
Check = Callable[[sa.engine.Connection], list[tuple[typing.Any, ...]]]


def keyring() -> crypto.Keyring:
    """The keys of `[secrets] key_file`, as the application that runs the
    migration has them: what a script that encrypts or decrypts uses."""
    return typing.cast(crypto.Keyring, crypto.current())


def _offline(note: str) -> bool:
    """Whether the migration writes SQL (--sql) instead of running: there
    no row can be read, and `note` goes into the SQL as a comment."""
    context = op.get_context()
    if context.as_sql:
        from haas.migrations import alembic_private
        alembic_private.write_comment(context, f'-- {note}')
    return context.as_sql


def _recode(table: str, column: str, key: str,
            change: Callable[[crypto.Keyring, str], str]) -> None:
    t = sa.table(table, sa.column(key), sa.column(column))
    bind = op.get_bind()
    # A password table holds a row per switch or BMC: thousands at most,
    # read at once, then written back in one executemany.  The key is read
    # only when there is a row: a new database needs none yet.
    rows = bind.execute(sa.select(t.c[key], t.c[column])
                        .where(t.c[column].is_not(None))).all()
    if not rows:
        return
    keys = keyring()
    bind.execute(
        sa.update(t).where(t.c[key] == sa.bindparam('row_key'))
        .values({column: sa.bindparam('row_value')}),
        [{'row_key': k, 'row_value': change(keys, v)} for k, v in rows])


def encrypt_column(table: str, column: str, key: str = 'id') -> None:
    """Replace every value of `table`.`column` (text) by its Fernet token
    under the first key of the key file; `key` names the rows."""
    if not _offline(f'{table}.{column} is encrypted here by `haas-admin db '
                    f'upgrade`, which has the key; this SQL cannot'):
        _recode(table, column, key, crypto.Keyring.encrypt)


def decrypt_column(table: str, column: str, key: str = 'id') -> None:
    """Replace every token of `table`.`column` by its text: the reverse of
    `encrypt_column`.  SecretsError, in one line, if a key of the file
    cannot decrypt a value (the revision then changes nothing)."""
    if not _offline(f'{table}.{column} is decrypted here by `haas-admin db '
                    f'downgrade`, which has the key; this SQL cannot'):
        _recode(table, column, key, crypto.Keyring.decrypt)


def key_check(table: str, column: str, key: str = 'id') -> Check:
    """A data check (``data_checks = [(key_check(...), message)]``) for a
    revision that encrypts `table`.`column`, or reads it encrypted: where
    the column holds a value, the key file must be readable (else
    SecretsError, one line), and the rows returned are those holding a
    Fernet token that no key of the file decrypts.  So an upgrade stops
    before it changes anything, not half-way through its branches."""
    def check(connection: sa.engine.Connection) -> list[tuple[typing.Any,
                                                             ...]]:
        t = sa.table(table, sa.column(key), sa.column(column))
        rows = connection.execute(sa.select(t.c[key], t.c[column])
                                  .where(t.c[column].is_not(None))).all()
        if not rows:
            return []
        keys = keyring()
        keys.fernet  # the file, readable and well formed
        return [(k,) for k, v in rows
                if crypto.is_token(v) and not keys.decrypts(v)]
    check.__doc__ = (f'every token of {table}.{column} decrypts with '
                     f'[secrets] key_file')
    return check


# --- checkpoints -------------------------------------------------------------

def insert_rows(table: str,
                rows: Sequence[Mapping[str, typing.Any]]) -> None:
    """Insert `rows` into `table`: what a checkpoint writes for the rows
    its history's data migrations inserted.  On PostgreSQL each serial
    sequence of the table then stands at the largest value the rows gave
    its column, where inserting them through the sequence had left it."""
    if not rows:
        return
    columns = sorted({name for row in rows for name in row})
    op.bulk_insert(sa.table(table, *[sa.column(c) for c in columns]),
                   [dict(row) for row in rows])
    if not _postgresql():
        return
    for column in columns:
        # Only a serial column's (an integer's) maximum is taken; the cast
        # makes the statement valid for a column of any type.
        serial = f"pg_get_serial_sequence('\"{table}\"', '{column}')"
        op.execute(f'SELECT setval({serial}, max("{column}"::text::bigint)) '
                   f'FROM "{table}" HAVING {serial} IS NOT NULL')

def backfill(table: str, values: Mapping[str, str], where: str,
             key: str = 'id', batch_size: int = 10000) -> int:
    """Set `values` ({column: SQL expression}) on the rows of `table` that
    match `where` (an SQL condition), `batch_size` rows at a time in the
    order of `key` (an indexed, unique column), and tell the progress on
    stderr; returns how many rows changed.

    In a script that declares ``transactional = False`` each batch commits
    on its own (PostgreSQL), so no lock is held for long and an
    interrupted backfill keeps what it did: the condition must say which
    rows are left to fill, so that running it again goes on from there.
    In a transactional script, and on SQLite, the batches share the
    script's transaction.  With --sql it is one UPDATE.
    """
    context = op.get_context()
    quote = context.dialect.identifier_preparer.quote
    assignments = ', '.join(f'{quote(c)} = {v}' for c, v in values.items())
    update = f'UPDATE {quote(table)} SET {assignments} WHERE ({where})'
    if context.as_sql:
        op.execute(update)
        return 0
    bind = op.get_bind()
    k = quote(key)
    total = bind.execute(sa.text(
        f'SELECT count(*) FROM {quote(table)} WHERE ({where})')).scalar()
    done, last, told = 0, None, time.monotonic()
    while True:
        after = '' if last is None else f' AND {k} > :last'
        keys = bind.execute(sa.text(
            f'SELECT {k} FROM {quote(table)} WHERE ({where}){after} '
            f'ORDER BY {k} LIMIT :n'),
            {'last': last, 'n': batch_size}).scalars().all()
        if not keys:
            break
        done += bind.execute(sa.text(
            f'{update} AND {k} >= :first AND {k} <= :last'),
            {'first': keys[0], 'last': keys[-1]}).rowcount
        last = keys[-1]
        if time.monotonic() - told >= 1:
            told = time.monotonic()
            _progress(f'backfill {table}: {done} of {total} rows')
    if total:
        _progress(f'backfill {table}: {done} of {total} rows, done')
    return done


def _progress(line: str) -> None:
    # As the migration commands tell theirs: a line on stderr.
    print(line, file=sys.stderr, flush=True)
