"""HaaS 0.2 -> 0.3 with data: each revision of the 0.3 chain keeps every
row (an access list, a queued action and its reason, metadata), goes down
and up again, and refuses, before it changes anything, what it cannot do
without loss."""

import json
import re

import pytest

from haas import migrations
from haas.migrations import LEDGER, releases
from haas.model import db

from support.commands import cli, error_line
from support.config import LEGACY_EXTENSIONS, config_text
from support.databases import make_app, snapshot, state_rows, table_rows

BASELINE = releases.RELEASES['0.2']['haas']
#: Core's revisions of HaaS 0.3, and the last of them: core's part of the
#: release.  Core's head is past it.
CHAIN = ['b5f9f30f275f', '5a8438c6d019', '956783fe5a7b', '153502badb2b',
         '3c2af72d0b46', '6ab9ae569654', 'eba7cfa60973']
HEAD = CHAIN[-1]
#: Core's revisions since 0.3.
SINCE = ['ee4142f61a1b', 'a7c6e21bf432', '3c8b1139f71f', '3cbce94efc51',
         'd7e4a1c9b352', 'e0635646ea80']
MOCK = 'http://schema.massopencloud.org/haas/v0'

#: A HaaS 0.2 database's rows, as its API wrote them: a public, a project
#: and a provider network; a node on a network with a connect queued, a
#: free node with a detach queued; a headnode; a user in a project.
SEED = [
    "INSERT INTO project (id, label) VALUES (1, 'runway'), (2, 'manhattan'),"
    " (3, 'empty')",
    f"INSERT INTO obm (id, type) VALUES (1, '{MOCK}/obm/mock'), "
    f"(2, '{MOCK}/obm/mock')",
    "INSERT INTO mock_obm (id, host, \"user\", password) VALUES "
    "(1, 'h1', 'u', 'p'), (2, 'h2', 'u', 'p')",
    "INSERT INTO node (id, label, project_id, obm_id) VALUES "
    "(1, 'n1', 1, 1), (2, 'n2', NULL, 2)",
    f"INSERT INTO switch (id, label, type) VALUES "
    f"(1, 'sw', '{MOCK}/switches/mock')",
    "INSERT INTO mock_switch (id, hostname, username, password) VALUES "
    "(1, 'h', 'u', 'p')",
    "INSERT INTO port (id, label, owner_id) VALUES (1, 'p1', 1), "
    "(2, 'p2', 1)",
    "INSERT INTO nic (id, label, owner_id, mac_addr, port_id) VALUES "
    "(1, 'eth0', 1, 'm1', 1), (2, 'eth0', 2, 'm2', 2)",
    "INSERT INTO network (id, label, creator_id, access_id, allocated, "
    "network_id) VALUES (1, 'pub', NULL, NULL, TRUE, '100'), "
    "(2, 'pxe', 1, 1, TRUE, '101'), (3, 'provider', NULL, 2, FALSE, 'ext')",
    "INSERT INTO network_attachment (id, nic_id, network_id, channel) "
    "VALUES (1, 1, 1, 'vlan/native')",
    "INSERT INTO networking_action (id, nic_id, new_network_id, channel) "
    "VALUES (1, 1, 2, 'vlan/101'), (2, 2, NULL, 'vlan/native')",
    "INSERT INTO headnode (id, label, project_id, dirty, base_img, uuid) "
    "VALUES (1, 'hn', 1, FALSE, 'img', 'a-uuid')",
    "INSERT INTO hnic (id, label, owner_id, network_id) VALUES "
    "(1, 'pxe', 1, 2)",
    "INSERT INTO \"user\" (id, label, is_admin, hashed_password) VALUES "
    "(1, 'alice', FALSE, 'x')",
    "INSERT INTO user_projects (user_id, project_id) VALUES (1, 1)",
]
#: The tables whose rows 0.3 leaves as they are.
UNCHANGED = ['project', 'obm', 'mock_obm', 'switch', 'mock_switch',
             'port', 'nic', 'network_attachment', 'headnode', 'hnic', 'user',
             'user_projects']
UUID4 = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-'
                   r'[0-9a-f]{12}')


def execute(app, *statements):
    with app.app_context(), db.engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)


