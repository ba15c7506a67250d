"""The API's answers that many tests expect, as (status, JSON body)."""

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
