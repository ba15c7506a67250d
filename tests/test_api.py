"""The REST layer: calls declared as data, bodies validated, errors in JSON,
the OpenAPI document, and the project calls, on both databases."""

import importlib
import json
import re

import pytest

import haas
from haas import rest
from haas.ext.auth.database import User

from support.api import basic
from support.config import NULL_AUTH_EXTENSIONS
from support.databases import built_app, table_rows

UNAUTHENTICATED = {
    'type': 'AuthorizationError',
    'msg': 'Authentication failed. Authentication is required to use this '
           'service.'}
ADMIN_ONLY = {'type': 'AuthorizationError',
              'msg': 'This operation is administrator-only.'}


def answer(response):
    """Status, content type and JSON body (None when empty) at once."""
    body = response.get_data()
    return (response.status_code, response.mimetype,
            json.loads(body) if body else None)


# --- projects ---------------------------------------------------------------

def test_admin_creates_projects_and_lists_them_sorted(client, users):
    created = client.put('/project/empty', headers=users['admin'])

    listed = client.get('/projects', headers=users['admin'])

    assert answer(created) == (200, 'application/json', None)
    assert answer(listed) == (200, 'application/json',
                              ['empty', 'manhattan', 'runway'])


def test_project_create_duplicate_is_409_and_writes_nothing(client, users,
                                                            api):
    before = table_rows(api)

    response = client.put('/project/runway', headers=users['admin'])

    assert answer(response) == (409, 'application/json', {
        'type': 'DuplicateError', 'msg': 'Project runway already exists.'})
    assert table_rows(api) == before


@pytest.mark.parametrize('caller', ['runway', 'other', 'anonymous'])
def test_only_an_admin_creates_projects(client, users, caller):
    response = client.put('/project/new', headers=users[caller])

    assert answer(response)[::2] == (
        401, UNAUTHENTICATED if caller == 'anonymous' else ADMIN_ONLY)
    assert 'new' not in client.get('/projects', headers=users['admin']).json


def test_project_delete_of_an_unknown_project_is_404(client, users):
    response = client.delete('/project/nowhere', headers=users['admin'])

    assert answer(response)[::2] == (404, {
        'type': 'NotFoundError', 'msg': 'Project nowhere does not exist.'})


def test_project_delete_is_blocked_while_a_node_is_in_it(client, users):
    client.put('/node/n1', headers=users['admin'], json={'obm': {
        'type': 'http://schema.massopencloud.org/haas/v0/obm/mock',
        'host': 'h', 'user': 'u', 'password': 'p'}})
    client.post('/project/runway/connect_node', headers=users['admin'],
                json={'node': 'n1'})

    blocked = client.delete('/project/runway', headers=users['admin'])
    emptied = client.delete('/project/manhattan', headers=users['admin'])

    assert answer(blocked)[::2] == (409, {'type': 'BlockedError',
                                          'msg': 'Project has nodes still'})
    assert answer(emptied)[::2] == (200, None)
    assert client.get('/projects', headers=users['admin']).json == ['runway']


@pytest.mark.parametrize('project, msg', [
    ('runway', 'Project still has networks'),
    ('manhattan', 'Project can still access networks'),
])
def test_project_delete_is_blocked_while_it_owns_or_may_use_a_network(
        client, users, project, msg):
    """runway owns the network; manhattan is on its access list too."""
    from haas.model import Network, Project, db
    client.put('/network/net', headers=users['admin'], json={
        'owner': 'runway', 'access': 'runway', 'net_id': ''})
    network = db.session.execute(db.select(Network)).scalar_one()
    network.access.append(db.session.execute(
        db.select(Project).filter_by(label='manhattan')).scalar_one())
    db.session.commit()

    blocked = client.delete(f'/project/{project}', headers=users['admin'])

    assert answer(blocked)[::2] == (409, {'type': 'BlockedError',
                                          'msg': msg})
    assert client.get('/projects', headers=users['admin']).json == [
        'manhattan', 'runway']


