"""`haas-admin switch verify [--fix] [--json]`: the mock switch's ports,
changed from outside its driver, against the database; the repairs
queued, applied by the daemon, and verified again."""

import json
import os

import pytest
import sqlalchemy as sa

from haas import deferred, migrations
from haas.ext.switches import mock
from haas.model import NetworkAttachment, NetworkingAction, db

from support.api import OBM, SWITCH, calls
from support.commands import cli, error_line
from support.config import config_text
from support.databases import make_app

EXTENSIONS = ['haas.ext.auth.null', 'haas.ext.network_allocators.vlan_pool',
              'haas.ext.switches.mock', 'haas.ext.obm.mock']


class Site:
    """A database with switch sw0: node n1 on port p1 (net-a native,
    net-b tagged), n2 on p2 (net-a native), and p3 with no nic; all
    applied by the daemon.  `admin(args)` runs haas-admin on it."""

    def __init__(self, uri, tmp_path):
        extra = (f'[haas.ext.switches.mock]\n'
                 f'state_dir = {tmp_path / "switches"}\n')
        self.config = config_text(uri, EXTENSIONS, extra=extra)
        self.app = make_app(uri, EXTENSIONS, extra=extra)
        with self.app.app_context():
            migrations.create()
            client = self.app.test_client()
            calls(client, {},
                  ('PUT', '/project/runway', None),
                  ('PUT', '/switch/sw0', SWITCH),
                  ('PUT', '/switch/sw0/port/p3', None))
            for node, port in (('n1', 'p1'), ('n2', 'p2')):
                calls(client, {},
                      ('PUT', f'/node/{node}', {'obm': OBM}),
                      ('PUT', f'/node/{node}/nic/eth0', {'macaddr': 'm'}),
                      ('PUT', f'/switch/sw0/port/{port}', None),
                      ('POST', f'/switch/sw0/port/{port}/connect_nic',
                       {'node': node, 'nic': 'eth0'}),
                      ('POST', '/project/runway/connect_node',
                       {'node': node}))
            self.vlans = {}
            for net in ('net-a', 'net-b'):
                calls(client, {}, ('PUT', f'/network/{net}', {
                    'owner': 'runway', 'access': 'runway', 'net_id': ''}))
                self.vlans[net] = client.get(f'/network/{net}').json[
                    'channels'][1].split('/')[1]
            for node, net, channel in (
                    ('n1', 'net-a', None),
                    ('n1', 'net-b', f'vlan/{self.vlans["net-b"]}'),
                    ('n2', 'net-a', None)):
                body = {'network': net}
                if channel:
                    body['channel'] = channel
                calls(client, {}, ('POST',
                                   f'/node/{node}/nic/eth0/connect_network',
                                   body))
                deferred.Daemon().apply_all()

    def admin(self, *args):
        return cli(list(args), config=self.config)

    def apply_all(self):
        with self.app.app_context():
            return deferred.Daemon().apply_all()

    def ports(self):
        with self.app.app_context():
            return mock.read_state(self.app.extensions['haas'].config,
                                   'sw0')['ports']

    def carry(self, port, channels):
        """Make the switch's port `port` carry `channels` ({channel:
        network_id}; {}: nothing), behind HaaS's back, as a technician at
        the switch's console would."""
        with self.app.app_context():
            folder = mock.switch_dir(self.app.extensions['haas'].config,
                                     'sw0')
        path = os.path.join(folder, mock.file_name(port) + mock.PORT_SUFFIX)
        if not channels:
            os.remove(path)
            return
        with open(path, 'w') as f:
            json.dump({'port': port, 'channels': channels}, f)

    def attachments(self):
        """Every attachment row: (node, channel, network)."""
        with self.app.app_context():
            return sorted(
                (a.nic.owner.label, a.channel, a.network.label)
                for a in db.session.execute(
                    sa.select(NetworkAttachment)).scalars())


@pytest.fixture
def site(databases, tmp_path):
    return Site(databases.new(), tmp_path)


def test_a_switch_that_matches_the_database_verifies_clean(site):
    a, b = site.vlans['net-a'], site.vlans['net-b']
    assert site.ports() == {'p1': {'vlan/native': a, f'vlan/{b}': b},
                            'p2': {'vlan/native': a}}

    result = site.admin('switch', 'verify', 'sw0')

    assert (result.exit_code, result.output) == (0, (
        'switch sw0: 3 ports, 3 as in the database, 0 drifted, 0 pending, '
        '0 unreadable\n'))


