"""Core's REST calls: each looks up its objects, checks access, then acts.

The checks come in the order rest-api.md gives them, so that a caller
gets the same error as from HaaS 0.2 where HaaS 0.2 was right.
"""

import typing

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload, selectinload

from flask import Response

from haas import auth, deferred, drivers, libvirt
from haas.errors import (AllocationError, BadArgumentError, BlockedError,
                         DuplicateError, IllegalStateError, NotFoundError,
                         OBMError, ProjectMismatchError, ServerError)
from haas.model import (Headnode, Hnic, Network, NetworkAttachment,
                        NetworkingAction, Nic, Node, Obm, Port, Project,
                        Switch, db)
from haas.rest import Body, Name, Text, rest_call

Labels = list[str]


def _haas():
    return current_app.extensions['haas']


def kind(cls):
    """What the API calls objects of `cls`: its base model's name (a
    MockSwitch is a Switch)."""
    return cls.__mapper__.base_mapper.class_.__name__


# --- lookups and checks, written once -------------------------------------

def _locked(query, lock):
    # FOR UPDATE (lock=True) or FOR SHARE (lock='share') until the
    # transaction ends, on PostgreSQL: two servers that check a row, then
    # change it or what hangs on it, take turns.  SQLite has one writer.
    if lock == 'share':
        return query.with_for_update(read=True)
    return query.with_for_update() if lock else query


def must_find(cls, label, *options, lock=False):
    """The `cls` labelled `label`; NotFoundError if there is none.  With
    `lock`, the row is locked (see _locked)."""
    query = db.select(cls).filter_by(label=label).options(*options)
    found = db.session.execute(
        _locked(query.order_by(cls.id).limit(1), lock)).scalar()
    if found is None:
        raise NotFoundError(f'{kind(cls)} {label} does not exist.')
    return found


def must_find_n(owner, cls, label, lock=False):
    """The `cls` labelled `label` that `owner` owns; NotFoundError else.

    With `lock`, the row is locked until the transaction ends (PostgreSQL),
    so that two servers checking, then changing it, take turns.
    """
    query = db.select(cls).filter_by(owner_id=owner.id, label=label)
    found = db.session.execute(
        _locked(query.order_by(cls.id).limit(1), lock)).scalar()
    if found is None:
        raise NotFoundError(f'{kind(cls)} {label} on {kind(type(owner))} '
                            f'{owner.label} does not exist.')
    return found


def _claim(cls, label):
    """On PostgreSQL, hold a lock on `label` among `cls`'s labels until the
    transaction ends: two servers creating the same name take turns, and
    the second sees the first's row.  (Labels have no unique constraint
    in HaaS 0.2's schema.)"""
    if db.session.get_bind().dialect.name == 'postgresql':
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(
            sa.func.hashtext(f'{cls.__tablename__}:{label}'))))


def assert_absent(cls, label):
    """DuplicateError if a `cls` labelled `label` exists."""
    _claim(cls, label)
    if db.session.execute(db.select(cls.id).filter_by(label=label)
                          .limit(1)).first() is not None:
        raise DuplicateError(f'{kind(cls)} {label} already exists.')


def assert_absent_n(owner, cls, label):
    """DuplicateError if `owner` already has a `cls` labelled `label`."""
    _claim(cls, f'{owner.id}:{label}')
    if db.session.execute(db.select(cls.id).filter_by(
            owner_id=owner.id, label=label).limit(1)).first() is not None:
        raise DuplicateError(f'{kind(cls)} {label} on {kind(type(owner))} '
                             f'{owner.label} already exists.')


def node_of(label):
    """The node labelled `label`, once the caller may use it: a free node
    is the administrator's, an allocated one its project's."""
    node = must_find(Node, label)
    if node.project is None:
        auth.require_admin()
    else:
        auth.require_project_access(node.project)
    return node


def assert_no_pending_action(nic):
    if nic.current_action is not None:
        raise BlockedError('A networking operation is already active on the '
                           'nic.')


