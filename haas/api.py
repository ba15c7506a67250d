"""Core's REST calls: each looks up its objects, checks access, then acts.

The checks come in the order rest-api.md gives them, so that a caller
gets the same error as from HaaS 0.2 where HaaS 0.2 was right.
"""

import json
import re
import typing

import sqlalchemy as sa
from flask import Response, current_app
from sqlalchemy.orm import joinedload, selectinload

from haas import auth, deferred, drivers, libvirt, rest
from haas.errors import (
    AllocationError,
    BadArgumentError,
    BlockedError,
    DuplicateError,
    IllegalStateError,
    NotFoundError,
    OBMError,
    ProjectMismatchError,
    ServerError,
)
from haas.model import (
    MODIFY_PORT,
    PENDING,
    REVERT_PORT,
    Headnode,
    Hnic,
    Metadata,
    Network,
    NetworkAttachment,
    NetworkingAction,
    Nic,
    Node,
    Obm,
    Port,
    Project,
    Switch,
    db,
)
from haas.rest import Body, Kind, Name, Text, rest_call

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
    require_node_access(node)
    return node


def require_node_access(node):
    """The caller may use `node`: an administrator a free node, its
    project's members an allocated one."""
    if node.project is None:
        auth.require_admin()
    else:
        auth.require_project_access(node.project)


def assert_no_pending_action(nic):
    if nic.current_action is not None and nic.current_action.pending:
        raise BlockedError('A networking operation is already active on the '
                           'nic.')


def queue_action(nic, **fields):
    """Queue a networking action on `nic`, whose finished action (if it
    has one) it replaces; its uuid, the status_id clients ask about."""
    finished = nic.current_action
    if finished is not None:
        db.session.delete(finished)
        db.session.flush()
    action = NetworkingAction(nic=nic, **fields)
    db.session.add(action)
    db.session.flush()
    deferred.notify()
    return {'status_id': action.uuid}


def may_use(network, project):
    """Whether `project` may put its nodes on `network`."""
    return network.public or project in network.access


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
    if project.networks_owned:
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
    return _labels(db.select(Network.label).where(
        Network.access.any(Project.id == project.id)))


# --- nodes ----------------------------------------------------------------

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


# --- networks -------------------------------------------------------------

class NetworkCreation(Body):
    # `creator` is HaaS 0.2's name for `owner`; a body has one of them.
    owner: typing.Optional[Name] = None
    creator: typing.Optional[Name] = None
    access: Text
    net_id: Text


@rest_call('PUT', '/network/<network>', body=NetworkCreation,
           errors=[DuplicateError, NotFoundError, BadArgumentError,
                   AllocationError, BlockedError])
def network_create(network, owner, creator, access, net_id):
    """Create a network.

    `owner` (HaaS 0.2's `creator`) is a project, or "admin"; `access` the
    project that may use it, or "" for everyone; `net_id` an id for the
    allocator's network, or "" to take one from the pool.  A project can
    only create networks for itself, from the pool.  An id an
    administrator gives must be one the allocator knows; if it is in the
    pool it is taken from it (refused if another network has it).  More
    projects are given access with network_grant_project_access.
    """
    if (owner is None) == (creator is None):
        raise BadArgumentError('Give the network\'s owner (or, as HaaS 0.2 '
                               'called it, its creator), once.')
    owner = owner if owner is not None else creator
    assert_absent(Network, network)
    if owner == 'admin':
        auth.require_admin()
        owner = None
        access = [must_find(Project, access)] if access else []
    else:
        owner = must_find(Project, owner)
        auth.require_project_access(owner)
        if access != owner.label:
            raise BadArgumentError('Projects cannot create networks for '
                                   'other projects, nor public ones.')
        if net_id:
            raise BadArgumentError('Projects cannot choose network ids.')
        access = [owner]
    allocator = _haas().allocator
    if not net_id:
        allocated = True
        net_id = allocator.get_new_network_id()
        if net_id is None:
            raise AllocationError('No more networks')
    elif not allocator.validate_network_id(net_id):
        raise BadArgumentError(f'{net_id!r} is not a network id that the '
                               f'network allocator knows')
    else:
        allocated = allocator.claim_network_id(net_id)
    db.session.add(Network(label=network, owner=owner, access=access,
                           allocated=allocated, network_id=net_id))