def query(app, sql):
    with app.app_context(), db.engine.connect() as connection:
        return [tuple(r) for r in connection.exec_driver_sql(sql)]


@pytest.fixture
def at_0_2(databases):
    """An app on a database at release 0.2, holding SEED's rows; and its
    haas.cfg text."""
    return seeded(databases)


@pytest.fixture
def pg_at_0_2(pg_databases):
    """As at_0_2, on PostgreSQL only."""
    return seeded(pg_databases)


def seeded(databases):
    uri = databases.new()
    config = config_text(uri, LEGACY_EXTENSIONS)
    app = make_app(uri, LEGACY_EXTENSIONS)
    with app.app_context():
        migrations.upgrade(migrations.release_target('0.2'))
    execute(app, *SEED)
    return app, config


def core(app):
    with app.app_context():
        return {b.branch: b.revision
                for b in migrations.status().branches}['haas']


def test_a_0_2_database_upgrades_to_0_3_keeping_every_row(at_0_2, databases):
    app, config = at_0_2
    before = table_rows(app)

    assert cli(['db', 'upgrade', 'heads'], config).exit_code == 0

    after = table_rows(app)
    for table in UNCHANGED:
        assert after[table] == before[table], table
    # A node's OBM is neither enabled nor disabled until node_set_obm says.
    assert after['node'] == [{**row, 'obm_enabled': None}
                             for row in before['node']]
    assert query(app, 'SELECT label, owner_id FROM network ORDER BY id') == [
        ('pub', None), ('pxe', 1), ('provider', None)]
    # Each network's one project of access is its list.
    assert query(app, 'SELECT network_id, project_id FROM network_projects '
                      'ORDER BY network_id') == [(2, 1), (3, 2)]
    actions = query(app, 'SELECT id, nic_id, new_network_id, channel, status,'
                         ' type, uuid FROM networking_action ORDER BY id')
    assert [a[:6] for a in actions] == [
        (1, 1, 2, 'vlan/101', 'PENDING', 'modify_port'),
        (2, 2, None, 'vlan/native', 'PENDING', 'modify_port')]
    uuids = [a[6] for a in actions]
    assert all(UUID4.fullmatch(u) for u in uuids) and len(set(uuids)) == 2
    assert query(app, 'SELECT count(*) FROM metadata') == [(0,)]
    # The schema is the one `db create` builds.
    created = make_app(databases.new(), LEGACY_EXTENSIONS)
    with created.app_context():
        migrations.create()
    assert snapshot(app) == snapshot(created)
    status = cli(['db', 'status', '--json'], config)
    # At the heads: the last release.
    assert (core(app), json.loads(status.output)['release']) == (
        SINCE[-1], '0.4')


def test_on_postgresql_every_key_is_64_bit(pg_at_0_2):
    # (SQLite's are already.)
    app, config = pg_at_0_2
    cli(['db', 'upgrade', 'heads'], config)
    narrow = query(app, "SELECT table_name, column_name FROM "
                        "information_schema.columns WHERE table_schema = "
                        "current_schema() AND (column_name = 'id' OR "
                        "right(column_name, 3) = '_id') AND "
                        "data_type = 'integer' "
                        "AND table_name NOT IN ('haas_schema_ledger') "
                        "ORDER BY 1, 2")
    assert narrow == []
    assert query(app, "SELECT count(*) FROM information_schema.sequences "
                      "WHERE sequence_schema = current_schema() AND "
                      "data_type = 'integer' AND sequence_name <> "
                      "'haas_schema_ledger_id_seq'") == [(0,)]


@pytest.mark.slow
@pytest.mark.parametrize('revision', CHAIN)
def test_each_revision_goes_down_and_up_again_with_the_rows(at_0_2,
                                                            revision):
    app, _ = at_0_2
    with app.app_context():
        migrations.upgrade(revision)
    mask = {'networking_action': ['uuid']}  # a new one each way up
    before, rows = snapshot(app), state_rows(app, mask)

    with app.app_context():
        migrations.downgrade('haas@-1', cascade=True)
        assert core(app) == (CHAIN[CHAIN.index(revision) - 1]
                             if revision != CHAIN[0] else BASELINE)
        for row in before['alembic_version']:
            migrations.upgrade(row)

    assert snapshot(app) == before
    assert state_rows(app, mask) == rows


