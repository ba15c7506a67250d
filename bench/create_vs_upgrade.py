"""How long a test would wait for its database, three ways, on each backend.

Rebuilding the schema per test (`db create` or `db upgrade heads`) against
rolling back one transaction on a schema built once, which is what the test
suite does.  Run with `make bench`; PostgreSQL is skipped when unreachable
(HAAS_TEST_POSTGRES_URL, as for the tests).
"""

import os
import statistics
import sys
import tempfile
import time
import uuid

import sqlalchemy as sa

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'tests'))

import haas  # noqa: E402
from haas import migrations  # noqa: E402
from haas.model import Project, db  # noqa: E402

from conftest import LEGACY_EXTENSIONS, POSTGRES_URL, config_text  # noqa: E402

REPEAT = 5


class Backend:
    def __init__(self, name):
        self.name = name
        self.tmp = tempfile.mkdtemp()
        self.admin = None
        self.created = []
        if name == 'postgresql':
            self.admin = sa.create_engine(POSTGRES_URL,
                                          isolation_level='AUTOCOMMIT')

    def new(self):
        name = f'haas_bench_{uuid.uuid4().hex[:10]}'
        if self.admin is None:
            return f'sqlite:///{self.tmp}/{name}.db'
        with self.admin.connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE {name}')
        self.created.append(name)
        return sa.make_url(POSTGRES_URL).set(database=name).render_as_string(
            hide_password=False)

    def close(self):
        if self.admin is not None:
            with self.admin.connect() as c:
                for name in self.created:
                    c.exec_driver_sql(f'DROP DATABASE {name} WITH (FORCE)')


def timed(setup, action):
    times = []
    for _ in range(REPEAT):
        state = setup()
        start = time.perf_counter()
        action(state)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def fresh_app(backend):
    app = haas.create_app(config_text(backend.new(), LEGACY_EXTENSIONS))
    return app


def run_in(verb):
    def action(app):
        with app.app_context():
            verb()
            db.engine.dispose()
    return action


def rollback_one_test(app):
    with app.app_context():
        engines = db.engines
        engine = engines[None]
        connection = engine.connect()
        transaction = connection.begin()
        db.session.remove()
        db.session.configure(join_transaction_mode='create_savepoint')
        engines[None] = connection
        db.session.add(Project(label='bench'))
        db.session.commit()
        db.session.remove()
        engines[None] = engine
        transaction.rollback()
        connection.close()


def main():
    rows = []
    for name in ('sqlite', 'postgresql'):
        backend = Backend(name)
        try:
            if backend.admin is not None:
                with backend.admin.connect():
                    pass
        except sa.exc.OperationalError:
            print(f'{name}: unreachable, skipped')
            continue
        try:
            built = fresh_app(backend)
            with built.app_context():
                migrations.create()
            rows.append((name,
                         timed(lambda: fresh_app(backend),
                               run_in(migrations.create)),
                         timed(lambda: fresh_app(backend),
                               run_in(lambda: migrations.upgrade('heads'))),
                         timed(lambda: built, rollback_one_test)))
            with built.app_context():
                db.engine.dispose()
        finally:
            backend.close()
    print(f'median of {REPEAT}, seconds per test, legacy extension set')
    print(f'{"backend":<12}{"db create":>12}{"upgrade heads":>15}'
          f'{"rollback":>12}{"create/rollback":>17}')
    for name, create, upgrade, rollback in rows:
        print(f'{name:<12}{create:>12.4f}{upgrade:>15.4f}{rollback:>12.4f}'
              f'{create / rollback:>16.0f}x')


if __name__ == '__main__':
    main()
