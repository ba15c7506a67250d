"""The OBM calls end to end: a served API (`haas-admin serve`, or gunicorn)
with the IPMI driver, against the simulated BMC in a process of its own,
on SQLite and PostgreSQL; the effects read back with `ipmitool`, a client
HaaS did not write, where it is installed (a skip outside CI, a failure
in CI)."""

import os
import shutil
import socket
import subprocess

import pytest

from haas.simulators import bmc

from support.config import API_EXTENSIONS
from support.servers import haas, new_serial, serving

IPMI = 'http://schema.massopencloud.org/haas/v0/obm/ipmi'
EXTENSIONS = API_EXTENSIONS + ['haas.ext.obm.ipmi']
USER, PASSWORD = 'admin', 'secret'
DONE = (200, b'')


def ipmitool(address, *args):
    """`ipmitool -I lanplus ARGS` against the BMC at `address`: its
    standard output, once it succeeded."""
    if shutil.which('ipmitool') is None:
        if os.environ.get('CI'):
            pytest.fail('ipmitool is not installed: .ci/run installs it')
        pytest.skip('ipmitool is not installed (apt-get install ipmitool)')
    host, port = address
    result = subprocess.run(
        ['ipmitool', '-I', 'lanplus', '-H', host, '-p', str(port),
         '-U', USER, '-P', PASSWORD, '-R', '2', '-N', '1', *args],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def register(server, address, node='n1', project='p'):
    """Node `node` with an IPMI OBM at `address`, in `project`."""
    host, port = address
    for method, path, body in [
            ('PUT', f'/node/{node}', {'obm': {
                'type': IPMI, 'host': f'{host}:{port}', 'user': USER,
                'password': PASSWORD}}),
            ('PUT', f'/project/{project}', None),
            ('POST', f'/project/{project}/connect_node', {'node': node})]:
        assert server.call(method, path, body) == DONE, path


@pytest.fixture
def device(tmp_path):
    folder = str(tmp_path / 'bmc')
    with bmc.running(folder, USER, PASSWORD) as address:
        yield address, bmc.BmcState(folder)


#: The tests that share the module's server, on one worker of a
#: distributed run (pytest-xdist's --dist loadgroup): set up once there.
#: Each registers a node and project of its own, behind a BMC of its own.
shared = pytest.mark.xdist_group('test_ipmi_api')


@pytest.fixture(scope='module')
def served(module_databases, tmp_path_factory):
    with serving(module_databases.new(), tmp_path_factory.mktemp('site'),
                 extensions=EXTENSIONS,
                 extra='[haas.ext.obm.ipmi]\ntimeout = 10\n') as server:
        yield server



class Site:
    """The shared server as one test sees it: node `node` of project
    `project`, behind the test's BMC."""

    def __init__(self, server, node, project):
        self.server, self.node, self.project = server, node, project
        self.base = server.base

    def call(self, method, path, body=None):
        return self.server.call(method, path, body)


@pytest.fixture
def site(served, device):
    n = new_serial()
    found = Site(served, f'n{n}', f'p{n}')
    register(served, device[0], found.node, found.project)
    return found


@shared
def test_power_on_and_status_as_ipmitool_sees_them(site, device):
    address, _ = device
    before = site.call('GET', f'/node/{site.node}/power_status')
    assert site.call('POST', f'/node/{site.node}/power_on') == DONE
    assert (before, site.call('GET', f'/node/{site.node}/power_status'),
            ipmitool(address, 'chassis', 'power', 'status')) == (
        (200, {'power_status': 'Off'}), (200, {'power_status': 'On'}),
        'Chassis Power is on\n')


@shared
def test_boot_device_pxe_as_ipmitool_sees_it(site, device):
    address, _ = device
    assert site.call('PUT', f'/node/{site.node}/boot_device',
                     {'bootdev': 'pxe'}) == DONE
    shown = ipmitool(address, 'chassis', 'bootparam', 'get', '5')
    assert [line.strip(' -') for line in shown.splitlines()
            if 'Boot Device Selector' in line] == [
        'Boot Device Selector : Force PXE']


@shared
def test_power_off_and_cycles(site, device):
    _, state = device
    node = f'/node/{site.node}'
    calls = [site.call('POST', f'{node}/power_on'),
             site.call('POST', f'{node}/power_cycle'),
             site.call('POST', f'{node}/power_cycle', {'force': True}),
             site.call('POST', f'{node}/power_off'),
             site.call('GET', f'{node}/power_status')]
    found = state.read()
    assert (calls, found['history'], found['booted_from']) == (
        [DONE] * 4 + [(200, {'power_status': 'Off'})],
        ['on', 'bootdev', 'cycle', 'bootdev', 'reset', 'off'], 'network')


@shared
def test_boot_device_disk_then_a_cycle_boots_from_disk(site, device):
    _, state = device
    assert site.call('PUT', f'/node/{site.node}/boot_device',
                     {'bootdev': 'disk'}) == DONE
    assert site.call('POST', f'/node/{site.node}/power_cycle') == DONE
    assert state.read()['booted_from'] == 'hd'


@shared
def test_a_disabled_obm_leaves_the_bmc_alone(site, device):
    _, state = device
    assert site.call('PUT', f'/node/{site.node}/obm',
                     {'enabled': False}) == DONE
    status, found = site.call('POST', f'/node/{site.node}/power_on')
    assert (status, found['type'], state.read()['history']) == (
        409, 'BlockedError', [])


@shared
def test_the_client_drives_the_bmc(site, device):
    _, state = device
    assert haas(site, 'node', 'power-on', site.node)[0] == 0
    assert haas(site, 'node', 'set-bootdev', site.node, 'disk')[0] == 0
    assert haas(site, 'node', 'power-status', site.node) == (
        0, 'power_status: On\n', '')
    assert haas(site, 'node', 'set-obm', site.node, 'true')[0] == 0
    refused = haas(site, 'project', 'detach-node', site.project,
                   site.node, check=False)
    forced = haas(site, 'project', 'detach-node', site.project, site.node,
                  '--force', 'true')
    assert (refused[0], refused[2], forced[0], state.read()['bootdev']) == (
        1, f'Error: BlockedError: The OBM of node {site.node} is enabled: '
           f'disable it first (PUT /node/{site.node}/obm), or have an '
           f'administrator force the detach.\n', 0, 'hd')


@pytest.fixture
def silent():
    """A UDP port that takes packets and never answers: a BMC that is
    down, or a wrong address."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(('127.0.0.1', 0))
        yield s.getsockname()


def test_a_bmc_that_does_not_answer_is_a_502_and_the_server_goes_on(
        databases, tmp_path, silent):
    with serving(databases.new(), tmp_path, extensions=EXTENSIONS,
                 extra='[haas.ext.obm.ipmi]\ntimeout = 2\n') as server:
        register(server, silent)
        host, port = silent
        assert server.call('POST', '/node/n1/power_on') == (502, {
            'type': 'OBMError',
            'msg': f'BMC {host}:{port} did not answer within 2 s.'})
        assert server.call('GET', '/project/p/nodes') == (200, ['n1'])


def test_gunicorn_workers_drive_the_bmc(pg_databases, tmp_path, device):
    address, state = device
    with serving(pg_databases.new(), tmp_path, extensions=EXTENSIONS,
                 gunicorn=True) as server:
        register(server, address)
        # Several requests, so that both workers take some.
        answers = [server.call('POST', '/node/n1/power_on')
                   for _ in range(4)]
        answers += [server.call('GET', '/node/n1/power_status')
                    for _ in range(4)]
    assert (answers, state.read()['history']) == (
        [DONE] * 4 + [(200, {'power_status': 'On'})] * 4, ['on'] * 4)