def require_owner(network):
    """The caller may act for the network's owner (admin for an
    administrator's network)."""
    if network.owner is None:
        auth.require_admin()
    else:
        auth.require_project_access(network.owner)


@rest_call('DELETE', '/network/<network>',
           errors=[NotFoundError, BlockedError])
def network_delete(network):
    """Delete a network that no nic and no headnode uses."""
    network = must_find(Network, network, lock=True)
    require_owner(network)
    if network.attachments:
        raise BlockedError('Network still connected to nodes')
    if network.hnics:
        raise BlockedError('Network still connected to headnodes')
    if any(action.pending for action in network.scheduled_nics):
        raise BlockedError('Network scheduled to become connected to nodes.')
    for action in network.scheduled_nics:  # finished: history only
        db.session.delete(action)
    if network.allocated:
        _haas().allocator.free_network_id(network.network_id)
    db.session.delete(network)


class NetworkShape(Body):
    name: str
    owner: str
    # HaaS 0.2's names: `creator` is the owner; `access` the one project
    # of the access list, absent when the list is empty or longer.
    creator: str
    access: typing.Optional[str] = None
    projects: typing.Optional[list[str]]
    channels: list[str]


@rest_call('GET', '/network/<network>', returns=NetworkShape,
           errors=[NotFoundError])
def show_network(network):
    """Show a network: its owner, the projects that may use it (null for
    every project), its channels."""
    network = must_find(Network, network, joinedload(Network.owner),
                        selectinload(Network.access))
    auth.require_access(network.public or any(
        auth.have_project_access(p) for p in network.access))
    owner = network.owner.label if network.owner else 'admin'
    projects = [p.label for p in network.access]
    shown = {
        'name': network.label, 'owner': owner, 'creator': owner,
        'projects': projects or None,
        'channels': _haas().allocator.legal_channels_for(network.network_id),
    }
    if len(projects) == 1:
        shown['access'] = projects[0]
    return shown


@rest_call('PUT', '/network/<network>/access/<project>',
           errors=[NotFoundError, DuplicateError])
def network_grant_project_access(network, project):
    """Let one more project use a network (its owner's call)."""
    network = must_find(Network, network, lock=True)
    project = must_find(Project, project)
    require_owner(network)
    if project in network.access:
        raise DuplicateError(f'Network {network.label} is already in project '
                             f'{project.label}')
    network.access.append(project)


@rest_call('DELETE', '/network/<network>/access/<project>',
           errors=[NotFoundError, BlockedError])
def network_revoke_project_access(network, project):
    """Stop a project from using a network; none of its nodes or
    headnodes may be on it.  The network's owner, or the project itself,
    may."""
    network = must_find(Network, network, lock=True)
    project = must_find(Project, project)
    auth.require_access(
        network.public or auth.have_admin()
        or (network.owner is not None
            and auth.have_project_access(network.owner))
        or (project in network.access and auth.have_project_access(project)))
    if project not in network.access:
        raise NotFoundError(f'Network {network.label} is not in project '
                            f'{project.label}')
    if network.owner is project:
        raise BlockedError(f'Project {project.label} owns network '
                           f'{network.label}: it keeps its access')
    def nodes_on(model, *where):
        return db.session.execute(db.select(model.id).join(
            Nic, model.nic_id == Nic.id).join(Node, Nic.owner_id == Node.id)
            .where(Node.project_id == project.id, *where).limit(1)).first()
    if nodes_on(NetworkAttachment,
                NetworkAttachment.network_id == network.id) or nodes_on(
            NetworkingAction, NetworkingAction.new_network_id == network.id,
            NetworkingAction.status == PENDING):
        raise BlockedError(f'Project {project.label} still has nodes on '
                           f'network {network.label}')
    if db.session.execute(db.select(Hnic.id).join(
            Headnode, Hnic.owner_id == Headnode.id).where(
                Hnic.network_id == network.id,
                Headnode.project_id == project.id).limit(1)).first():
        raise BlockedError(f'Project {project.label} still has headnodes on '
                           f'network {network.label}')
    network.access.remove(project)


class NetworkListing(Body):
    network_id: str
    projects: typing.Optional[list[str]]


