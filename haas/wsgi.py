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
import os
import tempfile

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


def _boot_failure_status():
    """3, gunicorn's "worker failed to boot", for the first worker of its
    master to refuse the schema; 1 for the others.

    The master stops on a 3 and, while it stops, reaps the other workers:
    a second 3 among them raises gunicorn's HaltServer inside its own
    shutdown, which prints a traceback.  Every worker refuses alike, so
    the first one's status is enough.  The master is told apart by its
    pid and start time (a reused pid is another master); a process whose
    parent is no gunicorn is no worker, and always says 3."""
    master = os.getppid()
    try:
        with open(f'/proc/{master}/cmdline', 'rb') as f:
            parent = f.read()
        with open(f'/proc/{master}/stat') as f:
            started = f.read().rsplit(')', 1)[1].split()[19]
    except (OSError, IndexError):
        return 3
    # `gunicorn ...`, `python .../gunicorn ...`, or its process title.
    if not any(os.path.basename(arg).startswith(b'gunicorn')
               for arg in parent.split(b'\0')[:2]):
        # Not a worker: the import of `gunicorn --preload` (in the master
        # itself), or of another program.  It alone refuses.
        return 3
    marker = os.path.join(tempfile.gettempdir(),
                          f'haas-wsgi-refused-{master}-{started}')
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY,
                         0o600))
    except FileExistsError:
        return 1
    except OSError:
        return 3
    return 3


application = create_app()
with application.app_context():
    try:
        migrations.require_current_schema()
    except DatabaseError as e:
        # One line and exit status 3, not a traceback: gunicorn's master
        # stops when a worker fails to boot so ("Worker failed to boot"),
        # and no worker could serve this schema.
        log.error('%s', e)
        raise SystemExit(_boot_failure_status()) from None
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
