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