@rest_call('GET', '/networks', returns=dict[str, NetworkListing])
def list_networks():
    """List the networks with their ids and access lists (null: public);
    a caller who is not an administrator sees the public ones only."""
    query = db.select(Network).options(selectinload(Network.access))
    if not auth.have_admin():
        query = query.where(~Network.access.any())
    return {n.label: {'network_id': n.network_id,
                      'projects': [p.label for p in n.access] or None}
            for n in sorted(db.session.execute(query).scalars(),
                            key=lambda n: n.label)}


class AttachmentListing(Body):
    nic: str
    channel: str
    project: typing.Optional[str]


class ProjectFilter(Body):
    project: typing.Optional[Name] = None


@rest_call('GET', '/network/<network>/attachments', body=ProjectFilter,
           returns=dict[str, AttachmentListing], errors=[NotFoundError])
def list_network_attachments(network, project):
    """List the nodes on a network, with their nic and channel: all of
    them (the network's owner's call), or one project's (also that
    project's call, if it may use the network)."""
    network = must_find(Network, network)
    if project is None:
        require_owner(network)
    else:
        project = must_find(Project, project)
        if not (network.owner is not None
                and auth.have_project_access(network.owner)) and not (
                    project in network.access
                    and auth.have_project_access(project)):
            auth.require_admin()
    query = db.select(NetworkAttachment).where(
        NetworkAttachment.network_id == network.id).options(
            joinedload(NetworkAttachment.nic).joinedload(Nic.owner)
            .joinedload(Node.project)).order_by(NetworkAttachment.id)
    if project is not None:
        query = query.join(Nic, NetworkAttachment.nic_id == Nic.id).join(
            Node, Nic.owner_id == Node.id).where(
                Node.project_id == project.id)
    listed = {}
    for a in db.session.execute(query).scalars():
        node = a.nic.owner
        listed[node.label] = {
            'nic': a.nic.label, 'channel': a.channel,
            'project': node.project.label if node.project else None}
    return dict(sorted(listed.items()))


# --- switches and ports ---------------------------------------------------

class SwitchSpec(Body):
    """A switch: its `type`, and the fields that type takes."""

    __extra__ = True
    __schema__ = drivers.spec_schema(Switch)
    type: drivers.type_kind(Switch)


def _within(label, limit, what):
    """BadArgumentError for a `label` longer than a driver's `limit`
    (None: no limit): its actions could never be applied."""
    if limit is not None and len(label) > limit:
        raise BadArgumentError(f'The {what} {label} is {len(label)} '
                               f'characters long; this switch type takes '
                               f'at most {limit}.')


@rest_call('PUT', '/switch/<switch>', body=SwitchSpec,
           errors=[DuplicateError, BadArgumentError])
def switch_register(switch, type, **fields):
    """Register a switch of a driver's type, with that driver's fields."""
    auth.require_admin()
    assert_absent(Switch, switch)
    new = drivers.build(Switch, 'switch', type, fields)
    _within(switch, new.max_label, 'switch label')
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


#: The port calls' path; an action (connect_nic, revert, ...) follows it.
PORT_PATH = '/switch/<switch>/port/<path:port>'


def port_actions():
    """The actions that follow a port's label in the paths of the calls
    the application serves."""
    served = rest.served(_haas().config.extensions)
    return sorted({call.path[len(PORT_PATH) + 1:].split('/')[0]
                   for call in served
                   if call.path.startswith(PORT_PATH + '/')})


def _registrable_port(label):
    segments = label.split('/')
    if '' in segments:
        raise ValueError('has an empty segment (a leading, trailing or '
                         'double slash)')
    if segments[-1] in port_actions():
        raise ValueError(f'ends in /{segments[-1]}, which names a port '
                         f'call')
    return label


def _registrable_port_pattern():
    actions = '|'.join(re.escape(action) for action in port_actions())
    return (f'^{rest.NO_DOT_SEGMENT}(?!(?:[^/]*/)*(?:{actions})$)'
            f'[^/{rest.CONTROL}]+(?:/[^/{rest.CONTROL}]+)*$')


