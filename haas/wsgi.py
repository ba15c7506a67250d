"""The WSGI entry point for production servers: `haas.wsgi:application`.

    gunicorn -w 4 'haas.wsgi:application'

Importing it builds the application (each gunicorn worker imports it, so
each has its own app, engine and connections) and refuses to serve a
database whose schema is not current, as `haas-admin serve` does.

A database that cannot be reached at import (restarting, stopped) does not
stop the import: gunicorn stops for good when a worker it replaces fails
to boot, so a short outage would end the service.  The check then waits
for the requests: each is answered 503 until the schema has been seen
current, and a stale schema found then is a 503 too, with its remedy in
the log.  A stale schema found at import still refuses to boot.
"""

import logging

from haas import create_app, migrations, outages, rest
from haas.errors import DatabaseError, ServiceUnavailableError
from haas.model import db

log = logging.getLogger(__name__)


class _SchemaCheck:
    """The schema check, run before each request until it has passed."""

    def __init__(self):
        self.passed = False

    def __call__(self):
        if self.passed:
            return
        # A database still away raises its own error, which the API
        # answers 503 (rest.py).
        try:
            migrations.require_current_schema()
        except DatabaseError as e:
            log.error('the database schema is not current: %s', e)
            raise ServiceUnavailableError(
                'The database schema is not current; the server\'s log says '
                'what to run.', retry_after=rest.RETRY_AFTER) from None
        self.passed = True


application = create_app()
with application.app_context():
    try:
        migrations.require_current_schema()
    except DatabaseError as e:
        # One line and exit status 3, not a traceback: gunicorn's master
        # stops when a worker fails to boot so ("Worker failed to boot"),
        # and no worker could serve this schema.
        log.error('%s', e)
        raise SystemExit(3) from None
    except outages.driver_errors(db.engine.dialect) as e:
        if not outages.unavailable(e, db.engine.dialect):
            raise
        log.warning('the database is unavailable (%s); its schema will be '
                    'checked before the first request, which is answered '
                    '503 until then', outages.described(e))
        application.before_request(_SchemaCheck())
    # No connection of the check is kept for the requests: under
    # `gunicorn --preload` it would be shared by every forked worker.
    db.engine.dispose()
# The request bodies' models, built here rather than by the first request.
rest.prepare(application)
