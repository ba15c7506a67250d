"""The REST calls on nodes: registration, nics, power, networks
(queued for the networking daemon), listings and metadata.
"""

import json
import typing

from sqlalchemy.orm import joinedload, selectinload

from haas import auth, drivers
from haas.api.lookups import (
    Labels,
    _haas,
    _labels,
    assert_absent,
    assert_absent_n,
    assert_no_pending_action,
    may_use,
    must_find,
    must_find_n,
    obm_of,
    queue_action,
)
from haas.errors import (
    BadArgumentError,
    BlockedError,
    DuplicateError,
    NotFoundError,
    OBMError,
    ProjectMismatchError,
)
from haas.model import (
    MODIFY_PORT,
    REVERT_PORT,
    Metadata,
    Network,
    NetworkAttachment,
    Nic,
    Node,
    Obm,
    Port,
    db,
)
from haas.rest import Body, Name, rest_call, under_v0


class ObmSpec(Body):
    """An OBM: its `type`, and the fields that type takes."""

    __extra__ = True
    __schema__ = drivers.spec_schema(Obm)
    type: drivers.type_kind(Obm)


class NodeRegistration(Body):
    obm: ObmSpec
    metadata: typing.Optional[dict[Name, typing.Any]] = None


@rest_call('PUT', '/node/<node>', body=NodeRegistration,
           errors=[DuplicateError, BadArgumentError])
def node_register(node, obm, metadata):
    """Register a node and its out-of-band management, with metadata
    ({label: any JSON value}) if given."""
    auth.require_admin()
    assert_absent(Node, node)
    fields = obm.model_extra or {}
    node = Node(label=node, obm=drivers.build(Obm, 'OBM', obm.type, fields))
    db.session.add(node)
    for label, value in (metadata or {}).items():
        db.session.add(Metadata(owner=node, label=label,
                                value=json.dumps(value)))


def refuse_in_project(node, doing):
    """Under /v0 only: BlockedError if `node` is in a project.  HaaS 0.3
    deletes such a node (or its nic), and its clients rely on it; HIL 1.0
    refuses (README.md, "Compatibility with HIL")."""
    if under_v0() and node.project is not None:
        raise BlockedError(f'Node {node.label} is part of project '
                           f'{node.project.label}; remove it from the '
                           f'project before {doing}.')


@rest_call('DELETE', '/node/<node>',
           errors=[NotFoundError, BlockedError, OBMError])
def node_delete(node):
    """Delete a node that has no nics left; its OBM goes with it.  Under
    /v0, as HIL 1.0 does, a node that is in a project is refused too."""
    auth.require_admin()
    node = must_find(Node, node)
    refuse_in_project(node, 'deleting it')
    if node.nics:
        raise BlockedError('Node still has nics; delete them first.')
    node.obm.stop_console()
    node.obm.delete_console()
    db.session.delete(node)


class MacAddress(Body):
    macaddr: Name


@rest_call('PUT', '/node/<node>/nic/<nic>', body=MacAddress,
           errors=[NotFoundError, DuplicateError])
def node_register_nic(node, nic, macaddr):
    """Add a nic to a node."""
    auth.require_admin()
    node = must_find(Node, node)
    assert_absent_n(node, Nic, nic)
    db.session.add(Nic(owner=node, label=nic, mac_addr=macaddr))


@rest_call('DELETE', '/node/<node>/nic/<nic>',
           errors=[NotFoundError, BlockedError])
def node_delete_nic(node, nic):
    """Remove a nic from a node; it must be on no network.  Under /v0, as
    HIL 1.0 does, a nic of a node that is in a project is refused."""
    auth.require_admin()
    node = must_find(Node, node, lock=True)
    refuse_in_project(node, 'deleting its nics')
    nic = must_find_n(node, Nic, nic, lock=True)
    if nic.attachments:
        raise BlockedError('The nic is attached to a network; detach it '
                           'first.')
    assert_no_pending_action(nic)
    db.session.delete(nic)


class PowerCycle(Body):
    force: bool = False


@rest_call('POST', '/node/<node>/power_cycle', body=PowerCycle,
           errors=[NotFoundError, BlockedError, OBMError])
def node_power_cycle(node, force):
    """Power-cycle a node (`force`: a hard reset); a node that is off is
    switched on.  It boots from the device node_set_bootdev asked for,
    or else from the network."""
    obm_of(node).power_cycle(force=force)


