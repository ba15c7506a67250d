"""The headnodes' virtual machines, through libvirt's virt-clone and virsh.

A headnode is a clone of one of the powered-off VMs that `[headnode]
base_imgs` names, made on `[headnode] libvirt_endpoint` (a system
instance) when the headnode first starts.  Every function here is skipped,
and logged, under `[devel] dry_run`.
"""

import re
import subprocess

from flask import current_app

from haas.drivers import no_dry_run
from haas.errors import ServerError

#: How long one virsh or virt-clone command may take.
TIMEOUT = 600


def vm_name(headnode):
    return f'headnode-{headnode.uuid}'


def _endpoint():
    config = current_app.extensions['haas'].config
    endpoint = config.get('headnode', 'libvirt_endpoint')
    if endpoint is None:
        # create_app requires it while [headnode] base_imgs offers images;
        # a headnode made before they were taken out still has its VM.
        raise ServerError('[headnode] libvirt_endpoint is not set in '
                          'haas.cfg: HaaS cannot reach the headnodes\' VMs')
    return endpoint


def _run(program, *args):
    command = [program, '--connect', _endpoint(), *args]
    try:
        result = subprocess.run(command, capture_output=True, text=True,
                                timeout=TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ServerError(f'{program} failed: {e}') from None
    if result.returncode != 0:
        # virsh's first argument is its command; virt-clone has none.
        what = program if program == 'virt-clone' else f'{program} {args[0]}'
        raise ServerError(f'{what} failed: '
                          f'{result.stderr.strip() or result.returncode}')
    return result.stdout


@no_dry_run
def create(headnode, bridges):
    """Clone the headnode's VM from its base image, with one interface on
    each of `bridges` (br-vlan<N>)."""
    name = vm_name(headnode)
    _run('virt-clone', '-o', headnode.base_img, '-n', name, '--auto-clone')
    try:
        for bridge in bridges:
            _run('virsh', 'attach-interface', '--domain', name, '--type',
                 'bridge', '--source', bridge, '--config')
    except ServerError:
        # Half made: remove the clone, so that the next start makes it anew.
        try:
            _run('virsh', 'undefine', name, '--remove-all-storage')
        except ServerError:
            pass  # the first error is the one to report
        raise


@no_dry_run
def start(headnode):
    _run('virsh', 'start', vm_name(headnode))
    _run('virsh', 'autostart', vm_name(headnode))


@no_dry_run
def stop(headnode):
    _run('virsh', 'destroy', vm_name(headnode))


@no_dry_run
def delete(headnode):
    """Destroy the VM if it runs, then undefine it with its storage."""
    name = vm_name(headnode)
    try:
        _run('virsh', 'destroy', name)
    except ServerError:
        pass  # it was not running
    _run('virsh', 'undefine', name, '--remove-all-storage')


@no_dry_run
def vncport(headnode):
    """The VM's VNC port, or None when it has none."""
    xml = _run('virsh', 'dumpxml', vm_name(headnode))
    match = re.search(r"<graphics[^>]*type=['\"]vnc['\"][^>]*"
                      r"port=['\"](-?\d+)['\"]", xml)
    if match is None or match.group(1) == '-1':
        return None
    return match.group(1)