def _labels(query):
    return sorted(db.session.execute(query).scalars())


# --- projects -------------------------------------------------------------

@rest_call('GET', '/projects', returns=Labels)
def list_projects():
    """List the labels of every project."""
    auth.require_admin()
    return _labels(db.select(Project.label))


@rest_call('PUT', '/project/<project>', errors=[DuplicateError])
def project_create(project):
    """Create a project."""
    auth.require_admin()
    assert_absent(Project, project)
    db.session.add(Project(label=project))


@rest_call('DELETE', '/project/<project>',
           errors=[NotFoundError, BlockedError])
def project_delete(project):
    """Delete a project that owns nothing any more."""
    auth.require_admin()
    project = must_find(Project, project)
    if project.nodes:
        raise BlockedError('Project has nodes still')
    if project.networks_created:
        raise BlockedError('Project still has networks')
    if project.networks_access:
        raise BlockedError('Project can still access networks')
    if project.headnodes:
        raise BlockedError('Project still has a headnode')
    db.session.delete(project)


class NodeField(Body):
    node: Name


@rest_call('POST', '/project/<project>/connect_node', body=NodeField,
           errors=[NotFoundError, BlockedError])
def project_connect_node(project, node):
    """Give a free node to a project."""
    project = must_find(Project, project)
    auth.require_project_access(project)
    node = must_find(Node, node, lock=True)
    if node.project is not None:
        raise BlockedError('Node is already owned by a project.')
    node.project = project


@rest_call('POST', '/project/<project>/detach_node', body=NodeField,
           errors=[NotFoundError, BlockedError, OBMError])
def project_detach_node(project, node):
    """Take a node back from a project; it must be off every network."""
    project = must_find(Project, project)
    auth.require_project_access(project)
    node = must_find(Node, node, lock=True)
    if node.project is not project:
        raise NotFoundError(f'Node {node.label} is not in project '
                            f'{project.label}.')
    for nic in node.nics:
        if nic.attachments:
            raise BlockedError('Node attached to a network')
    for nic in node.nics:
        assert_no_pending_action(nic)
    node.obm.stop_console()
    node.obm.delete_console()
    node.project = None


@rest_call('GET', '/project/<project>/nodes', returns=Labels,
           errors=[NotFoundError])
def list_project_nodes(project):
    """List the labels of a project's nodes."""
    project = must_find(Project, project)
    auth.require_project_access(project)
    return _labels(db.select(Node.label).filter_by(project_id=project.id))


@rest_call('GET', '/project/<project>/networks', returns=Labels,
           errors=[NotFoundError])
def list_project_networks(project):
    """List the labels of the networks a project has access to (public
    networks are not listed)."""
    project = must_find(Project, project)
    auth.require_project_access(project)
    return _labels(db.select(Network.label).filter_by(access_id=project.id))


# --- nodes ----------------------------------------------------------------

class ObmSpec(Body):
    """An OBM: its `type`, and the fields that type takes."""

    __extra__ = True
    type: drivers.type_kind(Obm)


class NodeRegistration(Body):
    obm: ObmSpec


@rest_call('PUT', '/node/<node>', body=NodeRegistration,
           errors=[DuplicateError, BadArgumentError])
def node_register(node, obm):
    """Register a node and its out-of-band management."""
    auth.require_admin()
    assert_absent(Node, node)
    fields = obm.model_extra or {}
    db.session.add(Node(label=node, obm=drivers.build(Obm, 'OBM', obm.type,
                                                      fields)))


@rest_call('DELETE', '/node/<node>',
           errors=[NotFoundError, BlockedError, OBMError])
def node_delete(node):
    """Delete a node that has no nics left; its OBM goes with it."""
    auth.require_admin()
    node = must_find(Node, node)
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
    """Remove a nic from a node; it must be on no network."""
    auth.require_admin()
    node = must_find(Node, node, lock=True)
    nic = must_find_n(node, Nic, nic, lock=True)
    if nic.attachments:
        raise BlockedError('The nic is attached to a network; detach it '
                           'first.')
    assert_no_pending_action(nic)
    db.session.delete(nic)


