"""The user calls of haas.ext.auth.database (rest-api.md 2.1) and how its
users log in: HTTP Basic auth against Argon2 (or HaaS 0.2's) hashes."""

import functools

import pytest
from flask import current_app
from passlib.hash import sha512_crypt

from haas.ext.auth.database import User, user_projects
from haas.model import Project, db

from support.api import answer, basic
from support.databases import no_change, table_rows

AUTH_FAILED = {'type': 'AuthorizationError',
               'msg': 'Authentication failed. Authentication is required to '
                      'use this service.'}
ADMIN_ONLY = {'type': 'AuthorizationError',
              'msg': 'This operation is administrator-only.'}
NO_ACCESS = {'type': 'AuthorizationError',
             'msg': 'You do not have access to the required project.'}
REFUSED = [('runway', ADMIN_ONLY), ('other', ADMIN_ONLY),
           ('anonymous', AUTH_FAILED)]


def user_row(label):
    """A user's row, its projects by label; None if there is no such user."""
    user = db.session.execute(
        db.select(User).filter_by(label=label)).scalar_one_or_none()
    if user is None:
        return None
    return {'label': user.label, 'is_admin': user.is_admin,
            'projects': sorted(p.label for p in user.projects)}


def hashed_password(label):
    return db.session.execute(db.select(User.hashed_password)
                              .filter_by(label=label)).scalar_one()


def memberships():
    """Every (user, project) pair of user_projects, by label."""
    return sorted(db.session.execute(
        db.select(User.label, Project.label)
        .join(user_projects, user_projects.c.user_id == User.id)
        .join(Project, user_projects.c.project_id == Project.id)).all())


def logs_in(client, user, password):
    """Whether these credentials authenticate (a call open to any user)."""
    response = client.get('/free_nodes', headers=basic(user, password))
    assert response.status_code in (200, 401), response.data
    return response.status_code == 200



def all_rows():
    """Every row of every table, as the test's transaction sees them."""
    return table_rows(current_app._get_current_object())


@functools.cache
def legacy_hash(password):
    # HaaS 0.2's default cost, so a third of a second: made once a run.
    return sha512_crypt.hash(password)


def add_legacy_user(label, password):
    """A user as HaaS 0.2 stored them: a sha512_crypt hash."""
    db.session.add(User(label=label, is_admin=False,
                        hashed_password=legacy_hash(password)))
    db.session.commit()


# --- user_create ----------------------------------------------------------

def create(client, headers, user='alice', **body):
    return client.put(f'/auth/basic/user/{user}', headers=headers,
                      json={'password': 'alice-pw', **body})


def test_user_create_makes_a_user_who_is_not_an_admin_by_default(client,
                                                                 users):
    response = create(client, users['admin'])

    assert answer(response) == (200, b'')
    assert user_row('alice') == {'label': 'alice', 'is_admin': False,
                                 'projects': []}


@pytest.mark.parametrize('is_admin', [True, False])
def test_user_create_sets_the_admin_flag_given(client, users, is_admin):
    response = create(client, users['admin'], is_admin=is_admin)

    assert answer(response) == (200, b'')
    assert user_row('alice') == {'label': 'alice', 'is_admin': is_admin,
                                 'projects': []}


def test_user_create_new_user_logs_in_with_the_password(client, users):
    create(client, users['admin'])

    assert (logs_in(client, 'alice', 'alice-pw'),
            logs_in(client, 'alice', 'wrong-pw')) == (True, False)


@pytest.mark.parametrize('is_admin, expected', [
    (True, (200, ['manhattan', 'runway'])), (False, (401, ADMIN_ONLY))])
def test_user_create_new_user_has_admin_rights_only_with_the_flag(
        client, users, is_admin, expected):
    create(client, users['admin'], is_admin=is_admin)

    response = client.get('/projects', headers=basic('alice', 'alice-pw'))

    assert answer(response) == expected


def test_user_create_stores_an_argon2_hash_of_the_password(client, users):
    create(client, users['admin'])

    stored = hashed_password('alice')
    assert stored.startswith('$argon2id$')
    assert 'alice-pw' not in stored


@pytest.mark.parametrize('who, error', REFUSED)
def test_user_create_is_admin_only(client, users, who, error):
    with no_change():
        response = create(client, users[who], is_admin=True)

    assert answer(response) == (401, error)


@pytest.mark.parametrize('existing', ['admin', 'runway'])
def test_user_create_duplicate_is_409_and_keeps_the_user(client, users,
                                                         existing):
    with no_change():
        response = create(client, users['admin'], existing, is_admin=True)

    assert answer(response) == (409, {'type': 'DuplicateError',
                                      'msg': f'User {existing} already '
                                             f'exists.'})
    assert logs_in(client, existing, f'{existing}-pw')


