"""Prometheus metrics: `GET /metrics`, in Prometheus' text format.

prometheus-client is the Prometheus project's own client library, and
its multiprocess mode is what adds up the counts of gunicorn's workers:
with `[metrics] multiprocess_dir` (or PROMETHEUS_MULTIPROC_DIR, which
wins) every process writes its samples to files in that folder, and
whichever worker answers a scrape reads them all.  Without it, each
process counts on its own (one `haas-admin serve`).

What is measured:
- `haas_requests_total{call, status}`: API calls answered, refused ones
  too (`call` is empty when no call has the path);
- `haas_request_duration_seconds{call}`: how long they took;
- `haas_networking_actions_queued_total{type}`: actions queued by calls;
- `haas_networking_actions{status}` and
  `haas_networking_action_oldest_pending_seconds`: the actions in the
  database and the age of the oldest pending one, read at each scrape,
  so that a daemon that falls behind (or stops) shows whichever server
  is scraped;
- `haas_database_connections_in_use`: connections taken from the pools.

Who may read it: `[metrics] access = admin` (the default: the caller must
authenticate as an administrator) or `open` (anyone who can reach the
server: for a scraper on a private address).
"""

from __future__ import annotations

import os
import threading
import time
import typing

import sqlalchemy as sa

from haas.errors import AuthorizationError, ConfigError

if typing.TYPE_CHECKING:
    from flask import Flask

    from haas.config import Config

SECTION = 'metrics'
ACCESS = ('admin', 'open')
#: Prometheus' text format, as prometheus_client writes it.
CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'


def configure(config: Config) -> None:
    """Read [metrics] before prometheus_client is imported: the folder of
    multiprocess mode must be in the environment by then."""
    folder = (config.get(SECTION, 'multiprocess_dir') or '').strip()
    if folder and 'PROMETHEUS_MULTIPROC_DIR' not in os.environ:
        path = os.path.join(config.cwd, os.path.expanduser(folder))
        if not os.path.isdir(path) or not os.access(path, os.W_OK):
            raise ConfigError(f'[metrics] multiprocess_dir {path} is not a '
                              f'folder this process may write')
        os.environ['PROMETHEUS_MULTIPROC_DIR'] = path


def multiprocess() -> bool:
    return bool(os.environ.get('PROMETHEUS_MULTIPROC_DIR'))


class _Metrics:
    """The process's metric objects, made once, when first needed."""

    def __init__(self) -> None:
        import prometheus_client as p
        self.requests = p.Counter(
            'haas_requests', 'API calls answered, by call and status.',
            ['call', 'status'])
        self.duration = p.Histogram(
            'haas_request_duration_seconds', 'How long API calls took.',
            ['call'], buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5,
                               5, 10))
        self.queued = p.Counter(
            'haas_networking_actions_queued',
            'Networking actions queued by API calls, by type.', ['type'])
        self.applied = p.Counter(
            'haas_networking_actions_applied',
            'Networking actions the daemons tried, by result: done, '
            'error (the switch refused) or retry (put off).', ['result'])
        self.connections = p.Gauge(
            'haas_database_connections_in_use',
            'Database connections taken from the pools of the live '
            'processes.', multiprocess_mode='livesum')


_made: list[_Metrics] = []
_making = threading.Lock()


def _metrics() -> _Metrics:
    """The process's metrics, made by the first thread that asks (a
    daemon's workers ask at once: a metric registered twice is an
    error)."""
    if not _made:
        with _making:
            if not _made:
                _made.append(_Metrics())
    return _made[0]


def observe(call: str | None, status: int, seconds: float) -> None:
    """Count one answered request."""
    from haas.model import db
    m = _metrics()
    m.requests.labels(call or '', str(status)).inc()
    m.duration.labels(call or '').observe(seconds)
    try:
        m.connections.set(db.engine.pool.checkedout())  # type: ignore
    except Exception:  # a pool that cannot tell (NullPool, StaticPool)
        pass


def action_queued(kind: str) -> None:
    _metrics().queued.labels(kind).inc()


