"""The networking daemon: queued actions applied to the mock switch, once
each, by one daemon in this process or by several real ones."""

import logging
import os
import shutil
import signal
import subprocess
import time

import pytest
import sqlalchemy as sa

from haas import deferred
from haas.errors import SwitchError, SwitchUnavailableError
from haas.ext.switches import mock
from haas.model import Network, NetworkAttachment, NetworkingAction, Nic, db

from support.api import OBM, SWITCH, calls
from support.commands import HAAS_ADMIN
from support.config import NULL_AUTH_EXTENSIONS, config_text
from support.databases import Databases
from support.servers import eventually


@pytest.fixture
def switches(monkeypatch, tmp_path):
    """The mock switches' state, in a directory of this test's own."""
    monkeypatch.setattr(mock, 'state_dir', lambda config: str(tmp_path))
    return lambda label: mock.read_state(None, label)


def cabled_node(client, headers, node, switch, port, project='runway'):
    """Node `node` of `project`, its nic eth0 cabled to `switch` `port`,
    which registering reverted (in the switch's journal, as
    [None, port, None, None]), and which has no action left pending."""
    calls(client, headers,
          ('PUT', f'/node/{node}', {'obm': OBM}),
          ('PUT', f'/node/{node}/nic/eth0', {'macaddr': 'm'}),
          ('PUT', f'/switch/{switch}/port/{port}', None),
          ('POST', f'/switch/{switch}/port/{port}/connect_nic',
           {'node': node, 'nic': 'eth0'}),
          ('POST', f'/project/{project}/connect_node', {'node': node}))
    assert deferred.Daemon().apply_all() == 1


@pytest.fixture
def scene(client, users, switches):
    """Node n1 of runway on sw0 port gi1/0/1; network net of runway."""
    admin = users['admin']
    calls(client, admin, ('PUT', '/switch/sw0', SWITCH))
    cabled_node(client, admin, 'n1', 'sw0', 'gi1/0/1')
    calls(client, admin, ('PUT', '/network/net', {
        'owner': 'runway', 'access': 'runway', 'net_id': ''}))
    vlan = client.get('/network/net', headers=admin).json['channels'][1]
    return admin, vlan.split('/')[1]


def nic_actions():
    """The networking actions of nics (not the ports' reverts at
    registration), in the order queued."""
    return db.session.execute(
        sa.select(NetworkingAction).where(NetworkingAction.nic_id.is_not(
            None)).order_by(NetworkingAction.id)).scalars()


def actions():
    """Every nic's networking action: (nic's node, new network or None,
    status, type), in the order queued."""
    return [(a.nic.owner.label, a.new_network and a.new_network.label,
             a.status, a.type) for a in nic_actions()]


def reasons():
    """Every nic's networking action's node, status and reason."""
    return [(a.nic.owner.label, a.status, a.error) for a in nic_actions()]


def shown(client, headers, node):
    """show_networking_action of node `node`'s nic eth0's action."""
    (uuid,) = db.session.execute(
        sa.select(NetworkingAction.uuid).join(NetworkingAction.nic)
        .join(Nic.owner).where(sa.text('node.label = :node')),
        {'node': node}).scalars()
    return client.get(f'/networking_action/{uuid}', headers=headers).json


def test_a_queued_connect_is_applied_to_the_switch_and_recorded(
        client, scene, switches):
    admin, vlan = scene
    response = client.post('/node/n1/nic/eth0/connect_network',
                           headers=admin, json={'network': 'net'})

    applied = deferred.Daemon().apply_all()

    assert applied == 1
    assert client.get('/node/n1', headers=admin).json['nics'] == [
        {'label': 'eth0', 'macaddr': 'm', 'networks': {'vlan/native': 'net'},
         'port': 'gi1/0/1', 'switch': 'sw0'}]
    state = switches('sw0')
    assert state['ports'] == {'gi1/0/1': {'vlan/native': vlan}}
    assert [entry[1:] for entry in state['applied']] == [
        ['gi1/0/1', None, None], ['gi1/0/1', 'vlan/native', vlan]]
    # The action stays, DONE, under the status_id the request answered.
    (action,) = nic_actions()
    assert (response.status_code, response.json, action.status,
            action.type) == (202, {'status_id': action.uuid}, 'DONE',
                             'modify_port')


def test_a_queued_detach_is_applied_and_the_attachment_removed(
        client, scene, switches):
    admin, vlan = scene
    client.post('/node/n1/nic/eth0/connect_network', headers=admin,
                json={'network': 'net', 'channel': f'vlan/{vlan}'})
    deferred.Daemon().apply_all()
    client.post('/node/n1/nic/eth0/detach_network', headers=admin,
                json={'network': 'net'})

    assert deferred.Daemon().apply_all() == 1

    assert client.get('/node/n1', headers=admin).json['nics'][0][
        'networks'] == {}
    assert switches('sw0')['ports'] == {}
    assert db.session.execute(sa.select(NetworkAttachment)).first() is None
    # The connect's DONE action made way for the detach, DONE in its turn.
    assert actions() == [('n1', None, 'DONE', 'modify_port')]


