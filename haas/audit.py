"""Who called what, when: the request id and the audit log.

Every request has an id: the caller's `X-Request-Id` when it sends a
usable one (up to 128 letters, digits and `._:-`), a new one otherwise.
It is returned in the answer's `X-Request-Id` and added to every log line
written while the request runs, so that one request's lines can be found
among many workers'.

With `[logging] audit` (a file, or `-` for standard error) each request,
refused or not, writes one JSON line there: its time, request id, user
(null when none authenticated), client address, method, path, call name
(null when no call has that path), status and duration.  Never a request
body, a query string or a header: nothing that may hold a password.  The
file is opened for each line in append mode, so that several processes
share it line by line and a rotation that renames it (logrotate's default)
needs no signal: the next line starts the new file.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import re
import sys
import time
import typing
import uuid

from flask import Flask, g, has_request_context, request
from flask.wrappers import Response

from haas.errors import ConfigError

if typing.TYPE_CHECKING:
    from haas.config import Config

log = logging.getLogger(__name__)

#: The header that carries a request's id both ways.
HEADER = 'X-Request-Id'
#: A caller's request id that is used as it is; any other is replaced.
USABLE_ID = re.compile(r'[A-Za-z0-9._:-]{1,128}')


def audit_path(config: Config) -> str | None:
    """`[logging] audit`, relative to where the command started; `-` for
    standard error; None when unset."""
    value = (config.get('logging', 'audit') or '').strip()
    if not value:
        return None
    if value == '-':
        return value
    path = os.path.join(config.cwd, os.path.expanduser(value))
    try:
        open(path, 'a').close()
    except OSError as e:
        raise ConfigError(f'cannot write [logging] audit {path}: '
                          f'{e.strerror or e}') from None
    return path


def request_id() -> str | None:
    """The current request's id; None outside a request."""
    if not has_request_context():
        return None
    return g.get('request_id')


class _RequestIdFilter(logging.Filter):
    """Adds `(request ID)` to each line written during a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        found = request_id()
        record.request = f' (request {found})' if found else ''
        return True


#: Standard logging's format, with the request's id at the end.
FORMAT = '%(levelname)s:%(name)s:%(message)s%(request)s'
#: Libraries' loggers that say at INFO what only their developers need,
#: heard at DEBUG only: Alembic names each plugin it sets up, seven lines
#: at the start of every process.
CHATTY = ('alembic.runtime.plugins',)


def init_logging(level: int | str) -> None:
    """Log at `level`, each line of a request with its id."""
    root = logging.getLogger()
    # As logging.basicConfig: nothing changes where logging is set up
    # already (a test's capture, gunicorn's own), but for the ids.
    logging.basicConfig(level=level, format=FORMAT)
    number = level if isinstance(level, int) else \
        logging.getLevelName(level.upper())
    for name in CHATTY:
        logging.getLogger(name).setLevel(
            logging.NOTSET if number <= logging.DEBUG else logging.WARNING)
    for handler in root.handlers:
        if not any(isinstance(f, _RequestIdFilter) for f in handler.filters):
            handler.addFilter(_RequestIdFilter())


def init_app(app: Flask, config: Config) -> None:
    path = audit_path(config)

    def begin() -> None:
        g.request_started = time.perf_counter()
        sent = request.headers.get(HEADER, '')
        g.request_id = sent if USABLE_ID.fullmatch(sent) else \
            uuid.uuid4().hex

    def end(response: Response) -> Response:
        response.headers[HEADER] = g.get('request_id') or ''
        if path is not None:
            _write(path, _record(response))
        return response

    # First of all: a request that another hook refuses has an id too.
    app.before_request_funcs.setdefault(None, []).insert(0, begin)
    app.after_request(end)


def _record(response: Response) -> dict[str, typing.Any]:
    from haas import auth, rest
    started = g.get('request_started')
    call = rest.call_name(request.url_rule)
    try:
        user = auth.caller()
    except Exception:  # an answer is never refused for its audit line
        user = None
    return {
        'time': datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec='milliseconds'),
        'request_id': g.get('request_id'),
        'user': user,
        'address': request.remote_addr,
        'method': request.method,
        'path': request.path,
        'call': call,
        'status': response.status_code,
        'duration_ms': None if started is None else round(
            (time.perf_counter() - started) * 1000, 3),
    }


def _write(path: str, record: dict[str, typing.Any]) -> None:
    line = json.dumps(record, ensure_ascii=True) + '\n'
    try:
        if path == '-':
            sys.stderr.write(line)
            sys.stderr.flush()
        else:
            with open(path, 'a') as f:
                f.write(line)
    except OSError as e:
        log.error('cannot write the audit line of request %s to %s: %s',
                  record['request_id'], path, e.strerror or e)
