"""The composition root: the one module that wires a HaaS application.

Configuration, database, migrations, extensions and the REST API meet
here; nothing in core imports this module, only its callers (`haas`,
`haas.commands`, `haas.testing`), which sit above it.
"""

import dataclasses
import math

import sqlalchemy as sa
from flask import Flask

from haas import config as haas_config
from haas import crypto, extensions
from haas.errors import ConfigError
from haas.migrations import servers
from haas.model import db, sqlite_like_postgresql


@dataclasses.dataclass
class Haas:
    """What an application knows about its configuration and extensions."""

    config: haas_config.Config
    auth_backend: object
    allocator: object
    #: The keys of [secrets] key_file, read when a password is first
    #: encrypted or decrypted (haas.crypto).
    keyring: crypto.Keyring


def create_app(config=None):
    """Build the HaaS application.

    `config` is a `haas.config.Config`, the text of a haas.cfg, or None to
    load the configuration as `haas.config.load` finds it.
    """
    if config is None:
        config = haas_config.load()
    elif isinstance(config, str):
        config = haas_config.Config.from_string(config)
    from haas import audit, metrics
    audit.init_logging(config.log_level)
    metrics.configure(config)
    # Read now, so that a bad value is a start-up error, not a 500 later.
    config.getboolean('auth', 'require_authentication', True)
    _require_libvirt_endpoint(config)
    from haas import maintenance
    maintenance.pool(config)  # its project is checked at the first detach
    modules = extensions.load_all(config.extensions)

    from haas import auth, migrations, network_allocator, rest

    app = Flask('haas')
    app.config['SQLALCHEMY_DATABASE_URI'] = config.database_uri
    app.config['SQLALCHEMY_ENGINE_OPTIONS'] = engine_options(config)
    # werkzeug refuses a larger Content-Length before reading a byte, and
    # stops a chunked body there: haas.rest answers both with a 413.
    app.config['MAX_CONTENT_LENGTH'] = config.max_body
    app.extensions['haas'] = Haas(
        config=config,
        auth_backend=_the_one(auth.backends, modules, 'auth backend')(config),
        allocator=_the_one(network_allocator.allocators, modules,
                           'network allocator')(config),
        keyring=crypto.Keyring(crypto.key_file(config)),
    )
    try:
        db.init_app(app)
    except ImportError as e:
        raise ConfigError(
            f'no driver for [database] uri {config.database_uri.split(":")[0]}'
            f' ({e}); for PostgreSQL install haas[postgresql]') from None
    with app.app_context():
        if db.engine.dialect.name == 'sqlite':
            sqlite_like_postgresql(db.engine)
    migrations.init_app(app)
    rest.init_app(app, _declare_core_calls)
    audit.init_app(app, config)
    metrics.init_app(app, config)
    return app


def _declare_core_calls():
    """Declare core's REST calls, which importing haas.api does: with an
    app's first route, so that a command that builds the app to work on
    its database does not load the API."""
    from haas import api  # noqa: F401


def _require_libvirt_endpoint(config):
    """ConfigError when headnodes are offered (`[headnode] base_imgs` names
    an image) and their VMs would be made for real (no `[devel] dry_run`)
    on no libvirt endpoint: the first headnode call would fail."""
    images = [name for name in (config.get('headnode', 'base_imgs') or '')
              .split(',') if name.strip()]
    if images and not config.dry_run and \
            config.get('headnode', 'libvirt_endpoint') is None:
        raise ConfigError(
            f'[headnode] libvirt_endpoint is required with [headnode] '
            f'base_imgs (unless [devel] dry_run) but missing from '
            f'{config.path or "the configuration"}')


def engine_options(config):
    """Connection settings: bounded waits for the server and for locks,
    and errors that do not quote their statements' parameters (a failed
    insert would otherwise log the password of an OBM or a switch)."""
    backend = sa.make_url(config.database_uri).get_backend_name()
    timeout, busy = config.connect_timeout, config.busy_timeout
    options = {'hide_parameters': True}
    if backend == 'postgresql':
        # libpq takes whole seconds; 0 would mean "wait forever".
        connect_args = {'connect_timeout': max(1, math.ceil(timeout))} \
            if timeout else {}
        connect_args.update(_dead_peer_args(config))
        # Who this is, in pg_stat_activity: `db status` tells the releases
        # of the servers on a database from it (haas.migrations.servers).
        connect_args['application_name'] = servers.application_name()
        # A pooled connection that a database restart closed is found out
        # (one round trip) and replaced before a request uses it, instead
        # of failing that request.
        # The networking daemon's workers hold a connection each, beside
        # its own and its listener's.
        return {**options, 'connect_args': connect_args,
                'pool_pre_ping': True,
                'pool_size': max(5, config.daemon_workers + 2)}
    if backend == 'sqlite':
        return {**options, 'connect_args': {'timeout': busy}}
    return options


def _dead_peer_args(config):
    """libpq's settings that end a connection whose server stops answering
    (TCP keepalives while it is idle, a bound on unacknowledged data while
    it talks), in libpq's units: whole seconds, and milliseconds for
    tcp_user_timeout.  0 leaves the system's default."""
    enabled, idle, interval, count = config.keepalives
    user_timeout = config.tcp_user_timeout
    args = {'keepalives': int(enabled),
            'tcp_user_timeout': math.ceil(user_timeout * 1000)}
    if enabled:
        args.update(keepalives_idle=math.ceil(idle),
                    keepalives_interval=math.ceil(interval),
                    keepalives_count=count)
    return args


def _the_one(registry, modules, what):
    """The single entry of `registry` that an enabled module provides."""
    names = [m.__name__ for m in modules if m.__name__ in registry]
    if len(names) != 1:
        listed = f' ({", ".join(names)})' if names else ''
        raise ConfigError(f'[extensions] must enable exactly one {what}, '
                          f'not {len(names)}{listed}')
    return registry[names[0]]
