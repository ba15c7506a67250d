"""The REST calls of the foundation, with database auth, on both databases."""

import base64

import pytest
from passlib.hash import sha512_crypt

from haas.ext.auth.database import User
from haas.model import Project, db


def basic(user, password):
    token = base64.b64encode(f'{user}:{password}'.encode()).decode()
    return {'Authorization': f'Basic {token}'}


@pytest.fixture
def users(api):
    """An admin `admin`/`secret` and a plain user `bob`/`builder`."""
    admin = User(label='admin', is_admin=True)
    admin.set_password('secret')
    bob = User(label='bob', is_admin=False)
    bob.set_password('builder')
    db.session.add_all([admin, bob])
    db.session.commit()
    return {'admin': basic('admin', 'secret'), 'bob': basic('bob', 'builder')}


def test_admin_creates_projects_and_lists_them_sorted(client, users):
    for name in ('runway', 'manhattan'):
        response = client.put(f'/project/{name}', headers=users['admin'])
        assert (response.status_code, response.data) == (200, b'')

    response = client.get('/projects', headers=users['admin'])

    assert (response.status_code, response.json) == (200, ['manhattan',
                                                           'runway'])


def test_project_create_duplicate_is_409(client, users):
    client.put('/project/runway', headers=users['admin'])

    response = client.put('/project/runway', headers=users['admin'])

    assert (response.status_code, response.json) == (409, {
        'type': 'DuplicateError', 'msg': 'Project runway already exists.'})
    assert db.session.execute(db.select(db.func.count(Project.id))).scalar() == 1


@pytest.mark.parametrize('who', ['anonymous', 'unknown user',
                                 'wrong password', 'no password'])
def test_unauthenticated_callers_get_401(client, users, who):
    headers = {'anonymous': {}, 'unknown user': basic('mallory', 'secret'),
               'wrong password': basic('admin', 'guess'),
               'no password': basic('admin', '')}[who]

    response = client.get('/projects', headers=headers)

    assert (response.status_code, response.json) == (401, {
        'type': 'AuthorizationError',
        'msg': 'Authentication failed. Authentication is required to use '
               'this service.'})


def test_non_admin_cannot_create_projects(client, users):
    response = client.put('/project/runway', headers=users['bob'])

    assert (response.status_code, response.json) == (401, {
        'type': 'AuthorizationError',
        'msg': 'This operation is administrator-only.'})
    assert client.get('/projects', headers=users['admin']).json == []


def test_legacy_sha512_crypt_password_still_verifies(client):
    db.session.add(User(label='old', is_admin=True,
                        hashed_password=sha512_crypt.hash('from-2016')))
    db.session.commit()

    response = client.get('/projects', headers=basic('old', 'from-2016'))

    assert (response.status_code, response.json) == (200, [])


def test_new_passwords_are_argon2_hashes(api):
    user = User(label='carol')
    user.set_password('pw')
    assert user.hashed_password.startswith('$argon2id$')
    assert user.verify_password('pw') and not user.verify_password('PW')


def test_unknown_path_and_wrong_method_answer_json(client, users):
    missing = client.get('/no/such/call', headers=users['admin'])
    wrong = client.post('/projects', headers=users['admin'])

    assert (missing.status_code, missing.json['type']) == (404, 'NotFound')
    assert (wrong.status_code, wrong.json['type']) == (405,
                                                       'MethodNotAllowed')
