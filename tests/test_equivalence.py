"""The equivalence matrix: create, upgrade from empty or from the dump of
each release (HaaS 0.2, 0.3 and 0.4), enabling extensions late, and a
revision undone and redone all build the same database.
"""

import ast
import datetime
import os

import pytest
import sqlalchemy as sa

from haas import crypto, migrations
from haas.migrations import LEDGER
from haas.migrations.scripts import Branches
from haas.migrations.tables import tables_of
from haas.model import db

from support import legacy_objects
from support.commands import run_admin
from support.config import (
    API_EXTENSIONS,
    DEFAULT_EXTENSIONS,
    LEGACY_EXTENSIONS,
    config_text,
)
from support.databases import Databases, make_app, snapshot, state_rows
from support.example import EXAMPLE_MODULE as EXAMPLE
from support.example import install_example
from support.legacy import MASK, load_dump

EXTENSION_SETS = {
    'default': DEFAULT_EXTENSIONS,
    'legacy': LEGACY_EXTENSIONS,
    'core-only': ['haas.ext.auth.null', 'haas.ext.network_allocators.null'],
    'api': API_EXTENSIONS,
}
VLAN_POOL = 'haas.ext.network_allocators.vlan_pool'
# A second third-party extension, made from the example.
SECOND = 'haas_second_example_ext'
# The pool config_text configures: LEGACY_VLANS, '100-200, 300-500'.
POOL = list(range(100, 201)) + list(range(300, 501))
# The extensions with tables: every branch but core's.
WITH_TABLES = LEGACY_EXTENSIONS
# What stands in for an extension of which exactly one must be enabled.
STAND_INS = {'haas.ext.auth.database': 'haas.ext.auth.null',
             VLAN_POOL: 'haas.ext.network_allocators.null'}


def create():
    migrations.create()


def upgrade_heads():
    migrations.upgrade('heads')


VERBS = {'create': create, 'upgrade heads': upgrade_heads}


class Built:
    """A database one verb built, and what it holds."""

    def __init__(self, uri, app):
        self.uri = uri
        self.snapshot = snapshot(app)
        self.rows = state_rows(app)


class Builds:
    """Databases on one backend, each built once per extension list and
    verb, so that every test compares against the same reference."""

    def __init__(self, databases):
        self.databases = databases
        self._built = {}

    def get(self, extensions, verb):
        key = (tuple(extensions), verb)
        if key not in self._built:
            uri = self.databases.new()
            app = make_app(uri, list(extensions))
            with app.app_context():
                VERBS[verb]()
            self._built[key] = Built(uri, app)
        return self._built[key]


@pytest.fixture(scope='module', params=['sqlite', 'postgresql'])
def builds(request, tmp_path_factory):
    """The databases of this module on one backend, dropped at its end."""
    databases = Databases(request.param, tmp_path_factory.mktemp('db'))
    yield Builds(databases)
    databases.drop_all()


# --- create, upgrade heads from empty, upgrade heads from HaaS 0.2 ----------

@pytest.mark.parametrize('name', EXTENSION_SETS)
def test_upgrade_heads_from_empty_builds_what_create_builds(builds, name):
    extensions = EXTENSION_SETS[name]
    created = builds.get(extensions, 'create')

    upgraded = builds.get(extensions, 'upgrade heads')

    assert upgraded.snapshot == created.snapshot
    assert upgraded.rows == created.rows
    # Equal, and not for want of a pool: both fill it.
    assert [r['vlan_no'] for r in upgraded.rows.get('vlan', [])] == (
        POOL if VLAN_POOL in extensions else [])


@pytest.mark.parametrize('name', EXTENSION_SETS)
def test_create_after_upgrade_heads_from_empty_creates_nothing(builds, name):
    extensions = EXTENSION_SETS[name]
    upgraded = builds.get(extensions, 'upgrade heads')
    app = make_app(upgraded.uri, extensions)

    with app.app_context():
        assert migrations.create() == []

    assert (snapshot(app), state_rows(app)) == (upgraded.snapshot,
                                                upgraded.rows)


def upgraded(databases, sql):
    """An app on a new database of `databases` loaded with the dump `sql`
    and upgraded to the heads."""
    app = make_app(databases.new(), LEGACY_EXTENSIONS)
    load_dump(app.config['SQLALCHEMY_DATABASE_URI'], sql)
    with app.app_context():
        upgrade_heads()
    return app


