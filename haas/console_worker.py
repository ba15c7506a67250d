"""The console worker (`haas-admin serve-consoles`): one serial-over-LAN
session per node whose console is captured, its output kept in the
database (haas.consoles), where any API server reads it.

It depends on no API server: it reads which captures are on from the
database every `[consoles] poll` seconds, opens a session through the
node's OBM driver (Obm.open_console), reconnects with backoff when the
BMC drops it, closes it when the capture is turned off, and appends
what the node wrote at most every FLUSH seconds.  It runs in a process
of its own: pyghmi hands a second client of a BMC in the same process
the first one's session, so a power call's logout would end a console.
"""

from __future__ import annotations

import codecs
import logging
import signal
import threading
import time
import typing

import sqlalchemy as sa

from haas import consoles, heartbeat
from haas.errors import OBMError
from haas.model import Node, db

log = logging.getLogger(__name__)

#: Seconds between two flushes of a node's output to the database, and
#: the default of [consoles] poll: between two looks at which captures
#: are on.
FLUSH, POLL = 0.5, 1.0
#: Seconds of the first wait before a reconnect, and of the longest.
BACKOFF, MAX_BACKOFF = 1.0, 60.0
#: A session not activated within this many seconds is given up.
CONNECT_TIMEOUT = 30.0
#: A session that lasted this long starts its backoff over when lost.
STEADY = 10.0
#: Seconds a stopping worker gives its sessions to close: a BMC answers
#: in milliseconds, and one that is gone (or stopping with the worker,
#: as in `make run`) would hold the stop for pyghmi's 30 s of retries.
CLOSE_WAIT = 2.0


class Capture:
    """The capture of one node's console: its session, when there is one,
    and what it wrote that is not in the database yet."""

    def __init__(self, node_id: int, epoch: int):
        self.node_id, self.epoch = node_id, epoch
        self.label = str(node_id)
        self.session: typing.Any = None
        self.opened = 0.0
        self.announced = False
        self.next_try = 0.0
        self.backoff = BACKOFF
        self.reason: str | None = None
        # The first session ends one another client holds (a previous
        # worker's, left open when it was killed); after a loss the
        # worker waits its turn, so that an operator who took the
        # console over (ipmitool sol activate) keeps it until done.
        self.force = True
        self.pending: list[str] = []
        self.lock = threading.Lock()
        self.decoder = codecs.getincrementaldecoder('utf-8')('replace')

    def output(self, data: typing.Any) -> None:
        """pyghmi's handler: bytes the node wrote, or a dict (an error
        ends the session; info is only logged)."""
        if isinstance(data, dict):
            if 'error' in data:
                self.reason = str(data['error'])
            elif 'info' in data:
                log.info('console of %s: %s', self.label, data['info'])
            return
        if isinstance(data, str):
            data = data.encode()
        with self.lock:
            self.pending.append(self.decoder.decode(bytes(data)))

    def take(self) -> str:
        with self.lock:
            text, self.pending = ''.join(self.pending), []
        return text


