"""Upgrading a HaaS 0.2 database (from before schema versioning) in place.

The dump is loaded as it is into a fresh PostgreSQL database; after
`db upgrade heads` its schema and every row must equal a fresh `db create`
holding the same objects.  CI sets HAAS_TEST_REQUIRE_LEGACY_DUMP=1, which
turns a missing dump into a failure instead of a skip.
"""

import pytest

from haas import crypto, migrations
from haas.ext.obm.mock import MockObm
from haas.migrations import LEDGER
from haas.model import Node, db

from support import legacy_objects
from support.commands import run_admin
from support.config import LEGACY_EXTENSIONS, config_text
from support.databases import (
    HISTORY,
    make_app,
    snapshot,
    state_rows,
    table_rows,
)
from support.legacy import MASK, load_dump
from support.revisions import SCRIPTS

DUMP_ROWS = {
    'headnode': 4, 'hnic': 8, 'ipmi': 0, 'mock_obm': 7, 'mock_switch': 2,
    'network': 7, 'network_attachment': 0, 'networking_action': 0,
    'nexus': 0, 'nic': 12, 'node': 7, 'obm': 7, 'port': 8,
    'power_connect55xx': 0, 'project': 3, 'switch': 2, 'user': 0,
    'user_projects': 0, 'vlan': 302,
}
#: The rows HaaS 0.3's revisions add: the project of access of each of the
#: dump's four networks that has one becomes a row of the network's list.
UPGRADE_ROWS = {'network_projects': 4, 'metadata': 0}
#: (branch, revision) of every script of the branches of LEGACY_EXTENSIONS,
#: core's and the ledger's: what an upgrade of the dump runs.
EVERY_SCRIPT = [(branch, revision)
                for branch in ['haas', LEDGER] + LEGACY_EXTENSIONS
                for revision, _, _ in SCRIPTS[branch]]


def sequences(app):
    with app.app_context(), db.engine.connect() as connection:
        return dict(connection.exec_driver_sql(
            'SELECT sequencename, last_value FROM pg_sequences '
            'ORDER BY 1').all())


def state_sequences(app):
    """sequences, without those of the tables of HISTORY: they count how
    the database was built."""
    found = sequences(app)
    for table in HISTORY:
        found.pop(f'{table}_id_seq')
    return found


@pytest.fixture
def legacy_app(pg_databases, dump):
    uri = pg_databases.new()
    load_dump(uri, dump)
    return make_app(uri, LEGACY_EXTENSIONS)


@pytest.fixture
def fresh_app(pg_databases):
    app = make_app(pg_databases.new(), LEGACY_EXTENSIONS)
    with app.app_context():
        migrations.create()
        legacy_objects.populate()
    return app


def test_upgrade_heads_adopts_legacy_database_losing_nothing(legacy_app,
                                                            fresh_app):
    with legacy_app.app_context():
        migrations.upgrade('heads')

    assert snapshot(legacy_app) == snapshot(fresh_app)
    rows = table_rows(legacy_app, MASK)
    assert state_rows(legacy_app, MASK) == state_rows(fresh_app, MASK)
    assert {t: len(r) for t, r in rows.items()} == {
        # A version row per branch: core's head is past the 0.3 the
        # extensions' heads imply.
        **DUMP_ROWS, **UPGRADE_ROWS, 'daemon_heartbeat': 0, 'console_log': 0,
        'alembic_version': 9,
        'haas_schema_branch': 9, 'haas_schema_ledger': len(EVERY_SCRIPT)}
    assert state_sequences(legacy_app) == state_sequences(fresh_app)
    assert sequences(legacy_app)['haas_schema_ledger_id_seq'] == len(
        EVERY_SCRIPT)


def test_the_executable_adopts_the_dump_as_this_process_does(
        legacy_app, pg_databases, dump, tmp_path):
    # haas-admin runs single-threaded: it builds the revisions' schemas in
    # a child process, where a test worker uses a thread.
    uri = legacy_app.config['SQLALCHEMY_DATABASE_URI']
    here = make_app(pg_databases.new(), LEGACY_EXTENSIONS)
    load_dump(here.config['SQLALCHEMY_DATABASE_URI'], dump)
    with here.app_context():
        migrations.upgrade('heads')

    upgrade = run_admin(['db', 'upgrade', 'heads'],
                        config_text(uri, LEGACY_EXTENSIONS), cwd=tmp_path)

    assert sorted(line.split(' (')[0]
                  for line in upgrade.stderr.splitlines()) == sorted(
        f'upgraded {branch} to {revision}'
        for branch, revision in EVERY_SCRIPT)
    assert snapshot(legacy_app) == snapshot(here)
    assert state_rows(legacy_app, MASK) == state_rows(here, MASK)


def test_after_upgrade_every_node_loads_its_obm(legacy_app):
    with legacy_app.app_context():
        migrations.upgrade('heads')
        nodes = db.session.execute(db.select(Node).order_by(Node.id)).scalars()
        obms = [(n.label, type(n.obm), n.obm.host, n.obm.password)
                for n in nodes]
        stored = db.session.execute(db.text(
            'SELECT password FROM mock_obm')).scalars().all()
    assert obms == [(label, MockObm, host, 'password')
                    for label, _, host in legacy_objects.NODES]
    # The database holds tokens only, every one of them new.
    assert 'password' not in stored and len(set(stored)) == len(stored)
    assert all(crypto.is_token(token) for token in stored)


def test_after_upgrade_create_changes_nothing_and_server_may_start(legacy_app):
    with legacy_app.app_context():
        migrations.upgrade('heads')
    before = snapshot(legacy_app), table_rows(legacy_app)

    with legacy_app.app_context():
        assert migrations.create() == []
        assert migrations.status().advice() is None

    assert (snapshot(legacy_app), table_rows(legacy_app)) == before


def test_create_on_legacy_database_adopts_it_as_upgrade_does(legacy_app,
                                                             pg_databases,
                                                             dump):
    upgraded = make_app(pg_databases.new(), LEGACY_EXTENSIONS)
    load_dump(upgraded.config['SQLALCHEMY_DATABASE_URI'], dump)
    with upgraded.app_context():
        migrations.upgrade('heads')

    with legacy_app.app_context():
        assert migrations.create() == [LEDGER, 'haas'] + LEGACY_EXTENSIONS

    assert snapshot(legacy_app) == snapshot(upgraded)
    assert state_rows(legacy_app, MASK) == state_rows(upgraded, MASK)


def test_legacy_database_reads_as_adoptable_everywhere(legacy_app):
    with legacy_app.app_context():
        status = migrations.status()
    assert [(b.branch, b.verdict, b.adopt_at) for b in status.branches] == [
        ('haas', 'adoptable', None), (LEDGER, 'not created', None)] + [
        (branch, 'adoptable', None) for branch in LEGACY_EXTENSIONS]
    assert status.foreign_tables == []
    assert status.advice().message == (
        'branch haas has tables but no version row (its first script adopts '
        'them): run `haas-admin db upgrade heads` to adopt them')