def each_way(databases, read, then=lambda: None):
    """{verb: (schema, read(app))} of a new database of `databases` that
    each of VERBS built, `then` run after it in the app's context."""
    built = {}
    for verb in VERBS:
        app = make_app(databases.new(), LEGACY_EXTENSIONS)
        with app.app_context():
            VERBS[verb]()
            then()
        built[verb] = snapshot(app), read(app)
    return built


def test_legacy_dump_upgraded_equals_create_and_upgrade_from_empty(
        pg_databases, dump):
    """The three ways to a full database agree, the objects of the dump
    included: created and upgraded databases get them through the models."""
    legacy = upgraded(pg_databases, dump)
    built = each_way(pg_databases, lambda app: state_rows(app, MASK),
                     then=legacy_objects.populate)

    assert built['upgrade heads'] == built['create']
    assert (snapshot(legacy), state_rows(legacy, MASK)) == built['create']


#: The dumps each release's own code made (tests/fixtures/
#: make_release_dump.py), by release.
RELEASE_DUMPS = {release: os.path.join(os.path.dirname(__file__), 'fixtures',
                                       f'haas-{release}.sql')
                 for release in ('0.3', '0.4')}
BOOKKEEPING = ('alembic_version', 'haas_schema_branch')


@pytest.mark.parametrize('release', RELEASE_DUMPS)
def test_release_dump_upgraded_equals_create_and_upgrade_from_empty(
        pg_databases, release):
    """The schema, the version rows and the branches' labels: the dump's
    objects are its own, which tests/test_release_dumps.py follows."""
    with open(RELEASE_DUMPS[release], encoding='utf-8') as f:
        dumped = upgraded(pg_databases, f.read())

    def bookkeeping(app):
        rows = state_rows(app)
        return [rows[t] for t in BOOKKEEPING]
    built = each_way(pg_databases, bookkeeping)

    assert built['upgrade heads'] == built['create']
    assert (snapshot(dumped), bookkeeping(dumped)) == built['create']


# --- enabling extensions -----------------------------------------------------

@pytest.mark.parametrize('verb', VERBS)
@pytest.mark.parametrize('extension', WITH_TABLES)
def test_enabling_an_extension_later_builds_what_enabling_it_first_builds(
        builds, extension, verb):
    first = builds.get(LEGACY_EXTENSIONS, 'create')
    uri = builds.databases.new()
    others = [e for e in LEGACY_EXTENSIONS if e != extension]
    without = make_app(uri, others + ([STAND_INS[extension]]
                                      if extension in STAND_INS else []))
    with without.app_context():
        create()
    assert sorted(set(first.snapshot['tables']) - set(
        snapshot(without)['tables'])) == sorted(tables_of(extension))
    app = make_app(uri, LEGACY_EXTENSIONS)

    with app.app_context():
        VERBS[verb]()

    assert snapshot(app) == first.snapshot
    assert state_rows(app) == first.rows


@pytest.mark.parametrize('verb', VERBS)
def test_order_of_extensions_does_not_change_what_is_built(builds, verb):
    in_order = builds.get(LEGACY_EXTENSIONS, 'create')

    reversed_ = builds.get(list(reversed(LEGACY_EXTENSIONS)), verb)

    assert reversed_.snapshot == in_order.snapshot
    assert reversed_.rows == in_order.rows


# --- every revision down and up again ---------------------------------------

# One representative value per Python type of a column; a column of another
# type fails the test until it gets one.
VALUES = {int: 9001, bool: True, float: 1.5,
          datetime.datetime: datetime.datetime(2016, 3, 15)}
#: (table, column) -> the value of a column whose CHECK constraint the
#: generic value breaks.  A pending action, which every revision keeps: a
#: downgrade of 956783fe5a7b deletes the finished ones.
CONSTRAINED = {('networking_action', 'status'): 'PENDING',
               ('networking_action', 'type'): 'modify_port'}
#: Tables fill leaves empty, and why: their revision's downgrade refuses
#: while they hold rows (test_evolution tests the refusal).
LEFT_EMPTY = {'metadata': "153502badb2b's downgrade refuses to drop node "
                          "metadata"}