def action_tried(result: str) -> None:
    """Count an action a daemon tried: done, error or retry."""
    _metrics().applied.labels(result).inc()


def serve(address: str) -> tuple[str, int]:
    """Serve this process's metrics (or, in multiprocess mode, those of
    every process sharing the folder: a daemon's shares) over HTTP at
    `address` (HOST:PORT, port 0 for any), from a thread; where it
    listens."""
    import prometheus_client as p
    from prometheus_client import multiprocess as mp
    host, _, port = address.rpartition(':')
    _metrics()
    registry = p.REGISTRY
    if multiprocess():
        registry = p.CollectorRegistry()
        mp.MultiProcessCollector(registry)
    try:
        server, _ = p.start_http_server(int(port), host or '0.0.0.0',
                                        registry)
    except (OSError, ValueError) as e:
        raise ConfigError(f'cannot serve metrics at {address}: '
                          f'{getattr(e, "strerror", None) or e}') from None
    found = server.server_address
    return str(found[0]), int(found[1])


class _Actions:
    """The networking actions in the database, read at scrape time."""

    def collect(self) -> typing.Iterator[typing.Any]:
        from prometheus_client.core import GaugeMetricFamily

        from haas import heartbeat
        from haas.model import (
            DONE,
            ERROR,
            PENDING,
            NetworkingAction,
            db,
            utcnow,
        )
        by_status = GaugeMetricFamily(
            'haas_networking_actions',
            'Networking actions in the database, by status.',
            labels=['status'])
        oldest = GaugeMetricFamily(
            'haas_networking_action_oldest_pending_seconds',
            'Seconds since the oldest pending networking action was '
            'queued (0 when none is pending).')
        table = NetworkingAction.__table__
        # A database that is away is the scrape's 503, as any call's.
        counts: dict[str, int] = dict(db.session.execute(
            sa.select(table.c.status, sa.func.count())
            .group_by(table.c.status)).all())
        first = db.session.execute(
            sa.select(sa.func.min(table.c.queued_at))
            .where(table.c.status == PENDING)).scalar()
        db.session.rollback()
        for status in (PENDING, DONE, ERROR):
            by_status.add_metric([status], counts.get(status, 0))
        yield by_status
        age = 0.0 if first is None else \
            max(0.0, (utcnow() - first).total_seconds())
        oldest.add_metric([], age)
        yield oldest
        alive = GaugeMetricFamily(
            'haas_daemons_alive', 'Daemons whose heartbeat is recent, by '
            'kind (networks, consoles).', labels=['kind'])
        connection = db.session.connection()
        for kind in ('networks', 'consoles'):
            alive.add_metric([kind], len(heartbeat.alive(connection,
                                                         kind)[0]))
        db.session.rollback()
        yield alive


def exposition() -> bytes:
    """This process's (or every process's) metrics and the database's."""
    import prometheus_client as p
    from prometheus_client import multiprocess as mp
    _metrics()
    if multiprocess():
        registry = p.CollectorRegistry()
        mp.MultiProcessCollector(registry)
        counted = p.generate_latest(registry)
    else:
        counted = p.generate_latest(p.REGISTRY)
    database = p.CollectorRegistry()
    database.register(_Actions())
    return counted + p.generate_latest(database)


def init_app(app: Flask, config: Config) -> None:
    access = config.choice(SECTION, 'access', ACCESS, 'admin')

    def metrics() -> typing.Any:
        from flask import Response

        from haas import auth
        if access == 'admin':
            auth.authenticate()
            if not auth.have_admin():
                raise AuthorizationError('This operation is '
                                         'administrator-only.')
        return Response(exposition(), 200, content_type=CONTENT_TYPE)

    def count(response: typing.Any) -> typing.Any:
        from flask import g, request

        from haas import rest
        started = g.get('request_started')  # set by haas.audit, first
        if started is not None:
            observe(rest.call_name(request.url_rule), response.status_code,
                    time.perf_counter() - started)
        return response

    app.add_url_rule('/metrics', 'metrics', metrics, methods=['GET'])
    app.after_request(count)