def test_connecting_what_is_attached_already_adds_no_second_row(
        client, scene, switches):
    """As a repair queued by `haas-admin switch verify --fix` does: the
    switch is set again, the attachment stays one."""
    admin, vlan = scene
    calls(client, admin, ('POST', '/node/n1/nic/eth0/connect_network',
                          {'network': 'net'}))
    deferred.Daemon().apply_all()
    nic = db.session.execute(sa.select(Nic)).scalar_one()
    network = db.session.execute(sa.select(Network)).scalar_one()
    db.session.add(NetworkingAction(nic=nic, new_network=network,
                                    channel='vlan/native'))
    db.session.commit()

    assert deferred.Daemon().apply_all() == 1

    assert [(a.nic.label, a.network.label, a.channel)
            for a in db.session.execute(
                sa.select(NetworkAttachment)).scalars()] == [
        ('eth0', 'net', 'vlan/native')]
    assert switches('sw0')['ports'] == {'gi1/0/1': {'vlan/native': vlan}}


def test_a_queued_revert_takes_the_port_off_every_network(client, scene,
                                                          switches):
    """A revert_port action (written directly: port_revert, which queues
    it, is tested with the other HaaS 0.3 calls) empties the port and
    removes every attachment of its nic."""
    admin, _ = scene
    calls(client, admin, ('PUT', '/network/other', {
        'owner': 'runway', 'access': 'runway', 'net_id': ''}))
    tagged = client.get('/network/other', headers=admin).json['channels'][1]
    for body in ({'network': 'net'},
                 {'network': 'other', 'channel': tagged}):
        calls(client, admin, ('POST', '/node/n1/nic/eth0/connect_network',
                              body))
        deferred.Daemon().apply_all()
    assert len(switches('sw0')['ports']['gi1/0/1']) == 2
    nic = db.session.execute(sa.select(Nic)).scalar_one()
    db.session.delete(nic.current_action)  # finished: it makes way
    db.session.flush()
    db.session.add(NetworkingAction(nic=nic, new_network=None, channel='',
                                    type='revert_port'))
    db.session.commit()

    assert deferred.Daemon().apply_all() == 1

    state = switches('sw0')
    assert (state['ports'], state['applied'][-1]) == (
        {}, [None, 'gi1/0/1', None, None])
    assert db.session.execute(sa.select(NetworkAttachment)).first() is None
    assert actions() == [('n1', None, 'DONE', 'revert_port')]


def test_a_nic_cabled_to_no_port_is_recorded_with_a_warning(
        client, users, switches, caplog):
    """The API queues nothing for such a nic any more; an action HaaS 0.2
    queued for one, upgraded, is still applied."""
    admin = users['admin']
    calls(client, admin, ('PUT', '/node/loose', {'obm': OBM}),
          ('PUT', '/node/loose/nic/eth0', {'macaddr': 'm'}),
          ('POST', '/project/runway/connect_node', {'node': 'loose'}),
          ('PUT', '/network/net', {'owner': 'runway', 'access': 'runway',
                                   'net_id': ''}))
    refused = client.post('/node/loose/nic/eth0/connect_network',
                          headers=admin, json={'network': 'net'})
    assert (refused.status_code, refused.json) == (404, {
        'type': 'NotFoundError', 'msg': 'No port is connected to given nic.'})
    nic = db.session.execute(sa.select(Nic)).scalar_one()
    network = db.session.execute(sa.select(Network)).scalar_one()
    db.session.add(NetworkingAction(nic=nic, new_network=network,
                                    channel='vlan/native'))
    db.session.commit()
    action = db.session.execute(sa.select(NetworkingAction.id)).scalar()

    with caplog.at_level(logging.WARNING, logger='haas.deferred'):
        assert deferred.Daemon().apply_all() == 1

    assert client.get('/node/loose', headers=admin).json['nics'][0][
        'networks'] == {'vlan/native': 'net'}
    assert [r.getMessage() for r in caplog.records] == [
        f'action {action} (connect nic eth0 of node loose, channel '
        f'vlan/native): the nic is cabled to no port; recorded without '
        f'touching a switch']
    assert actions() == [('loose', 'net', 'DONE', 'modify_port')]