# --- authentication ----------------------------------------------------------

@pytest.mark.parametrize('who', ['anonymous', 'unknown user',
                                 'wrong password', 'no password'])
def test_unauthenticated_callers_get_the_same_401(client, users, who):
    headers = {'anonymous': {}, 'unknown user': basic('mallory', 'admin-pw'),
               'wrong password': basic('admin', 'guess'),
               'no password': basic('admin', '')}[who]

    response = client.get('/projects', headers=headers)

    assert answer(response) == (401, 'application/json', UNAUTHENTICATED)


def test_require_authentication_false_lets_anonymous_reach_the_checks(
        tmp_path):
    with built_app('sqlite', tmp_path, ['haas.ext.auth.database',
                                        'haas.ext.network_allocators.null'],
                   extra='[auth]\nrequire_authentication = False\n') as app:
        client = app.test_client()
        # Past authentication, the admin check still refuses.
        assert answer(client.get('/projects'))[::2] == (401, ADMIN_ONLY)
        assert answer(client.get('/free_nodes'))[::2] == (200, [])


def test_new_passwords_are_argon2_hashes(api):
    user = User(label='carol')
    user.set_password('pw')

    assert user.hashed_password.startswith('$argon2id$')
    assert user.verify_password('pw') and not user.verify_password('PW')


def test_null_auth_makes_everyone_an_admin(null_client):
    assert answer(null_client.put('/project/p'))[::2] == (200, None)
    assert answer(null_client.get('/projects'))[::2] == (200, ['p'])


# --- errors and bodies -------------------------------------------------------

def test_unknown_path_and_wrong_method_answer_json_of_the_api_classes(
        client, users):
    missing = client.get('/no/such/call', headers=users['admin'])
    wrong = client.post('/projects', headers=users['admin'])

    assert answer(missing)[:2] == (404, 'application/json')
    assert missing.json['type'] == 'NotFoundError'
    assert answer(wrong)[:2] == (405, 'application/json')
    assert wrong.json['type'] == 'MethodNotAllowedError'
    assert set(wrong.headers['Allow'].split(', ')) == {'GET', 'HEAD',
                                                       'OPTIONS'}


BODY = 'The request body is not valid for this request: '


@pytest.mark.parametrize('data, message', [
    (b'{"node": ', 'The request body is not JSON.'),
    (b'', 'The request body is not JSON.'),
    (b'["n1"]', 'The request body is not a JSON object.'),
    (b'"n1"', 'The request body is not a JSON object.'),
    (b'{"node": "\xff"}', 'The request body is not UTF-8.'),
    (b'{}', BODY + 'node: Field required'),
    (b'{"node": 7}', BODY + 'node: Input should be a valid string'),
    (b'{"node": null}', BODY + 'node: Input should be a valid string'),
    (b'{"node": ""}', BODY + 'node: String should have at least 1 character'),
    (('{"node": "%s"}' % ('n' * 256)).encode(),
     BODY + 'node: String should have at most 255 characters'),
    (b'{"node": "n\\u0000"}',
     BODY + 'node: Value error, contains a NUL character'),
    (b'{"node": "\\ud800"}',
     BODY + 'node: Input should be a valid string, unable to parse raw '
            'data as a unicode string'),
    (b'{"node": "n1", "extra": 1}', BODY + 'extra: Extra inputs are not '
                                           'permitted'),
    (b'{"node": "n1", "project": "runway"}',
     'The request body repeats the path parameter project.'),
], ids=['truncated', 'empty', 'list', 'string', 'not-utf-8', 'missing',
        'number', 'null', 'empty-name', 'long-name', 'nul', 'surrogate',
        'unknown-field', 'path-parameter'])
def test_a_malformed_body_is_400_and_changes_nothing(client, users, api, data,
                                                     message):
    before = table_rows(api)

    response = client.post('/project/runway/connect_node', data=data,
                           headers={**users['admin'],
                                    'Content-Type': 'application/json'})

    assert answer(response) == (400, 'application/json', {
        'type': 'ValidationError', 'msg': message})
    assert table_rows(api) == before


