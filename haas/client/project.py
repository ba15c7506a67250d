"""Projects: the owners of nodes and networks."""

from haas.client.base import ClientBase, Names


class Project(ClientBase):
    """Calls on projects (HIL's `client.project`)."""

    def list(self) -> Names:
        return self.call('GET', 'projects')

    def nodes_in(self, project_name: str) -> Names:
        """The names of a project's nodes."""
        return self.call('GET', 'project', project_name, 'nodes')

    def networks_in(self, project_name: str) -> Names:
        """The names of the networks a project may use."""
        return self.call('GET', 'project', project_name, 'networks')

    def create(self, project_name: str) -> None:
        self.call('PUT', 'project', project_name)

    def delete(self, project_name: str) -> None:
        """Delete a project that owns nothing any more."""
        self.call('DELETE', 'project', project_name)

    def connect(self, project_name: str, node_name: str) -> None:
        """Give a free node to a project."""
        self.call('POST', 'project', project_name, 'connect_node',
                  body={'node': node_name})

    def detach(self, project_name: str, node_name: str,
               force: bool = False) -> None:
        """Take a node back from a project (`force`: an administrator's,
        for a node whose OBM is enabled; not in HIL's client)."""
        body: dict[str, object] = {'node': node_name}
        if force:
            body['force'] = True
        self.call('POST', 'project', project_name, 'detach_node', body=body)
