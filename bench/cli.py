"""What `haas-admin` commands cost against a bare Flask-Migrate app: medians of
the real executables, their ratios and the targets.  Run with `make bench`."""

import itertools
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'tests'))

from support.config import LEGACY_EXTENSIONS, config_text  # noqa: E402
from support.databases import Databases  # noqa: E402
from support.legacy import DUMP, load_dump  # noqa: E402

REPEAT = 11
BIN = os.path.dirname(sys.executable)
HAAS_ADMIN = os.path.join(BIN, 'haas-admin')
FLASK = os.path.join(BIN, 'flask')

BARE_APP = '''\
import os

from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


class Project(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    label = db.Column(db.String(64), unique=True, nullable=False)


def create_app():
    app = Flask(__name__)
    app.config['SQLALCHEMY_DATABASE_URI'] = os.environ['BARE_DATABASE_URI']
    db.init_app(app)
    Migrate(app, db)
    return app
'''


class Side:
    """One program under test: how to run it in `cwd` with `env`."""

    def __init__(self, executable, cwd, env):
        self.executable = executable
        self.cwd = cwd
        self.env = env

    def run(self, args, env=None):
        """Wall time of one run of `args`, which must succeed."""
        start = time.perf_counter()
        result = subprocess.run(
            [self.executable, *args], cwd=self.cwd, capture_output=True,
            text=True, env={**self.env, **(env or {})}, timeout=600)
        took = time.perf_counter() - start
        if result.returncode != 0:
            raise SystemExit(f'{os.path.basename(self.executable)} '
                             f'{" ".join(args)} failed ({result.returncode}):'
                             f'\n{result.stderr}')
        return took


def medians(*runs):
    """Median wall time of each (side, args, fresh) in `runs`, run in turn.

    `fresh()` gives a run's extra environment (its own database) and is
    called before the clock starts.  One run of each, untimed, fills the
    bytecode and page caches first.
    """
    times = [[] for _ in runs]
    for i in range(REPEAT + 1):
        for (side, args, fresh), kept in zip(runs, times):
            took = side.run(args, (fresh or dict)())
            if i:
                kept.append(took)
    return [statistics.median(t) for t in times]


def environment(**extra):
    """The calling environment, without what would change the programs'
    behaviour: their own settings, and PYTHONDONTWRITEBYTECODE, which would
    make both compile their own modules on every run (an installed wheel
    has its bytecode)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ('HAAS_CONFIG', 'FLASK_APP', 'BARE_DATABASE_URI',
                        'PYTHONDONTWRITEBYTECODE')}
    return {**env, **extra}


def bare_app(tmp):
    """The comparison app in `tmp`, with its migration written once."""
    (tmp / 'bare.py').write_text(BARE_APP)
    bare = Side(FLASK, tmp, environment(
        FLASK_APP='bare', BARE_DATABASE_URI=f'sqlite:///{tmp / "setup.db"}'))
    bare.run(['db', 'init'])
    bare.run(['db', 'migrate', '-m', 'project'])
    return bare


CREATE_ROW = 'db create | flask db upgrade'
LEGACY_ROW = 'db upgrade heads (0.2 dump) | flask db upgrade'


def rows(tmp):
    """(label, haas median, bare median or a skip line, target) per row.

    HaaS does far more per command than the bare app (eight branches, the
    schema lock, adoption of the HaaS 0.2 tables, the VLAN pool); the
    targets say that the difference must be spent in the database, not in
    starting Python.  The PostgreSQL rows are skipped when it is
    unreachable (HAAS_TEST_POSTGRES_URL, as for the tests).
    """
    haas = Side(HAAS_ADMIN, tmp, environment())
    bare = bare_app(tmp)
    names = itertools.count()

    def haas_on(uri):
        path = tmp / f'haas-{next(names)}.cfg'
        path.write_text(config_text(uri, LEGACY_EXTENSIONS))
        return {'HAAS_CONFIG': str(path)}

    offline = haas_on(f'sqlite:///{tmp / "unused.db"}')
    yield ('haas-admin --help | flask --help',
           *medians((haas, ['--help'], None), (bare, ['--help'], None)), 0.2)
    yield ('db heads | flask db heads',
           *medians((haas, ['db', 'heads'], lambda: offline),
                    (bare, ['db', 'heads'], None)), 0.8)
    try:
        dbs = Databases('postgresql', tmp)
    except pytest.skip.Exception as e:
        for label in (CREATE_ROW, LEGACY_ROW):
            yield label, None, f'skipped: {e}', 1.0
        return

    def empty():
        return haas_on(dbs.new())

    def legacy():
        uri = dbs.new()
        load_dump(uri, dump)
        return haas_on(uri)

    def bare_empty():
        return {'BARE_DATABASE_URI': dbs.new()}

    try:
        yield (CREATE_ROW, *medians((haas, ['db', 'create'], empty),
                                    (bare, ['db', 'upgrade'], bare_empty)),
               1.0)
        if not os.path.isfile(DUMP):
            yield (LEGACY_ROW, None,
                   f'skipped: no HaaS 0.2 dump at {os.path.normpath(DUMP)}',
                   1.0)
            return
        with open(DUMP, encoding='utf-8') as f:
            dump = f.read()
        yield (LEGACY_ROW,
               *medians((haas, ['db', 'upgrade', 'heads'], legacy),
                        (bare, ['db', 'upgrade'], bare_empty)), 1.0)
    finally:
        dbs.drop_all()


def main():
    print(f'median of {REPEAT} runs, seconds per command, legacy extension '
          f'set; ratio = haas-admin / bare app')
    print(f'{"haas-admin | bare app":<48}{"haas":>8}{"bare":>8}'
          f'{"ratio":>8}{"target":>9}')
    with tempfile.TemporaryDirectory() as tmp:
        for label, ours, bare, target in rows(pathlib.Path(tmp)):
            if ours is None:
                print(f'{label:<48}{bare}', flush=True)
                continue
            ratio = ours / bare
            print(f'{label:<48}{ours:>8.3f}{bare:>8.3f}{ratio:>7.2f}x'
                  f'{"<= " + format(target, ".1f") + "x":>9}  '
                  f'{"met" if ratio <= target else "MISSED"}', flush=True)


if __name__ == '__main__':
    main()