@pytest.mark.parametrize('body', ['["alice-pw"]', '"alice-pw"', 'null', '7'])
def test_user_create_body_not_an_object_is_a_validation_error(client, users,
                                                              body):
    with no_change():
        response = client.put('/auth/basic/user/alice',
                              headers=users['admin'], data=body,
                              content_type='application/json')

    assert answer(response) == (400, {
        'type': 'ValidationError',
        'msg': 'The request body is not a JSON object.'})


BAD_FIELDS = {
    'no password': ({}, 'password: Field required'),
    'empty password': ({'password': ''},
                       'password: String should have at least 1 character'),
    'password not a string': ({'password': 7},
                              'password: Input should be a valid string'),
    'is_admin not a boolean': ({'password': 'alice-pw', 'is_admin': 'yes'},
                               'is_admin: Input should be a valid boolean'),
    "the docs' is-admin": ({'password': 'alice-pw', 'is-admin': True},
                           'is-admin: Extra inputs are not permitted'),
}


@pytest.mark.parametrize('case', BAD_FIELDS)
def test_user_create_bad_fields_are_validation_errors(client, users, case):
    body, problem = BAD_FIELDS[case]

    with no_change():
        response = client.put('/auth/basic/user/alice',
                              headers=users['admin'], json=body)

    assert answer(response) == (400, {
        'type': 'ValidationError',
        'msg': f'The request body is not valid for this request: {problem}'})


def test_user_create_password_appears_in_no_response(client, users):
    password = 'Sekrit-9f3c'
    responses = [
        client.put('/auth/basic/user/alice', headers=users['admin'],
                   json={'password': password}),
        client.put('/auth/basic/user/alice', headers=users['admin'],
                   json={'password': password}),
        client.put('/auth/basic/user/bob', headers=users['admin'],
                   json={'password': password, 'is_admin': 'yes'}),
        client.put('/auth/basic/user/bob', headers=users['runway'],
                   json={'password': password}),
        client.get('/free_nodes', headers=basic('alice', password)),
        client.get('/projects', headers=basic('alice', password)),
    ]

    assert [r.status_code for r in responses] == [200, 409, 400, 401, 200,
                                                  401]
    stored = hashed_password('alice')
    assert [r.data for r in responses
            if password.encode() in r.data or stored.encode() in r.data] == []


# --- user_delete ----------------------------------------------------------

def test_user_delete_removes_the_user_and_its_memberships(client, users):
    response = client.delete('/auth/basic/user/runway',
                             headers=users['admin'])

    assert answer(response) == (200, b'')
    assert (user_row('runway'), memberships()) == (
        None, [('other', 'manhattan')])
    assert all_rows()['user_projects'] == [
        {'user_id': db.session.execute(db.select(User.id).filter_by(
            label='other')).scalar_one(),
         'project_id': db.session.execute(db.select(Project.id).filter_by(
             label='manhattan')).scalar_one()}]


def test_user_delete_keeps_the_projects(client, users):
    client.delete('/auth/basic/user/runway', headers=users['admin'])

    response = client.get('/projects', headers=users['admin'])

    assert answer(response) == (200, ['manhattan', 'runway'])


def test_user_delete_deleted_user_cannot_log_in(client, users):
    client.delete('/auth/basic/user/runway', headers=users['admin'])

    assert logs_in(client, 'runway', 'runway-pw') is False


def test_user_delete_unknown_is_404(client, users):
    with no_change():
        response = client.delete('/auth/basic/user/nobody',
                                 headers=users['admin'])

    assert answer(response) == (404, {'type': 'NotFoundError',
                                      'msg': 'User nobody does not exist.'})


@pytest.mark.parametrize('target', ['admin', 'nobody'])
@pytest.mark.parametrize('who, error', REFUSED)
def test_user_delete_is_admin_only(client, users, target, who, error):
    with no_change():
        response = client.delete(f'/auth/basic/user/{target}',
                                 headers=users[who])

    assert answer(response) == (401, error)


# --- user_add_project / user_remove_project -------------------------------

def add(client, headers, user, project):
    return client.post(f'/auth/basic/user/{user}/add_project',
                       headers=headers, json={'project': project})


def remove(client, headers, user, project):
    return client.post(f'/auth/basic/user/{user}/remove_project',
                       headers=headers, json={'project': project})


