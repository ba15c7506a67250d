"""The networking journal: queued actions, applied to the switches by any
number of daemons (`haas-admin serve-networks`) sharing one database.

Each pending action is taken in a transaction that locks its row
(PostgreSQL's SKIP LOCKED: another daemon takes the next one), applied
through its switch's session, then recorded (attachment made or removed,
action marked DONE) in the same transaction.  The API queues at most one
pending action per nic, so no two daemons ever hold two actions of one
port.  A daemon killed mid-action leaves the action pending; the next one
applies it again, which a switch driver must take as a no-op.  A switch
that refuses an action, or cannot ever apply it (SwitchError), marks it
ERROR, with the reason, which frees the nic for the next request; a
switch that cannot take it now (SwitchUnavailableError) and any other
failure (a bug) keep it pending, tried again with backoff, while the
other switches' actions go on (haas.drivers says which a driver raises
when).  While the database is away (restarting, stopped, unreachable)
the actions wait for it, and so does the daemon, which tries it again
with backoff.
"""

import logging
import os
import select
import signal
import time

import sqlalchemy as sa
import sqlalchemy.orm

from haas import outages
from haas.errors import SwitchError, SwitchUnavailableError, squashed
from haas.model import (
    DONE,
    ERROR,
    PENDING,
    REVERT_PORT,
    NetworkAttachment,
    NetworkingAction,
    begin_writing,
    db,
)

log = logging.getLogger(__name__)

#: The PostgreSQL channel on which queuing an action wakes the daemons.
CHANNEL = 'haas_networking'
#: Seconds between two looks at the journal when nothing wakes the daemon.
POLL = 2.0
#: The first and the longest wait before an action whose switch failed is
#: tried again.
FIRST_RETRY, LONGEST_RETRY = 1.0, 60.0
#: The first and the longest wait before a daemon whose database is away
#: (restarting, stopped, unreachable) tries it again.
FIRST_RECONNECT, LONGEST_RECONNECT = 0.5, 30.0
#: The longest reason recorded on an action, in characters: a driver's
#: message may carry a whole device answer.
LONGEST_REASON = 2000


def notify():
    """Wake the daemons once the current transaction commits (PostgreSQL;
    on SQLite they look every POLL seconds)."""
    if db.session.get_bind().dialect.name == 'postgresql':
        db.session.execute(sa.select(sa.func.pg_notify(CHANNEL, '')))


