"""The REST calls on projects and the nodes they hold."""



from haas import auth, maintenance
from haas.api.lookups import (
    Labels,
    _haas,
    _labels,
    assert_absent,
    assert_no_pending_action,
    must_find,
    queue_action,
)
from haas.errors import BlockedError, DuplicateError, NotFoundError, OBMError
from haas.model import REVERT_PORT, Network, Node, Project, db
from haas.rest import Body, Name, rest_call


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


class NodeDetach(Body):
    node: Name
    #: An administrator's: detach a node whose OBM is enabled.
    force: bool = False


@rest_call('POST', '/project/<project>/detach_node', body=NodeDetach,
           errors=[NotFoundError, BlockedError, OBMError])
def project_detach_node(project, node, force):
    """Take a node back from a project; it must be off every network,
    and its OBM not enabled (node_set_obm) unless an administrator
    forces the detach.  With a maintenance pool ([maintenance] project)
    the node goes to that project, its ports reverted and then powered
    off (haas.maintenance), rather than to the free pool; detached from
    the maintenance project, it is free."""
    project = must_find(Project, project)
    auth.require_project_access(project)
    if force:
        auth.require_admin()
    node = must_find(Node, node, lock=True)
    if node.project is not project:
        raise NotFoundError(f'Node {node.label} is not in project '
                            f'{project.label}.')
    if node.obm_enabled and not force:
        raise BlockedError(f'The OBM of node {node.label} is enabled: '
                           f'disable it first (PUT /node/{node.label}/obm), '
                           f'or have an administrator force the detach.')
    for nic in node.nics:
        if nic.attachments:
            raise BlockedError('Node attached to a network')
    for nic in node.nics:
        assert_no_pending_action(nic)
    pool = maintenance.pool(_haas().config)
    if pool is not None and project.label != pool.project:
        into = maintenance.project(pool)
    else:
        into = None
    node.obm.stop_console()
    node.obm.delete_console()
    node.project = into
    if into is None:
        return
    for nic in node.nics:
        if nic.port is not None:
            queue_action(nic, new_network=None, channel='', type=REVERT_PORT)
    former = project.label
    # Committed before the BMC and the URL are waited on, which neither
    # may undo: the node is the maintenance project's from here on.
    db.session.commit()
    maintenance.after_move(pool, node, former)


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
