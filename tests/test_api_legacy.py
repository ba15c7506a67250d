"""A HaaS 0.2 database, upgraded in place, is served by the API with its
data; a user as HaaS 0.2 stored it logs in and gets a current hash."""

import pytest
import sqlalchemy as sa
from passlib.hash import sha512_crypt

import haas
from haas.model import db

from support.api import basic
from support.commands import cli
from support.config import (
    CHEAP_HASHES,
    HEADNODE_CONFIG,
    LEGACY_EXTENSIONS,
    config_text,
)
from support.databases import Databases
from support.legacy import load_dump, read_dump


@pytest.fixture(scope='module')
def legacy(tmp_path_factory):
    """(app, headers of a HaaS 0.2 admin) on the upgraded dump."""
    sql = read_dump()
    dbs = Databases('postgresql', tmp_path_factory.mktemp('legacy'))
    uri = dbs.new()
    load_dump(uri, sql)
    config = config_text(uri, LEGACY_EXTENSIONS,
                         extra=CHEAP_HASHES + HEADNODE_CONFIG)
    assert cli(['db', 'upgrade', 'heads'], config).exit_code == 0
    app = haas.create_app(config)
    with app.app_context():
        # As HaaS 0.2 wrote a user: a sha512_crypt hash.
        db.session.execute(sa.text(
            'INSERT INTO "user" (label, is_admin, hashed_password) '
            "VALUES ('old-admin', true, :hash)"),
            {'hash': sha512_crypt.hash('from-2016')})
        db.session.commit()
    yield app, basic('old-admin', 'from-2016')
    with app.app_context():
        db.engine.dispose()
    dbs.drop_all()


def get(legacy, path):
    app, headers = legacy
    response = app.test_client().get(path, headers=headers)
    return response.status_code, response.json


def test_the_legacy_users_hash_verifies_and_is_replaced_by_argon2(legacy):
    app, _ = legacy

    assert get(legacy, '/projects')[0] == 200

    with app.app_context():
        stored = db.session.execute(sa.text(
            "SELECT hashed_password FROM \"user\" WHERE label = 'old-admin'"
        )).scalar()
    assert stored.startswith('$argon2id$')
    assert get(legacy, '/projects')[0] == 200  # and the new hash verifies


@pytest.mark.parametrize('path, body', [
    ('/projects', ['empty-project', 'manhattan', 'runway']),
    ('/free_nodes', ['free_node_0', 'free_node_1', 'no_nic_node']),
    ('/project/runway/nodes', ['runway_node_0', 'runway_node_1']),
    ('/project/manhattan/nodes', ['manhattan_node_0', 'manhattan_node_1']),
    ('/project/runway/networks', ['runway_provider', 'runway_pxe']),
    # An administrator's view: where each nic is cabled.
    ('/node/runway_node_0', {
        'name': 'runway_node_0', 'project': 'runway', 'metadata': {},
        'nics': [{'label': 'boot-nic', 'macaddr': 'Unknown', 'networks': {},
                  'port': None, 'switch': None},
                 {'label': 'nic-with-port', 'macaddr': 'Unknown',
                  'networks': {}, 'port': 'runway_node_0_port',
                  'switch': 'stock_switch_0'}]}),
    ('/node/no_nic_node', {'name': 'no_nic_node', 'project': None,
                           'metadata': {}, 'nics': []}),
    ('/network/runway_pxe', {'name': 'runway_pxe', 'owner': 'runway',
                             'creator': 'runway', 'access': 'runway',
                             'projects': ['runway'], 'network_id': '102',
                             'channels': ['vlan/native', 'vlan/102'],
                             'connected-nodes': {}}),
    ('/network/stock_ext_pub', {'name': 'stock_ext_pub', 'owner': 'admin',
                                'creator': 'admin', 'projects': None,
                                'network_id': 'ext_pub_chan',
                                'channels': ['vlan/native',
                                             'vlan/ext_pub_chan'],
                                'connected-nodes': {}}),
    ('/project/runway/headnodes', ['runway_headnode_off',
                                   'runway_headnode_on']),
    ('/project/manhattan/headnodes', ['runway_manhattan_off',
                                      'runway_manhattan_on']),
    ('/network/manhattan_provider', {
        'name': 'manhattan_provider', 'owner': 'admin', 'creator': 'admin',
        'access': 'manhattan', 'projects': ['manhattan'],
        'network_id': 'manhattan_provider_chan', 'connected-nodes': {},
        'channels': ['vlan/native', 'vlan/manhattan_provider_chan']}),
])
def test_the_upgraded_dump_is_served_with_its_data(legacy, path, body):
    assert get(legacy, path) == (200, body)


def test_the_upgraded_dumps_objects_take_new_calls(legacy):
    app, headers = legacy
    client = app.test_client()
    # A node of the dump goes to a project, a network comes from the pool,
    # the OBM driver of the renamed mock_obm table works, and the node's
    # cabled nic is queued onto the network.
    steps = [
        client.post('/project/empty-project/connect_node', headers=headers,
                    json={'node': 'free_node_0'}),
        client.put('/network/fresh', headers=headers, json={
            'owner': 'empty-project', 'access': 'empty-project',
            'net_id': ''}),
        client.post('/node/free_node_0/power_cycle', headers=headers),
        client.post('/node/free_node_0/nic/nic-with-port/connect_network',
                    headers=headers, json={'network': 'fresh'}),
    ]

    assert [r.status_code for r in steps] == [200, 200, 200, 202]
    assert get(legacy, '/network/fresh') == (200, {
        'name': 'fresh', 'owner': 'empty-project', 'creator': 'empty-project',
        'access': 'empty-project', 'projects': ['empty-project'],
        'network_id': '104', 'connected-nodes': {},
        'channels': ['vlan/native', 'vlan/104']})
    with app.app_context():
        queued = db.session.execute(sa.text(
            'SELECT uuid, status, type, channel FROM networking_action'
        )).all()
    assert [tuple(row) for row in queued] == [
        (steps[3].json['status_id'], 'PENDING', 'modify_port',
         'vlan/native')]


def test_a_headnode_of_the_dump_is_shown_with_its_uuid(legacy):
    app, _ = legacy
    with app.app_context():
        uuid = db.session.execute(sa.text(
            "SELECT uuid FROM headnode WHERE label = 'runway_headnode_on'"
        )).scalar()

    # Under dry_run, a started headnode's VNC port is not asked for.
    assert get(legacy, '/headnode/runway_headnode_on') == (200, {
        'name': 'runway_headnode_on', 'project': 'runway',
        'base_img': 'base-headnode', 'hnics': ['public', 'pxe'],
        'vncport': None, 'uuid': uuid})
