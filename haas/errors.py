"""Error types of HaaS.

`HaasError` is what operator-facing code (config, extensions, migrations)
raises: the CLI turns it into one line and a non-zero exit.  `APIError` and
its subclasses are what REST calls raise: one class per HTTP meaning, turned
into ``{"type": ..., "msg": ...}`` and the class's status by one handler.
"""


def squashed(text):
    """`text` (or an error's message) on one line."""
    return ' '.join(str(text).split())


def first_line(text):
    """The first line of `text` that is not blank: what a database driver's
    message says before its DETAIL and HINT lines."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else type(text).__name__


class HaasError(Exception):
    """A problem an operator can fix; its message says how."""


class ConfigError(HaasError):
    """haas.cfg is missing, unreadable or holds a bad value."""


class ExtensionError(HaasError):
    """An extension named in [extensions] cannot be loaded or is misused."""


class MigrationError(HaasError):
    """A schema command cannot run as asked (unknown revision, behind, ...)."""


class DatabaseError(HaasError):
    """The database cannot be reached or is not in the state a command
    needs."""


class SecretsError(DatabaseError):
    """The key file of [secrets] is missing, unreadable or malformed, or its
    keys cannot decrypt the passwords the database holds (haas.crypto).
    A DatabaseError, so that the servers refuse to start on it as they do
    on a stale schema."""


class SwitchError(Exception):
    """A switch refused a networking action, or the action cannot be
    applied to it: trying again cannot help (an unknown VLAN, a port the
    switch does not have, a label it cannot hold).  The daemon marks the
    action ERROR, with this message as its reason, which frees the nic."""


class SwitchUnavailableError(Exception):
    """A switch cannot take a networking action now (it does not answer,
    a timeout, a lost connection, its storage failing): trying again may
    help.  The daemon keeps the action PENDING, with this message as the
    reason of its last attempt, and tries again with backoff.  Not a
    SwitchError, so that no `except SwitchError` takes it for a refusal."""


class APIError(Exception):
    """Base of every error a REST call reports to its caller."""

    status_code = 400

    def __init__(self, msg='', retry_after=None):
        super().__init__(msg)
        self.msg = msg
        #: Whole seconds after which the caller may try again (the answer's
        #: Retry-After), or None.
        self.retry_after = retry_after

    def to_dict(self):
        return {'type': type(self).__name__, 'msg': self.msg}

    def headers(self):
        """The answer's headers beyond its JSON body."""
        if self.retry_after is None:
            return {}
        return {'Retry-After': str(max(1, int(self.retry_after)))}


class ValidationError(APIError):
    """The request body does not fit the call's schema."""


class NotFoundError(APIError):
    status_code = 404


class DuplicateError(APIError):
    status_code = 409


class AllocationError(APIError):
    """The network id pool is exhausted."""


class BadArgumentError(APIError):
    pass


class ProjectMismatchError(APIError):
    status_code = 409


class AuthorizationError(APIError):
    status_code = 401


class BlockedError(APIError):
    """Something else must be undone first."""

    status_code = 409


class IllegalStateError(APIError):
    status_code = 409


class MethodNotAllowedError(APIError):
    """The path exists, but not with this HTTP method."""

    status_code = 405


class RequestTooLargeError(APIError):
    """The request body is larger than [server] max_body."""

    status_code = 413


class TooManyRequestsError(APIError):
    """The caller has tried too often; Retry-After says when to try again."""

    status_code = 429


class ServerError(APIError):
    """The server failed; its log says why."""

    status_code = 500


class OBMError(APIError):
    """A node's out-of-band management (its BMC) refused or did not
    answer: a bad gateway, not a failure of the server."""

    status_code = 502


class ServiceUnavailableError(ServerError):
    """The server cannot answer now (its database is away); Retry-After
    says when to try again."""

    status_code = 503