@pytest.fixture
def two_switches(client, users, switches):
    """Nodes n1 on switch `bad` and n2 on switch `good`, each with a
    connect to network net queued."""
    admin = users['admin']
    calls(client, admin, ('PUT', '/switch/bad', SWITCH),
          ('PUT', '/switch/good', SWITCH))
    cabled_node(client, admin, 'n1', 'bad', 'p1')
    cabled_node(client, admin, 'n2', 'good', 'p1')
    calls(client, admin,
          ('PUT', '/network/net', {'owner': 'runway', 'access': 'runway',
                                   'net_id': ''}),
          ('POST', '/node/n1/nic/eth0/connect_network', {'network': 'net'}),
          ('POST', '/node/n2/nic/eth0/connect_network', {'network': 'net'}))
    vlan = client.get('/network/net', headers=admin).json['channels'][1][5:]
    return admin, vlan


def failing(monkeypatch, error):
    """Make switch `bad` fail each action with `error`; returns the
    mock's own apply_networking, to put back."""
    apply = mock.MockSession.apply_networking

    def refusing(self, action):
        if self.folder.endswith('bad'):
            raise error
        return apply(self, action)
    monkeypatch.setattr(mock.MockSession, 'apply_networking', refusing)
    return apply


def request_of(action_id):
    """The id of the API request that queued the action, which the
    daemon's lines about it carry."""
    found = db.session.get(NetworkingAction, action_id).request_id
    assert found
    return found


def test_a_switch_error_marks_the_action_error_and_frees_the_nic(
        client, two_switches, switches, monkeypatch, caplog):
    admin, vlan = two_switches
    apply = failing(monkeypatch, SwitchError('port p1 is shut down'))
    daemon = deferred.Daemon()
    refused = next(iter(nic_actions())).id

    with caplog.at_level(logging.ERROR, logger='haas.deferred'):
        assert daemon.apply_all() == 2

    assert [switches(s)['ports'] for s in ('bad', 'good')] == [
        {}, {'p1': {'vlan/native': vlan}}]
    assert actions() == [('n1', 'net', 'ERROR', 'modify_port'),
                         ('n2', 'net', 'DONE', 'modify_port')]
    assert [r.getMessage() for r in caplog.records] == [
        f'action {refused} (request {request_of(refused)}) failed (switch '
        f'error: port p1 is shut down); marked ERROR']
    assert shown(client, admin, 'n1') == {
        'status': 'ERROR', 'node': 'n1', 'nic': 'eth0', 'switch': 'bad',
        'port': 'p1', 'type': 'modify_port',
        'channel': 'vlan/native', 'new_network': 'net',
        'error': 'port p1 is shut down'}
    assert client.get('/node/n1', headers=admin).json['nics'][0][
        'networks'] == {}
    # Not tried again: nothing is pending, and no retry waits.
    assert (daemon.apply_all(), daemon._retry) == (0, {})
    # Fixed, the switch takes the nic's next request at once.
    monkeypatch.setattr(mock.MockSession, 'apply_networking', apply)
    response = client.post('/node/n1/nic/eth0/connect_network',
                           headers=admin, json={'network': 'net'})
    assert response.status_code == 202
    assert daemon.apply_all() == 1
    assert switches('bad')['ports'] == switches('good')['ports']
    assert actions() == [('n2', 'net', 'DONE', 'modify_port'),
                         ('n1', 'net', 'DONE', 'modify_port')]


def test_an_unexpected_failure_waits_for_its_retry_while_others_go_on(
        client, two_switches, switches, monkeypatch, caplog):
    admin, vlan = two_switches
    apply = failing(monkeypatch, RuntimeError('the driver has a bug'))
    daemon = deferred.Daemon()

    with caplog.at_level(logging.ERROR, logger='haas.deferred'):
        daemon.apply_all()

    assert [switches(s)['ports'] for s in ('bad', 'good')] == [
        {}, {'p1': {'vlan/native': vlan}}]
    assert actions() == [('n1', 'net', 'PENDING', 'modify_port'),
                         ('n2', 'net', 'DONE', 'modify_port')]
    failed = db.session.execute(sa.select(NetworkingAction.id).filter_by(
        status='PENDING')).scalar_one()
    assert [(r.getMessage(), r.exc_info[0]) for r in caplog.records] == [
        (f'action {failed} (request {request_of(failed)}) failed '
         f'(unexpected error: the driver has a bug); trying again in 1 s',
         RuntimeError)]
    # Still pending, the action blocks the nic's next request.
    blocked = client.post('/node/n1/nic/eth0/connect_network', headers=admin,
                          json={'network': 'net'})
    assert (blocked.status_code, blocked.json) == (409, {
        'type': 'BlockedError',
        'msg': 'A networking operation is already active on the nic.'})
    # Fixed; once its retry time comes, the action is applied.
    monkeypatch.setattr(mock.MockSession, 'apply_networking', apply)
    assert daemon.apply_all() == 0  # not yet
    daemon._retry = {i: (0.0, d) for i, (_, d) in daemon._retry.items()}
    assert daemon.apply_all() == 1
    assert switches('bad')['ports'] == switches('good')['ports']
    assert actions() == [('n1', 'net', 'DONE', 'modify_port'),
                         ('n2', 'net', 'DONE', 'modify_port')]


