"""Nodes: registration, nics, power, networks, metadata, consoles, and
the networking actions a change queues."""

import typing

from haas.client.base import ClientBase, Names, failure

#: Where a short OBM type name (`mock`, `ipmi`) is completed to its URI.
OBM_TYPES = 'http://schema.massopencloud.org/haas/v0/obm/'

#: The fields HIL's register(node, subtype, host, user, password) gives
#: positionally, as the `mock` and `ipmi` OBMs name them.
OBM_POSITIONAL = ('host', 'user', 'password')


class Node(ClientBase):
    """Calls on nodes (HIL's `client.node`)."""

    def list(self, is_free: str) -> Names:
        """The names of the nodes: `'free'` for the free ones, `'all'`
        for all."""
        return self.call('GET', 'nodes', is_free)

    def show(self, node_name: str) -> dict[str, typing.Any]:
        """A node: its project, nics (and their networks) and metadata."""
        return self.call('GET', 'node', node_name)

    def register(self, node: str, subtype: str, *args: str,
                 metadata: dict[str, typing.Any] | None = None,
                 **fields: str) -> None:
        """Register a node with its OBM.

        `subtype` is the OBM's type, a short name (`mock`, `ipmi`) or its
        URI.  Its fields are given as HIL before obmd took them, host, user
        and password in that order (`register('n1', 'ipmi', '10.0.0.5',
        'root', 'secret')`), or by name (`host='10.0.0.5', ...`), for any
        type.  `metadata` ({label: any JSON value}) is set as the node is
        registered.  HIL 1.0's obmd registration has no HaaS counterpart.
        """
        if len(args) > len(OBM_POSITIONAL):
            raise TypeError(f'register takes at most '
                            f'{len(OBM_POSITIONAL)} positional OBM fields '
                            f'({", ".join(OBM_POSITIONAL)}); give others '
                            f'by name')
        obm = {'type': subtype if '://' in subtype else OBM_TYPES + subtype,
               **dict(zip(OBM_POSITIONAL, args)), **fields}
        body: dict[str, typing.Any] = {'obm': obm}
        if metadata is not None:
            body['metadata'] = metadata
        self.call('PUT', 'node', node, body=body)

    def delete(self, node_name: str) -> None:
        """Delete a node that has no nics and is in no project."""
        self.call('DELETE', 'node', node_name)

    def enable_obm(self, node_name: str) -> None:
        """Enable the node's OBM (power and console calls work again)."""
        self.call('PUT', 'node', node_name, 'obm', body={'enabled': True})

    def disable_obm(self, node_name: str) -> None:
        """Disable the node's OBM."""
        self.call('PUT', 'node', node_name, 'obm', body={'enabled': False})

    def power_cycle(self, node_name: str, force: bool = False) -> None:
        """Power-cycle a node (`force`: a hard reset)."""
        self.call('POST', 'node', node_name, 'power_cycle',
                  body={'force': force})

    def power_off(self, node_name: str) -> None:
        self.call('POST', 'node', node_name, 'power_off')

    def power_on(self, node_name: str) -> None:
        self.call('POST', 'node', node_name, 'power_on')

    def power_status(self, node_name: str) -> dict[str, typing.Any]:
        """Whether a node is powered on (`{'power_status': 'On'}`); not
        in HIL's client."""
        return self.call('GET', 'node', node_name, 'power_status')

    def set_bootdev(self, node: str, dev: str) -> None:
        """Set the device a node boots from: `pxe`, `disk` or `none`."""
        self.call('PUT', 'node', node, 'boot_device', body={'bootdev': dev})

    def add_nic(self, node_name: str, nic_name: str, macaddr: str) -> None:
        self.call('PUT', 'node', node_name, 'nic', nic_name,
                  body={'macaddr': macaddr})

    def remove_nic(self, node_name: str, nic_name: str) -> None:
        """Remove a nic of a node that is in no project."""
        self.call('DELETE', 'node', node_name, 'nic', nic_name)

    def connect_network(self, node: str, nic: str, network: str,
                        channel: str | None = None) -> dict[str, str]:
        """Queue connecting a nic to a network on `channel` (None: the
        default one); `{'status_id': ...}` to follow it with
        show_networking_action."""
        return self.call('POST', 'node', node, 'nic', nic,
                         'connect_network',
                         body={'network': network, 'channel': channel})

    def detach_network(self, node: str, nic: str,
                       network: str) -> dict[str, str]:
        """Queue detaching a nic from a network; `{'status_id': ...}`."""
        return self.call('POST', 'node', node, 'nic', nic, 'detach_network',
                         body={'network': network})

    def metadata_set(self, node: str, label: str,
                     value: typing.Any) -> None:
        """Set a node's metadata `label` to `value` (any JSON value)."""
        self.call('PUT', 'node', node, 'metadata', label,
                  body={'value': value})

    def metadata_delete(self, node: str, label: str) -> None:
        self.call('DELETE', 'node', node, 'metadata', label)

    def show_console(self, node: str) -> bytes:
        """The node's console log so far, as bytes (HIL's streams it; HaaS
        answers the whole log)."""
        response = self.send('GET', self.object_url('node', node,
                                                    'console'))
        if not 200 <= response.status_code < 300:
            raise failure(response)
        return response.content

    def start_console(self, node: str) -> None:
        """Start logging the node's console."""
        self.call('PUT', 'node', node, 'console')

    def stop_console(self, node: str) -> None:
        """Stop logging the node's console and delete its log."""
        self.call('DELETE', 'node', node, 'console')

    def show_networking_action(self, status_id: str) -> dict[str, typing.Any]:
        """A networking action: its `status` (PENDING, DONE or ERROR), what
        it does, and in ERROR why it failed."""
        return self.call('GET', 'networking_action', status_id)
