"""The mock switch's files: every label, whatever it holds, names a file
inside state_dir, and no other; each database has a folder of its own;
labels longer than a driver takes are refused when registered."""

import hashlib
import os
import tempfile
import urllib.parse

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from haas import deferred
from haas.config import Config
from haas.ext.switches import mock, mock_state
from haas.model import REVERT_PORT, NetworkingAction, Port, Switch, db

from support.api import OBM, SWITCH, calls

LONG_PORT = 'p' * 250
#: 100 characters, 600 bytes percent-encoded: over the 255 of a file name.
E_SWITCH = 'é' * 100


@pytest.fixture
def state(monkeypatch, tmp_path):
    """The mock switches' folder: `state`, in a folder that holds nothing
    else, so that a file written beside it shows."""
    folder = tmp_path / 'state'
    monkeypatch.setattr(mock, 'state_dir', lambda config: str(folder))
    return folder


def tree(root):
    """Every folder and file under `root`, as paths relative to it, and
    what each file holds."""
    found = {}
    for folder, folders, names in os.walk(root):
        for name in folders:
            found[os.path.relpath(os.path.join(folder, name), root)] = None
        for name in names:
            path = os.path.join(folder, name)
            with open(path, 'rb') as f:
                found[os.path.relpath(path, root)] = f.read()
    return found


def q(label):
    """`label` in a URL path, dots too (a client would send `/switch/..`
    as `/`)."""
    return urllib.parse.quote(label, safe='').replace('.', '%2E')


def show(client, admin, status_id):
    return client.get(f'/networking_action/{status_id}', headers=admin).json


def unreachable(label):
    """Whether the API refuses `label` in a path: a `.` or `..` segment,
    which HTTP clients rewrite.  A database written before that rule (or
    by hand) may still hold one, and the mock must confine it too."""
    return any(part in ('.', '..') for part in label.split('/'))


def cabled(client, admin, switch, port):
    """Switch `switch` with port `port`, cabled to nic eth0 of node n1 of
    runway; network net of runway; its VLAN.  A label the API refuses is
    registered as a stand-in, then renamed in the database."""
    sw = 'stand-in' if unreachable(switch) else switch
    pt = 'stand-in' if unreachable(port) else port
    calls(client, admin,
          ('PUT', f'/switch/{q(sw)}', SWITCH),
          ('PUT', f'/switch/{q(sw)}/port/{q(pt)}', None),
          ('PUT', '/node/n1', {'obm': OBM}),
          ('PUT', '/node/n1/nic/eth0', {'macaddr': 'm'}),
          ('POST', f'/switch/{q(sw)}/port/{q(pt)}/connect_nic',
           {'node': 'n1', 'nic': 'eth0'}),
          ('POST', '/project/runway/connect_node', {'node': 'n1'}),
          ('PUT', '/network/net', {'owner': 'runway', 'access': 'runway',
                                   'net_id': ''}))
    db.session.execute(sa.update(Switch).where(Switch.label == sw)
                       .values(label=switch))
    db.session.execute(sa.update(Port).where(Port.label == pt)
                       .values(label=port))
    # Not the port's revert at registration (tests/test_deferred.py has
    # it): these tests follow their own actions' files.
    db.session.execute(sa.delete(NetworkingAction).where(
        NetworkingAction.nic_id.is_(None)))
    db.session.commit()
    return client.get('/network/net', headers=admin).json[
        'channels'][1].split('/')[1]


def reverted(client, admin, switch, port):
    """Queue reverting the port, through the API where it takes the
    labels, and apply it; its status_id."""
    if unreachable(switch) or unreachable(port):
        nic = db.session.execute(sa.select(Port).where(
            Port.label == port)).scalar().nic
        action = NetworkingAction(nic=nic, new_network=None, channel='',
                                  type=REVERT_PORT)
        db.session.add(action)
        db.session.commit()
        status_id = action.uuid
    else:
        status_id = client.post(f'/switch/{q(switch)}/port/{q(port)}/revert',
                                headers=admin).json['status_id']
    deferred.Daemon().apply_all()
    return status_id


def connected(client, admin):
    """Queue connecting n1's eth0 to net, and apply it; its status_id."""
    status_id = client.post('/node/n1/nic/eth0/connect_network',
                            headers=admin, json={'network': 'net'}
                            ).json['status_id']
    deferred.Daemon().apply_all()
    return status_id