@rest_call('POST', '/node/<node>/power_cycle',
           errors=[NotFoundError, OBMError])
def node_power_cycle(node):
    """Power-cycle a node (it boots from the network)."""
    node = node_of(node)
    node.obm.power_cycle()


@rest_call('POST', '/node/<node>/power_off',
           errors=[NotFoundError, OBMError])
def node_power_off(node):
    """Power a node off."""
    node = node_of(node)
    node.obm.power_off()


class ConnectNetwork(Body):
    network: Name
    channel: typing.Optional[Name] = None


@rest_call('POST', '/node/<node>/nic/<nic>/connect_network',
           body=ConnectNetwork, status=202,
           errors=[NotFoundError, ProjectMismatchError, BlockedError,
                   BadArgumentError])
def node_connect_network(node, nic, network, channel):
    """Queue connecting a nic to a network, on a channel (by default the
    allocator's, such as vlan/native); the networking daemon applies it."""
    # Locked: a second request on this node waits, then sees this action;
    # the network cannot go while an action on it is being queued.
    node = must_find(Node, node, lock=True)
    nic = must_find_n(node, Nic, nic, lock=True)
    network = must_find(Network, network, lock='share')
    if node.project is None:
        raise ProjectMismatchError('Node not in project')
    auth.require_project_access(node.project)
    assert_no_pending_action(nic)
    if network.access is not None and network.access is not node.project:
        raise ProjectMismatchError("Project does not have access to given "
                                   "network.")
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
    db.session.add(NetworkingAction(nic=nic, new_network=network,
                                    channel=channel))
    deferred.notify()


class NetworkField(Body):
    network: Name


@rest_call('POST', '/node/<node>/nic/<nic>/detach_network', body=NetworkField,
           status=202,
           errors=[NotFoundError, ProjectMismatchError, BlockedError,
                   BadArgumentError])
def node_detach_network(node, nic, network):
    """Queue detaching a nic from a network; the daemon applies it."""
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
    db.session.add(NetworkingAction(nic=nic, new_network=None,
                                    channel=attachment.channel))
    deferred.notify()


@rest_call('GET', '/free_nodes', returns=Labels)
def list_free_nodes():
    """List the labels of the nodes no project owns."""
    return _labels(db.select(Node.label).filter_by(project_id=None))


class NicShape(Body):
    label: str
    macaddr: typing.Optional[str]
    networks: dict[str, str]


class NodeShape(Body):
    name: str
    project: typing.Optional[str]
    nics: list[NicShape]


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
        .joinedload(NetworkAttachment.network))
    if node.project is not None:
        auth.require_project_access(node.project)
    return {
        'name': node.label,
        'project': node.project.label if node.project else None,
        'nics': [{'label': nic.label, 'macaddr': nic.mac_addr,
                  'networks': {a.channel: a.network.label
                               for a in nic.attachments}}
                 for nic in sorted(node.nics, key=lambda n: n.id)],
    }


# --- networks -------------------------------------------------------------

class NetworkCreation(Body):
    creator: Name
    access: Text
    net_id: Text


@rest_call('PUT', '/network/<network>', body=NetworkCreation,
           errors=[DuplicateError, NotFoundError, BadArgumentError,
                   AllocationError])
def network_create(network, creator, access, net_id):
    """Create a network.

    `creator` is a project, or "admin"; `access` the project that may use
    it, or "" for everyone; `net_id` an id for the allocator's network, or
    "" to take one from the pool.  A project can only create networks for
    itself, from the pool.
    """
    assert_absent(Network, network)
    if creator == 'admin':
        auth.require_admin()
        creator = None
        access = must_find(Project, access) if access else None
    else:
        creator = must_find(Project, creator)
        auth.require_project_access(creator)
        if access != creator.label:
            raise BadArgumentError('Projects cannot create networks for '
                                   'other projects, nor public ones.')
        if net_id:
            raise BadArgumentError('Projects cannot choose network ids.')
        access = creator
    allocated = not net_id
    if allocated:
        net_id = _haas().allocator.get_new_network_id()
        if net_id is None:
            raise AllocationError('No more networks')
    db.session.add(Network(label=network, creator=creator, access=access,
                           allocated=allocated, network_id=net_id))


