"""The dumps of released databases, upgraded to head and served: HaaS 0.2's
(from before schema versioning), and HaaS 0.3's and 0.4's, which the
project made with each release's own tools
(tests/fixtures/make_release_dump.py).  Each later release is tested
against the dumps of those before it."""

import json
import os

import pytest

from haas import deferred, migrations
from haas.model import db

from support.api import basic
from support.commands import cli
from support.config import CHEAP_HASHES, LEGACY_EXTENSIONS, config_text
from support.databases import make_app, snapshot, state_rows
from support.legacy import load_dump, read_dump
from support.revisions import CORE_0_3, CORE_HEAD

DUMP_0_3 = os.path.join(os.path.dirname(__file__), 'fixtures',
                        'haas-0.3.sql')
ROWS_0_3 = {
    'headnode': 1, 'hnic': 2, 'ipmi': 1, 'metadata': 3, 'mock_obm': 4,
    'mock_switch': 1, 'network': 5, 'network_attachment': 3,
    'network_projects': 4, 'networking_action': 4, 'nexus': 1, 'nic': 7,
    'node': 5, 'obm': 5, 'port': 8, 'power_connect55xx': 1, 'project': 3,
    'switch': 3, 'user': 4, 'user_projects': 3, 'vlan': 302,
}
DUMP_0_4 = os.path.join(os.path.dirname(__file__), 'fixtures',
                        'haas-0.4.sql')
#: 0.4's dump has 0.3's objects, and the actions that registering ports
#: queues, a console log and a networking daemon's heartbeat.
ROWS_0_4 = {**ROWS_0_3, 'networking_action': 12, 'console_log': 1,
            'daemon_heartbeat': 1}
MOCK_STATE = '[haas.ext.switches.mock]\nstate_dir = {}\n'


def counts(app, expected=ROWS_0_3):
    with app.app_context(), db.engine.connect() as connection:
        return {t: connection.exec_driver_sql(
                    f'SELECT count(*) FROM "{t}"').scalar() for t in expected}


#: Each 0.3 head of a driver with passwords -> its head now, at or past
#: the revision that encrypts them.
ENCRYPTED = {'9d5f2cab3511': 'e9c7556cca0f', '45b6520d2c63': '8ecb0d349ed2',
             'b9d87c7080f1': '8bdf5c902a41', 'bfe71cdb8f5d': '2de6116630a2',
             'a56855f9aa12': 'bf6ad6510a60'}


def load(pg_databases, path):
    """A database loaded from a shipped dump, and its haas.cfg."""
    uri = pg_databases.new()
    with open(path, encoding='utf-8') as f:
        load_dump(uri, f.read())
    return uri, config_text(uri, LEGACY_EXTENSIONS, extra=CHEAP_HASHES)


@pytest.fixture
def loaded(pg_databases):
    return load(pg_databases, DUMP_0_3)


@pytest.fixture
def loaded_0_4(pg_databases):
    return load(pg_databases, DUMP_0_4)