@pytest.mark.parametrize('switch, port', [
    ('..', 'gi1/0/1'), ('.', 'gi1/0/1'), ('sw', '..'),
    ('sw', '../../escape'), ('sw', LONG_PORT), (E_SWITCH, 'gi1/0/1')],
    ids=['switch ..', 'switch .', 'port ..', 'port ../../escape',
         'port of 250 characters', 'switch of 100 é'])
def test_every_label_keeps_its_files_inside_state_dir(
        client, users, state, tmp_path, switch, port):
    admin = users['admin']
    vlan = cabled(client, admin, switch, port)
    # What the switch `..` wrote, and deleted on a revert, before.
    decoy = tmp_path / 'gi1%2F0%2F1.port.json'
    decoy.write_text('not the switch\'s')
    folder, name = mock.file_name(switch), mock.file_name(port)

    connect = connected(client, admin)
    (action,) = db.session.execute(sa.select(NetworkingAction.id).where(
        NetworkingAction.nic_id.is_not(None))).scalars()

    assert show(client, admin, connect) == {
        'status': 'DONE', 'node': 'n1', 'nic': 'eth0', 'switch': switch,
        'port': port, 'type': 'modify_port',
        'channel': 'vlan/native', 'new_network': 'net', 'error': None}
    assert mock.read_state(None, switch)['ports'] == {
        port: {'vlan/native': vlan}}
    assert set(tree(tmp_path)) == {
        'state', f'state/{folder}', f'state/{folder}/journal.jsonl',
        f'state/{folder}/{name}.port.json', decoy.name}
    assert all(len(n.encode()) <= mock.LONGEST_NAME
               for path in tree(tmp_path) for n in path.split('/'))

    revert = reverted(client, admin, switch, port)

    assert show(client, admin, revert)['status'] == 'DONE'
    assert mock.read_state(None, switch) == {
        'ports': {},
        'applied': [[action, port, 'vlan/native', vlan],
                    [None, port, None, None]]}
    assert tree(tmp_path) == {
        'state': None, f'state/{folder}': None,
        f'state/{folder}/journal.jsonl':
            tree(state)[f'{folder}/journal.jsonl'],
        decoy.name: b'not the switch\'s'}


def test_file_names_never_leave_their_folder_and_never_meet():
    labels = ['.', '..', '', '\x00', 'a/b', '/', '../x', 'gi1/0/5', '+',
              'a.b', LONG_PORT, LONG_PORT + 'q', E_SWITCH, 'x' * 500,
              '\ud800']
    names = [mock.file_name(label) for label in labels]

    assert len(set(names)) == len(labels)
    for name in names:
        assert name not in ('.', '..') and '/' not in name \
            and '\x00' not in name
        assert len((name + mock.PORT_SUFFIX + mock.NEW_SUFFIX).encode()) \
            <= mock.LONGEST_NAME
    # Short labels stay readable; long ones are a digest.
    assert names[7:10] == ['gi1%2F0%2F5', '%2B', 'a%2Eb']
    assert names[10] == '+' + hashlib.sha256(LONG_PORT.encode()).hexdigest()


def test_a_switch_folder_that_leads_elsewhere_is_refused_and_left_alone(
        client, users, state, tmp_path):
    admin = users['admin']
    cabled(client, admin, 'sw', 'gi1/0/1')
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    state.mkdir()
    (state / 'sw').symlink_to(elsewhere)

    status_id = connected(client, admin)

    assert show(client, admin, status_id) == {
        'status': 'ERROR', 'node': 'n1', 'nic': 'eth0', 'switch': 'sw',
        'port': 'gi1/0/1', 'type': 'modify_port', 'channel': 'vlan/native',
        'new_network': 'net',
        'error': f'{state}/sw leads outside the mock switches\' folder '
                 f'{state}: refused'}
    assert tree(elsewhere) == {}
    assert client.get('/node/n1', headers=admin).json['nics'][0][
        'networks'] == {}


# --- the default state_dir ---------------------------------------------------

def default_state_dir(uri, extra='', cwd=None):
    return mock.state_dir(Config.from_string(
        f'[database]\nuri = {uri}\n{extra}', cwd=cwd))