def drift(site):
    """p1 lost its tagged VLAN and gained VLAN 999; p2's native VLAN is
    another; p3 carries a native VLAN though no nic is on it."""
    a, b = site.vlans['net-a'], site.vlans['net-b']
    site.carry('p1', {'vlan/native': a, 'vlan/999': '999'})
    site.carry('p2', {'vlan/native': '4000'})
    site.carry('p3', {'vlan/native': '42'})
    return a, b


def test_drift_is_listed_port_by_port_with_exit_1(site):
    a, b = drift(site)

    result = site.admin('switch', 'verify', 'sw0')

    assert (result.exit_code, result.output) == (1, (
        f'drift: port p1 (node n1, nic eth0): vlan/{b}: switch nothing, '
        f'database {b} (net-b); vlan/999: switch 999, database nothing\n'
        f'drift: port p2 (node n2, nic eth0): vlan/native: switch 4000, '
        f'database {a} (net-a)\n'
        f'drift: port p3 (no nic): vlan/native: switch 42, database '
        f'nothing\n'
        f'switch sw0: 3 ports, 0 as in the database, 3 drifted, 0 pending, '
        f'0 unreadable\n'))


def test_fix_queues_the_repairs_and_the_daemon_makes_the_switch_match(site):
    a, b = drift(site)
    before = site.attachments()

    result = site.admin('switch', 'verify', 'sw0', '--fix', '--json')

    assert result.exit_code == 1
    out = json.loads(result.output)
    assert [(q['port'], q['node'], q['action'], q['channel'], q['network'])
            for q in out['queued']] == [
        ('p1', 'n1', 'detach', 'vlan/999', None),
        ('p1', 'n1', 'connect', f'vlan/{b}', 'net-b'),
        ('p2', 'n2', 'connect', 'vlan/native', 'net-a'),
        ('p3', None, 'revert', None, None)]
    assert out['left'] == []

    assert site.apply_all() == 4

    assert site.ports() == {'p1': {'vlan/native': a, f'vlan/{b}': b},
                            'p2': {'vlan/native': a}}
    # Connecting what the database already had added no second row.
    assert site.attachments() == before == [
        ('n1', f'vlan/{b}', 'net-b'), ('n1', 'vlan/native', 'net-a'),
        ('n2', 'vlan/native', 'net-a')]
    again = site.admin('switch', 'verify', 'sw0')
    assert (again.exit_code, again.output) == (0, (
        'switch sw0: 3 ports, 3 as in the database, 0 drifted, 0 pending, '
        '0 unreadable\n'))


def test_fix_reverts_a_port_without_a_nic_through_the_daemon(site):
    site.carry('p3', {'vlan/native': '42', 'vlan/43': '43'})

    result = site.admin('switch', 'verify', 'sw0', '--fix', '--json')

    assert result.exit_code == 1
    out = json.loads(result.output)
    with site.app.app_context():
        assert [(a.port.label, a.nic, a.type, a.uuid)
                for a in db.session.execute(sa.select(NetworkingAction)
                                            .filter_by(status='PENDING'))
                .scalars()] == [('p3', None, 'revert_port',
                                 out['queued'][0]['status_id'])]
    assert out['queued'] == [{
        'port': 'p3', 'node': None, 'nic': None, 'action': 'revert',
        'channel': None, 'network': None,
        'status_id': out['queued'][0]['status_id']}]
    # Queued, not applied: the port is pending until the daemon runs.
    pending = site.admin('switch', 'verify', 'sw0')
    assert (pending.exit_code, pending.output) == (0, (
        'pending: port p3 (no nic): an action is queued on it; not '
        'compared\n'
        'switch sw0: 3 ports, 2 as in the database, 0 drifted, 1 pending, '
        '0 unreadable\n'))

    assert site.apply_all() == 1

    assert 'p3' not in site.ports()
    assert site.admin('switch', 'verify', 'sw0').exit_code == 0