def test_a_switch_unavailable_keeps_the_action_pending_with_its_reason(
        client, two_switches, switches, monkeypatch, caplog):
    admin, vlan = two_switches
    apply = failing(monkeypatch, SwitchUnavailableError(
        'bad did not answer within 30 s'))
    daemon = deferred.Daemon()

    with caplog.at_level(logging.ERROR, logger='haas.deferred'):
        assert daemon.apply_all() == 2

    failed = db.session.execute(sa.select(NetworkingAction.id).filter_by(
        status='PENDING')).scalar_one()
    assert reasons() == [('n1', 'PENDING', 'bad did not answer within 30 s'),
                         ('n2', 'DONE', None)]
    assert shown(client, admin, 'n1')['error'] == \
        'bad did not answer within 30 s'
    # Expected: no traceback in the log.
    assert [(r.getMessage(), r.exc_info) for r in caplog.records] == [
        (f'action {failed} (request {request_of(failed)}) failed (switch '
         f'unavailable: bad did not answer within 30 s); trying again in 1 '
         f's', None)]
    assert [switches(s)['ports'] for s in ('bad', 'good')] == [
        {}, {'p1': {'vlan/native': vlan}}]
    # Back, the switch takes it at its retry time; the reason goes.
    monkeypatch.setattr(mock.MockSession, 'apply_networking', apply)
    daemon._retry = {i: (0.0, d) for i, (_, d) in daemon._retry.items()}
    assert daemon.apply_all() == 1
    assert reasons() == [('n1', 'DONE', None), ('n2', 'DONE', None)]
    assert switches('bad')['ports'] == switches('good')['ports']


def test_a_label_the_file_system_cannot_hold_marks_the_action_error(
        client, users, switches, monkeypatch, tmp_path):
    """The mock turns the file system's refusal of a name into a
    SwitchError (as on a file system whose names are shorter than the
    mock's LONGEST_NAME, here made longer than any's)."""
    admin = users['admin']
    monkeypatch.setattr(mock, 'LONGEST_NAME', 10_000)
    port = 'p' * 250
    calls(client, admin, ('PUT', '/switch/sw0', SWITCH))
    cabled_node(client, admin, 'n1', 'sw0', port)
    calls(client, admin,
          ('PUT', '/network/net', {'owner': 'runway', 'access': 'runway',
                                   'net_id': ''}),
          ('POST', '/node/n1/nic/eth0/connect_network', {'network': 'net'}))
    daemon = deferred.Daemon()

    assert daemon.apply_all() == 1

    assert reasons() == [('n1', 'ERROR', f'the mock switch cannot keep port '
                                         f'{port}: File name too long')]
    assert (daemon.apply_all(), daemon._retry) == (0, {})
    assert sorted(os.listdir(tmp_path / 'sw0')) == ['journal.jsonl']
    # The port's revert at registration had nothing to remove.
    assert switches('sw0') == {'ports': {}, 'applied': [
        [None, port, None, None]]}


def test_a_broken_state_dir_keeps_the_action_pending_until_fixed(
        client, scene, switches, tmp_path):
    """A state_dir that cannot be written (here a file stands where the
    switch's folder goes) is the mock's unreachable switch."""
    admin, vlan = scene
    shutil.rmtree(tmp_path / 'sw0')  # the port's revert made it
    (tmp_path / 'sw0').write_text('in the way')
    client.post('/node/n1/nic/eth0/connect_network', headers=admin,
                json={'network': 'net'})
    daemon = deferred.Daemon()

    assert daemon.apply_all() == 1

    assert reasons() == [('n1', 'PENDING', 'the mock switch cannot keep port '
                                           'gi1/0/1: File exists')]
    assert (tmp_path / 'sw0').read_text() == 'in the way'
    (tmp_path / 'sw0').unlink()
    daemon._retry = {i: (0.0, d) for i, (_, d) in daemon._retry.items()}
    assert daemon.apply_all() == 1
    assert reasons() == [('n1', 'DONE', None)]
    assert switches('sw0')['ports'] == {'gi1/0/1': {'vlan/native': vlan}}


# --- real daemons on PostgreSQL ---------------------------------------------