def test_a_bad_body_is_refused_before_authentication(client, users):
    response = client.post('/project/runway/connect_node', data=b'[]',
                           headers=users['anonymous'])

    assert answer(response)[::2] == (400, {
        'type': 'ValidationError',
        'msg': 'The request body is not a JSON object.'})


def test_an_over_long_name_in_the_path_is_400(client, users):
    response = client.put('/project/' + 'p' * 256, headers=users['admin'])

    assert answer(response)[::2] == (400, {
        'type': 'ValidationError',
        'msg': 'The project in the path is not valid: String should have at '
               'most 255 characters'})


def test_a_call_without_body_fields_ignores_any_body(client, users):
    response = client.put('/project/new', data=b'not json',
                          headers=users['admin'])

    assert answer(response)[::2] == (200, None)


# --- calls as data -----------------------------------------------------------

def test_a_call_declared_after_an_app_has_routed_is_served_by_apps_that_route_later(  # noqa: E501
        tmp_path):
    (tmp_path / 'a').mkdir()
    (tmp_path / 'b').mkdir()
    with built_app('sqlite', tmp_path / 'a', NULL_AUTH_EXTENSIONS) as first:
        before = first.test_client().get('/late/x')  # routes `first`

        @rest.rest_call('GET', '/late/<thing>', returns=str)
        def late_call(thing):
            """Answer with the thing."""
            return thing

        try:
            with built_app('sqlite', tmp_path / 'b',
                           NULL_AUTH_EXTENSIONS) as second:
                late = second.test_client().get('/late/x')
                earlier = first.test_client().get('/late/x')
        finally:
            del rest.calls['late_call']

    assert answer(late) == (200, 'application/json', 'x')
    assert (before.status_code, earlier.status_code) == (404, 404)


def test_an_app_routes_with_its_first_request_not_when_it_is_built(
        tmp_path):
    with built_app('sqlite', tmp_path, NULL_AUTH_EXTENSIONS) as app:
        built = {rule.endpoint for rule in app.url_map.iter_rules()}
        app.test_client().get('/projects')
        served = {rule.endpoint for rule in app.url_map.iter_rules()}

    # /metrics is routed at once: it declares no call and imports
    # nothing until scraped.
    assert built <= {'static', 'metrics'}
    assert {'list_projects', 'openapi'} <= served


def test_an_extensions_calls_are_served_only_where_it_is_enabled(
        null_client, client, users):
    # haas.ext.auth.database is imported in this process (for `client`).
    absent = null_client.put('/auth/basic/user/u', json={'password': 'pw'})
    present = client.put('/auth/basic/user/u', json={'password': 'pw'},
                         headers=users['admin'])

    assert (absent.status_code, present.status_code) == (404, 200)


def test_a_bug_in_a_call_is_a_json_500_without_details(tmp_path):
    @rest.rest_call('GET', '/broken')
    def broken_call():
        """Fail."""
        raise RuntimeError('secret detail')

    try:
        with built_app('sqlite', tmp_path, NULL_AUTH_EXTENSIONS) as app:
            response = app.test_client().get('/broken')
    finally:
        del rest.calls['broken_call']

    assert answer(response) == (500, 'application/json', {
        'type': 'ServerError',
        'msg': 'The server failed to handle the request; its log says why.'})


def test_core_builds_no_app_and_imports_no_cli_or_extension():
    import subprocess
    import sys
    code = ('import sys, haas, haas.api, haas.rest, haas.model; '
            'print(sorted(m for m in sys.modules if m.startswith('
            '("haas.ext", "haas.commands", "haas.app", "flask_migrate"))))')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True,
                            text=True, check=True)
    assert result.stdout == '[]\n'
    assert callable(haas.create_app)


# --- OpenAPI -----------------------------------------------------------------

def resolve(document, ref):
    node = document
    for part in ref.removeprefix('#/').split('/'):
        node = node[part]
    return node