@rest_call('POST', '/node/<node>/power_off',
           errors=[NotFoundError, BlockedError, OBMError])
def node_power_off(node):
    """Power a node off."""
    obm_of(node).power_off()


#: The channel of a port's untagged (native) VLAN; every other `vlan/`
#: channel is a tagged one.
NATIVE = 'vlan/native'
#: What a switch that can trunk tagged VLANs without a native one
#: declares among its capabilities.
NATIVELESS_TRUNK = 'nativeless-trunk-mode'


def channels_to_come(nic):
    """The channels `nic` will carry once its pending actions are
    applied, in the order queued: its attachments, changed by each."""
    channels = {a.channel for a in nic.attachments}
    for action in nic.actions:
        if not action.pending:
            continue
        if action.type == REVERT_PORT:
            channels.clear()
        elif action.new_network is None:
            channels.discard(action.channel)
        else:
            channels.add(action.channel)
    return channels


def check_native_networks(nic, operation, channel):
    """BlockedError unless `nic` keeps a native network while it has
    tagged ones (`operation` is 'connect' or 'detach' on `channel`), on
    a switch that cannot trunk without a native VLAN: its native network
    is attached first and detached last.  Attachments and pending
    actions count alike, so two queued requests cannot get round it."""
    if nic.port is None or \
            NATIVELESS_TRUNK in nic.port.owner.get_capabilities():
        return
    switch = nic.port.owner.label
    channels = channels_to_come(nic)
    tagged = sorted(c for c in channels
                    if c.startswith('vlan/') and c != NATIVE)
    if operation == 'connect' and channel.startswith('vlan/') \
            and channel != NATIVE and NATIVE not in channels:
        raise BlockedError(f'Switch {switch} cannot carry tagged VLANs on a '
                           f'port without a native one: connect a network '
                           f'to nic {nic.label} on {NATIVE} first.')
    if operation == 'detach' and channel == NATIVE and tagged:
        raise BlockedError(f'Switch {switch} cannot carry tagged VLANs on a '
                           f'port without a native one: detach nic '
                           f'{nic.label} from its tagged networks '
                           f'({", ".join(tagged)}) first.')


class ConnectNetwork(Body):
    network: Name
    channel: typing.Optional[Name] = None


class StatusId(Body):
    status_id: str


@rest_call('POST', '/node/<node>/nic/<nic>/connect_network',
           body=ConnectNetwork, status=202, returns=StatusId,
           errors=[NotFoundError, ProjectMismatchError, BlockedError,
                   BadArgumentError])
def node_connect_network(node, nic, network, channel):
    """Queue connecting a nic to a network, on a channel (by default the
    allocator's, such as vlan/native); the networking daemon applies it.
    The answer's status_id is the action's, for show_networking_action."""
    # Locked: a second request on this node waits, then sees this action;
    # the network cannot go while an action on it is being queued.
    node = must_find(Node, node, lock=True)
    nic = must_find_n(node, Nic, nic, lock=True)
    network = must_find(Network, network, lock='share')
    if node.project is None:
        raise ProjectMismatchError('Node not in project')
    auth.require_project_access(node.project)
    assert_no_pending_action(nic)
    if not may_use(network, node.project):
        raise ProjectMismatchError("Project does not have access to given "
                                   "network.")
    if nic.port is None:
        raise NotFoundError('No port is connected to given nic.')
    allocator = _haas().allocator
    if channel is None:
        channel = allocator.get_default_channel()
    if any(a.network is network for a in nic.attachments):
        raise BlockedError('The network is already attached to the nic.')
    if any(a.channel == channel for a in nic.attachments):
        raise BlockedError('The channel is already in use on the nic.')
    if not allocator.is_legal_channel_for(channel, network.network_id):
        raise BadArgumentError(f'Channel {channel} is not legal for this '
                               f'network.')
    check_native_networks(nic, 'connect', channel)
    nic.port.owner.ensure_legal_operation(nic, 'connect', channel)
    return queue_action(nic, new_network=network, channel=channel,
                        type=MODIFY_PORT)


class NetworkField(Body):
    network: Name


@rest_call('POST', '/node/<node>/nic/<nic>/detach_network', body=NetworkField,
           status=202, returns=StatusId,
           errors=[NotFoundError, ProjectMismatchError, BlockedError,
                   BadArgumentError])