class Worker:
    """Keeps a session per captured console until stopped."""

    def __init__(self, kept: int, poll: float = POLL):
        self.kept, self.poll = kept, poll
        self.captures: dict[int, Capture] = {}
        self.stopped = threading.Event()

    def sync(self) -> None:
        """Start and stop captures as the database says."""
        with db.engine.connect() as connection:
            wanted = consoles.captured(connection)
        for node_id in set(self.captures) - set(wanted):
            stopped = self.captures.pop(node_id)
            self._close(stopped)
            log.info('console of %s: capture stopped', stopped.label)
        for node_id, epoch in wanted.items():
            capture = self.captures.get(node_id)
            if capture is None:
                self.captures[node_id] = Capture(node_id, epoch)
            elif capture.epoch != epoch:
                # Stopped and started again between two looks: what was
                # read before is the cleared log's.
                capture.take()
                capture.epoch = epoch

    def connect(self, capture: Capture) -> None:
        node = db.session.get(Node, capture.node_id)
        try:
            if node is None:
                return
            capture.label = node.label
            capture.reason = None
            try:
                capture.session = node.obm.open_console(
                    capture.output, force=capture.force)
            except NotImplementedError:
                log.warning('console of %s: its OBM cannot capture a '
                            'console', capture.label)
                capture.next_try = float('inf')
                return
            except (OBMError, OSError) as e:
                capture.reason = str(e)
            capture.opened = time.monotonic()
            capture.announced = False
            if capture.session is None:
                self._lost(capture)
        finally:
            db.session.rollback()

    def check(self, capture: Capture, now: float) -> None:
        session = capture.session
        if session is None:
            if now >= capture.next_try:
                self.connect(capture)
            return
        if session.broken or capture.reason is not None:
            self._lost(capture)
        elif session.active and not capture.announced:
            capture.announced = True
            log.info('console of %s: connected', capture.label)
        elif not session.active and now - capture.opened > CONNECT_TIMEOUT:
            capture.reason = (f'not activated within '
                              f'{CONNECT_TIMEOUT:g} s')
            self._lost(capture)

    def _lost(self, capture: Capture) -> None:
        lasted = time.monotonic() - capture.opened
        if capture.announced and lasted >= STEADY:
            capture.backoff = BACKOFF
        self._close(capture)
        capture.force = False
        log.warning('console of %s: lost (%s); trying again in %g s',
                    capture.label, capture.reason or 'the session broke',
                    capture.backoff)
        capture.next_try = time.monotonic() + capture.backoff
        capture.backoff = min(capture.backoff * 2, MAX_BACKOFF)
        capture.reason = None

    @staticmethod
    def _close(capture: Capture) -> None:
        if capture.session is not None:
            capture.session.close()
            capture.session = None

    def _close_all(self) -> None:
        """Close every session, each in a thread of its own, for up to
        CLOSE_WAIT seconds in all; a session still closing then is left
        to the BMC's own timeout (the next worker's first session takes
        its console over)."""
        closing = [threading.Thread(target=self._close, args=(capture,),
                                    name=f'closing {capture.label}',
                                    daemon=True)
                   for capture in self.captures.values()]
        for thread in closing:
            thread.start()
        deadline = time.monotonic() + CLOSE_WAIT
        for thread in closing:
            thread.join(max(0.0, deadline - time.monotonic()))

    def flush(self) -> None:
        for capture in list(self.captures.values()):
            text = capture.take()
            if text:
                try:
                    consoles.append(db.engine, capture.node_id,
                                    capture.epoch, text, self.kept)
                except sa.exc.DBAPIError:
                    # Again at the next flush; while the database is away,
                    # no more than the log would keep.
                    with capture.lock:
                        capture.pending = [
                            (text + ''.join(capture.pending))[-self.kept:]]
                    raise

    def pump(self, timeout: float) -> None:
        kinds = {type(c.session) for c in self.captures.values()
                 if c.session is not None}
        start = time.monotonic()
        for kind in kinds:
            kind.pump(timeout / len(kinds))
        # pyghmi returns at once when no session is alive: no spinning.
        rest = timeout - (time.monotonic() - start)
        if rest > 0:
            self.stopped.wait(rest)

    def stop_signalled(self, signum: int, frame: typing.Any) -> None:
        """SIGTERM's and SIGINT's handler: `stopped` is set from a thread
        of its own.  The handler runs in the main thread between two of
        its steps, maybe while the loop's `stopped.wait` holds the lock
        of the event, which `set` takes: set from here, the worker would
        wait for itself for ever."""
        threading.Thread(target=self.stopped.set, daemon=True).start()

    def serve(self) -> None:
        """Capture until SIGTERM or SIGINT, then close every session and
        flush what was read."""
        previous = {s: signal.signal(s, self.stop_signalled)
                    for s in (signal.SIGTERM, signal.SIGINT)}
        beating = heartbeat.Beating(db.engine, heartbeat.CONSOLES).start()
        log.info('serving consoles')
        next_sync = next_flush = 0.0
        try:
            while not self.stopped.is_set():
                now = time.monotonic()
                try:
                    if now >= next_sync:
                        next_sync = now + self.poll
                        self.sync()
                    for capture in list(self.captures.values()):
                        self.check(capture, now)
                    if now >= next_flush:
                        next_flush = now + FLUSH
                        self.flush()
                except sa.exc.DBAPIError as e:
                    db.session.remove()
                    log.warning('the database failed (%s); trying again '
                                'in %g s', e.orig, self.poll)
                    self.stopped.wait(self.poll)
                    continue
                self.pump(0.1)
        finally:
            self._close_all()
            try:
                self.flush()
            except sa.exc.DBAPIError as e:
                log.warning('the last output was not kept: %s', e.orig)
            beating.stop()
            for s, handler in previous.items():
                signal.signal(s, handler)
            db.session.remove()
        log.info('serving consoles: stopped')
