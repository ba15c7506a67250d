"""The WSGI entry point for production servers: `haas.wsgi:application`.

Importing it builds the application and refuses to serve a database whose
schema is not current, as `haas-admin serve` does.
"""

from haas import create_app, migrations, rest

application = create_app()
with application.app_context():
    migrations.require_current_schema()
# The request bodies' models, built here rather than by the first request.
rest.prepare(application)
