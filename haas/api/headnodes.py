"""The REST calls on headnodes (VMs a project boots its nodes from) and
their virtual nics.
"""

import typing

from haas import auth, libvirt
from haas.api.lookups import (
    Labels,
    _haas,
    _labels,
    assert_absent,
    assert_absent_n,
    may_use,
    must_find,
    must_find_n,
)
from haas.api.nodes import NetworkField
from haas.errors import (
    BadArgumentError,
    DuplicateError,
    IllegalStateError,
    NotFoundError,
    ProjectMismatchError,
    ServerError,
)
from haas.model import Headnode, Hnic, Network, Project, db
from haas.rest import Body, Name, rest_call


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
