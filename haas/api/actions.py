"""The REST calls that tell what the service is doing: a queued
networking action's status, and the enabled extensions.
"""

import typing

from haas import auth
from haas.api.lookups import Labels, _haas, require_node_access
from haas.errors import NotFoundError
from haas.model import NetworkingAction, db
from haas.rest import Body, rest_call


class ActionShape(Body):
    status: str
    node: typing.Optional[str]
    nic: typing.Optional[str]
    switch: typing.Optional[str]
    port: typing.Optional[str]
    type: str
    channel: str
    new_network: typing.Optional[str]
    error: typing.Optional[str]


@rest_call('GET', '/networking_action/<status_id>', returns=ActionShape,
           errors=[NotFoundError])
def show_networking_action(status_id):
    """Show a networking action by the status_id it was queued with: its
    status (PENDING, DONE, ERROR), what it does, to which nic (null for
    a port's own action, such as the revert of a port as it is
    registered, which only an administrator may see) and on which switch
    port (null for a nic cabled to no port), and `error`: why it is
    ERROR, or why its last attempt failed while it is PENDING (null
    otherwise)."""
    action = db.session.execute(db.select(NetworkingAction).filter_by(
        uuid=status_id)).scalar()
    if action is None:
        raise NotFoundError('status_id not found')
    nic, port = action.nic, action.port
    if nic is None:
        auth.require_admin()
    else:
        require_node_access(nic.owner)
    return {'status': action.status,
            'node': nic.owner.label if nic else None,
            'nic': nic.label if nic else None,
            'switch': port.owner.label if port else None,
            'port': port.label if port else None,
            'type': action.type,
            'channel': action.channel,
            'new_network': (action.new_network.label
                            if action.new_network else None),
            'error': action.error}


@rest_call('GET', '/active_extensions', returns=Labels)
def list_active_extensions():
    """List the module names of the enabled extensions."""
    auth.require_admin()
    return sorted(_haas().config.extensions)
