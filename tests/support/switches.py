"""What the switch drivers' tests share: a networking action as the
daemon hands it to a driver, a node cabled to a switch through a served
API and its networking actions awaited, and a simulated switch in a
process of its own (`haas-admin simulate switch`), for the tests whose
point is that process's life and death.

Several tests share one served site (a module's, per database): each
cables a switch, node and network of its own names, on a device of its
own, so that none sees another's and their order does not matter.
"""

import subprocess
import types

import sqlalchemy as sa

from haas.model import NetworkingAction, Port, Switch

from support.api import OBM
from support.commands import HAAS_ADMIN
from support.servers import eventually, new_serial, running

#: The credentials of the simulated switches in these tests.
USER, PASSWORD = 'admin', 'secret'


def action(port, channel, vlan):
    """A networking action as the daemon hands it to a driver: `port`'s
    `channel` onto VLAN `vlan` (None: off it)."""
    network = None if vlan is None else types.SimpleNamespace(
        network_id=str(vlan))
    return types.SimpleNamespace(
        nic=types.SimpleNamespace(port=types.SimpleNamespace(label=port)),
        channel=channel, new_network=network)


class Cabled:
    """Switch `switch` of a served site, its port `port` cabled to nic
    eth0 of node `node` of project `project`, and network `network`
    that project may use; the port's revert at its registration done."""

    def __init__(self, server, switch, port, node, project, network):
        self.server, self.switch, self.port = server, switch, port
        self.node, self.project, self.network = node, project, network

    def call(self, method, path, body=None):
        return self.server.call(method, path, body)

    def queued(self, verb, body):
        """The status_id of `verb` (connect/detach) of the node's nic,
        with `body`, which the API queued."""
        status, answer = self.call(
            'POST', f'/node/{self.node}/nic/eth0/{verb}_network', body)
        assert status == 202, answer
        return answer['status_id']

    def settled(self, found):
        return settled(self.server, found)

    def networks(self):
        """The node's nic's networks, as the API shows them."""
        return self.call('GET', f'/node/{self.node}')[1]['nics'][0][
            'networks']

    def pending(self):
        """The switch's networking actions still pending."""
        engine = sa.create_engine(self.server.uri, poolclass=sa.pool.NullPool)
        action, port, switch = (NetworkingAction.__table__, Port.__table__,
                                Switch.__table__)
        try:
            with engine.connect() as connection:
                return connection.execute(
                    sa.select(sa.func.count()).select_from(
                        action.join(port, action.c.port_id == port.c.id)
                        .join(switch, port.c.owner_id == switch.c.id))
                    .where(switch.c.label == self.switch,
                           action.c.status == 'PENDING')).scalar()
        finally:
            engine.dispose()


def cabled(server, kind, hostname, port, net_id='105', **fields):
    """A switch of type `kind` at `hostname` (the `fields` of its
    registration besides), its `port` cabled to a node of a project of
    its own, and a network on VLAN `net_id` the project may use, all of
    names new to `server`: a Cabled."""
    n = new_serial()
    site = Cabled(server, f'sw{n}', port, f'n{n}', f'runway{n}', f'pub{n}')
    for method, path, body in [
            ('PUT', f'/project/{site.project}', None),
            ('PUT', f'/node/{site.node}', {'obm': OBM}),
            ('PUT', f'/node/{site.node}/nic/eth0',
             {'macaddr': 'de:ad:be:ef:00:01'}),
            ('PUT', f'/switch/{site.switch}', {
                'type': kind, 'hostname': hostname, 'username': USER,
                'password': PASSWORD, **fields}),
            ('PUT', f'/switch/{site.switch}/port/{port}', None),
            ('POST', f'/switch/{site.switch}/port/{port}/connect_nic',
             {'node': site.node, 'nic': 'eth0'}),
            ('POST', f'/project/{site.project}/connect_node',
             {'node': site.node}),
            ('PUT', f'/network/{site.network}', {
                'owner': 'admin', 'access': site.project,
                'net_id': net_id})]:
        status, answer = server.call(method, path, body)
        assert status == 200, (method, path, answer)
    # The port is reverted as it is registered: done before a test's own
    # actions, which would otherwise wait behind it.
    eventually(lambda: site.pending() == 0,
               what='the port revert of its registration')
    return site


#: The VLAN pool of a shared site: none of the VLANs its tests name,
#: which their networks claim from outside the pool, where a VLAN is not
#: one network's alone (each test's is on a device of its own).
SHARED_POOL = '3000-3009'


def shared_site(databases, tmp_path_factory, extensions, extra=''):
    """A served site and its daemon for a module's tests to share, on a
    database of `databases`, with `extensions`: the server, for a
    module-scoped fixture to yield from."""
    with running(databases.new(), tmp_path_factory.mktemp('site'),
                 extensions=extensions, extra=extra,
                 vlans=SHARED_POOL) as (server, _):
        yield server


def settled(server, found):
    """Action `found` once the daemon is done with it: (status, error)."""
    def done():
        status, answer = server.call('GET', f'/networking_action/{found}')
        return answer['status'] != 'PENDING' and (answer['status'],
                                                  answer['error'])
    return eventually(done, what=f'action {found} to be applied')


def failed_attempt(server, found):
    """The reason of the first failed attempt at action `found`, which
    is still pending."""
    reason = eventually(lambda: server.call(
        'GET', f'/networking_action/{found}')[1]['error'],
        what='a failed attempt')
    answer = server.call('GET', f'/networking_action/{found}')[1]
    assert answer['status'] == 'PENDING', answer
    return reason


def simulator(model, port, state, latency=0.0, username=USER,
              password=PASSWORD):
    """`haas-admin simulate switch` of `model` on 127.0.0.1:`port`, its
    state in folder `state`, once it listens; the caller kills it."""
    process = subprocess.Popen(
        [HAAS_ADMIN, 'simulate', 'switch', '--model', model, '--listen',
         f'127.0.0.1:{port}', '--state', str(state), '--username', username,
         '--password', password, '--latency', str(latency)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline() == \
            f'listening on 127.0.0.1:{port}\n'
    except BaseException:
        process.kill()
        process.wait(10)
        raise
    return process


def restarted(process, model, port, state, latency=0.0):
    """The simulator `process` killed and started again on the same port
    and state, each command now taking `latency` seconds."""
    process.kill()
    process.wait(10)
    return simulator(model, port, state, latency=latency)


def sessions_at(port):
    """How many TCP connections to local `port` are established: a
    simulator's sessions, seen from outside its process (Linux)."""
    found = 0
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        with open(table) as f:
            for row in list(f)[1:]:
                local, state = row.split()[1], row.split()[3]
                if int(local.rsplit(':', 1)[1], 16) == port and \
                        state == '01':
                    found += 1
    return found