@pytest.fixture
def journal(tmp_path):
    """A PostgreSQL database with 200 nodes of project p on switch sw, each
    with a queued connect to network net; a daemon starter, and how many
    actions are still pending."""
    dbs = Databases('postgresql', tmp_path)
    uri = dbs.new()
    state = tmp_path / 'switches'
    config = config_text(uri, NULL_AUTH_EXTENSIONS, extra=(
        f'[haas.ext.switches.mock]\nstate_dir = {state}\n'))
    path = tmp_path / 'haas.cfg'
    path.write_text(config)
    import haas
    from haas import migrations
    app = haas.create_app(config)
    with app.app_context():
        migrations.create()
    client = app.test_client()
    calls(client, {}, ('PUT', '/project/p', None),
          ('PUT', '/switch/sw', SWITCH),
          ('PUT', '/network/net', {'owner': 'p', 'access': 'p',
                                   'net_id': ''}))
    # The 200 nodes, cabled, in project p, each with a connect queued: the
    # rows those API calls leave (the tests above make them so), written in
    # a few statements.
    # The password as the model stores it: a token (URL-safe base64).
    token = app.extensions['haas'].keyring.encrypt('p')
    with app.app_context():
        for statement in [
                f"INSERT INTO obm (id, type) SELECT g, '{OBM['type']}' "
                f"FROM generate_series(1, 200) g",
                "INSERT INTO mock_obm (id, host, \"user\", password) "
                f"SELECT g, 'h', 'u', '{token}' "
                f"FROM generate_series(1, 200) g",
                "INSERT INTO node (id, label, project_id, obm_id) SELECT g, "
                "'n' || (g - 1), (SELECT id FROM project), g "
                "FROM generate_series(1, 200) g",
                "INSERT INTO port (id, label, owner_id) SELECT g, "
                "'port' || (g - 1), (SELECT id FROM switch) "
                "FROM generate_series(1, 200) g",
                "INSERT INTO nic (id, label, owner_id, mac_addr, port_id) "
                "SELECT g, 'eth0', g, 'm', g FROM generate_series(1, 200) g",
                "INSERT INTO networking_action (id, nic_id, new_network_id, "
                "channel, uuid, status, type) SELECT g, g, "
                "(SELECT id FROM network), 'vlan/native', "
                "gen_random_uuid()::text, 'PENDING', 'modify_port' "
                "FROM generate_series(1, 200) g"] + [
                f"SELECT setval('{table}_id_seq', 200)"
                for table in ('obm', 'node', 'port', 'nic',
                              'networking_action')]:
            db.session.execute(sa.text(statement))
        db.session.commit()
    daemons = []

    def start():
        environ = {**os.environ, 'HAAS_CONFIG': str(path)}
        daemon = subprocess.Popen([HAAS_ADMIN, 'serve-networks'],
                                  env=environ, stderr=subprocess.PIPE,
                                  text=True)
        daemons.append(daemon)
        return daemon

    def remaining():
        with app.app_context():
            return db.session.execute(sa.select(sa.func.count(
                NetworkingAction.id)).filter_by(status='PENDING')).scalar()

    def read():
        with app.app_context():
            return mock.read_state(app.extensions['haas'].config, 'sw')

    try:
        yield start, remaining, read, app
    finally:
        for daemon in daemons:
            if daemon.poll() is None:
                daemon.kill()
            daemon.wait(10)
        with app.app_context():
            db.engine.dispose()
        dbs.drop_all()


def attachments(app):
    with app.app_context():
        return db.session.execute(sa.select(sa.func.count(
            NetworkAttachment.id))).scalar()


def statuses(app):
    """How many actions have each status: the daemons keep them."""
    with app.app_context():
        return dict(db.session.execute(
            sa.select(NetworkingAction.status, sa.func.count())
            .group_by(NetworkingAction.status)).all())


def stop(daemon):
    daemon.send_signal(signal.SIGTERM)
    daemon.wait(30)
    return daemon.returncode


def test_two_daemons_apply_200_actions_once_each(journal):
    start, remaining, read, app = journal

    first, second = start(), start()
    eventually(lambda: remaining() == 0, 60)

    assert (stop(first), stop(second)) == (0, 0)
    state = read()
    ids = [entry[0] for entry in state['applied']]
    assert len(ids) == len(set(ids)) == 200
    assert sorted(state['ports']) == sorted(f'port{n}' for n in range(200))
    assert (attachments(app), statuses(app)) == (200, {'DONE': 200})


def test_a_daemon_killed_mid_run_loses_nothing_and_doubles_nothing(journal):
    start, remaining, read, app = journal
    first = start()
    eventually(lambda: remaining() < 180, 60)

    first.send_signal(signal.SIGKILL)
    first.wait(10)
    second = start()
    eventually(lambda: remaining() == 0, 60)

    assert stop(second) == 0
    state = read()
    # Recorded once each; an action the killed daemon applied but had not
    # recorded was applied again, which leaves the port as it was.
    assert (attachments(app), statuses(app)) == (200, {'DONE': 200})
    assert {entry[0] for entry in state['applied']} == set(range(1, 201))
    assert sorted(state['ports']) == sorted(f'port{n}' for n in range(200))