def test_each_database_has_a_state_dir_of_its_own(tmp_path):
    temporary = tempfile.gettempdir()

    def digest(uri):
        return os.path.join(temporary, 'haas-mock-switches-' + hashlib.sha256(
            uri.encode()).hexdigest()[:16])

    assert default_state_dir(f'sqlite:///{tmp_path}/haas.db') == \
        f'{tmp_path}/haas.db.mock-switches'
    assert default_state_dir('sqlite:///haas.db', cwd=str(tmp_path)) == \
        f'{tmp_path}/haas.db.mock-switches'
    # Without the password: the same folder whatever it is, and no secret
    # in its name.
    assert [default_state_dir(f'postgresql://haas:{password}@db/haas')
            for password in ('secret', 'other')] == 2 * [
        digest('postgresql+psycopg2://haas@db/haas')]
    assert default_state_dir('postgresql://haas@db/other') == \
        digest('postgresql+psycopg2://haas@db/other')
    assert default_state_dir('sqlite://') == digest('sqlite://')
    assert default_state_dir(
        'sqlite://', '[haas.ext.switches.mock]\nstate_dir = /srv/sw\n') == \
        '/srv/sw'


# --- mock_state: the state, seen from outside --------------------------------

def test_mock_state_prints_what_the_ports_carry(client, users, tmp_path,
                                                monkeypatch):
    config = tmp_path / 'haas.cfg'
    config.write_text(f'[haas.ext.switches.mock]\nstate_dir = '
                      f'{tmp_path}/switches\n')
    monkeypatch.setenv('HAAS_CONFIG', str(config))
    # The test's application reads the same state_dir.
    monkeypatch.setattr(mock, 'state_dir',
                        lambda _: str(tmp_path / 'switches'))
    admin = users['admin']
    vlan = cabled(client, admin, '..', LONG_PORT)
    connected(client, admin)
    (action,) = db.session.execute(sa.select(NetworkingAction.id).where(
        NetworkingAction.nic_id.is_not(None))).scalars()
    monkeypatch.undo()
    monkeypatch.setenv('HAAS_CONFIG', str(config))

    shown = CliRunner().invoke(mock_state.main, ['..'])
    folder = CliRunner().invoke(mock_state.main, ['..', '--folder'])

    assert (shown.exit_code, shown.output) == (0, (
        '{\n'
        '  "applied": [\n'
        '    [\n'
        f'      {action},\n'
        f'      "{LONG_PORT}",\n'
        '      "vlan/native",\n'
        f'      "{vlan}"\n'
        '    ]\n'
        '  ],\n'
        '  "ports": {\n'
        f'    "{LONG_PORT}": {{\n'
        f'      "vlan/native": "{vlan}"\n'
        '    }\n'
        '  }\n'
        '}\n'))
    assert (folder.exit_code, folder.output) == (
        0, f'{tmp_path}/switches/%2E%2E\n')


def test_mock_state_with_a_bad_configuration_says_so_in_one_line(
        tmp_path, monkeypatch):
    monkeypatch.setenv('HAAS_CONFIG', str(tmp_path / 'missing.cfg'))

    result = CliRunner().invoke(mock_state.main, ['sw0'])

    assert (result.exit_code, result.output) == (1, (
        f'Error: HAAS_CONFIG names {tmp_path}/missing.cfg, which does not '
        f'exist; unset it to use ./haas.cfg or the defaults\n'))


# --- labels a driver cannot take ---------------------------------------------

def test_a_port_label_longer_than_the_driver_takes_is_refused(
        client, users, monkeypatch):
    admin = users['admin']
    monkeypatch.setattr(mock.MockSwitch, 'max_port_label', 8)
    calls(client, admin, ('PUT', '/switch/sw', SWITCH))

    refused = client.put('/switch/sw/port/gi1/0/100', headers=admin)
    taken = client.put('/switch/sw/port/gi1/0/10', headers=admin)

    assert (refused.status_code, refused.json) == (400, {
        'type': 'BadArgumentError',
        'msg': 'The port label gi1/0/100 is 9 characters long; this switch '
               'type takes at most 8.'})
    assert taken.status_code == 200
    assert db.session.execute(sa.select(Port.label)).scalars().all() == [
        'gi1/0/10']


def test_a_switch_label_longer_than_the_driver_takes_is_refused(
        client, users, monkeypatch):
    admin = users['admin']
    monkeypatch.setattr(mock.MockSwitch, 'max_label', 3)

    refused = client.put('/switch/long', headers=admin, json=SWITCH)
    taken = client.put('/switch/sw0', headers=admin, json=SWITCH)

    assert (refused.status_code, refused.json) == (400, {
        'type': 'BadArgumentError',
        'msg': 'The switch label long is 4 characters long; this switch '
               'type takes at most 3.'})
    assert taken.status_code == 200
    assert db.session.execute(sa.select(Switch.label)).scalars().all() == [
        'sw0']
    assert db.session.execute(sa.text(
        'SELECT count(*) FROM mock_switch')).scalar() == 1