class Daemon:
    """Applies the journal's actions, one transaction each."""

    def __init__(self, poll=POLL):
        self.poll = poll
        self.stopping = False
        self._retry = {}  # action id -> (monotonic time to retry, delay)

    def _deferred(self):
        now = time.monotonic()
        return [i for i, (at, _) in self._retry.items() if at > now]

    def apply_one(self):
        """Apply the oldest pending action no other daemon holds and no
        backoff defers; False when there is none."""
        # SQLite has no row locks: two daemons take turns at its write lock.
        connection = begin_writing()
        # Never an action while an older one of its nic waits: a port's
        # actions are applied in the order they were queued, even by
        # several daemons (the API queues one per nic; rows written
        # otherwise might hold more).
        older = sa.orm.aliased(NetworkingAction)
        query = sa.select(NetworkingAction).where(
            NetworkingAction.status == PENDING,
            ~sa.exists().where(older.nic_id == NetworkingAction.nic_id,
                               older.status == PENDING,
                               older.id < NetworkingAction.id)
        ).order_by(NetworkingAction.id)
        deferred = self._deferred()
        if deferred:
            query = query.where(NetworkingAction.id.not_in(deferred))
        if connection.dialect.name == 'postgresql':
            query = query.with_for_update(skip_locked=True,
                                          of=NetworkingAction)
        action = db.session.execute(query.limit(1)).scalar()
        if action is None:
            db.session.rollback()
            return False
        try:
            self._apply(action)
        except SwitchError as e:
            db.session.rollback()
            self._refused(action.id, e)
            return True
        except SwitchUnavailableError as e:
            db.session.rollback()
            self._unavailable(action.id, e)
            return True
        except Exception as e:
            db.session.rollback()
            self._failed(action.id, e)
            return True
        self._retry.pop(action.id, None)
        return True

    def _apply(self, action):
        nic = action.nic
        revert = action.type == REVERT_PORT
        what = (f'action {action.id} (revert the port of nic {nic.label} of '
                f'node {nic.owner.label})' if revert else
                f'action {action.id} '
                f'({"connect" if action.new_network else "detach"} nic '
                f'{nic.label} of node {nic.owner.label}, channel '
                f'{action.channel})')
        if nic.port is None:
            log.warning('%s: the nic is cabled to no port; recorded without '
                        'touching a switch', what)
        else:
            session = nic.port.owner.session()
            try:
                if revert:
                    session.revert_port(nic.port.label)
                else:
                    session.apply_networking(action)
            finally:
                session.disconnect()
        gone = sa.delete(NetworkAttachment).where(
            NetworkAttachment.nic_id == nic.id)
        if revert:
            db.session.execute(gone)
        elif action.new_network is None:
            db.session.execute(gone.where(
                NetworkAttachment.channel == action.channel))
        elif not any(a.network is action.new_network
                     and a.channel == action.channel
                     for a in nic.attachments):
            # (Connecting what is attached already, as a repair queued by
            # `haas-admin switch verify --fix` does, adds no second row.)
            db.session.add(NetworkAttachment(
                nic=nic, network=action.new_network, channel=action.channel))
        action.status = DONE
        action.error = None  # a failed attempt before this one
        db.session.commit()
        log.info('applied %s', what)

    def _refused(self, action_id, error):
        """Mark the action ERROR, with why: its switch refused it."""
        self._retry.pop(action_id, None)
        self._record(action_id, error, status=ERROR)
        log.error('action %s failed (switch error: %s); marked ERROR',
                  action_id, error)

    def _unavailable(self, action_id, error):
        """Keep the action pending, with why its attempt failed, and try
        it again later: its switch cannot take it now."""
        delay = self._later(action_id)
        self._record(action_id, error)
        log.error('action %s failed (switch unavailable: %s); trying again '
                  'in %g s', action_id, error, delay)

    def _record(self, action_id, error, **values):
        """Write `error` as the action's reason, with `values`, while it
        is still pending (another daemon may have finished it since)."""
        reason = squashed(error)[:LONGEST_REASON] or type(error).__name__
        begin_writing()
        db.session.execute(sa.update(NetworkingAction).where(
            NetworkingAction.id == action_id,
            NetworkingAction.status == PENDING).values(error=reason,
                                                       **values))
        db.session.commit()

    def _later(self, action_id):
        """Put the action off, each time twice as long; the delay."""
        _, delay = self._retry.get(action_id, (None, FIRST_RETRY / 2))
        delay = min(delay * 2, LONGEST_RETRY)
        self._retry[action_id] = (time.monotonic() + delay, delay)
        return delay

    def _failed(self, action_id, error):
        if outages.unavailable(error, db.engine.dialect):
            # The database went away under the action, which is not at
            # fault: the daemon waits for the database, then applies it.
            raise error
        delay = self._later(action_id)
        log.error('action %s failed (unexpected error: %s); trying again in '
                  '%g s', action_id, error, delay, exc_info=True)

    def apply_all(self):
        """Apply actions until none is left that can be applied now."""
        applied = 0
        while not self.stopping and self.apply_one():
            applied += 1
        return applied

    # --- the daemon's loop ---------------------------------------------------

    def serve(self):
        """Apply actions until SIGTERM or SIGINT; the action in hand is
        finished first.  Idle, it waits for a notification (PostgreSQL) or
        the next poll, never spinning.  While the database is away it
        tries it again with backoff, and applies what was queued meanwhile
        once it is back."""
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_write, False)

        def stop(signum, frame):
            self.stopping = True
            try:
                os.write(wake_write, b'x')
            except BlockingIOError:
                pass
        previous = {s: signal.signal(s, stop)
                    for s in (signal.SIGTERM, signal.SIGINT)}
        dialect = db.engine.dialect
        failures = outages.driver_errors(dialect)
        listener, notified = None, False
        away = None  # while the database is away: (since, next wait)
        log.info('serving networks: waiting for actions')
        try:
            while not self.stopping:
                try:
                    if listener is None:
                        listener = self._listen()
                    elif notified:
                        listener.poll()
                        listener.notifies.clear()
                    self.apply_all()
                except failures as e:
                    listener = self._unlisten(listener)
                    db.session.remove()
                    if outages.unavailable(e, dialect):
                        away = self._lost(e, away)
                        wait = away[1]
                    else:
                        log.error('the database failed (%s); trying again '
                                  'in %g s', outages.described(e), self.poll)
                        wait = self.poll
                    select.select([wake_read], [], [], wait)
                    continue
                if away is not None:
                    log.warning('the database is back after %.0f s; '
                                'applying what was queued meanwhile',
                                time.monotonic() - away[0])
                    away = None
                if self.stopping:
                    break
                waits = [wake_read] + ([listener] if listener else [])
                timeout = self.poll
                if self._retry:
                    timeout = max(0.0, min(
                        [timeout] + [at - time.monotonic()
                                     for at, _ in self._retry.values()]))
                ready, _, _ = select.select(waits, [], [], timeout)
                notified = listener is not None and listener in ready
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            self._unlisten(listener)
            os.close(wake_read)
            os.close(wake_write)
            db.session.remove()
        log.info('serving networks: stopped')

    def _lost(self, error, away):
        """The next (since, wait) of an outage, which is said once, when
        it starts: a restart or an outage of hours is two lines in the
        log, not one per attempt."""
        if away is None:
            log.warning('lost the database (%s); trying it again, at '
                        'longest every %g s, until it is back',
                        outages.described(error), LONGEST_RECONNECT)
            return time.monotonic(), FIRST_RECONNECT
        since, wait = away
        return since, min(wait * 2, LONGEST_RECONNECT)

    def _unlisten(self, listener):
        """Close the listening connection, never back into the pool: a
        connection in LISTEN mode, or a broken one."""
        if listener is not None:
            self._raw.invalidate()
        return None

    def _listen(self):
        """A raw connection LISTENing on CHANNEL, or None on SQLite."""
        engine = db.engine
        if engine.dialect.name != 'postgresql':
            return None
        raw = engine.raw_connection()
        connection = raw.driver_connection
        try:
            connection.set_session(autocommit=True)
            with connection.cursor() as cursor:
                cursor.execute(f'LISTEN {CHANNEL}')
        except BaseException:
            raw.invalidate()
            raise
        self._raw = raw
        return connection