@rest_call('DELETE', '/network/<network>',
           errors=[NotFoundError, BlockedError])
def network_delete(network):
    """Delete a network that no nic and no headnode uses."""
    network = must_find(Network, network, lock=True)
    if network.creator is None:
        auth.require_admin()
    else:
        auth.require_project_access(network.creator)
    if network.attachments:
        raise BlockedError('Network still connected to nodes')
    if network.hnics:
        raise BlockedError('Network still connected to headnodes')
    if network.scheduled_nics:
        raise BlockedError('Network scheduled to become connected to nodes.')
    if network.allocated:
        _haas().allocator.free_network_id(network.network_id)
    db.session.delete(network)


class NetworkShape(Body):
    name: str
    creator: str
    access: typing.Optional[str] = None
    channels: list[str]


@rest_call('GET', '/network/<network>', returns=NetworkShape,
           errors=[NotFoundError])
def show_network(network):
    """Show a network: who created it, who may use it, its channels."""
    network = must_find(Network, network, joinedload(Network.creator),
                        joinedload(Network.access))
    if network.access is not None:
        auth.require_project_access(network.access)
    shown = {
        'name': network.label,
        'creator': network.creator.label if network.creator else 'admin',
        'channels': _haas().allocator.legal_channels_for(network.network_id),
    }
    if network.access is not None:
        shown['access'] = network.access.label
    return shown


# --- switches and ports ---------------------------------------------------

class SwitchSpec(Body):
    """A switch: its `type`, and the fields that type takes."""

    __extra__ = True
    type: drivers.type_kind(Switch)


@rest_call('PUT', '/switch/<switch>', body=SwitchSpec,
           errors=[DuplicateError, BadArgumentError])
def switch_register(switch, type, **fields):
    """Register a switch of a driver's type, with that driver's fields."""
    auth.require_admin()
    assert_absent(Switch, switch)
    new = drivers.build(Switch, 'switch', type, fields)
    new.label = switch
    db.session.add(new)


@rest_call('DELETE', '/switch/<switch>',
           errors=[NotFoundError, BlockedError])
def switch_delete(switch):
    """Delete a switch that has no ports left."""
    auth.require_admin()
    switch = must_find(Switch, switch)
    if switch.ports:
        raise BlockedError('Switch has ports; delete them first.')
    db.session.delete(switch)


@rest_call('PUT', '/switch/<switch>/port/<path:port>',
           errors=[NotFoundError, DuplicateError])
def switch_register_port(switch, port):
    """Add a port to a switch (labels are the switch's own: gi1/0/5)."""
    auth.require_admin()
    switch = must_find(Switch, switch)
    assert_absent_n(switch, Port, port)
    db.session.add(Port(owner=switch, label=port))


@rest_call('DELETE', '/switch/<switch>/port/<path:port>',
           errors=[NotFoundError, BlockedError])
def switch_delete_port(switch, port):
    """Remove a port that no nic is connected to."""
    auth.require_admin()
    switch = must_find(Switch, switch)
    port = must_find_n(switch, Port, port)
    if port.nic is not None:
        raise BlockedError('Port is attached to a nic; detach it first.')
    db.session.delete(port)


class PortConnection(Body):
    node: Name
    nic: Name


@rest_call('POST', '/switch/<switch>/port/<path:port>/connect_nic',
           body=PortConnection, errors=[NotFoundError, DuplicateError])