def test_fix_says_what_it_queued_and_what_it_cannot_fix(site):
    site.carry('p2', {})
    site.carry('p3', {'vlan/native': '42'})
    a = site.vlans['net-a']

    result = site.admin('switch', 'verify', 'sw0', '--fix')

    with site.app.app_context():
        status_id, revert_id = db.session.execute(
            sa.select(NetworkingAction.uuid).filter_by(
                status='PENDING').order_by(NetworkingAction.id)).scalars()
    assert (result.exit_code, result.output) == (1, (
        f'drift: port p2 (node n2, nic eth0): vlan/native: switch nothing, '
        f'database {a} (net-a)\n'
        f'drift: port p3 (no nic): vlan/native: switch 42, database '
        f'nothing\n'
        f'queued: connect port p2 (node n2, nic eth0) on vlan/native to '
        f'network net-a (status_id {status_id})\n'
        f'queued: revert port p3 (no nic) (status_id {revert_id})\n'
        f'switch sw0: 3 ports, 1 as in the database, 2 drifted, 0 pending, '
        f'0 unreadable\n'))


def test_a_port_whose_nic_has_a_pending_action_is_pending_not_drift(site):
    with site.app.app_context():
        calls(site.app.test_client(), {},
              ('POST', '/node/n2/nic/eth0/detach_network',
               {'network': 'net-a'}))

    result = site.admin('switch', 'verify', 'sw0', '--fix')

    assert (result.exit_code, result.output) == (0, (
        'pending: port p2 (node n2, nic eth0): an action is queued on its '
        'nic; not compared\n'
        'switch sw0: 3 ports, 2 as in the database, 0 drifted, 1 pending, '
        '0 unreadable\n'))


def test_the_json_report_lists_every_port(site):
    a, b = site.vlans['net-a'], site.vlans['net-b']
    site.carry('p2', {'vlan/native': a, 'vlan/7': '7'})

    result = site.admin('switch', 'verify', 'sw0', '--json')

    assert result.exit_code == 1
    assert json.loads(result.output) == {
        'switch': 'sw0', 'drift': True,
        'counts': {'ok': 2, 'drift': 1, 'pending': 0, 'unreadable': 0},
        'ports': [
            {'port': 'p1', 'node': 'n1', 'nic': 'eth0', 'verdict': 'ok',
             'switch': {'vlan/native': a, f'vlan/{b}': b},
             'database': {'vlan/native': a, f'vlan/{b}': b},
             'differences': [], 'fixable': None, 'reason': None},
            {'port': 'p2', 'node': 'n2', 'nic': 'eth0', 'verdict': 'drift',
             'switch': {'vlan/native': a, 'vlan/7': '7'},
             'database': {'vlan/native': a},
             'differences': [{'channel': 'vlan/7', 'switch': '7',
                              'database': None, 'network': None}],
             'fixable': True, 'reason': None},
            {'port': 'p3', 'node': None, 'nic': None, 'verdict': 'ok',
             'switch': {}, 'database': {}, 'differences': [],
             'fixable': None, 'reason': None}]}


def test_an_unknown_switch_is_one_line(site):
    result = site.admin('switch', 'verify', 'nope')

    assert error_line(result) == ('switch nope does not exist (haas switch '
                                  'list names the switches)')


def test_a_switch_that_cannot_be_reached_is_one_line_and_nothing_queued(
        site):
    """The mock's state of port p1 unreadable (a folder where its file
    was) is what an unreachable switch is to the command."""
    site.carry('p1', {})
    with site.app.app_context():
        folder = mock.switch_dir(site.app.extensions['haas'].config, 'sw0')
    os.mkdir(os.path.join(folder, mock.file_name('p1') + mock.PORT_SUFFIX))

    result = site.admin('switch', 'verify', 'sw0', '--fix')

    assert error_line(result).startswith(
        'switch sw0 cannot be reached: the mock switch cannot keep port p1: ')
    with site.app.app_context():
        assert db.session.execute(sa.select(NetworkingAction).filter_by(
            status='PENDING')).first() is None


def test_verify_refuses_a_database_whose_schema_is_not_current(
        databases, tmp_path):
    result = cli(['switch', 'verify', 'sw0'],
                 config=config_text(databases.new(), EXTENSIONS))

    assert result.exit_code == 1
    assert 'not initialised' in error_line(result)
