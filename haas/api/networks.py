"""The REST calls on networks: creation, access lists, listings and
attachments.
"""

import typing

from sqlalchemy.orm import joinedload, selectinload

from haas import auth
from haas.api.lookups import _haas, assert_absent, must_find
from haas.errors import (
    AllocationError,
    BadArgumentError,
    BlockedError,
    DuplicateError,
    NotFoundError,
)
from haas.model import (
    PENDING,
    Headnode,
    Hnic,
    Network,
    NetworkAttachment,
    NetworkingAction,
    Nic,
    Node,
    Project,
    db,
)
from haas.rest import Body, Name, Text, rest_call, under_v0


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
    if owner is None and creator is None:
        raise BadArgumentError('Give the network\'s owner (or, as HaaS 0.2 '
                               'called it, its creator).')
    if owner is not None and creator is not None and owner != creator:
        raise BadArgumentError(f'The owner ({owner}) and the creator '
                               f'({creator}) differ: they are one field, '
                               f'under HIL\'s name and HaaS 0.2\'s.')
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


def _show_network_schema(schema):
    schema['properties']['connected-nodes'] = {
        'type': 'object', 'title': 'Connected-Nodes',
        'additionalProperties': {'type': 'array', 'items': {'type': 'string'}},
        'description': "HIL's name: the nics on the network, by node (the "
                       "nodes of the caller's projects only, unless the "
                       "caller may act for the network's owner)."}
    schema['required'].append('connected-nodes')
    schema['properties']['access']['description'] = (
        "At the bare path HaaS 0.2's: the one project of the access list, "
        "absent for none or several.  Under /v0 HIL 1.0's: the list, null "
        "for a public network.")


class NetworkShape(Body):
    name: str
    owner: str
    network_id: str
    # HaaS 0.2's names: `creator` is the owner; `access` the one project
    # of the access list, absent when the list is empty or longer.  Under
    # /v0 `access` is HIL 1.0's: the list, or null for a public network.
    creator: str
    access: typing.Union[str, list[str], None] = None
    projects: typing.Optional[list[str]]
    channels: list[str]
    __schema__ = staticmethod(_show_network_schema)


@rest_call('GET', '/network/<network>', returns=NetworkShape,
           errors=[NotFoundError])
def show_network(network):
    """Show a network: its owner, the projects that may use it (null for
    every project), its channels, and the nics on it by node.

    `access` is HaaS 0.2's at the bare path (the one project of the
    access list, absent for none or several) and HIL 1.0's under /v0
    (the list, null for a public network)."""
    network = must_find(Network, network, joinedload(Network.owner),
                        selectinload(Network.access))
    auth.require_access(network.public or any(
        auth.have_project_access(p) for p in network.access))
    owner = network.owner.label if network.owner else 'admin'
    projects = [p.label for p in network.access]
    shown = {
        'name': network.label, 'owner': owner, 'creator': owner,
        'network_id': network.network_id,
        'projects': projects or None,
        'channels': _haas().allocator.legal_channels_for(network.network_id),
        'connected-nodes': _connected_nodes(network),
    }
    if under_v0():
        shown['access'] = projects or None
    elif len(projects) == 1:
        shown['access'] = projects[0]
    return shown


def _connected_nodes(network):
    """{node: [nic, ...]} of the nics on `network`: all of them for an
    administrator or the owner's members, else those of the nodes of the
    caller's projects (HIL 1.0's show_network)."""
    everything = auth.have_admin() or (
        network.owner is not None and auth.have_project_access(network.owner))
    query = db.select(Node, Nic.label).join(Nic, Nic.owner_id == Node.id) \
        .join(NetworkAttachment, NetworkAttachment.nic_id == Nic.id).where(
            NetworkAttachment.network_id == network.id).options(
                joinedload(Node.project)).order_by(Node.label, Nic.label)
    connected: dict[str, list[str]] = {}
    for node, nic in db.session.execute(query):
        if everything or (node.project is not None
                          and auth.have_project_access(node.project)):
            connected.setdefault(node.label, []).append(nic)
    return connected


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