def port_connect_nic(switch, port, node, nic):
    """Record that a node's nic is cabled to a switch port."""
    auth.require_admin()
    switch = must_find(Switch, switch)
    port = must_find_n(switch, Port, port, lock=True)
    node = must_find(Node, node)
    nic = must_find_n(node, Nic, nic, lock=True)
    if nic.port is not None:
        raise DuplicateError(nic.label)
    if port.nic is not None:
        raise DuplicateError(port.label)
    nic.port = port


@rest_call('POST', '/switch/<switch>/port/<path:port>/detach_nic',
           errors=[NotFoundError, BlockedError])
def port_detach_nic(switch, port):
    """Forget the nic cabled to a port; its node must be free."""
    auth.require_admin()
    switch = must_find(Switch, switch)
    port = must_find_n(switch, Port, port)
    if port.nic is None:
        raise NotFoundError(f'{port.label} not attached')
    if port.nic.owner.project is not None:
        raise BlockedError("The nic's node belongs to a project; detach it "
                           "from the project first.")
    port.nic = None


# --- headnodes --------------------------------------------------------------

def base_images():
    """The VMs `[headnode] base_imgs` allows as headnodes' images."""
    text = _haas().config.get('headnode', 'base_imgs') or ''
    return [name.strip() for name in text.split(',') if name.strip()]


def headnode_of(label):
    """The headnode labelled `label`, once the caller may use it."""
    headnode = must_find(Headnode, label)
    auth.require_project_access(headnode.project)
    return headnode


def assert_dirty(headnode):
    if not headnode.dirty:
        raise IllegalStateError('Headnode has been started: its hnics can no '
                                'longer change.')


class HeadnodeCreation(Body):
    project: Name
    base_img: Name


@rest_call('PUT', '/headnode/<headnode>', body=HeadnodeCreation,
           errors=[BadArgumentError, DuplicateError, NotFoundError])
def headnode_create(headnode, project, base_img):
    """Create a headnode (a VM cloned from a base image) for a project."""
    if base_img not in base_images():
        raise BadArgumentError(f'Provided image {base_img} is not one of '
                               f'[headnode] base_imgs.')
    assert_absent(Headnode, headnode)
    project = must_find(Project, project)
    auth.require_project_access(project)
    db.session.add(Headnode(label=headnode, project=project,
                            base_img=base_img, dirty=True))


@rest_call('DELETE', '/headnode/<headnode>',
           errors=[NotFoundError, ServerError])
def headnode_delete(headnode):
    """Delete a headnode, its VM and its hnics."""
    headnode = headnode_of(headnode)
    if not headnode.dirty:
        libvirt.delete(headnode)
    for hnic in headnode.hnics:
        db.session.delete(hnic)
    db.session.delete(headnode)


@rest_call('POST', '/headnode/<headnode>/start',
           errors=[NotFoundError, ServerError])
def headnode_start(headnode):
    """Start a headnode; the first start creates its VM and freezes its
    hnics."""
    headnode = headnode_of(headnode)
    if headnode.dirty:
        libvirt.create(headnode, [f'br-vlan{hnic.network.network_id}'
                                  for hnic in headnode.hnics if hnic.network])
        # The VM exists from here on, whatever `start` does: recorded now,
        # so that a failed start is retried without cloning again and a
        # delete removes the VM.
        headnode.dirty = False
        db.session.commit()
    libvirt.start(headnode)


@rest_call('POST', '/headnode/<headnode>/stop',
           errors=[NotFoundError, ServerError])
def headnode_stop(headnode):
    """Stop a headnode's VM."""
    headnode = headnode_of(headnode)
    libvirt.stop(headnode)


@rest_call('PUT', '/headnode/<headnode>/hnic/<hnic>',
           errors=[NotFoundError, DuplicateError, IllegalStateError])
def headnode_create_hnic(headnode, hnic):
    """Add a virtual nic to a headnode that has not started yet."""
    headnode = headnode_of(headnode)
    assert_absent_n(headnode, Hnic, hnic)
    assert_dirty(headnode)
    db.session.add(Hnic(owner=headnode, label=hnic))