class NewPort(Kind):
    """A port label as one is registered: segments (gi1/0/5) that each
    round-trip through a URL, the last not one of the port calls' actions
    (a port gi1/connect_nic would make POST .../gi1/connect_nic name
    two calls).  Ports registered before these rules stay reachable: only
    registration checks them."""

    @classmethod
    def pydantic(cls):
        return rest.string(1, rest.MAX_NAME, rest.label_check,
                           rest.no_dot_segment, _registrable_port,
                           pattern=_registrable_port_pattern)


@rest_call('PUT', PORT_PATH,
           errors=[NotFoundError, DuplicateError, BadArgumentError])
def switch_register_port(switch, port: NewPort):
    """Add a port to a switch (labels are the switch's own: gi1/0/5)."""
    auth.require_admin()
    switch = must_find(Switch, switch)
    _within(port, switch.max_port_label, 'port label')
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


@rest_call('GET', '/switches', returns=Labels)
def list_switches():
    """List the labels of every switch."""
    auth.require_admin()
    return _labels(db.select(Switch.label))


class PortLabel(Body):
    label: str


class SwitchShape(Body):
    name: str
    ports: list[PortLabel]
    capabilities: list[str]


@rest_call('GET', '/switch/<switch>', returns=SwitchShape,
           errors=[NotFoundError])
def show_switch(switch):
    """Show a switch: its ports and what it can do."""
    auth.require_admin()
    switch = must_find(Switch, switch)
    return {'name': switch.label,
            'ports': [{'label': p.label}
                      for p in sorted(switch.ports, key=lambda p: p.label)],
            'capabilities': switch.get_capabilities()}


class PortShape(Body):
    node: typing.Optional[str] = None
    nic: typing.Optional[str] = None
    networks: typing.Optional[dict[str, str]] = None


@rest_call('GET', '/switch/<switch>/port/<path:port>', returns=PortShape,
           errors=[NotFoundError])
def show_port(switch, port):
    """Show the nic cabled to a port, its node and its networks ({} when
    no nic is)."""
    auth.require_admin()
    switch = must_find(Switch, switch)
    port = must_find_n(switch, Port, port)
    nic = port.nic
    if nic is None:
        return {}
    return {'node': nic.owner.label, 'nic': nic.label,
            'networks': {a.channel: a.network.label
                         for a in nic.attachments}}


@rest_call('POST', '/switch/<switch>/port/<path:port>/revert',
           returns=StatusId, errors=[NotFoundError, BlockedError])
def port_revert(switch, port):
    """Queue taking a port off every network; the daemon applies it.  The
    answer's status_id is the action's, for show_networking_action."""
    auth.require_admin()
    switch = must_find(Switch, switch)
    port = must_find_n(switch, Port, port, lock=True)
    if port.nic is None:
        raise NotFoundError(f'{port.label} not attached')
    nic = must_find_n(port.nic.owner, Nic, port.nic.label, lock=True)
    assert_no_pending_action(nic)
    return queue_action(nic, new_network=None, channel='', type=REVERT_PORT)


# --- networking actions -------------------------------------------------

class ActionShape(Body):
    status: str
    node: str
    nic: str
    type: str
    channel: str
    new_network: typing.Optional[str]
    error: typing.Optional[str]


@rest_call('GET', '/networking_action/<status_id>', returns=ActionShape,
           errors=[NotFoundError])
def show_networking_action(status_id):
    """Show a networking action by the status_id it was queued with: its
    status (PENDING, DONE, ERROR), what it does and to which nic, and
    `error`: why it is ERROR, or why its last attempt failed while it is
    PENDING (null otherwise)."""
    action = db.session.execute(db.select(NetworkingAction).filter_by(
        uuid=status_id)).scalar()
    if action is None:
        raise NotFoundError('status_id not found')
    node = action.nic.owner
    require_node_access(node)
    return {'status': action.status, 'node': node.label,
            'nic': action.nic.label, 'type': action.type,
            'channel': action.channel,
            'new_network': (action.new_network.label
                            if action.new_network else None),
            'error': action.error}


@rest_call('GET', '/active_extensions', returns=Labels)
def list_active_extensions():
    """List the module names of the enabled extensions."""
    auth.require_admin()
    return sorted(_haas().config.extensions)


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
    if not may_use(network, headnode.project):
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


# --- consoles ---------------------------------------------------------------

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
