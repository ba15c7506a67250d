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

import concurrent.futures
import functools
import logging
import os
import select
import signal
import subprocess
import threading
import time

import sqlalchemy as sa
import sqlalchemy.orm
from flask import current_app

from haas import heartbeat, metrics, outages
from haas.errors import SwitchError, SwitchUnavailableError, squashed
from haas.model import (
    DONE,
    ERROR,
    PENDING,
    REVERT_PORT,
    NetworkAttachment,
    NetworkingAction,
    Nic,
    Port,
    Switch,
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


def _named(action_id, request):
    """An action in the daemon's log: its id, and the id of the API
    request that queued it (haas.audit), when known."""
    return f'{action_id} (request {request})' if request else str(action_id)


def notify():
    """Wake the daemons once the current transaction commits (PostgreSQL;
    on SQLite they look every POLL seconds)."""
    if db.session.get_bind().dialect.name == 'postgresql':
        db.session.execute(sa.select(sa.func.pg_notify(CHANNEL, '')))


#: Seconds between two looks for switches with work while a worker is
#: free and the others are busy: a long batch on one switch does not keep
#: another switch's new action waiting.
RESCAN = 0.5


@functools.cache
def _ready_in_turn():
    """The pending actions that no older pending action of their nic or
    of their port holds up: built once (an alias costs milliseconds)."""
    def waits_behind(column):
        older = sa.orm.aliased(NetworkingAction)
        return sa.exists().where(
            older.status == PENDING, older.id < NetworkingAction.id,
            getattr(older, column) == getattr(NetworkingAction, column))
    # Two NOT EXISTS, not one with an OR: each is a hashed anti-join,
    # where the OR made PostgreSQL compare every pair of rows.
    return sa.and_(NetworkingAction.status == PENDING,
                   ~waits_behind('nic_id'), ~waits_behind('port_id'))


#: What applying an action reads, loaded with the action in the query
#: that claims it: lazy loads would cost a round trip each, an action.
#: (Not the port's switch: a batch loads it once, for its session.)
_CLAIMED = (
    sa.orm.joinedload(NetworkingAction.nic).joinedload(Nic.owner),
    sa.orm.joinedload(NetworkingAction.nic).joinedload(Nic.port),
    sa.orm.joinedload(NetworkingAction.port),
    sa.orm.joinedload(NetworkingAction.new_network),
)


@functools.cache
def _claim(dialect, of_a_port):
    """The statement that takes the oldest ready action of switch
    `:switch` (`of_a_port` False: of no port), not in `:deferred`,
    with what applying it reads.  Built once: building and keying a
    statement costs more of the daemon's processor than running it."""
    if of_a_port:
        on_switch = NetworkingAction.port_id.in_(
            sa.select(Port.id).where(Port.owner_id == sa.bindparam('switch')))
    else:
        on_switch = NetworkingAction.port_id.is_(None)
    claim = sa.select(NetworkingAction.id).where(
        _ready_in_turn(), on_switch, NetworkingAction.id.not_in(
            sa.bindparam('deferred', expanding=True))
    ).order_by(NetworkingAction.id).limit(1)
    if dialect == 'postgresql':
        claim = claim.with_for_update(skip_locked=True)
    # The claim is a subquery, the joins of what it reads outside it:
    # PostgreSQL locks and picks one row, then joins that row only.
    return sa.select(NetworkingAction).options(*_CLAIMED).where(
        NetworkingAction.id == claim.scalar_subquery())


_ACTIONS = NetworkingAction.__table__
_ATTACHMENTS = NetworkAttachment.__table__
#: An action's outcome and the attachments it makes or removes, as table
#: statements: the ORM's flush, or its bulk statements' bookkeeping,
#: would cost several times their processor time.
_DONE = _ACTIONS.update().where(
    _ACTIONS.c.id == sa.bindparam('action')).values(status=DONE, error=None)
_DETACH_ALL = _ATTACHMENTS.delete().where(
    _ATTACHMENTS.c.nic_id == sa.bindparam('nic'))
_DETACH = _DETACH_ALL.where(_ATTACHMENTS.c.channel == sa.bindparam('channel'))
# (Connecting what is attached already, as a repair queued by `haas-admin
# switch verify --fix` does, adds no second row.)
_ATTACH = _ATTACHMENTS.insert().from_select(
    ['nic_id', 'network_id', 'channel'],
    sa.select(sa.bindparam('nic', type_=_ATTACHMENTS.c.nic_id.type),
              sa.bindparam('network', type_=_ATTACHMENTS.c.network_id.type),
              sa.bindparam('channel', type_=_ATTACHMENTS.c.channel.type))
    .where(~sa.exists().where(
        _ATTACHMENTS.c.nic_id == sa.bindparam('nic'),
        _ATTACHMENTS.c.network_id == sa.bindparam('network'),
        _ATTACHMENTS.c.channel == sa.bindparam('channel'))))


class Daemon:
    """Applies the journal's actions, one transaction each, a batch per
    switch: a switch's actions go through one session (one login), and
    up to `workers` switches are worked on at once, each in a thread of
    its own with its own database session.  On SQLite, whose one write
    lock claims each action, and with one worker, the batches run one
    after the other in the caller's thread and database session."""

    def __init__(self, poll=POLL, workers=1, share=(0, 1)):
        self.poll = poll
        self.workers = workers
        # (index, count): this daemon applies the actions of the switches
        # whose id is index modulo count (actions of no port: share 0),
        # its siblings' the others' (serve_shares).
        self.share = share
        self.stopping = False
        self._retry = {}  # action id -> (monotonic time to retry, delay)
        self._retry_lock = threading.Lock()

    def _deferred(self):
        now = time.monotonic()
        with self._retry_lock:
            return [i for i, (at, _) in self._retry.items() if at > now]

    def _ready(self):
        """The pending actions that may be applied now: none waits behind
        an older pending action of its nic or of its port (a port's
        actions are applied in the order they were queued, even by
        several daemons; the API queues one per nic, rows written
        otherwise may hold more), and no backoff defers it."""
        ready = _ready_in_turn()
        deferred = self._deferred()
        if deferred:
            ready = sa.and_(ready, NetworkingAction.id.not_in(deferred))
        return ready

    def ready_switches(self, busy=()):
        """The switches (their ids; None for actions of no port) that have
        an action ready, but `busy`, the one of the oldest first."""
        oldest = sa.func.min(NetworkingAction.id)
        rows = db.session.execute(
            sa.select(Port.owner_id, oldest)
            .select_from(NetworkingAction)
            .outerjoin(Port, Port.id == NetworkingAction.port_id)
            .where(self._ready(), *self._shared())
            .group_by(Port.owner_id).order_by(oldest)).all()
        db.session.rollback()
        return [switch for switch, _ in rows if switch not in busy]

    def _shared(self):
        index, count = self.share
        if count == 1:
            return ()
        return (sa.func.coalesce(Port.owner_id, 0) % count == index,)

    def apply_one(self):
        """Apply the oldest pending action that can be applied now, in a
        batch of its own; False when there is none."""
        switches = self.ready_switches()
        return bool(switches) and self.batch(switches[0], limit=1) > 0

    def apply_all(self):
        """Apply actions until none is left that can be applied now; how
        many were taken (applied, refused or put off)."""
        if self.workers > 1 and db.engine.dialect.name != 'sqlite':
            return self._apply_in_threads()
        applied = 0
        while not self.stopping:
            switches = self.ready_switches()
            if not switches:
                break
            applied += self.batch(switches[0])
        return applied

    def _apply_in_threads(self):
        app = current_app._get_current_object()

        def batch(switch_id):
            # A thread's own application context: its own database
            # session (Flask-SQLAlchemy scopes them by context), removed
            # as the context ends.
            with app.app_context():
                return self.batch(switch_id)

        applied, failure = 0, None
        running = {}  # switch id -> its batch's future
        with concurrent.futures.ThreadPoolExecutor(
                self.workers, thread_name_prefix='haas-switch') as pool:
            while True:
                free = self.workers - len(running)
                if free and failure is None and not self.stopping:
                    for switch_id in self.ready_switches(running)[:free]:
                        running[switch_id] = pool.submit(batch, switch_id)
                if not running:
                    break
                done, _ = concurrent.futures.wait(
                    running.values(), RESCAN if free else None,
                    concurrent.futures.FIRST_COMPLETED)
                for switch_id, future in list(running.items()):
                    if future in done:
                        del running[switch_id]
                        try:
                            applied += future.result()
                        except Exception as e:
                            # The database went away (see _failed): the
                            # other batches end too, and serve() waits.
                            failure = failure or e
        if failure is not None:
            raise failure
        return applied

    def batch(self, switch_id, limit=None):
        """Apply switch `switch_id`'s actions (None: actions of no port),
        the oldest first, through one session of the switch, until it
        has none ready (or `limit` were taken), an attempt fails other
        than by the switch's refusal, or the daemon is stopping.  The
        session is closed then.  Each action is taken, applied and
        recorded in a transaction of its own."""
        sessions = {}  # switch id -> its open session
        taken = 0
        try:
            while not self.stopping and (limit is None or taken < limit):
                outcome = self._take(switch_id, sessions)
                if outcome is None:
                    break
                taken += 1
                if outcome is not DONE:
                    break
        finally:
            for session in sessions.values():
                self._close(session)
        return taken

    def _take(self, switch_id, sessions):
        """Apply the oldest ready action of the switch; None when there
        is none, else DONE, ERROR (the switch refused it: the session
        goes on) or PENDING (put off: the sessions are closed)."""
        # SQLite has no row locks: two daemons take turns at its write lock.
        connection = begin_writing()
        action = db.session.execute(
            _claim(connection.dialect.name, switch_id is not None),
            {'switch': switch_id, 'deferred': self._deferred()}).scalar()
        if action is None:
            db.session.rollback()
            return None
        # (Read now: the commit expires the action's attributes, and each
        # read after it would cost a query.)
        action_id, request = action.id, action.request_id
        try:
            self._apply(action, sessions)
        except SwitchError as e:
            db.session.rollback()
            self._refused(action_id, e, request)
            return ERROR
        except SwitchUnavailableError as e:
            db.session.rollback()
            self._drop(sessions)
            self._unavailable(action_id, e, request)
            return PENDING
        except Exception as e:
            db.session.rollback()
            self._drop(sessions)
            self._failed(action_id, e, request)
            return PENDING
        with self._retry_lock:
            self._retry.pop(action_id, None)
        metrics.action_tried('done')
        return DONE

    def _session(self, switch_id, sessions):
        """The batch's session of switch `switch_id`, logged in once."""
        session = sessions.get(switch_id)
        if session is None:
            switch = db.session.get(Switch, switch_id)
            session = sessions[switch_id] = switch.session()
        return session

    def _drop(self, sessions):
        """Close the batch's sessions after a failure: a switch that was
        unreachable, or a driver that failed, starts afresh."""
        for session in sessions.values():
            self._close(session)
        sessions.clear()

    @staticmethod
    def _close(session):
        try:
            session.disconnect()
        except Exception as e:
            # The actions are applied and recorded; a switch that fails to
            # log out does not undo them.
            log.warning('closing a switch session failed: %s', e)

    def _apply(self, action, sessions):
        nic = action.nic
        # A nic's action goes to the port it is cabled to now (the one it
        # was queued for, unless the nic was cabled elsewhere since).
        port = action.port if nic is None else nic.port
        revert = action.type == REVERT_PORT
        if nic is None:
            what = (f'action {action.id} (revert port {port.label} of '
                    f'switch {port.owner.label})')
        elif revert:
            what = (f'action {action.id} (revert the port of nic '
                    f'{nic.label} of node {nic.owner.label})')
        else:
            what = (f'action {action.id} '
                    f'({"connect" if action.new_network else "detach"} nic '
                    f'{nic.label} of node {nic.owner.label}, channel '
                    f'{action.channel})')
        if action.request_id:
            what += f' (request {action.request_id})'
        if port is None:
            log.warning('%s: the nic is cabled to no port; recorded without '
                        'touching a switch', what)
        else:
            session = self._session(port.owner_id, sessions)
            if revert:
                session.revert_port(port.label)
            else:
                session.apply_networking(action)
        if nic is not None:
            if revert:
                db.session.execute(_DETACH_ALL, {'nic': nic.id})
            elif action.new_network_id is None:
                db.session.execute(_DETACH, {'nic': nic.id,
                                             'channel': action.channel})
            else:
                db.session.execute(_ATTACH, {
                    'nic': nic.id, 'network': action.new_network_id,
                    'channel': action.channel})
        db.session.execute(_DONE, {'action': action.id})
        db.session.commit()
        log.info('applied %s', what)

    def _refused(self, action_id, error, request=None):
        """Mark the action ERROR, with why: its switch refused it."""
        with self._retry_lock:
            self._retry.pop(action_id, None)
        self._record(action_id, error, status=ERROR)
        metrics.action_tried('error')
        log.error('action %s failed (switch error: %s); marked ERROR',
                  _named(action_id, request), error)

    def _unavailable(self, action_id, error, request=None):
        """Keep the action pending, with why its attempt failed, and try
        it again later: its switch cannot take it now."""
        delay = self._later(action_id)
        self._record(action_id, error)
        metrics.action_tried('retry')
        log.error('action %s failed (switch unavailable: %s); trying again '
                  'in %g s', _named(action_id, request), error, delay)

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
        with self._retry_lock:
            _, delay = self._retry.get(action_id, (None, FIRST_RETRY / 2))
            delay = min(delay * 2, LONGEST_RETRY)
            self._retry[action_id] = (time.monotonic() + delay, delay)
        return delay

    def _failed(self, action_id, error, request=None):
        if outages.unavailable(error, db.engine.dialect):
            # The database went away under the action, which is not at
            # fault: the daemon waits for the database, then applies it.
            raise error
        delay = self._later(action_id)
        log.error('action %s failed (unexpected error: %s); trying again in '
                  '%g s', _named(action_id, request), error, delay,
                  exc_info=True)

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
        beating = heartbeat.Beating(db.engine, heartbeat.NETWORKS).start()
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
                        # Every pooled connection goes, not only the one
                        # that failed: an idle one (a worker's) that came
                        # through the outage unbroken may lead to a peer
                        # that takes its packets but never answers (a
                        # frozen host or proxy), where a query waits for
                        # ever.  (Batches have ended: none is checked out.)
                        db.engine.dispose()
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
            beating.stop()
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


def serve_shares(command, count):
    """Run `count` daemons, `command(index)` the command line of the one
    of share `index` (Daemon's `share`), until SIGTERM or SIGINT, which
    each is sent in turn; one that stops otherwise (killed, its bug) is
    started again after POLL seconds.  Its exit status: the worst of
    theirs."""
    running = {}  # share index -> its process
    stopping = []

    def stop(signum, frame):
        stopping.append(signum)
        for process in list(running.values()):
            process.send_signal(signum)
    previous = {s: signal.signal(s, stop)
                for s in (signal.SIGTERM, signal.SIGINT)}
    worst = 0
    try:
        for index in range(count):
            running[index] = subprocess.Popen(command(index))
        while running:
            pid, status = os.wait()
            index = next((i for i, p in running.items() if p.pid == pid),
                         None)
            if index is None:
                continue
            process = running.pop(index)
            process.returncode = os.waitstatus_to_exitcode(status)
            worst = max(worst, abs(process.returncode))
            if not stopping:
                log.error('the networking daemon of share %d of %d stopped '
                          '(exit status %d); starting it again in %g s',
                          index, count, process.returncode, POLL)
                time.sleep(POLL)
                if not stopping:
                    running[index] = subprocess.Popen(command(index))
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return worst
