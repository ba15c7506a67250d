"""The auth-backend interface, its registry and the checks API calls use.

An auth extension registers its backend class in `backends` under its
module name when imported; the application uses the one that is enabled.
"""

from __future__ import annotations

import typing

from haas.errors import APIError, AuthorizationError, HaasError

if typing.TYPE_CHECKING:
    from haas.config import Config
    from haas.model import Project

#: Module name -> backend class (called with the Config).
backends: dict[str, type[AuthBackend]] = {}


class AuthBackend:
    """Decides who the caller of the current request is and what they may
    do."""

    #: The APIError classes `authenticate` may raise besides
    #: AuthorizationError, for the OpenAPI document.
    errors: tuple[type[APIError], ...] = ()

    def __init__(self, config: Config) -> None:
        self.config = config

    def authenticate(self) -> bool:
        """Return True if the request's credentials are valid."""
        raise NotImplementedError

    def have_admin(self) -> bool:
        raise NotImplementedError

    def have_project_access(self, project: Project) -> bool:
        raise NotImplementedError

    def forget(self) -> None:
        """Drop what the backend remembers in memory from one request to
        the next (recent logins and failures), as if just started: each
        test of a long-lived application starts from nothing."""

    def caller(self) -> str | None:
        """The name of the user the current request authenticated as, or
        None (for the audit log)."""
        return None

    #: Whether the backend keeps users that create_admin_user can add to.
    keeps_users = False

    def create_admin_user(self, label: str, password: str) -> None:
        """Add an administrator (`haas-admin create-admin-user`)."""
        raise HaasError(f'the auth backend {type(self).__module__} keeps no '
                        f'users: enable haas.ext.auth.database to create '
                        f'them')


def _haas() -> typing.Any:  # the application's haas.app.Haas
    # Imported here: extensions import this module, and a command that only
    # reads their migration scripts should not load Flask for it.
    from flask import current_app
    return current_app.extensions['haas']


def backend() -> AuthBackend:
    return _haas().auth_backend


def authenticate() -> None:
    """Run for every call: 401 when authentication is required and fails."""
    config = _haas().config
    ok = backend().authenticate()
    if not ok and config.getboolean('auth', 'require_authentication', True):
        raise AuthorizationError('Authentication failed. Authentication '
                                 'is required to use this service.')


def caller() -> str | None:
    return backend().caller()


def have_admin() -> bool:
    return backend().have_admin()


def have_project_access(project: Project) -> bool:
    """Whether the caller may act for `project` (an administrator may)."""
    return backend().have_admin() or backend().have_project_access(project)


def require_admin() -> None:
    if not have_admin():
        raise AuthorizationError('This operation is administrator-only.')


def require_access(allowed: bool) -> None:
    """AuthorizationError unless `allowed`: what the caller may reach
    through its projects."""
    if not allowed:
        raise AuthorizationError(
            'You do not have access to the required project.')


def require_project_access(project: Project) -> None:
    require_access(have_project_access(project))