def fill(connection):
    """Insert one row into every table of the branches, keys included,
    but those of LEFT_EMPTY; an encrypted column gets a token, as the
    models write it."""
    metadata = sa.MetaData()
    metadata.reflect(connection)
    encrypted = set(crypto.encrypted_columns(db.metadata))
    inserted = {}
    for table in metadata.sorted_tables:
        if table.name in ('alembic_version', 'haas_schema_branch',
                          *LEFT_EMPTY):
            continue
        row = {}
        for column in table.columns:
            fk = next(iter(column.foreign_keys), None)
            if fk is not None:
                row[column.name] = inserted[fk.column.table.name][
                    fk.column.name]
            elif (table.name, column.name) in CONSTRAINED:
                row[column.name] = CONSTRAINED[table.name, column.name]
            elif (table.name, column.name) in encrypted:
                row[column.name] = crypto.current().encrypt(
                    f'{table.name}.{column.name}')
            elif column.type.python_type is str:
                length = getattr(column.type, 'length', None)
                row[column.name] = f'{table.name}.{column.name}'[:length]
            else:
                row[column.name] = VALUES[column.type.python_type]
        connection.execute(table.insert(), [row])
        inserted[table.name] = row


def without_tables(rows, tables):
    return {name: r for name, r in rows.items() if name not in tables}


@pytest.mark.slow
@pytest.mark.parametrize('branch', ['haas', LEDGER] + WITH_TABLES)
def test_every_revision_survives_downgrade_and_upgrade(builds, branch):
    """From the head down: each revision of `branch` is undone and redone,
    and the schema and every other branch's rows are as they were."""
    app = make_app(builds.databases.new(), LEGACY_EXTENSIONS)
    with app.app_context():
        create()
        with db.engine.begin() as connection:
            fill(connection)
    scripts = Branches(LEGACY_EXTENSIONS).by_branch[branch]
    assert scripts, f'branch {branch} has no revisions'

    for script in reversed(scripts):
        before, rows = snapshot(app), state_rows(app)
        target = f'{branch}@-1'
        with app.app_context():
            plan = migrations.downgrade(target, plan=True, cascade=True)
            migrations.downgrade(target, cascade=True)
            below = {b.branch: b.revision
                     for b in migrations.status().branches}[branch]
            assert below == script.down_revision
            for revision in before['alembic_version']:
                migrations.upgrade(revision)
            touched = {t for step in plan.steps
                       for t in tables_of(step.branch)}

        assert snapshot(app) == before, f'{branch}@{script.revision}'
        assert without_tables(state_rows(app), touched) == without_tables(
            rows, touched)

        if script is not scripts[0]:
            with app.app_context():
                migrations.downgrade(target, cascade=True)


# --- scripts for one branch -----------------------------------------------

def operations(text):
    """Function name -> the `op.<operation>(...)` calls in it, each with
    the strings it was given (its table first)."""
    found = {}
    for function in ast.parse(text).body:
        if not isinstance(function, ast.FunctionDef):
            continue
        found[function.name] = [
            (node.func.attr, [a.value for a in node.args
                              if isinstance(a, ast.Constant)])
            for node in ast.walk(function)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == 'op' and node.func.attr != 'f']
    return found


def install_second_example(tmp_path):
    """A copy of the example extension under another name, with its own
    table: a second new branch, its table missing as the first one's is."""
    package = install_example(tmp_path)
    target = package.parent / SECOND
    target.mkdir()
    (target / '__init__.py').write_text((package / '__init__.py').read_text()
                                        .replace('example_widget',
                                                 'second_widget')
                                        .replace('ExampleWidget',
                                                 'SecondWidget'))
    return package


def test_script_for_a_branch_leaves_other_missing_tables_out(databases,
                                                             tmp_path):
    """Both examples' tables are missing: autogenerate sees them both,
    the script for the first holds only its table."""
    uri = databases.new()
    with make_app(uri, DEFAULT_EXTENSIONS).app_context():
        create()
    package = install_second_example(tmp_path)
    config = config_text(uri, DEFAULT_EXTENSIONS + [EXAMPLE, SECOND])

    run_admin(['db', 'migrate', '--branch-label', EXAMPLE, '-m', 'widgets'],
              config=config, cwd=tmp_path,
              env={'PYTHONPATH': str(package.parent)})

    script, = (package / 'migrations').glob('*.py')
    assert operations(script.read_text()) == {
        'upgrade': [('create_table', ['example_widget'])],
        'downgrade': [('drop_table', ['example_widget'])],
    }
    assert not (package.parent / SECOND / 'migrations').exists()
