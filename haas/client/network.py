"""Networks: creating them, who may use them, and what is on them."""

import typing

from haas.client.base import ClientBase


class Network(ClientBase):
    """Calls on networks (HIL's `client.network`)."""

    def list(self) -> dict[str, typing.Any]:
        """{network: {'network_id', 'projects'}}: all of them for an
        administrator, else the public ones and the caller's."""
        return self.call('GET', 'networks')

    def list_network_attachments(
            self, network: str, project: str = 'all') -> dict[str, typing.Any]:
        """{node: {'nic', 'channel', 'project'}} of the nodes on a network:
        all of them (`project` 'all'), or one project's."""
        if project == 'all':
            return self.call('GET', 'network', network, 'attachments')
        return self.call('GET', 'network', network, 'attachments',
                         params={'project': project})

    def show(self, network: str) -> dict[str, typing.Any]:
        """A network: its owner, access, channels and connected nodes."""
        return self.call('GET', 'network', network)

    def create(self, network: str, owner: str, access: str,
               net_id: str) -> None:
        """Create a network: `owner` a project or 'admin', `access` a
        project or '' (public), `net_id` an id or '' (from the pool)."""
        self.call('PUT', 'network', network, body={
            'owner': owner, 'access': access, 'net_id': net_id})

    def delete(self, network: str) -> None:
        """Delete a network nothing uses."""
        self.call('DELETE', 'network', network)

    def grant_access(self, project: str, network: str) -> None:
        """Let a project use a network."""
        self.call('PUT', 'network', network, 'access', project)

    def revoke_access(self, project: str, network: str) -> None:
        """Stop a project from using a network."""
        self.call('DELETE', 'network', network, 'access', project)
