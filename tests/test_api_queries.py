"""Every list and show call issues as many SQL statements at 1,000 nodes as
at 10: no call walks its rows one query at a time."""

import contextlib

import sqlalchemy as sa

from haas.ext.obm.mock import MockObm
from haas.ext.switches.mock import MockSwitch
from haas.model import (
    Metadata,
    Network,
    NetworkAttachment,
    NetworkingAction,
    Nic,
    Node,
    Obm,
    Port,
    Project,
    db,
    network_projects,
)

#: The status_id of the one networking action, on node-0's eth0.
STATUS_ID = '0b9a3c4e-5d6f-4a7b-8c9d-0e1f2a3b4c5d'

CALLS = ['/projects', '/free_nodes', '/project/p/nodes', '/project/p/networks',
         '/node/node-0', '/network/net-0',
         # HaaS 0.3's (list_users, of database auth, is not served here).
         '/nodes/free', '/nodes/all', '/networks',
         '/network/net-0/attachments', '/switches', '/switch/sw',
         '/switch/sw/port/port-1', f'/networking_action/{STATUS_ID}',
         '/active_extensions']


def grow(first, last):
    """Nodes first..last-1 of project p, each with two nics on the two
    networks (p's, shared with no one else), the first nic cabled to a
    port of switch sw, and as many free nodes with nics; set-based
    inserts."""
    project = db.session.execute(
        sa.select(Project).filter_by(label='p')).scalar()
    if project is None:
        project = Project(label='p')
        switch = MockSwitch(label='sw', hostname='h', username='u',
                            password='p')
        db.session.add_all([project, switch])
        db.session.flush()
        db.session.execute(sa.insert(Network), [
            {'label': f'net-{k}', 'owner_id': project.id, 'allocated': False,
             'network_id': f'id-{k}'} for k in range(2)])
        db.session.execute(sa.insert(network_projects), [
            {'network_id': network_id, 'project_id': project.id}
            for network_id in db.session.execute(
                sa.select(Network.id)).scalars()])
    switch_id = db.session.execute(
        sa.select(MockSwitch.id).filter_by(label='sw')).scalar_one()
    network_ids = db.session.execute(
        sa.select(Network.id).order_by(Network.id)).scalars().all()
    # Ids: node n (and its OBM) is n + 1; free node n is BIG + n + 1.
    ids = [(n + 1, True) for n in range(first, last)] + \
          [(BIG + n + 1, False) for n in range(first, last)]
    db.session.execute(sa.insert(Obm.__table__), [
        {'id': i, 'type': MockObm.api_name} for i, _ in ids])
    db.session.execute(sa.insert(MockObm.__table__), [
        {'id': i, 'host': f'h{i}', 'user': 'u', 'password': 'p'}
        for i, _ in ids])
    db.session.execute(sa.insert(Node), [
        {'id': i, 'label': f'node-{i - 1}' if owned else f'free-{i}',
         'obm_id': i, 'project_id': project.id if owned else None}
        for i, owned in ids])
    db.session.execute(sa.insert(Port), [
        {'id': i, 'label': f'port-{i}', 'owner_id': switch_id}
        for i, _ in ids])
    db.session.execute(sa.insert(Nic), [
        {'id': 2 * i + k, 'label': f'eth{k}', 'owner_id': i,
         'mac_addr': f'mac-{i}-{k}', 'port_id': i if k == 0 else None}
        for i, _ in ids for k in range(2)])
    db.session.execute(sa.insert(NetworkAttachment), [
        {'nic_id': 2 * i + k, 'network_id': network_ids[k],
         'channel': f'vlan/{k}'} for i, owned in ids if owned
        for k in range(2)])
    # node-0, which show_node shows, grows too: one more attached and
    # cabled nic, and one more metadata label, per node added.
    db.session.execute(sa.insert(Port), [
        {'id': 3 * BIG + n, 'label': f'extra-port-{n}', 'owner_id': switch_id}
        for n in range(first, last)])
    db.session.execute(sa.insert(Nic), [
        {'id': 3 * BIG + n, 'label': f'extra-{n}', 'owner_id': 1,
         'mac_addr': None, 'port_id': 3 * BIG + n}
        for n in range(first, last)])
    db.session.execute(sa.insert(NetworkAttachment), [
        {'nic_id': 3 * BIG + n, 'network_id': network_ids[0],
         'channel': 'vlan/0'} for n in range(first, last)])
    db.session.execute(sa.insert(Metadata), [
        {'label': f'key-{n}', 'value': f'{n}', 'owner_id': 1}
        for n in range(first, last)])
    if first == 0:
        db.session.execute(sa.insert(NetworkingAction), [
            {'nic_id': 2, 'new_network_id': None, 'channel': 'vlan/0',
             'uuid': STATUS_ID, 'status': 'DONE'}])
    db.session.commit()


BIG = 1_000_000


@contextlib.contextmanager
def counted():
    statements = []

    def count(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(('SAVEPOINT',
                                                      'RELEASE')):
            statements.append(statement)
    sa.event.listen(sa.engine.Engine, 'before_cursor_execute', count)
    try:
        yield statements
    finally:
        sa.event.remove(sa.engine.Engine, 'before_cursor_execute', count)


def statements_per_call(client):
    found = {}
    for path in CALLS:
        # Each request starts with an empty session, as in a server (here
        # the test's application context, and its session, span them all).
        db.session.expunge_all()
        with counted() as statements:
            response = client.get(path)
        assert response.status_code == 200, (path, response.json)
        found[path] = len(statements)
    return found


def test_list_and_show_calls_issue_as_many_statements_at_1000_nodes_as_at_10(
        null_client):
    grow(0, 10)
    at_10 = statements_per_call(null_client)
    grow(10, 1000)

    at_1000 = statements_per_call(null_client)

    assert at_1000 == at_10, (at_10, at_1000)
    assert null_client.get('/project/p/nodes').json == sorted(
        f'node-{n}' for n in range(1000))
