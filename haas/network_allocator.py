"""The network-allocator interface and its registry.

An allocator extension registers its class in `allocators` under its module
name when imported; exactly one must be enabled.
"""

from __future__ import annotations

import typing

if typing.TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from haas.config import Config

#: Module name -> allocator class (called with the Config).
allocators: dict[str, type[NetworkAllocator]] = {}


class NetworkAllocator:
    """Hands out network ids and says which channels each id has."""

    def __init__(self, config: Config) -> None:
        self.config = config

    def get_new_network_id(self) -> str | None:
        """A free network id as a string, or None when the pool is empty."""
        raise NotImplementedError

    def free_network_id(self, net_id: str) -> None:
        raise NotImplementedError

    def validate_network_id(self, net_id: str) -> bool:
        """Whether an administrator may give a network `net_id` (a string):
        an id of the kind this allocator's networks have."""
        return True

    def claim_network_id(self, net_id: str) -> bool:
        """Take `net_id`, which an administrator gave a new network, out of
        the pool: True if the pool holds it (free_network_id gives it back
        when the network goes), False if it does not (an id from outside,
        which stays the administrator's).  Raises BlockedError if the pool
        holds it but has handed it out: two networks would share it."""
        return False

    def populate(self, connection: Connection) -> int | None:
        """Fill the pool on `connection`; run by every `db create`.

        Must be idempotent: entries already present are left alone.
        Returns how many entries it added (None: it does not say).
        """
        return None

    def legal_channels_for(self, net_id: str) -> list[str]:
        raise NotImplementedError

    def is_legal_channel_for(self, channel: str, net_id: str) -> bool:
        return channel in self.legal_channels_for(net_id)

    def get_default_channel(self) -> str:
        raise NotImplementedError