def refs(value):
    if isinstance(value, dict):
        if '$ref' in value:
            yield value['$ref']
        for item in value.values():
            yield from refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from refs(item)


def test_openapi_document_lists_every_served_call_with_its_body(client,
                                                                 api):
    response = client.get('/openapi.json')
    document = response.json

    assert answer(response)[:2] == (200, 'application/json')
    assert document['openapi'] == '3.1.0'
    operations = {(path, method): op for path, methods in
                  document['paths'].items() for method, op in methods.items()}
    served = rest.served(api.extensions['haas'].config.extensions)
    assert sorted(op['operationId'] for op in operations.values()) == sorted(
        call.name for call in served)
    assert operations[('/project/{project}/connect_node', 'post')][
        'requestBody']['content']['application/json']['schema'] == {
        '$ref': '#/components/schemas/NodeField'}
    assert resolve(document, '#/components/schemas/NodeField')[
        'required'] == ['node']
    # A driver's type is one of those the application's extensions have.
    assert resolve(document, '#/components/schemas/ObmSpec')['properties'][
        'type']['enum'] == ['http://schema.massopencloud.org/haas/v0/obm/mock']
    assert resolve(document, '#/components/schemas/SwitchSpec')[
        'properties']['type']['enum'] == [
        'http://schema.massopencloud.org/haas/v0/switches/mock']
    # A call that takes a body may find it too large; one that takes none
    # does not read it.  Any may find the database away (503), and meet
    # the database auth backend's throttle (429).
    assert operations[('/node/{node}/nic/{nic}/connect_network', 'post')][
        'responses'].keys() == {'202', '400', '401', '404', '409', '413',
                                '429', '503'}
    # A BMC that refuses or does not answer is a bad gateway (502); a
    # node whose OBM is disabled refuses (409).
    assert operations[('/node/{node}/power_off', 'post')][
        'responses'].keys() == {'200', '400', '401', '404', '409', '429',
                                '502', '503'}
    assert operations[('/projects', 'get')]['responses']['503'] == {
        'description': 'ServiceUnavailableError',
        'content': {'application/json': {
            'schema': {'$ref': '#/components/schemas/Error'}}}}
    assert operations[('/project/{project}/connect_node', 'post')][
        'responses']['413'] == {
        'description': 'RequestTooLargeError',
        'content': {'application/json': {
            'schema': {'$ref': '#/components/schemas/Error'}}}}
    # A queued change answers the status_id of its action.
    for queued in ('connect_network', 'detach_network'):
        schema = operations[(f'/node/{{node}}/nic/{{nic}}/{queued}', 'post')][
            'responses']['202']['content']['application/json']['schema']
        assert (schema['properties'], schema['required']) == (
            {'status_id': {'title': 'Status Id', 'type': 'string'}},
            ['status_id'])
    for ref in refs(document):
        resolve(document, ref)  # every reference leads somewhere
    # OpenAPI forbids paths that differ only in their parameters' names.
    shapes = [re.sub(r'{[^}]+}', '{}', path) for path in document['paths']]
    assert len(shapes) == len(set(shapes))


def test_the_users_calls_appear_in_the_document_only_with_their_extension(
        client, null_client):
    with_database = client.get('/openapi.json').json['paths']
    with_null = null_client.get('/openapi.json').json['paths']

    assert '/auth/basic/user/{user}' in with_database
    assert '/auth/basic/user/{user}' not in with_null


def body_calls():
    """Every call that takes a body, with its path filled in."""
    # Imported, they declare their calls: core's, and the users'.
    for module in ('haas.api', 'haas.ext.auth.database'):
        importlib.import_module(module)
    return [(call.name, call.method,
             rest._template(call.path).format(
                 **{name: f'{name}-x' for name in call.parameters}))
            for call in rest.calls.values() if call.body is not None]


MALFORMED = [b'[]', b'"text"', b'{"x": ', b'\xff\xfe', b'{"zzz": 1}']


