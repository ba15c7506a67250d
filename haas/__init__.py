"""HaaS: Hardware as a Service.

Importing this package does nothing but define `create_app`, so that the
command line starts fast; the application is wired in `haas.app`.
"""

from haas.version import __version__  # noqa: F401


def create_app(config=None):
    """Build the HaaS application; see `haas.app.create_app`."""
    from haas.app import create_app
    return create_app(config)
