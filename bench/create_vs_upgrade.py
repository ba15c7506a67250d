"""How long a test would wait for its database, three ways, on each backend.

Rebuilding the schema per test (`db create` or `db upgrade heads`) against
rolling back one transaction on a schema built once, which is what the test
suite does.  `db create` also fills the 302 VLANs of the pool, which
`upgrade` leaves to it.  Run with `make bench`; PostgreSQL is skipped when
unreachable (HAAS_TEST_POSTGRES_URL, as for the tests).
"""

import logging
import os
import pathlib
import statistics
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'tests'))

import haas  # noqa: E402
from haas import migrations  # noqa: E402
from haas.model import Project, db  # noqa: E402

from support.config import LEGACY_EXTENSIONS, config_text  # noqa: E402
from support.databases import Databases, rolled_back  # noqa: E402

REPEAT = 5


def median_seconds(setup, action):
    times = []
    for _ in range(REPEAT):
        state = setup()
        start = time.perf_counter()
        action(state)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def in_context(verb):
    def action(app):
        with app.app_context():
            verb()
            db.engine.dispose()
    return action


def one_test(app):
    with rolled_back(app):
        db.session.add(Project(label='bench'))
        db.session.commit()


def measure(dbs):
    def fresh():
        return haas.create_app(config_text(dbs.new(), LEGACY_EXTENSIONS))

    built = fresh()
    with built.app_context():
        migrations.create()
    row = (median_seconds(fresh, in_context(migrations.create)),
           median_seconds(fresh, in_context(lambda: migrations.upgrade())),
           median_seconds(lambda: built, one_test))
    with built.app_context():
        db.engine.dispose()
    return row


def main():
    logging.disable(logging.INFO)
    print(f'median of {REPEAT} runs, seconds per test, legacy extension set')
    print(f'{"backend":<12}{"db create":>12}{"upgrade heads":>15}'
          f'{"rollback":>12}{"create/rollback":>17}')
    for backend in ('sqlite', 'postgresql'):
        try:
            dbs = Databases(backend, pathlib.Path(tempfile.mkdtemp()))
        except pytest.skip.Exception as e:
            print(f'{backend:<12}skipped: {e}')
            continue
        try:
            create, upgrade, rollback = measure(dbs)
        finally:
            dbs.drop_all()
        print(f'{backend:<12}{create:>12.4f}{upgrade:>15.4f}{rollback:>12.4f}'
              f'{create / rollback:>16.0f}x')


if __name__ == '__main__':
    main()