def test_an_idle_daemon_wakes_at_once_for_a_new_action_and_stops_on_sigterm(
        journal):
    start, remaining, read, app = journal
    daemon = start()
    eventually(lambda: remaining() == 0, 60)
    client = app.test_client()
    calls(client, {}, ('POST', '/node/n0/nic/eth0/detach_network',
                       {'network': 'net'}))

    queued = time.monotonic()
    eventually(lambda: remaining() == 0, 10)
    took = time.monotonic() - queued

    assert took < deferred.POLL  # woken by NOTIFY, not by its poll
    assert 'port0' not in read()['ports']
    # n0's connect made way for its detach; every action is DONE.
    assert statuses(app) == {'DONE': 200}
    started = time.monotonic()
    assert stop(daemon) == 0
    assert time.monotonic() - started < 5


def queue_detaches(app, where='true'):
    """Queue a detach behind each pending action (`where` picks which)."""
    with app.app_context():
        db.session.execute(sa.text(
            'INSERT INTO networking_action '
            '(nic_id, new_network_id, channel, uuid, status, type) '
            "SELECT nic_id, NULL, channel, gen_random_uuid()::text, "
            "'PENDING', 'modify_port' FROM networking_action "
            f"WHERE status = 'PENDING' AND {where}"))
        db.session.commit()


def test_two_daemons_keep_each_ports_actions_in_order(journal):
    start, remaining, read, app = journal
    # Each nic gets a detach queued behind its connect (rows written as
    # an older release or an operator might have: the API queues one).
    queue_detaches(app)
    assert remaining() == 400

    first, second = start(), start()
    eventually(lambda: remaining() == 0, 60)

    assert (stop(first), stop(second)) == (0, 0)
    state = read()
    by_port = {}
    for action, port, channel, network in state['applied']:
        by_port.setdefault(port, []).append((action, network is None))
    assert len(by_port) == 200
    # Per port: the connect, then the detach, in the order queued.
    assert all([detach for _, detach in entries] == [False, True]
               and entries[0][0] < entries[1][0]
               for entries in by_port.values())
    assert state['ports'] == {}
    assert (attachments(app), statuses(app)) == (0, {'DONE': 400})


def test_an_action_waits_while_an_older_one_of_its_nic_is_held(journal):
    start, remaining, read, app = journal
    queue_detaches(app, 'id = 1')
    with app.app_context():
        engine = db.engine
    with engine.connect() as other:
        other.begin()
        # Another daemon holds the nic's connect (action 1).
        other.execute(sa.text(
            'SELECT id FROM networking_action WHERE id = 1 FOR UPDATE'))
        daemon = start()
        eventually(lambda: remaining() <= 2, 60)
        time.sleep(1)  # time enough to take the detach, if it would

        # The detach waits behind the held connect.
        assert remaining() == 2
        other.rollback()
    eventually(lambda: remaining() == 0, 60)

    assert stop(daemon) == 0
    port0 = [entry for entry in read()['applied'] if entry[1] == 'port0']
    assert [(action, network is None) for action, _, _, network in port0] \
        == [(1, False), (201, True)]
    assert statuses(app) == {'DONE': 201}


def test_a_daemon_outlives_its_database_connections(journal):
    start, remaining, read, app = journal
    daemon = start()
    eventually(lambda: remaining() == 0, 60)
    with app.app_context():
        # As a database restart would: every other session is cut off.
        killed = db.session.execute(sa.text(
            'SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity '
            'WHERE datname = current_database() '
            'AND pid <> pg_backend_pid()')).scalar()
        db.session.remove()
        db.engine.dispose()
    assert killed >= 2  # the daemon's session and its listener

    calls(app.test_client(), {}, ('POST', '/node/n0/nic/eth0/detach_network',
                                  {'network': 'net'}))
    eventually(lambda: remaining() == 0, 20)

    assert daemon.poll() is None
    assert ('port0' in read()['ports'], statuses(app)) == (
        False, {'DONE': 200})
    assert stop(daemon) == 0


# --- ports reverted as they are registered ----------------------------------

