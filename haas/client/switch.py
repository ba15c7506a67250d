"""Switches, their ports, and the nics cabled to those."""

import typing

from haas.client.base import ClientBase, Names, Slashed

#: Where a short switch type name (`mock`, `nexus`) is completed to its URI.
SWITCH_TYPES = 'http://schema.massopencloud.org/haas/v0/switches/'


class Switch(ClientBase):
    """Calls on switches (HIL's `client.switch`)."""

    def list(self) -> Names:
        return self.call('GET', 'switches')

    def register(self, switch: str, subtype: str,
                 switchinfo: dict[str, typing.Any]) -> None:
        """Register a switch: `subtype` its type (a URI, as HIL's client
        takes it, or a short name such as `mock` or `nexus`),
        `switchinfo` the fields that type takes (`hostname`, `username`,
        `password`, ...).  `switchinfo` is left as it was given."""
        kind = subtype if '://' in subtype else SWITCH_TYPES + subtype
        self.call('PUT', 'switch', switch, body={**switchinfo, 'type': kind})

    def delete(self, switch: str) -> None:
        """Delete a switch that has no ports left."""
        self.call('DELETE', 'switch', switch)

    def show(self, switch: str) -> dict[str, typing.Any]:
        """A switch: its ports and capabilities."""
        return self.call('GET', 'switch', switch)


class Port(ClientBase):
    """Calls on switch ports (HIL's `client.port`); a port's name may hold
    slashes (`gi1/0/5`)."""

    def register(self, switch: str, port: str) -> None:
        self.call('PUT', 'switch', switch, 'port', Slashed(port))

    def delete(self, switch: str, port: str) -> None:
        self.call('DELETE', 'switch', switch, 'port', Slashed(port))

    def connect_nic(self, switch: str, port: str, node: str,
                    nic: str) -> None:
        """Record that a node's nic is cabled to a port."""
        self.call('POST', 'switch', switch, 'port', Slashed(port),
                  'connect_nic', body={'node': node, 'nic': nic})

    def detach_nic(self, switch: str, port: str) -> None:
        """Forget the nic cabled to a port."""
        self.call('POST', 'switch', switch, 'port', Slashed(port),
                  'detach_nic')

    def show(self, switch: str, port: str) -> dict[str, typing.Any]:
        """The node and nic cabled to a port, and its networks."""
        return self.call('GET', 'switch', switch, 'port', Slashed(port))

    def port_revert(self, switch: str, port: str) -> dict[str, str]:
        """Queue taking a port off every network; `{'status_id': ...}`."""
        return self.call('POST', 'switch', switch, 'port', Slashed(port),
                         'revert')