@rest_call('DELETE', '/headnode/<headnode>/hnic/<hnic>',
           errors=[NotFoundError, IllegalStateError])
def headnode_delete_hnic(headnode, hnic):
    """Remove a virtual nic from a headnode that has not started yet."""
    headnode = headnode_of(headnode)
    hnic = must_find_n(headnode, Hnic, hnic)
    assert_dirty(headnode)
    db.session.delete(hnic)


@rest_call('POST', '/headnode/<headnode>/hnic/<hnic>/connect_network',
           body=NetworkField,
           errors=[NotFoundError, BadArgumentError, IllegalStateError,
                   ProjectMismatchError])
def headnode_connect_network(headnode, hnic, network):
    """Put a headnode's hnic on a network from the allocator's pool."""
    headnode = headnode_of(headnode)
    hnic = must_find_n(headnode, Hnic, hnic)
    network = must_find(Network, network, lock='share')
    if not network.allocated:
        raise BadArgumentError('Headnodes may only be connected to networks '
                               'allocated by the project.')
    assert_dirty(headnode)
    if network.access is not None and network.access is not headnode.project:
        raise ProjectMismatchError('Project does not have access to given '
                                   'network.')
    hnic.network = network


@rest_call('POST', '/headnode/<headnode>/hnic/<hnic>/detach_network',
           errors=[NotFoundError, IllegalStateError])
def headnode_detach_network(headnode, hnic):
    """Take a headnode's hnic off its network."""
    headnode = headnode_of(headnode)
    hnic = must_find_n(headnode, Hnic, hnic)
    assert_dirty(headnode)
    hnic.network = None


@rest_call('GET', '/project/<project>/headnodes', returns=Labels,
           errors=[NotFoundError])
def list_project_headnodes(project):
    """List the labels of a project's headnodes."""
    project = must_find(Project, project)
    auth.require_project_access(project)
    return _labels(db.select(Headnode.label).filter_by(project_id=project.id))


class HeadnodeShape(Body):
    name: str
    project: str
    base_img: str
    uuid: str
    hnics: list[str]
    vncport: typing.Optional[str]


@rest_call('GET', '/headnode/<headnode>', returns=HeadnodeShape,
           errors=[NotFoundError, ServerError])
def show_headnode(headnode):
    """Show a headnode; its VNC port once its VM exists."""
    headnode = headnode_of(headnode)
    return {
        'name': headnode.label, 'project': headnode.project.label,
        'base_img': headnode.base_img, 'uuid': headnode.uuid,
        'hnics': sorted(hnic.label for hnic in headnode.hnics),
        'vncport': None if headnode.dirty else libvirt.vncport(headnode),
    }


# The trailing slash is HaaS 0.2's: without it, Flask redirects (301) to it.
@rest_call('GET', '/headnode_images/', returns=Labels)
def list_headnode_images():
    """List the base images headnodes may be created from."""
    return base_images()


# --- consoles -----------------------------------------------------------------

@rest_call('GET', '/node/<node>/console', returns=str,
           media_type='text/plain', errors=[NotFoundError, OBMError])
def show_console(node):
    """A node's console log, as plain text (what is not ASCII dropped)."""
    node = node_of(node)
    log = node.obm.get_console()
    if log is None:
        raise NotFoundError(f'The console log for {node.label} does not '
                            f'exist.')
    return Response(log.encode('ascii', 'ignore'), 200,
                    mimetype='text/plain')


@rest_call('PUT', '/node/<node>/console', errors=[NotFoundError, OBMError])
def start_console(node):
    """Start logging a node's console."""
    node = node_of(node)
    node.obm.start_console()


@rest_call('DELETE', '/node/<node>/console',
           errors=[NotFoundError, OBMError])
def stop_console(node):
    """Stop logging a node's console, and delete the log."""
    node = node_of(node)
    node.obm.stop_console()
    node.obm.delete_console()
