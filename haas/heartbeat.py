"""Daemons' heartbeats: how `haas-admin doctor` (and an operator) tells
that a daemon is alive, whatever host it runs on.

A daemon process keeps a row of daemon_heartbeat (its host and process id,
what it is, when it started, when it was last seen) and renews it every
INTERVAL seconds from a thread of its own, on a connection of its own, so
that a long batch of slow switches does not make it look dead.  It
deletes the row when it stops; a row not renewed for STALE seconds is a
daemon that died without stopping (killed, its host down).  A database
that is away makes a beat fail quietly: the next one tries again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

import sqlalchemy as sa

from haas.model import Heartbeat, utcnow

log = logging.getLogger(__name__)

#: Seconds between two beats, and after which a row is a dead daemon's.
INTERVAL, STALE = 5.0, 30.0
#: The kinds: the networking daemon's, the console worker's.
NETWORKS, CONSOLES = 'networks', 'consoles'

_TABLE = Heartbeat.__table__


def name() -> str:
    """This process's name in daemon_heartbeat."""
    return f'{socket.gethostname()}:{os.getpid()}'


class Beating:
    """Renews this process's row every `interval` seconds until stopped."""

    def __init__(self, engine: sa.Engine, kind: str,
                 interval: float = INTERVAL):
        self.engine, self.kind, self.interval = engine, kind, interval
        self.name = name()
        self.started = utcnow()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name=f'heartbeat of {kind}')

    def start(self) -> Beating:
        self.beat()
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop beating, and delete the row: a clean stop."""
        self.stopped.set()
        self.thread.join(self.interval + 5)
        try:
            with self.engine.begin() as connection:
                connection.execute(_TABLE.delete().where(
                    _TABLE.c.name == self.name))
        except sa.exc.SQLAlchemyError as e:
            log.warning('could not delete the heartbeat of %s: %s',
                        self.name, getattr(e, 'orig', e))

    def _run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.beat()

    def beat(self) -> None:
        try:
            with self.engine.begin() as connection:
                renewed = connection.execute(_TABLE.update().where(
                    _TABLE.c.name == self.name).values(seen_at=utcnow()))
                if renewed.rowcount == 0:
                    connection.execute(_TABLE.insert().values(
                        name=self.name, kind=self.kind,
                        started_at=self.started, seen_at=utcnow()))
        except sa.exc.SQLAlchemyError as e:
            # The database away, or a connection that cannot take a
            # transaction of its own (a test's): the next beat tries again.
            log.debug('heartbeat of %s failed: %s', self.name,
                      getattr(e, 'orig', e))


def alive(connection: sa.Connection, kind: str, stale: float = STALE
          ) -> tuple[list[str], float | None]:
    """The names of the daemons of `kind` seen within `stale` seconds, and
    how long ago the last of the others was seen (None if none ever ran or
    every one stopped cleanly)."""
    now = utcnow()
    ages = {row.name: (now - row.seen_at).total_seconds()
            for row in connection.execute(
                sa.select(_TABLE.c.name, _TABLE.c.seen_at)
                .where(_TABLE.c.kind == kind))}
    live = sorted(name for name, age in ages.items() if age <= stale)
    dead = [age for age in ages.values() if age > stale]
    return live, (min(dead) if dead else None)