def test_duplicate_labels_stop_the_upgrade_before_any_change(at_0_2):
    app, config = at_0_2
    execute(app,
            f"INSERT INTO obm (id, type) VALUES (3, '{MOCK}/obm/mock')",
            "INSERT INTO mock_obm (id, host, \"user\", password) VALUES "
            "(3, 'h3', 'u', 'p')",
            "INSERT INTO node (id, label, project_id, obm_id) VALUES "
            "(3, 'n1', NULL, 3)",
            "INSERT INTO project (id, label) VALUES (4, 'runway')")
    before, rows = snapshot(app), table_rows(app)

    result = cli(['db', 'upgrade', 'heads'], config)

    line = error_line(result)
    assert 'revision 6ab9ae569654 of branch haas cannot run: node labels ' \
           'must be unique' in line and '(n1, 2)' in line
    assert 'project labels must be unique' in line and '(runway, 2)' in line
    assert snapshot(app) == before and table_rows(app) == rows


def test_going_back_to_one_project_per_network_is_refused_while_shared(
        at_0_2):
    app, config = at_0_2
    with app.app_context():
        migrations.upgrade('5a8438c6d019')
    execute(app, 'INSERT INTO network_projects (project_id, network_id) '
                 'VALUES (2, 2)')

    result = cli(['db', 'downgrade', 'haas@-1'], config)

    assert 'HaaS 0.2 gives a network one project at most, and 1 have more ' \
           '(pxe)' in error_line(result)
    assert core(app) == '5a8438c6d019'
    execute(app, 'DELETE FROM network_projects WHERE project_id = 2 AND '
                 'network_id = 2')
    assert cli(['db', 'downgrade', 'haas@-1'], config).exit_code == 0
    assert query(app, 'SELECT id, access_id FROM network ORDER BY id') == [
        (1, None), (2, 1), (3, 2)]


def test_going_back_before_action_status_keeps_the_pending_ones_only(at_0_2):
    app, config = at_0_2
    with app.app_context():
        migrations.upgrade('956783fe5a7b')
    execute(app, "UPDATE networking_action SET status = 'DONE' WHERE id = 2",
            "INSERT INTO networking_action (id, nic_id, new_network_id, "
            "channel, uuid, status, type) VALUES (3, 2, NULL, '', 'u3', "
            "'PENDING', 'revert_port')")

    result = cli(['db', 'downgrade', 'haas@-1'], config)

    assert '1 revert_port action(s) are pending, which HaaS 0.2 cannot hold' \
        in error_line(result)
    execute(app, "UPDATE networking_action SET status = 'ERROR' WHERE id = 3")
    assert cli(['db', 'downgrade', 'haas@-1'], config).exit_code == 0
    # A finished action is history, which HaaS 0.2 never kept.
    assert query(app, 'SELECT id, channel FROM networking_action') == [
        (1, 'vlan/101')]


def test_going_back_before_metadata_is_refused_while_nodes_have_some(at_0_2):
    app, config = at_0_2
    with app.app_context():
        migrations.upgrade('153502badb2b')
    execute(app, "INSERT INTO metadata (id, label, value, owner_id) VALUES "
                 "(1, 'rack', '7', 1)")

    result = cli(['db', 'downgrade', 'haas@-1'], config)

    assert 'the nodes hold 1 metadata value(s), which HaaS 0.2 cannot' in \
        error_line(result)
    assert query(app, 'SELECT label, value FROM metadata') == [('rack', '7')]


def test_keys_past_32_bits_cannot_go_back_to_integer(pg_at_0_2):
    # (SQLite has one integer type.)
    app, config = pg_at_0_2
    cli(['db', 'upgrade', 'heads'], config)
    execute(app, "INSERT INTO project (id, label) VALUES (3000000000, 'big')")

    result = cli(['db', 'downgrade', '--cascade', 'haas@153502badb2b'],
                 config)

    # The extensions that depend on core went first, then its unique
    # labels, each in its own transaction; its 64-bit keys refuse.
    assert result.exit_code == 1
    assert 'project.id holds 3000000000, which a 32-bit key cannot' in \
        result.stderr.splitlines()[-1]
    assert core(app) == '3c2af72d0b46'


