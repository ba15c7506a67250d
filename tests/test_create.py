"""`db create`, `db upgrade heads` and their agreement, on both databases."""

import pytest
import sqlalchemy as sa

from haas import migrations
from haas.errors import MigrationError
from haas.migrations import LEDGER
from haas.model import db

from support.commands import cli
from support.config import DEFAULT_EXTENSIONS, LEGACY_EXTENSIONS, config_text
from support.databases import make_app, snapshot, table_rows
from support.revisions import CORE_BASELINE


def create(app):
    with app.app_context():
        return migrations.create()


def upgrade(app, revision='heads'):
    with app.app_context():
        migrations.upgrade(revision)


def test_create_twice_changes_nothing(databases):
    uri = databases.new()
    app = make_app(uri, LEGACY_EXTENSIONS)
    assert sorted(create(app)) == sorted(['haas', LEDGER] + LEGACY_EXTENSIONS)
    before = snapshot(app), table_rows(app)

    assert create(app) == []

    assert (snapshot(app), table_rows(app)) == before
    assert len(before[1]['vlan']) == 302


def test_create_after_enabling_extension_adds_only_its_tables_and_branch(databases):  # noqa: E501
    uri = databases.new()
    create(make_app(uri, DEFAULT_EXTENSIONS))
    before = snapshot(make_app(uri, DEFAULT_EXTENSIONS))
    widened = DEFAULT_EXTENSIONS + ['haas.ext.switches.dell']

    assert create(make_app(uri, widened)) == ['haas.ext.switches.dell']

    after = snapshot(make_app(uri, widened))
    assert (set(after['tables']) - set(before['tables'])
            == {'power_connect55xx'})
    assert {k: v for k, v in after['tables'].items()
            if k != 'power_connect55xx'} == before['tables']
    # The Dell switch's head.
    assert set(after['alembic_version']) - set(before['alembic_version']) == {
        'e9c7556cca0f'}


def test_create_with_more_vlans_adds_only_the_new_ones(databases):
    uri = databases.new()
    create(make_app(uri, LEGACY_EXTENSIONS, vlans='100-101'))
    app = make_app(uri, LEGACY_EXTENSIONS, vlans='100-103')

    assert create(app) == []

    assert [(r['vlan_no'], r['id']) for r in table_rows(app)['vlan']] == [
        (100, 1), (101, 2), (102, 3), (103, 4)]


def test_create_says_what_it_added_to_the_pool_when_it_created_nothing(
        databases):
    uri = databases.new()
    cli(['db', 'create'], config_text(uri, LEGACY_EXTENSIONS, vlans='100'))

    more = cli(['db', 'create'], config_text(uri, LEGACY_EXTENSIONS,
                                             vlans='100-110'))
    same = cli(['db', 'create'], config_text(uri, LEGACY_EXTENSIONS,
                                             vlans='100-110'))

    assert (more.stdout, more.stderr) == (
        "Every enabled branch already exists; added 10 entries to the "
        "network allocator's pool.\n", '')
    assert (same.stdout, same.stderr) == (
        'Every enabled branch already exists; nothing created.\n', '')


def test_status_after_create_is_every_branch_at_its_head(databases):
    app = make_app(databases.new(), LEGACY_EXTENSIONS)
    create(app)
    with app.app_context():
        status = migrations.status()
    assert [(b.branch, b.verdict, b.pending) for b in status.branches] == [
        (branch, 'up to date', 0)
        for branch in ['haas', LEDGER] + LEGACY_EXTENSIONS]
    assert all(b.revision == b.head for b in status.branches)
    assert (status.current, status.advice(), status.foreign_tables) == (
        True, None, [])


def test_upgrade_heads_twice_changes_nothing(databases):
    app = make_app(databases.new(), LEGACY_EXTENSIONS)
    upgrade(app)
    before = snapshot(app)

    upgrade(app)

    assert snapshot(app) == before


def test_downgrade_extension_to_base_drops_only_its_table(databases):
    app = make_app(databases.new(), LEGACY_EXTENSIONS)
    create(app)
    before = snapshot(app)

    with app.app_context():
        migrations.downgrade('haas.ext.switches.nexus@base')
    after = snapshot(app)

    assert set(before['tables']) - set(after['tables']) == {'nexus'}
    with app.app_context():
        assert migrations.status().advice().message == (
            'the tables of branch haas.ext.switches.nexus are missing: run '
            '`haas-admin db create`')
    upgrade(app)
    assert snapshot(app) == before


def test_create_adopts_a_hand_made_table_that_matches_the_baseline(databases):
    uri = databases.new()
    app = make_app(uri)
    with app.app_context(), db.engine.begin() as connection:
        connection.exec_driver_sql('CREATE TABLE project (id INTEGER PRIMARY '
                                   'KEY, label VARCHAR NOT NULL)')
        connection.exec_driver_sql("INSERT INTO project VALUES (7, 'kept')")
    fresh = make_app(databases.new())
    create(fresh)

    # The ledger first, so that it records the adoption.
    assert create(app) == [LEDGER, 'haas', 'haas.ext.switches.mock',
                           'haas.ext.obm.mock']

    # The hand-made table keeps its own constraint names and defaults.
    tables, expected = snapshot(app)['tables'], snapshot(fresh)['tables']
    assert set(tables) == set(expected)
    assert {t: v for t, v in tables.items() if t != 'project'} == {
        t: v for t, v in expected.items() if t != 'project'}
    assert table_rows(app)['project'] == [{'id': 7, 'label': 'kept'}]


def test_create_refuses_a_foreign_table_and_changes_nothing(databases):
    app = make_app(databases.new())
    with app.app_context(), db.engine.begin() as connection:
        connection.exec_driver_sql('CREATE TABLE node (id INTEGER PRIMARY '
                                   'KEY, label TEXT)')
    before = snapshot_of_tables(app)

    for verb in (create, upgrade):
        with pytest.raises(MigrationError) as refused:
            verb(app)
        assert str(refused.value) == (
            'the tables of branch haas match none of its revisions (closest '
            f'is revision {CORE_BASELINE}: node lacks columns project_id, '
            'obm_id; node.label is String nullable, not String NOT NULL; '
            'node has foreign keys none, not (obm_id) -> obm(id), '
            '(project_id) -> project(id)): they are not HaaS\'s, or were '
            'changed by hand; rename or drop them, or check [database] uri')

    assert snapshot_of_tables(app) == before


def snapshot_of_tables(app):
    with app.app_context(), db.engine.connect() as connection:
        return migrations.schema_snapshot(connection)


def test_create_is_atomic(databases):
    """A failure in the last step, filling the pool, leaves nothing behind."""
    uri = databases.new()
    app = make_app(uri, LEGACY_EXTENSIONS)
    allocator = app.extensions['haas'].allocator
    # The unique key of vlan.vlan_no refuses the second row.
    allocator.populate = lambda connection: connection.execute(
        sa.insert(sa.table('vlan', sa.column('vlan_no'),
                           sa.column('available'))),
        [{'vlan_no': 7, 'available': True}] * 2)

    with pytest.raises(sa.exc.IntegrityError):
        create(app)

    with app.app_context(), db.engine.connect() as connection:
        assert sa.inspect(connection).get_table_names() == []
