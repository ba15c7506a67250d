"""HaaS: Hardware as a Service.

`create_app` builds the Flask application from a configuration; nothing
happens when this package is imported.
"""

import dataclasses
import importlib
import logging

from flask import Flask
from sqlalchemy import event

from haas import config as haas_config
from haas.errors import ConfigError, ExtensionError

__version__ = '0.3.0.dev0'


@dataclasses.dataclass
class Haas:
    """What an application knows about its configuration and extensions."""

    config: haas_config.Config
    auth_backend: object
    allocator: object


def create_app(config=None):
    """Build the HaaS application.

    `config` is a `haas.config.Config`, the text of a haas.cfg, or None to
    load the configuration as `haas.config.load` finds it.
    """
    if config is None:
        config = haas_config.load()
    elif isinstance(config, str):
        config = haas_config.Config.from_string(config)
    logging.basicConfig(level=config.log_level)
    modules = load_extensions(config.extensions)

    # Imported here: they import the extension registries' users.
    from haas import auth, migrations, network_allocator, rest
    from haas.model import db

    app = Flask('haas')
    app.config['SQLALCHEMY_DATABASE_URI'] = config.database_uri
    app.extensions['haas'] = Haas(
        config=config,
        auth_backend=_the_one(auth.backends, modules, 'auth backend')(config),
        allocator=_the_one(network_allocator.allocators, modules,
                           'network allocator')(config),
    )
    try:
        db.init_app(app)
    except ImportError as e:
        raise ConfigError(
            f'no driver for [database] uri {config.database_uri.split(":")[0]}'
            f' ({e}); for PostgreSQL install haas[postgresql]') from None
    with app.app_context():
        if db.engine.dialect.name == 'sqlite':
            _sqlite_like_postgresql(db.engine)
    migrations.init_app(app)
    # `flask --app haas db` is then the same group as `haas-admin db`.
    from haas.commands.db import db as db_commands
    app.cli.add_command(db_commands)
    rest.init_app(app)
    return app


def load_extensions(names):
    """Import every module named in [extensions], in order."""
    modules = []
    for name in names:
        try:
            modules.append(importlib.import_module(name))
        except ModuleNotFoundError as e:
            if e.name and (name == e.name or name.startswith(e.name + '.')):
                raise ExtensionError(
                    f'extension {name} in [extensions] is not installed '
                    f'({e})') from None
            raise
    return modules


def _the_one(registry, modules, what):
    """The single entry of `registry` that an enabled module provides."""
    names = [m.__name__ for m in modules if m.__name__ in registry]
    if len(names) != 1:
        listed = f' ({", ".join(names)})' if names else ''
        raise ConfigError(f'[extensions] must enable exactly one {what}, '
                          f'not {len(names)}{listed}')
    return registry[names[0]]


def _sqlite_like_postgresql(engine):
    """Transactional DDL and enforced foreign keys on SQLite.

    pysqlite starts transactions itself, only before DML; HaaS lets
    SQLAlchemy emit BEGIN instead, so that `db create` and each migration
    are atomic as on PostgreSQL, and savepoints work.
    """
    @event.listens_for(engine, 'connect')
    def _on_connect(dbapi_connection, record):
        dbapi_connection.isolation_level = None
        dbapi_connection.execute('PRAGMA foreign_keys=ON')

    @event.listens_for(engine, 'begin')
    def _on_begin(connection):
        connection.exec_driver_sql('BEGIN')