def test_a_registered_port_is_reverted_before_its_nics_actions(
        client, users, switches, tmp_path):
    """A port left carrying a VLAN (trunk mode, another tenant's traffic)
    is taken off it as HaaS registers it, before any nic's action."""
    admin = users['admin']
    calls(client, admin, ('PUT', '/switch/sw0', SWITCH))
    stale = tmp_path / 'sw0' / f'{mock.file_name("gi1/0/1")}.port.json'
    stale.parent.mkdir()
    stale.write_text('{"port": "gi1/0/1", "channels": {"vlan/7": "7"}}')
    calls(client, admin,
          ('PUT', '/node/n1', {'obm': OBM}),
          ('PUT', '/node/n1/nic/eth0', {'macaddr': 'm'}),
          ('PUT', '/switch/sw0/port/gi1/0/1', None),
          ('POST', '/switch/sw0/port/gi1/0/1/connect_nic',
           {'node': 'n1', 'nic': 'eth0'}),
          ('POST', '/project/runway/connect_node', {'node': 'n1'}),
          ('PUT', '/network/net', {'owner': 'runway', 'access': 'runway',
                                   'net_id': ''}),
          ('POST', '/node/n1/nic/eth0/connect_network', {'network': 'net'}))
    vlan = client.get('/network/net', headers=admin).json['channels'][1][5:]

    assert deferred.Daemon().apply_all() == 2

    (connect,) = nic_actions()
    assert switches('sw0') == {
        'ports': {'gi1/0/1': {'vlan/native': vlan}},
        'applied': [[None, 'gi1/0/1', None, None],
                    [connect.id, 'gi1/0/1', 'vlan/native', vlan]]}
    (revert,) = db.session.execute(sa.select(NetworkingAction.uuid).where(
        NetworkingAction.nic_id.is_(None))).scalars()
    assert client.get(f'/networking_action/{revert}', headers=admin).json \
        == {'status': 'DONE', 'node': None, 'nic': None, 'switch': 'sw0',
            'port': 'gi1/0/1', 'type': 'revert_port', 'channel': '',
            'new_network': None, 'error': None}
    # A port's own action is the administrator's to see.
    assert client.get(f'/networking_action/{revert}',
                      headers=users['runway']).status_code == 401


def test_deleting_a_port_takes_its_pending_revert_along(client, users,
                                                         switches):
    admin = users['admin']
    calls(client, admin, ('PUT', '/switch/sw0', SWITCH),
          ('PUT', '/switch/sw0/port/gi1/0/1', None))

    deleted = client.delete('/switch/sw0/port/gi1/0/1', headers=admin)

    assert (deleted.status_code, db.session.execute(
        sa.select(NetworkingAction)).all()) == (200, [])
    assert deferred.Daemon().apply_all() == 0
    assert switches('sw0') == {'ports': {}, 'applied': []}


# --- real daemons with several workers --------------------------------------

@pytest.fixture
def fleet(tmp_path, request):
    """A database (PostgreSQL unless the test is parametrised with a
    backend) with `switches` mock switches of `ports` ports each,
    registered through the API (so each port's revert is queued), a nic
    cabled to each and a connect queued; the mock takes 0.2 s a command.
    A daemon starter, and readers of the switches' journals and logs."""
    backend = getattr(request, 'param', 'postgresql')
    marker = request.node.get_closest_marker('fleet')
    switches, ports = marker.args if marker else (3, 2)
    dbs = Databases(backend, tmp_path)
    uri = dbs.new()
    state = tmp_path / 'switches'
    path = tmp_path / 'haas.cfg'
    path.write_text(config_text(uri, NULL_AUTH_EXTENSIONS, extra=(
        f'[haas.ext.switches.mock]\nstate_dir = {state}\nlatency = 0.2\n'
        f'[daemon]\nworkers = 4\n')))
    import haas
    from haas import migrations
    app = haas.create_app(path.read_text())
    with app.app_context():
        migrations.create()
    client = app.test_client()
    calls(client, {}, ('PUT', '/project/p', None),
          ('PUT', '/network/net', {'owner': 'p', 'access': 'p',
                                   'net_id': ''}))
    labels = [f'sw{s}' for s in range(switches)]
    for switch in labels:
        calls(client, {}, ('PUT', f'/switch/{switch}', SWITCH))
        for port in range(ports):
            node = f'{switch}-n{port}'
            calls(client, {}, ('PUT', f'/node/{node}', {'obm': OBM}),
                  ('PUT', f'/node/{node}/nic/eth0', {'macaddr': 'm'}),
                  ('PUT', f'/switch/{switch}/port/p{port}', None),
                  ('POST', f'/switch/{switch}/port/p{port}/connect_nic',
                   {'node': node, 'nic': 'eth0'}),
                  ('POST', '/project/p/connect_node', {'node': node}),
                  ('POST', f'/node/{node}/nic/eth0/connect_network',
                   {'network': 'net'}))
    daemons = []

    def start():
        daemon = subprocess.Popen(
            [HAAS_ADMIN, 'serve-networks'], stderr=subprocess.PIPE,
            env={**os.environ, 'HAAS_CONFIG': str(path)}, text=True)
        daemons.append(daemon)
        return daemon

    def remaining():
        with app.app_context():
            return db.session.execute(sa.select(sa.func.count(
                NetworkingAction.id)).filter_by(status='PENDING')).scalar()

    def journals():
        with app.app_context():
            config = app.extensions['haas'].config
            return {s: mock.read_state(config, s) for s in labels}

    def sessions():
        with app.app_context():
            config = app.extensions['haas'].config
            return {s: mock.read_sessions(config, s) for s in labels}

    try:
        yield start, remaining, journals, sessions, app, state
    finally:
        for daemon in daemons:
            if daemon.poll() is None:
                daemon.kill()
            daemon.wait(10)
        with app.app_context():
            db.engine.dispose()
        dbs.drop_all()


