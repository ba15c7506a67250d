"""Users, where the server authenticates with haas.ext.auth.database."""

import typing

from haas.client.base import ClientBase


class User(ClientBase):
    """Calls on users (HIL's `client.user`)."""

    def list(self) -> dict[str, typing.Any]:
        """{user: {'is_admin', 'projects'}}."""
        return self.call('GET', 'auth', 'basic', 'users')

    def create(self, username: str, password: str,
               is_admin: bool = False) -> None:
        self.call('PUT', 'auth', 'basic', 'user', username,
                  body={'password': password, 'is_admin': is_admin})

    def delete(self, username: str) -> None:
        self.call('DELETE', 'auth', 'basic', 'user', username)

    def add(self, user: str, project: str) -> None:
        """Make a user a member of a project."""
        self.call('POST', 'auth', 'basic', 'user', user, 'add_project',
                  body={'project': project})

    def remove(self, user: str, project: str) -> None:
        """End a user's membership of a project."""
        self.call('POST', 'auth', 'basic', 'user', user, 'remove_project',
                  body={'project': project})

    def set_admin(self, username: str, is_admin: bool) -> None:
        """Make a user an administrator or not."""
        self.call('PATCH', 'auth', 'basic', 'user', username,
                  body={'is_admin': is_admin})