@pytest.mark.parametrize('name, method, path', body_calls(),
                         ids=[c[0] for c in body_calls()])
def test_every_call_with_a_body_refuses_malformed_ones_and_writes_nothing(
        client, users, api, name, method, path):
    before = table_rows(api)

    answers = [answer(client.open(path, method=method, data=data,
                                  headers=users['admin']))
               for data in MALFORMED]

    assert [(status, mimetype, body['type'])
            for status, mimetype, body in answers] == [
        (400, 'application/json', 'ValidationError')] * len(MALFORMED)
    assert all(body['msg'].startswith('The request body ')
               for _, _, body in answers)
    assert table_rows(api) == before


# --- hostile input -----------------------------------------------------------

def test_a_deeply_nested_body_is_400(client, users):
    data = b'[' * 100000 + b']' * 100000

    response = client.post('/project/runway/connect_node', data=data,
                           headers=users['admin'])

    assert answer(response)[::2] == (400, {
        'type': 'ValidationError',
        'msg': 'The request body is nested too deeply.'})


def test_a_nul_in_a_user_name_is_an_unknown_user(client, users):
    response = client.get('/projects', headers=basic('ad\x00min', 'admin-pw'))

    assert answer(response)[::2] == (401, UNAUTHENTICATED)


def test_a_legacy_hash_and_a_password_it_cannot_take_is_a_wrong_password(
        client, api):
    from passlib.hash import sha512_crypt

    from haas.ext.auth.database import User
    from haas.model import db
    db.session.add(User(label='old', is_admin=True,
                        hashed_password=sha512_crypt.using(rounds=1000).hash('pw')))
    db.session.commit()

    response = client.get('/projects', headers=basic('old', 'p\x00w'))

    assert answer(response)[::2] == (401, UNAUTHENTICATED)


def test_memberships_held_twice_by_haas_0_2_can_still_be_removed(
        client, users, api):
    import sqlalchemy as sa

    from haas.model import db
    db.session.execute(sa.text(
        'INSERT INTO user_projects (user_id, project_id) SELECT u.id, p.id '
        'FROM "user" u, project p WHERE u.label = :u AND p.label = :p'),
        {'u': 'runway', 'p': 'runway'})  # a second row for one membership
    db.session.commit()

    removed = client.post('/auth/basic/user/runway/remove_project',
                          json={'project': 'runway'}, headers=users['admin'])
    deleted = client.delete('/auth/basic/user/runway', headers=users['admin'])

    assert (answer(removed)[::2], answer(deleted)[::2]) == ((200, None),
                                                            (200, None))


def test_a_bad_require_authentication_is_refused_when_the_app_is_built(
        tmp_path):
    from haas.errors import ConfigError

    from support.config import config_text
    with pytest.raises(ConfigError, match='require_authentication must be a '
                                          'boolean'):
        haas.create_app(config_text(
            f'sqlite:///{tmp_path}/haas.db', NULL_AUTH_EXTENSIONS,
            extra='[auth]\nrequire_authentication = maybe\n'))


def test_a_call_declared_twice_is_refused():
    with pytest.raises(ValueError, match='REST call list_projects'):
        @rest.rest_call('GET', '/other/projects')
        def list_projects():
            """Shadow core's."""


def test_a_body_may_declare_an_optional_field_either_way():
    import typing

    class Either(rest.Body):
        a: typing.Optional[rest.Name] = None
        b: rest.Name | None = None

    model = rest.model_of(Either)
    assert model.model_validate({'b': 'x'}).model_dump() == {'a': None,
                                                            'b': 'x'}


def test_a_bad_max_body_is_refused_when_the_app_is_built(tmp_path):
    from haas.errors import ConfigError

    from support.config import config_text
    with pytest.raises(ConfigError, match=r'^\[server\] max_body must be '):
        haas.create_app(config_text(
            f'sqlite:///{tmp_path}/haas.db', NULL_AUTH_EXTENSIONS,
            extra='[server]\nmax_body = 0\n'))
