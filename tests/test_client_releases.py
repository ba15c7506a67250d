"""Two generations of clients against one server: one that speaks HTTP as
HaaS 0.2's client did (`creator`, a 202 it does not read, `access` as one
project), and the `haas` client of HaaS 0.3 (owners, access lists,
status_ids, metadata, reverts).  A real `haas-admin serve` and
`serve-networks`."""

import json

from support.servers import action_status, eventually, haas, ports, status_id

MOCK = 'http://schema.massopencloud.org/haas/v0'


def test_a_haas_0_2_client_and_a_0_3_client_share_one_server(live_site):
    server, state = live_site

    # HaaS 0.2's client: each call as it sent it, reading what it read.
    old = [
        ('PUT', '/project/runway', None),
        ('PUT', '/node/n1', {'obm': {'type': f'{MOCK}/obm/mock', 'host': 'h',
                                     'user': 'u', 'password': 'p'}}),
        ('PUT', '/node/n1/nic/eth0', {'macaddr': 'de:ad:be:ef:00:01'}),
        ('PUT', '/switch/sw0', {'type': f'{MOCK}/switches/mock',
                                'hostname': 'sw0', 'username': 'admin',
                                'password': 'secret'}),
        ('PUT', '/switch/sw0/port/gi1/0/5', None),
        ('POST', '/switch/sw0/port/gi1/0/5/connect_nic',
         {'node': 'n1', 'nic': 'eth0'}),
        ('POST', '/project/runway/connect_node', {'node': 'n1'}),
        ('PUT', '/network/pxe', {'creator': 'runway', 'access': 'runway',
                                 'net_id': ''}),
    ]
    for method, path, body in old:
        assert server.call(method, path, body)[0] == 200, path
    shown = server.call('GET', '/network/pxe')[1]
    assert (shown['creator'], shown['access']) == ('runway', 'runway')
    status, _ = server.call('POST', '/node/n1/nic/eth0/connect_network',
                            {'network': 'pxe'})
    assert status == 202
    assert eventually(lambda: server.call('GET', '/node/n1')[1]['nics'][0][
        'networks'] == {'vlan/native': 'pxe'})
    assert server.call('GET', '/project/runway/networks')[1] == ['pxe']

    # HaaS 0.3's client, on the same objects.
    haas(server, 'project', 'create', 'manhattan')
    assert haas(server, 'network', 'grant-access', 'pxe', 'manhattan') == \
        (0, '', '')
    listed = json.loads(haas(server, 'network', 'list', '--json')[1])
    assert listed['pxe']['projects'] == ['manhattan', 'runway']
    # Two projects: the old client's `access` is gone, its `creator` stays.
    shown = server.call('GET', '/network/pxe')[1]
    assert 'access' not in shown and shown['creator'] == 'runway'
    haas(server, 'node', 'set-metadata', 'n1', 'rack', '{"row": 3}')
    assert json.loads(haas(server, 'node', 'show', 'n1', '--json')[1])[
        'metadata'] == {'rack': '{"row": 3}'}
    attachments = json.loads(haas(server, 'network', 'attachments', 'pxe',
                                  '--json')[1])
    assert attachments == {'n1': {'nic': 'eth0', 'channel': 'vlan/native',
                                  'project': 'runway'}}
    assert json.loads(haas(server, 'port', 'show', 'sw0', 'gi1/0/5',
                           '--json')[1])['networks'] == {'vlan/native': 'pxe'}

    reverted = status_id(haas(server, 'port', 'revert', 'sw0', 'gi1/0/5'))
    assert eventually(lambda: action_status(server, reverted) == 'DONE')
    assert ports(state, 'sw0') == {}

    # And the old client still sees what the new one did.
    assert server.call('GET', '/node/n1')[1]['nics'][0]['networks'] == {}
    assert server.call('POST', '/node/n1/nic/eth0/detach_network',
                       {'network': 'pxe'}) == (400, {
                           'type': 'BadArgumentError',
                           'msg': 'The network is not attached to the nic.'})
