"""The REST calls on switches and their ports."""

import re
import typing

from haas import auth, drivers, rest
from haas.api.lookups import (
    Labels,
    _haas,
    _labels,
    assert_absent,
    assert_absent_n,
    assert_no_pending_action,
    must_find,
    must_find_n,
    queue_action,
    queue_port_revert,
)
from haas.api.nodes import StatusId
from haas.errors import (
    BadArgumentError,
    BlockedError,
    DuplicateError,
    NotFoundError,
)
from haas.model import REVERT_PORT, Nic, Node, Port, Switch, db
from haas.rest import Body, Kind, Name, rest_call


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
    """Add a port to a switch (labels are the switch's own: gi1/0/5).

    The daemon then reverts the port (takes it off every network), so
    that a port left in trunk mode carries no one's traffic before HaaS
    puts it on a network; a nic's actions on the port wait for that."""
    auth.require_admin()
    switch = must_find(Switch, switch)
    _within(port, switch.max_port_label, 'port label')
    try:
        switch.validate_port_name(port)
    except ValueError as e:
        raise BadArgumentError(f'{port!r} is not a port of a '
                               f'{type(switch).__name__}: {e}') from None
    assert_absent_n(switch, Port, port)
    new = Port(owner=switch, label=port)
    db.session.add(new)
    queue_port_revert(new)


@rest_call('DELETE', '/switch/<switch>/port/<path:port>',
           errors=[NotFoundError, BlockedError])
def switch_delete_port(switch, port):
    """Remove a port that no nic is connected to.  The port's own
    actions go with it, its revert at registration too, even pending:
    HaaS puts no network on a port it no longer has.  A nic's action
    still pending on the port (the nic was cabled elsewhere since) is
    refused (409): the daemon applies it to that port first."""
    auth.require_admin()
    switch = must_find(Switch, switch)
    port = must_find_n(switch, Port, port, lock=True)
    if port.nic is not None:
        raise BlockedError('Port is attached to a nic; detach it first.')
    if any(action.pending and action.nic is not None
           for action in port.actions):
        raise BlockedError("A nic's networking operation is pending on the "
                           "port; try again once it is applied.")
    # A nic's finished actions stay with the nic, without the port.
    for action in port.actions:
        if action.nic is None:
            db.session.delete(action)
    db.session.flush()
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
    """A switch, and the settings its driver shows (Switch.shown)."""

    __extra__ = True
    name: str
    ports: list[PortLabel]
    capabilities: list[str]


@rest_call('GET', '/switch/<switch>', returns=SwitchShape,
           errors=[NotFoundError])
def show_switch(switch):
    """Show a switch: its ports, what it can do, and how its driver
    reaches it (such as a PowerConnect's `protocol`)."""
    auth.require_admin()
    switch = must_find(Switch, switch)
    return {**switch.shown(),
            'name': switch.label,
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