# --- releases -------------------------------------------------------------

def status_release(config):
    return json.loads(cli(['db', 'status', '--json'], config).output)[
        'release']


def test_status_names_the_release_and_upgrade_stops_at_one(databases):
    uri = databases.new()
    config = config_text(uri, LEGACY_EXTENSIONS)
    assert status_release(config) is None  # not created

    assert cli(['db', 'upgrade', '--to-release', '0.2'], config).exit_code \
        == 0
    text = cli(['db', 'status'], config).output
    assert 'Release: 0.2\n' in text
    assert status_release(config) == '0.2'

    cli(['db', 'upgrade', CHAIN[0]], config)
    assert 'Release: none (the branches are not all at the revisions of one ' \
           'of 0.2, 0.3, 0.4)' in cli(['db', 'status'], config).output

    assert cli(['db', 'upgrade', '--to-release', '0.3'], config).exit_code \
        == 0
    assert status_release(config) == '0.3'
    # Core stopped at its 0.3 revision, before those that came since.
    assert cli(['db', 'current'], config).output.splitlines()[0] == (
        f'{HEAD} (haas) (behind its head {SINCE[-1]}: {len(SINCE)} to run)')
    assert error_line(cli(['db', 'upgrade', '--to-release', '0.2'],
                          config)).startswith(
        f'the database is past release 0.2 (haas at {HEAD} and 7 more '
        'branches): an upgrade does not go back')
    assert error_line(cli(['db', 'upgrade', '--to-release', '9.9'],
                          config)) == \
        'there is no HaaS release 9.9: this HaaS knows 0.2, 0.3, 0.4'


def test_every_release_names_every_branch_of_haas_and_only_known_revisions():
    from haas.migrations.scripts import Branches, installed_branch_of
    branch_of = installed_branch_of()
    ours = sorted(set(branch_of.values()) - {LEDGER})
    for release, heads in releases.RELEASES.items():
        # A release names the branches HaaS had when it was made: the
        # baselines' at least, and none it does not have now.
        assert set(releases.BASELINES) <= set(heads) <= set(ours), release
        for branch, revision in heads.items():
            assert branch_of[revision] == branch, (release, branch)
    # The release being made, or between releases the last one, is the
    # heads of every branch of HaaS's tree.
    latest = releases.UNRELEASED or releases.names()[-1]
    branches = Branches([b for b in ours if b != 'haas'])
    assert releases.RELEASES[latest] == {
        b: branches.heads[b] for b in ours}, \
        ('a new revision of a branch of HaaS goes into RELEASES[UNRELEASED]'
         ': after a release, name the next one UNRELEASED and give it an '
         'entry')
    assert branches.heads['haas'] == SINCE[-1]


def test_a_release_with_a_revision_unknown_to_its_branch_is_not_matched():
    assert releases.matching({'haas': BASELINE}) == '0.2'
    assert releases.matching({'haas': HEAD, 'haas_example_ext': 'x'}) == '0.3'
    assert releases.matching({'haas': HEAD,
                              'haas.ext.obm.mock': 'df8d9f423f2b'}) is None
    assert releases.matching({'haas.ext.obm.mock': 'df8d9f423f2b'}) is None


def test_the_sql_of_the_0_3_upgrade_is_written_without_a_database():
    # Offline: what the scripts cannot read (the foreign keys to drop, the
    # data checks) is left to PostgreSQL or written as comments.
    config = config_text('postgresql://nobody@127.0.0.1:1/none',
                         LEGACY_EXTENSIONS)
    result = cli(['db', 'upgrade', '--sql', f'{BASELINE}:{HEAD}'], config)
    assert result.exit_code == 0, result.output
    assert 'ALTER TABLE network RENAME COLUMN creator_id TO owner_id' in \
        result.output
    assert 'INSERT INTO network_projects' in result.output
    assert '-- data check, must return no rows (node labels must be unique' \
        in result.output
    assert 'ALTER COLUMN "id" TYPE bigint' in result.output