def overlapping(a, b):
    return a[0] < b[1] and b[0] < a[1]


def test_a_daemon_works_on_several_switches_at_once_one_login_each(fleet):
    start, remaining, journals, sessions, app, _ = fleet
    daemon = start()
    eventually(lambda: remaining() == 0, 60)
    assert stop(daemon) == 0

    logs = sessions()
    # One session per switch for its batch: logged in and out once.
    assert {s: sorted(e for _, e, _, _ in log if e != 'change')
            for s, log in logs.items()} == {
        s: ['login', 'logout'] for s in logs}
    # The switches' changes overlap in time: they were applied at once.
    changes = {s: [(start, end) for _, e, start, end in log
                   if e == 'change'] for s, log in logs.items()}
    assert all(len(c) == 4 for c in changes.values())
    assert any(overlapping(a, b) for a in changes['sw0']
               for b in changes['sw1'] + changes['sw2'])
    # Each port: its revert, then its nic's connect, once each.
    for journal in journals().values():
        assert sorted(journal['applied'], key=lambda e: e[1]) == [
            entry for port in ('p0', 'p1') for entry in journal['applied']
            if entry[1] == port]
        assert [(e[1], e[0] is None) for e in journal['applied']
                if e[1] == 'p0'] == [('p0', True), ('p0', False)]
    assert statuses(app) == {'DONE': 12}


@pytest.mark.fleet(4, 10)
def test_two_daemons_with_workers_apply_each_action_once(fleet):
    start, remaining, journals, sessions, app, _ = fleet
    first, second = start(), start()
    eventually(lambda: remaining() == 0, 120)
    assert (stop(first), stop(second)) == (0, 0)

    ids = [e[0] for j in journals().values() for e in j['applied']
           if e[0] is not None]
    assert len(ids) == len(set(ids)) == 40
    for journal in journals().values():
        for port in {e[1] for e in journal['applied']}:
            assert [e[0] is None for e in journal['applied']
                    if e[1] == port] == [True, False]
    assert statuses(app) == {'DONE': 80}


@pytest.mark.fleet(4, 2)
def test_a_daemon_in_two_processes_shares_the_switches_out(fleet):
    start, remaining, journals, sessions, app, state = fleet
    path = state.parent / 'haas.cfg'
    path.write_text(path.read_text() + 'processes = 2\n')
    daemon = start()
    eventually(lambda: remaining() == 0, 60)
    assert stop(daemon) == 0

    logs = sessions()
    # Each switch: one session, of one process; two processes in all.
    assert {s: sorted(e for _, e, _, _ in log if e != 'change')
            for s, log in logs.items()} == {
        s: ['login', 'logout'] for s in logs}
    pids = {s: {name.split('-')[0] for name, _, _, _ in log}
            for s, log in logs.items()}
    assert all(len(found) == 1 for found in pids.values())
    assert len(set().union(*pids.values())) == 2
    ids = [e[0] for j in journals().values() for e in j['applied']
           if e[0] is not None]
    assert len(ids) == len(set(ids)) == 8
    assert statuses(app) == {'DONE': 16}


def test_an_unavailable_switch_does_not_hold_up_the_others(fleet):
    start, remaining, journals, sessions, app, state = fleet
    state.mkdir()
    (state / 'sw1').write_text('in the way')  # sw1 cannot be reached
    daemon = start()
    eventually(lambda: remaining() == 4, 60)

    assert set(db_reasons(app)) == {
        'sw1: the mock switch cannot keep port sw1: File exists'}
    assert journals()['sw0']['ports'] == journals()['sw2']['ports'] != {}
    (state / 'sw1').unlink()
    eventually(lambda: remaining() == 0, 60)
    assert stop(daemon) == 0
    assert statuses(app) == {'DONE': 12}


def db_reasons(app):
    """'<switch>: <reason>' of every pending action that has one."""
    with app.app_context():
        from haas.model import Port, Switch
        return [f'{switch}: {error}' for switch, error in db.session.execute(
            sa.select(Switch.label, NetworkingAction.error)
            .join(Port, Port.id == NetworkingAction.port_id)
            .join(Switch, Switch.id == Port.owner_id)
            .where(NetworkingAction.status == 'PENDING',
                   NetworkingAction.error.is_not(None)))]


@pytest.mark.parametrize('fleet', ['sqlite', 'postgresql'], indirect=True)
@pytest.mark.fleet(2, 1)
def test_a_daemon_reverts_registered_ports_on_either_database(fleet):
    start, remaining, journals, sessions, app, _ = fleet
    daemon = start()
    eventually(lambda: remaining() == 0, 60)
    assert stop(daemon) == 0
    assert {s: [e[1:] for e in j['applied'] if e[0] is None]
            for s, j in journals().items()} == {
        'sw0': [['p0', None, None]], 'sw1': [['p0', None, None]]}
    assert statuses(app) == {'DONE': 4}
