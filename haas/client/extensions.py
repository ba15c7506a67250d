"""The server's enabled extensions."""

from haas.client.base import ClientBase, Names


class Extensions(ClientBase):
    """HIL's `client.extensions`."""

    def list_active(self) -> Names:
        """The module names of the enabled extensions."""
        return self.call('GET', 'active_extensions')
