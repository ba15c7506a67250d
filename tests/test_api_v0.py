"""Every call under /v0 as well as at its own path, as HIL serves it:
the same handler, the same answers, documented once."""

import json


def answer(response):
    body = response.get_data()
    return response.status_code, json.loads(body) if body else None


def test_every_call_is_served_under_v0_by_the_same_handler(api, client):
    client.get('/projects')  # an app routes with its first request
    rules = {(rule.rule, frozenset(rule.methods)): rule.endpoint
             for rule in api.url_map.iter_rules()}
    views = api.view_functions
    bare = {key: endpoint for key, endpoint in rules.items()
            if not key[0].startswith(('/v0/', '/static'))
            # Prometheus' scrape path: not a call of the API.
            and endpoint != 'metrics'}

    assert len(bare) >= 50
    for (path, methods), endpoint in bare.items():
        under_v0 = rules.get(('/v0' + path, methods))
        assert under_v0 is not None, f'{path} is not served under /v0'
        assert views[under_v0] is views[endpoint]


def test_a_client_of_v0_and_one_of_the_bare_paths_see_the_same(client,
                                                             users):
    created = client.put('/v0/project/hil', headers=users['admin'])
    node = client.get('/v0/project/runway/nodes', headers=users['runway'])

    assert answer(created) == (200, None)
    assert 'hil' in answer(client.get('/projects',
                                      headers=users['admin']))[1]
    assert answer(node) == answer(client.get('/project/runway/nodes',
                                             headers=users['runway']))
    # Refused the same way: runway's member is no member of hil.
    refused = answer(client.get('/v0/project/hil/nodes',
                                headers=users['runway']))
    assert refused[0] >= 400
    assert refused == answer(client.get('/project/hil/nodes',
                                        headers=users['runway']))


def test_errors_under_v0_are_the_same_json(client, users):
    assert answer(client.get('/v0/node/absent', headers=users['admin'])) \
        == answer(client.get('/node/absent', headers=users['admin']))
    assert client.get('/v0/no/such/call').status_code == 404


def test_the_openapi_document_names_both_bases_once(client):
    bare = client.get('/openapi.json').json
    under_v0 = client.get('/v0/openapi.json').json

    assert bare == under_v0
    assert bare['servers'] == [{'url': '/'}, {'url': '/v0'}]
    assert not [path for path in bare['paths'] if path.startswith('/v0')]


# --- HIL 1.0's shapes where they differ from HaaS 0.3's ---------------------

MOCK_OBM = {'type': 'http://schema.massopencloud.org/haas/v0/obm/mock',
            'host': 'bmc', 'user': 'root', 'password': 'pw'}


def admin_calls(client, users, *requests):
    return [answer(client.open(path, method=method, json=body,
                               headers=users['admin']))
            for method, path, body in requests]


def test_network_create_takes_owner_or_creator_and_refuses_two_owners(
        client, users):
    body = {'access': 'runway', 'net_id': ''}
    assert admin_calls(
        client, users,
        ('PUT', '/v0/network/a', {'owner': 'runway', **body}),
        ('PUT', '/network/b', {'creator': 'runway', **body}),
        ('PUT', '/v0/network/c', {'owner': 'runway', 'creator': 'runway',
                                  **body}),
        ('PUT', '/v0/network/d', {'owner': 'runway', 'creator': 'admin',
                                  **body}),
        ('PUT', '/network/e', body),
    ) == [(200, None)] * 3 + [
        (400, {'type': 'BadArgumentError',
               'msg': "The owner (runway) and the creator (admin) differ: "
                      "they are one field, under HIL's name and HaaS "
                      "0.2's."}),
        (400, {'type': 'BadArgumentError',
               'msg': "Give the network's owner (or, as HaaS 0.2 called "
                      "it, its creator)."})]
    assert admin_calls(client, users, ('GET', '/networks', None))[0][1] \
        .keys() == {'a', 'b', 'c'}


def test_show_network_gives_access_as_hil_under_v0_and_as_0_3_bare(
        client, users):
    admin_calls(client, users,
                ('PUT', '/network/pub', {'owner': 'admin', 'access': '',
                                         'net_id': ''}),
                ('PUT', '/network/mine', {'owner': 'runway',
                                          'access': 'runway', 'net_id': ''}))

    def shown(path):
        return admin_calls(client, users, ('GET', path, None))[0][1]
    assert (shown('/v0/network/pub')['access'],
            'access' in shown('/network/pub')) == (None, False)
    assert (shown('/v0/network/mine')['access'],
            shown('/network/mine')['access']) == (['runway'], 'runway')
    # Every other field is the same at both paths.
    under_v0, bare = shown('/v0/network/mine'), shown('/network/mine')
    del under_v0['access'], bare['access']
    assert under_v0 == bare
    assert {'owner', 'network_id', 'connected-nodes'} <= bare.keys()


def test_deleting_a_node_in_a_project_or_its_nic_is_refused_under_v0_only(
        client, users):
    for node in ('n1', 'n2'):
        admin_calls(client, users,
                    ('PUT', f'/node/{node}', {'obm': MOCK_OBM}),
                    ('PUT', f'/node/{node}/nic/eth0', {'macaddr': 'mac'}),
                    ('POST', '/project/runway/connect_node', {'node': node}))

    refused = admin_calls(client, users,
                          ('DELETE', '/v0/node/n1/nic/eth0', None),
                          ('DELETE', '/v0/node/n1', None))

    assert refused == [
        (409, {'type': 'BlockedError',
               'msg': 'Node n1 is part of project runway; remove it from '
                      'the project before deleting its nics.'}),
        (409, {'type': 'BlockedError',
               'msg': 'Node n1 is part of project runway; remove it from '
                      'the project before deleting it.'})]
    # HaaS 0.3's clients delete them at the bare paths; out of its
    # project, HIL's client may too.
    assert admin_calls(
        client, users,
        ('DELETE', '/node/n2/nic/eth0', None),
        ('DELETE', '/node/n2', None),
        ('POST', '/v0/project/runway/detach_node', {'node': 'n1'}),
        ('DELETE', '/v0/node/n1/nic/eth0', None),
        ('DELETE', '/v0/node/n1', None)) == [(200, None)] * 5


def test_the_openapi_document_gives_show_networks_hil_fields(client):
    schema = client.get('/openapi.json').json['paths'][
        '/network/{network}']['get']['responses']['200']['content'][
        'application/json']['schema']

    assert {'owner', 'network_id', 'connected-nodes'} <= set(
        schema['required'])
    assert schema['properties']['connected-nodes']['additionalProperties'] \
        == {'type': 'array', 'items': {'type': 'string'}}