def test_user_add_project_makes_the_user_a_member(client, users):
    response = add(client, users['admin'], 'runway', 'manhattan')

    assert answer(response) == (200, b'')
    assert memberships() == [('other', 'manhattan'), ('runway', 'manhattan'),
                             ('runway', 'runway')]


def test_user_add_project_gives_access_to_the_project(client, users):
    add(client, users['admin'], 'runway', 'manhattan')

    response = client.get('/project/manhattan/nodes', headers=users['runway'])

    assert answer(response) == (200, [])


def test_user_remove_project_ends_the_membership(client, users):
    response = remove(client, users['admin'], 'runway', 'runway')

    assert answer(response) == (200, b'')
    assert memberships() == [('other', 'manhattan')]


def test_user_remove_project_takes_away_access_to_the_project(client, users):
    remove(client, users['admin'], 'runway', 'runway')

    response = client.get('/project/runway/nodes', headers=users['runway'])

    assert answer(response) == (401, NO_ACCESS)


@pytest.mark.parametrize('call', [add, remove])
@pytest.mark.parametrize('project', ['runway', 'nowhere'])
def test_user_project_calls_unknown_user_is_404_first(client, users, call,
                                                      project):
    with no_change():
        response = call(client, users['admin'], 'nobody', project)

    assert answer(response) == (404, {'type': 'NotFoundError',
                                      'msg': 'User nobody does not exist.'})


@pytest.mark.parametrize('call', [add, remove])
def test_user_project_calls_unknown_project_is_404(client, users, call):
    with no_change():
        response = call(client, users['admin'], 'runway', 'nowhere')

    assert answer(response) == (404, {'type': 'NotFoundError',
                                      'msg': 'Project nowhere does not '
                                             'exist.'})


def test_user_add_project_already_a_member_is_409(client, users):
    with no_change():
        response = add(client, users['admin'], 'runway', 'runway')

    assert answer(response) == (409, {
        'type': 'DuplicateError',
        'msg': 'User runway is already in project runway'})


def test_user_remove_project_not_a_member_is_404(client, users):
    with no_change():
        response = remove(client, users['admin'], 'runway', 'manhattan')

    assert answer(response) == (404, {
        'type': 'NotFoundError',
        'msg': 'User runway is not in project manhattan'})


@pytest.mark.parametrize('call, project', [(add, 'manhattan'),
                                           (remove, 'runway')])
@pytest.mark.parametrize('who, error', REFUSED)
def test_user_project_calls_are_admin_only(client, users, call, project, who,
                                           error):
    # Even a member adding themselves, or leaving their own project.
    with no_change():
        response = call(client, users[who], 'runway', project)

    assert answer(response) == (401, error)


# --- logging in -----------------------------------------------------------

def test_login_unknown_user_and_wrong_password_look_alike(client, users):
    unknown = client.get('/free_nodes', headers=basic('mallory', 'admin-pw'))
    wrong = client.get('/free_nodes', headers=basic('admin', 'mallory-pw'))

    assert answer(unknown) == answer(wrong) == (401, AUTH_FAILED)
    assert unknown.headers.get('WWW-Authenticate') == \
        wrong.headers.get('WWW-Authenticate')


@pytest.mark.parametrize('headers', [{}, basic('admin', ''),
                                     {'Authorization': 'Bearer admin-pw'}])
def test_login_without_basic_credentials_is_401(client, users, headers):
    response = client.get('/free_nodes', headers=headers)

    assert answer(response) == (401, AUTH_FAILED)


def test_login_with_a_haas_0_2_hash_succeeds(client, users):
    add_legacy_user('legacy', 'legacy-pw')

    response = client.get('/free_nodes', headers=basic('legacy', 'legacy-pw'))

    assert answer(response) == (200, [])


def test_login_with_a_haas_0_2_hash_replaces_it_with_argon2(client, users):
    add_legacy_user('legacy', 'legacy-pw')

    client.get('/free_nodes', headers=basic('legacy', 'legacy-pw'))

    stored = hashed_password('legacy')
    assert stored.startswith('$argon2id$')
    assert (logs_in(client, 'legacy', 'legacy-pw'),
            logs_in(client, 'legacy', 'legacy-wrong')) == (True, False)


def test_login_with_a_wrong_password_keeps_a_haas_0_2_hash(client, users):
    add_legacy_user('legacy', 'legacy-pw')
    stored = hashed_password('legacy')

    response = client.get('/free_nodes', headers=basic('legacy', 'wrong'))

    assert answer(response) == (401, AUTH_FAILED)
    assert hashed_password('legacy') == stored
    assert stored.startswith('$6$')