def test_the_0_3_dump_is_release_0_3_and_upgrades_to_head_with_every_row(
        loaded, pg_databases):
    uri, config = loaded
    app = make_app(uri, LEGACY_EXTENSIONS)
    before = json.loads(cli(['db', 'status', '--json'], config).output)
    assert before['release'] == '0.3'
    assert counts(app) == ROWS_0_3
    rows = state_rows(app)

    assert cli(['db', 'upgrade', 'heads'], config).exit_code == 0

    after = json.loads(cli(['db', 'status', '--json'], config).output)
    assert (after['current'], after['release']) == (True, '0.4')
    # Every row kept; each action names the port it changes: its nic's;
    # when and by which request it was queued, HaaS 0.3 did not keep.
    # Core's version row moves on to its head; the drivers with passwords
    # are past 0.3 too, their passwords encrypted (state_rows shows a
    # token as its text).
    port_of = {nic['id']: nic['port_id'] for nic in rows['nic']}
    assert state_rows(app)['networking_action'] == [
        {**row, 'port_id': port_of[row['nic_id']], 'queued_at': None,
         'request_id': None}
        for row in rows['networking_action']]
    moved = {**ENCRYPTED, CORE_0_3: CORE_HEAD}
    assert state_rows(app)['alembic_version'] == sorted(
        [{'version_num': moved.get(row['version_num'], row['version_num'])}
         for row in rows['alembic_version']],
        key=lambda row: row['version_num'])
    # The Dell and Nexus switches' branches move on to their save
    # revisions, and each of their switches gains save, false; each
    # PowerConnect is reached over SSH, as before.
    saving = ('power_connect55xx', 'nexus')
    added = {'power_connect55xx': {'save': False, 'protocol': 'ssh'},
             'nexus': {'save': False}}
    for table in saving:
        assert state_rows(app)[table] == [
            {**row, **added[table]} for row in rows[table]]
    # A node's OBM is neither enabled nor disabled until node_set_obm.
    assert state_rows(app)['node'] == [
        {**row, 'obm_enabled': None} for row in rows['node']]
    assert state_rows(app)['daemon_heartbeat'] == []  # a table since
    assert state_rows(app)['console_log'] == []  # a table since
    unchanged = ('networking_action', 'alembic_version',
                 'haas_schema_branch', 'node', 'daemon_heartbeat',
                 'console_log', *saving)
    assert {t: r for t, r in state_rows(app).items()
            if t not in unchanged} == {
        t: r for t, r in rows.items() if t not in unchanged}
    assert snapshot(app) == created(pg_databases)


def created(databases):
    """The snapshot of a database `db create` made."""
    app = make_app(databases.new(), LEGACY_EXTENSIONS)
    with app.app_context():
        migrations.create()
    return snapshot(app)


def upgraded_and_served(loaded, tmp_path):
    """The loaded dump upgraded to the heads by `db upgrade heads`, and an
    app on it (mock switches' state in `tmp_path`): (app, its client)."""
    uri, config = loaded
    assert cli(['db', 'upgrade', 'heads'], config).exit_code == 0
    app = make_app(uri, LEGACY_EXTENSIONS,
                   extra=CHEAP_HASHES + MOCK_STATE.format(tmp_path))
    return app, app.test_client()


def test_the_0_3_dump_upgraded_to_head_is_served(loaded, tmp_path):
    app, client = upgraded_and_served(loaded, tmp_path)
    alice, admin = basic('alice', 'alice-pw'), basic('admin', 'admin-pw')

    shared = client.get('/network/shared_net', headers=alice).json
    assert (shared['owner'], shared['projects']) == ('manhattan',
                                                     ['manhattan', 'runway'])
    node = client.get('/node/free_node_1', headers=admin).json
    assert node['metadata'] == {'rack': '7', 'tags': '["gpu"]'}
    with app.app_context():
        statuses = dict(db.session.execute(db.text(
            'SELECT status, uuid FROM networking_action WHERE status IN '
            "('PENDING', 'ERROR')")).all())
    pending = client.get(f'/networking_action/{statuses["PENDING"]}',
                         headers=alice).json
    assert pending == {'status': 'PENDING', 'node': 'runway_node_1',
                       'nic': 'eth0', 'type': 'modify_port',
                       'channel': 'vlan/native', 'new_network': None,
                       'error': None, 'switch': 'stock_switch_0',
                       'port': 'runway_node_1_port'}
    failed = client.get(f'/networking_action/{statuses["ERROR"]}',
                        headers=admin).json
    assert (failed['status'], failed['error']) == (
        'ERROR', 'the PowerConnect55xx driver cannot configure switches yet')
    users = client.get('/auth/basic/users', headers=admin).json
    assert users['bob'] == {'is_admin': False,
                            'projects': ['manhattan', 'runway']}

    with app.app_context():
        deferred.Daemon().apply_all()
    assert client.get(f'/networking_action/{statuses["PENDING"]}',
                      headers=alice).json['status'] == 'DONE'
    assert client.get('/node/runway_node_1', headers=alice).json[
        'nics'][0]['networks'] == {}


