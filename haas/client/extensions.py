"""The server's enabled extensions."""

# Annotations stay text: `list` is also a method of the classes here.
from __future__ import annotations

from haas.client.base import ClientBase


class Extensions(ClientBase):
    """HIL's `client.extensions`."""

    def list_active(self) -> list[str]:
        """The module names of the enabled extensions."""
        return self.call('GET', 'active_extensions')
