"""The WSGI entry point for production servers: `haas.wsgi:application`.

    gunicorn -w 4 'haas.wsgi:application'

Importing it builds the application (each gunicorn worker imports it, so
each has its own app, engine and connections) and refuses to serve a
database whose schema is not current, as `haas-admin serve` does.
"""

from haas import create_app, migrations, rest
from haas.model import db

application = create_app()
with application.app_context():
    migrations.require_current_schema()
    # No connection of the check is kept for the requests: under
    # `gunicorn --preload` it would be shared by every forked worker.
    db.engine.dispose()
# The request bodies' models, built here rather than by the first request.
rest.prepare(application)