def test_the_0_4_dump_is_release_0_4_and_upgrades_to_head_with_every_row(
        loaded_0_4, pg_databases):
    uri, config = loaded_0_4
    app = make_app(uri, LEGACY_EXTENSIONS)
    before = json.loads(cli(['db', 'status', '--json'], config).output)
    assert (before['current'], before['release']) == (True, '0.4')
    assert counts(app, ROWS_0_4) == ROWS_0_4
    rows = state_rows(app)

    assert cli(['db', 'upgrade', 'heads'], config).exit_code == 0

    # At 0.4's heads, which are this tree's: every row as it was.
    after = json.loads(cli(['db', 'status', '--json'], config).output)
    assert (after['current'], after['release']) == (True, '0.4')
    assert state_rows(app) == rows
    assert snapshot(app) == created(pg_databases)


def test_the_0_4_dump_upgraded_to_head_is_served(loaded_0_4, tmp_path):
    app, client = upgraded_and_served(loaded_0_4, tmp_path)
    admin = basic('admin', 'admin-pw')

    # The console that 0.4 captured, and the OBM it disabled.
    console = client.get('/node/free_node_0/console', headers=admin)
    assert (console.status_code, console.get_data(as_text=True)) == (
        200, 'free_node_0 login: ')
    assert client.get('/node/free_node_1/console',
                      headers=admin).status_code == 409
    # The revert that registering a port of the unreachable Nexus queued
    # waits, with its reason.
    with app.app_context():
        uuid = db.session.execute(db.text(
            "SELECT uuid FROM networking_action WHERE error LIKE "
            "'cannot reach switch nexus_0%'")).scalar_one()
    waiting = client.get(f'/networking_action/{uuid}', headers=admin).json
    assert (waiting['status'], waiting['type'], waiting['port']) == (
        'PENDING', 'revert_port', 'Ethernet1/1')
    assert waiting['error'].startswith('cannot reach switch nexus_0')
    assert client.get('/network/shared_net', headers=basic(
        'alice', 'alice-pw')).json['projects'] == ['manhattan', 'runway']


def test_the_0_2_dump_upgraded_to_head_is_served_to_both_kinds_of_client(
        pg_databases, tmp_path):
    uri = pg_databases.new()
    load_dump(uri, read_dump())
    config = config_text(uri, LEGACY_EXTENSIONS, extra=CHEAP_HASHES)
    assert cli(['db', 'upgrade', 'heads'], config).exit_code == 0
    # The heads are release 0.4.
    assert json.loads(cli(['db', 'status', '--json'], config).output)[
        'release'] == '0.4'
    app = make_app(uri, LEGACY_EXTENSIONS,
                   extra=CHEAP_HASHES + MOCK_STATE.format(tmp_path))
    with app.app_context():
        app.extensions['haas'].auth_backend.create_admin_user('admin', 'pw')
    client, admin = app.test_client(), basic('admin', 'pw')

    # HaaS 0.2's keys, as its client read them, beside 0.3's.
    assert client.get('/network/runway_pxe', headers=admin).json == {
        'name': 'runway_pxe', 'creator': 'runway', 'owner': 'runway',
        'access': 'runway', 'projects': ['runway'],
        'channels': ['vlan/native', 'vlan/102'], 'network_id': '102',
        'connected-nodes': {}}
    assert client.get('/network/stock_int_pub', headers=admin).json[
        'projects'] is None
    assert sorted(client.get('/networks', headers=admin).json) == [
        'manhattan_provider', 'manhattan_pxe', 'pub_default',
        'runway_provider', 'runway_pxe', 'stock_ext_pub', 'stock_int_pub']

    queued = client.post('/node/runway_node_0/nic/nic-with-port/'
                         'connect_network', headers=admin,
                         json={'network': 'runway_pxe'})
    assert queued.status_code == 202
    with app.app_context():
        deferred.Daemon().apply_all()
    assert client.get(f'/networking_action/{queued.json["status_id"]}',
                      headers=admin).json['status'] == 'DONE'
    # A HaaS 0.2 client names the owner `creator`.
    assert client.put('/network/old_style', headers=admin, json={
        'creator': 'admin', 'access': '', 'net_id': ''}).status_code == 200
