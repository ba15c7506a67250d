"""HaaS: Hardware as a Service.

Importing this package does nothing but define `create_app`, so that the
command line starts fast; the application is wired in `haas.app`.
"""

from haas.version import __version__  # noqa: F401


def create_app(config=None):
    """Build the HaaS application; see `haas.app.create_app`.

    `flask --app haas` finds this factory, which gives the application
    `haas-admin db` as its `flask db` group, in place of Flask-Migrate's.
    The group is added here, above haas.app, because the commands build
    their application with haas.app.
    """
    from haas.app import create_app
    from haas.commands.db import db
    app = create_app(config)
    app.cli.add_command(db)
    return app
