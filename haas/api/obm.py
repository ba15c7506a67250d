"""The REST calls on nodes' out-of-band management: power, boot device,
and whether the OBM may be used at all (HIL's calls).

Each is made by the node's project, or by an administrator for a free
node (as node_power_cycle always was); a node whose OBM is disabled
refuses them (409), but for node_set_obm, which enables it again.
"""

import typing

from haas.api.lookups import must_find, obm_of, require_node_access
from haas.errors import BlockedError, NotFoundError, OBMError
from haas.model import Node
from haas.rest import Body, rest_call


@rest_call('POST', '/node/<node>/power_on',
           errors=[NotFoundError, BlockedError, OBMError])
def node_power_on(node):
    """Power a node on."""
    obm_of(node).power_on()


class PowerStatus(Body):
    power_status: typing.Literal['On', 'Off']


@rest_call('GET', '/node/<node>/power_status', returns=PowerStatus,
           errors=[NotFoundError, BlockedError, OBMError])
def node_power_status(node):
    """Whether a node is powered on, as its BMC says."""
    status = obm_of(node).power_status()
    if status is None:  # [devel] dry_run: no BMC was asked
        raise OBMError('The power status is unknown: [devel] dry_run is '
                       'set, and no BMC was asked.')
    return {'power_status': status}


class BootDevice(Body):
    bootdev: typing.Literal['pxe', 'disk', 'none']


@rest_call('PUT', '/node/<node>/boot_device', body=BootDevice,
           errors=[NotFoundError, BlockedError, OBMError])
def node_set_bootdev(node, bootdev):
    """Set the device a node boots from: `pxe` (the network), `disk`, or
    `none` (no override: the firmware's own order).  For the next boot
    only, or for every boot where the driver is configured so."""
    obm_of(node).set_bootdev(bootdev)


class ObmEnabled(Body):
    enabled: bool


@rest_call('PUT', '/node/<node>/obm', body=ObmEnabled,
           errors=[NotFoundError])
def node_set_obm(node, enabled):
    """Enable or disable a node's OBM.  Disabled, its power, boot device
    and console calls are refused (409); enabled, its project cannot
    detach it unless an administrator forces the detach."""
    found = must_find(Node, node, lock=True)
    require_node_access(found)
    found.obm_enabled = enabled
