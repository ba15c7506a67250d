"""Nodes' console logs, kept in the database (console_log) so that any API
server reads what the console worker (haas.console_worker) captured.

The API turns a node's capture on and off here; the worker reads which
captures are on and appends what the node's console writes, keeping the
last `[consoles] keep_kib` KiB.  Each start draws the row a new random
epoch: the worker appends only to the epoch it read, so output read
before a stop never lands in the log of the capture after it (a counter
would start again at the same value once the row was deleted).
"""

from __future__ import annotations

import secrets
import typing

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from haas.model import ConsoleLog, db, utcnow

SECTION = 'consoles'
#: Default of [consoles] keep_kib: how much of each node's console output
#: is kept (the last KiB; older output is dropped).
KEEP_KIB = 64

_TABLE = ConsoleLog.__table__
#: The INSERTs that take ON CONFLICT DO NOTHING, by dialect: SQLAlchemy
#: has them for the two databases HaaS runs on.
_INSERTS: dict[str, typing.Callable[..., typing.Any]] = {
    'postgresql': postgresql.insert, 'sqlite': sqlite.insert}


def keep(config: typing.Any) -> int:
    """How many characters of each log `config` keeps ([consoles]
    keep_kib; a character of console output is a byte but for the rare
    one that is not ASCII)."""
    from haas.errors import ConfigError
    text = config.get(SECTION, 'keep_kib')
    if text is None:
        return KEEP_KIB * 1024
    if not (text.isascii() and text.isdigit()
            and 1 <= int(text) <= 64 * 1024):
        raise ConfigError(f'[{SECTION}] keep_kib must be a whole number of '
                          f'KiB, 1-65536, not {text!r}')
    return int(text) * 1024


def start(node_id: int) -> None:
    """Capture node `node_id`'s console (nothing changes while it is
    captured already), in the caller's transaction.

    Not a read, then an insert: two first starts at once (two API
    servers) would both read no row, and the second insert fail.  The
    insert does nothing where a row is, another start's included (ON
    CONFLICT DO NOTHING waits for its transaction to end), and that row
    is then turned on, or left on."""
    insert = _INSERTS[db.session.get_bind().dialect.name](_TABLE).values(
        node_id=node_id, capture=True, epoch=secrets.randbits(62), text='',
        updated_at=utcnow()).on_conflict_do_nothing(
            index_elements=[_TABLE.c.node_id])
    # An INSERT's result is a cursor's, which counts the rows written.
    inserted = typing.cast('sa.CursorResult[typing.Any]',
                           db.session.execute(insert))
    if inserted.rowcount:
        return
    found = db.session.get(ConsoleLog, node_id, with_for_update=True,
                           populate_existing=True)
    if found is None:
        # Deleted (a DELETE of the console) since the insert met it: a
        # row that conflicts now is another start's, capturing already.
        db.session.execute(insert)
    elif not found.capture:
        found.capture, found.epoch = True, secrets.randbits(62)
        found.updated_at = utcnow()


def stop(node_id: int) -> None:
    """Stop capturing node `node_id`'s console; what was kept stays."""
    db.session.execute(sa.update(_TABLE).where(
        _TABLE.c.node_id == node_id).values(capture=False,
                                            updated_at=utcnow()))


def delete(node_id: int) -> None:
    """Stop capturing node `node_id`'s console, and forget what was
    kept."""
    db.session.execute(sa.delete(_TABLE).where(_TABLE.c.node_id == node_id))


def read(node_id: int) -> str | None:
    """What was kept of node `node_id`'s console, or None when it is not
    captured and nothing was kept."""
    return db.session.execute(sa.select(_TABLE.c.text).where(
        _TABLE.c.node_id == node_id)).scalar_one_or_none()


# The worker's side: a connection of its own, not the ORM session.

def captured(connection: sa.Connection) -> dict[int, int]:
    """{node id: epoch} of the consoles being captured."""
    return dict(connection.execute(
        sa.select(_TABLE.c.node_id, _TABLE.c.epoch)
        .where(_TABLE.c.capture)).all())


def append(engine: sa.Engine, node_id: int, epoch: int, text: str,
           kept: int) -> bool:
    """Append `text` to node `node_id`'s log if it is still capture
    `epoch`, keeping the last `kept` characters; whether it was."""
    with engine.begin() as connection:
        query = sa.select(_TABLE.c.text).where(
            _TABLE.c.node_id == node_id, _TABLE.c.epoch == epoch,
            _TABLE.c.capture)
        if connection.dialect.name == 'postgresql':
            query = query.with_for_update()
        before = connection.execute(query).scalar_one_or_none()
        if before is None:
            return False
        connection.execute(sa.update(_TABLE).where(
            _TABLE.c.node_id == node_id).values(
                text=(before + text)[-kept:], updated_at=utcnow()))
        return True
