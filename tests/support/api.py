"""What tests of the REST API share: the answers many of them expect, as
(status, JSON body), and the requests that set up nodes and switches."""

import base64

MOCK_OBM = 'http://schema.massopencloud.org/haas/v0/obm/mock'
MOCK_SWITCH = 'http://schema.massopencloud.org/haas/v0/switches/mock'
#: The bodies of PUT /node and PUT /switch for the mock drivers.
OBM = {'type': MOCK_OBM, 'host': 'h', 'user': 'u', 'password': 'p'}
SWITCH = {'type': MOCK_SWITCH, 'hostname': 'h', 'username': 'u',
          'password': 'p'}

DONE = (200, b'')
AUTH_REQUIRED = (401, {
    'type': 'AuthorizationError',
    'msg': 'Authentication failed. Authentication is required to use this '
           'service.'})
ADMIN_ONLY = (401, {'type': 'AuthorizationError',
                    'msg': 'This operation is administrator-only.'})
NO_ACCESS = (401, {'type': 'AuthorizationError',
                   'msg': 'You do not have access to the required project.'})


def error(status, kind, msg):
    return status, {'type': kind, 'msg': msg}


def not_found(msg):
    return error(404, 'NotFoundError', msg)


def blocked(msg):
    return error(409, 'BlockedError', msg)


def duplicate(msg):
    return error(409, 'DuplicateError', msg)


def server_error(msg):
    return error(500, 'ServerError', msg)


def answer(response):
    """A response as (status, JSON body), or (status, b'') when empty."""
    return response.status_code, (response.json if response.data
                                  else response.data)


def caller(client, users):
    """call(who, method, path, body=None): the answer to `who`'s request,
    made through the Flask test `client` with `users`' headers."""
    def call(who, method, path, body=None):
        return answer(client.open(path, method=method, json=body,
                                  headers=users[who]))
    return call


def basic(user, password):
    """The Authorization header of HTTP basic auth."""
    token = base64.b64encode(f'{user}:{password}'.encode()).decode()
    return {'Authorization': f'Basic {token}'}


def add_admin(app, label='admin', password='pw'):
    """An administrator in the database auth of `app`; its request
    headers."""
    from haas.ext.auth.database import User
    from haas.model import db
    with app.app_context():
        user = User(label=label, is_admin=True)
        user.set_password(password)
        db.session.add(user)
        db.session.commit()
    return basic(label, password)


def calls(client, headers, *requests):
    """Send each (method, path, body) of `requests`; each must succeed."""
    for method, path, body in requests:
        response = client.open(path, method=method, json=body,
                               headers=headers)
        assert response.status_code in (200, 202), (path, response.json)