def node_detach_network(node, nic, network):
    """Queue detaching a nic from a network; the daemon applies it.  The
    answer's status_id is the action's, for show_networking_action."""
    node = must_find(Node, node, lock=True)
    network = must_find(Network, network, lock='share')
    nic = must_find_n(node, Nic, nic, lock=True)
    if node.project is None:
        raise ProjectMismatchError('Node not in project')
    auth.require_project_access(node.project)
    assert_no_pending_action(nic)
    attachment = next((a for a in nic.attachments if a.network is network),
                      None)
    if attachment is None:
        raise BadArgumentError('The network is not attached to the nic.')
    check_native_networks(nic, 'detach', attachment.channel)
    if nic.port is not None:
        nic.port.owner.ensure_legal_operation(nic, 'detach',
                                              attachment.channel)
    return queue_action(nic, new_network=None, channel=attachment.channel,
                        type=MODIFY_PORT)


@rest_call('GET', '/free_nodes', returns=Labels)
def list_free_nodes():
    """List the labels of the nodes no project owns."""
    return _labels(db.select(Node.label).filter_by(project_id=None))


@rest_call('GET', '/nodes/<is_free>', returns=Labels)
def list_nodes(is_free):
    """List the labels of the free nodes (`free`), or of all nodes (any
    other word)."""
    query = db.select(Node.label)
    if is_free == 'free':
        query = query.filter_by(project_id=None)
    return _labels(query)


class NicShape(Body):
    label: str
    macaddr: typing.Optional[str]
    networks: dict[str, str]
    # An administrator's view only.
    port: typing.Optional[str] = None
    switch: typing.Optional[str] = None


class NodeShape(Body):
    name: str
    project: typing.Optional[str]
    nics: list[NicShape]
    metadata: dict[str, str]


@rest_call('GET', '/node/<node>', returns=NodeShape,
           errors=[NotFoundError])
def show_node(node):
    """Show a node: its project and its nics with their networks."""
    node = must_find(
        # The nics in one query, their attachments joined to it: a fixed
        # number of statements however many nics (selectinload would cut
        # the attachments' IN list into chunks of 500).
        Node, node, joinedload(Node.project),
        selectinload(Node.nics).joinedload(Nic.attachments)
        .joinedload(NetworkAttachment.network),
        selectinload(Node.nics).joinedload(Nic.port).joinedload(Port.owner),
        selectinload(Node.meta))
    if node.project is not None:
        auth.require_project_access(node.project)
    admin = auth.have_admin()

    def shown(nic):
        shape = {'label': nic.label, 'macaddr': nic.mac_addr,
                 'networks': {a.channel: a.network.label
                              for a in nic.attachments}}
        if admin:
            shape['port'] = nic.port.label if nic.port else None
            shape['switch'] = nic.port.owner.label if nic.port else None
        return shape
    return {
        'name': node.label,
        'project': node.project.label if node.project else None,
        'nics': [shown(nic) for nic in sorted(node.nics, key=lambda n: n.id)],
        'metadata': {m.label: m.value for m in node.meta},
    }


class MetadataValue(Body):
    value: typing.Any


@rest_call('PUT', '/node/<node>/metadata/<label>', body=MetadataValue,
           errors=[NotFoundError])
def node_set_metadata(node, label, value):
    """Set a node's metadata `label` to a JSON value (stored as JSON text),
    replacing the value it had."""
    auth.require_admin()
    node = must_find(Node, node, lock=True)
    found = db.session.execute(db.select(Metadata).filter_by(
        owner_id=node.id, label=label)).scalar()
    if found is None:
        db.session.add(Metadata(owner=node, label=label,
                                value=json.dumps(value)))
    else:
        found.value = json.dumps(value)


@rest_call('DELETE', '/node/<node>/metadata/<label>',
           errors=[NotFoundError])
def node_delete_metadata(node, label):
    """Delete a node's metadata `label`."""
    auth.require_admin()
    node = must_find(Node, node, lock=True)
    found = db.session.execute(db.select(Metadata).filter_by(
        owner_id=node.id, label=label)).scalar()
    if found is None:
        raise NotFoundError(f'Metadata {label} on Node {node.label} does not '
                            f'exist.')
    db.session.delete(found)
