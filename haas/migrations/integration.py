"""Flask-Migrate on the HaaS application, configured for HaaS's branches.

HaaS's verbs build their Alembic configuration themselves; Flask-Migrate's
`migrate.get_config()` gives the same one, for tools that ask it.
"""

from flask_migrate import Migrate

from haas.migrations.registry import MIGRATIONS_DIR
from haas.model import db

_flask_migrate = Migrate()


def init_app(app):
    _flask_migrate.init_app(app, db, directory=MIGRATIONS_DIR)


@_flask_migrate.configure
def _configure(config):
    from flask import current_app

    from haas.migrations.scripts import Branches
    branches = Branches(current_app.extensions['haas'].config.extensions)
    for option in ('path_separator', 'version_locations'):
        config.set_main_option(option,
                               branches.config.get_main_option(option))
    config.attributes['haas_branches'] = branches
    return config
