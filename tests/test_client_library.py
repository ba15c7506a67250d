"""haas.client, the Python client library, against a real server and
networking daemon on each database: a script written for HIL 1.0's client
library runs with only its import changed; refused calls and an
unreachable server raise one clear exception each; each method calls one
of the server's REST calls under /v0."""

import importlib
import inspect
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

from haas import rest
from haas.client import environment
from haas.client.base import (
    FailedAPICallException,
    HTTPResponse,
    UnreachableError,
)
from haas.client.client import Client, HTTPClient, RequestsHTTPClient

from support.servers import ADMIN, eventually, free_port, ports

#: An operator's script for HIL 1.0's client library, as HIL's users write
#: them (HIL_* variables, `C = Client(endpoint, http_client)`); it prints
#: what it saw as JSON.  The test changes its imports only.
HIL_SCRIPT = '''
import json, os, sys, time
from hil.client.client import Client, RequestsHTTPClient
from hil.client.base import FailedAPICallException

http_client = RequestsHTTPClient()
http_client.auth = (os.environ['HIL_USERNAME'], os.environ['HIL_PASSWORD'])
C = Client(os.environ['HIL_ENDPOINT'], http_client)
seen = {}


def settled(status_id):
    for _ in range(600):
        action = C.node.show_networking_action(status_id)
        if action['status'] != 'PENDING':
            return action['status']
        time.sleep(0.1)
    return 'PENDING'


C.project.create('proj')
C.user.create('alice', 'alice-pw', False)
C.user.add('alice', 'proj')
C.switch.register('sw0', 'http://schema.massopencloud.org/haas/v0/switches/'
                  'mock', {'hostname': 'sw0', 'username': 'admin',
                           'password': 'secret'})
C.port.register('sw0', 'gi1/0/1')
C.node.register('n1', 'mock', 'bmc', 'root', 'pw')
C.node.add_nic('n1', 'eth0', 'de:ad:be:ef:00:01')
C.port.connect_nic('sw0', 'gi1/0/1', 'n1', 'eth0')
seen['free'] = C.node.list('free')
C.project.connect('proj', 'n1')
C.network.create('net', 'proj', 'proj', '')
seen['networks_in'] = C.project.networks_in('proj')
queued = C.node.connect_network('n1', 'eth0', 'net', None)
seen['connected'] = settled(queued['status_id'])
seen['network_id'] = C.network.list()['net']['network_id']
seen['connected_nodes'] = C.network.show('net')['connected-nodes']
seen['attachments'] = C.network.list_network_attachments('net', 'proj')
seen['port'] = C.port.show('sw0', 'gi1/0/1')
with open(sys.argv[1] + '.part', 'w') as f:
    json.dump(seen, f)
os.replace(sys.argv[1] + '.part', sys.argv[1])
input()  # the test reads the switch while the node is on the network
try:
    C.node.delete('n1')
except FailedAPICallException as e:
    seen['refused'] = [e.error_type, str(e)]
queued = C.node.detach_network('n1', 'eth0', 'net')
seen['detached'] = settled(queued['status_id'])
C.project.detach('proj', 'n1')
C.port.detach_nic('sw0', 'gi1/0/1')
C.node.remove_nic('n1', 'eth0')
C.node.delete('n1')
C.port.delete('sw0', 'gi1/0/1')
C.switch.delete('sw0')
C.network.delete('net')
C.user.delete('alice')
C.project.delete('proj')
seen['left'] = [C.node.list('all'), C.project.list(), C.switch.list(),
                C.network.list()]
print(json.dumps(seen))
'''


def test_a_hil_script_runs_with_only_its_import_changed(live_site,
                                                        tmp_path):
    server, state = live_site
    script = tmp_path / 'script.py'
    script.write_text(HIL_SCRIPT.replace('from hil.client.',
                                         'from haas.client.'))
    halfway = tmp_path / 'halfway.json'
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(('HAAS_', 'HIL_'))}
    env.update(HIL_ENDPOINT=server.base, HIL_USERNAME=ADMIN[0],
               HIL_PASSWORD=ADMIN[1])
    process = subprocess.Popen(
        [sys.executable, str(script), str(halfway)], env=env, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # Halfway: the script has written what it saw, and waits.
        eventually(lambda: halfway.exists() or process.poll() is not None,
                   seconds=120, what='the script to connect the node')
        seen = json.loads(halfway.read_text()) if halfway.exists() else {}
        on_switch = ports(state, 'sw0')
        out, err = process.communicate('\n', timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert (process.returncode, err) == (0, '')
    assert on_switch == {'gi1/0/1': {'vlan/native': seen['network_id']}}
    assert {k: v for k, v in seen.items() if k != 'network_id'} == {
        'free': ['n1'],
        'networks_in': ['net'],
        'connected': 'DONE',
        'connected_nodes': {'n1': ['eth0']},
        'attachments': {'n1': {'nic': 'eth0', 'channel': 'vlan/native',
                               'project': 'proj'}},
        'port': {'node': 'n1', 'nic': 'eth0',
                 'networks': {'vlan/native': 'net'}}}
    assert json.loads(out) == {
        **seen,
        'refused': ['BlockedError', 'Node n1 is part of project proj; '
                                    'remove it from the project before '
                                    'deleting it.'],
        'detached': 'DONE',
        'left': [[], [], [], {}]}


def test_a_refused_call_raises_the_servers_error_type_and_message(
        live_site):
    server, _ = live_site
    C = Client(server.base, RequestsHTTPClient(auth=ADMIN))
    C.project.create('runway')

    with pytest.raises(FailedAPICallException) as again:
        C.project.create('runway')
    with pytest.raises(FailedAPICallException) as missing:
        C.node.show('nosuch')

    assert [(e.value.error_type, str(e.value), e.value.status_code)
            for e in (again, missing)] == [
        ('DuplicateError', 'Project runway already exists.', 409),
        ('NotFoundError', 'Node nosuch does not exist.', 404)]


def test_wrong_credentials_are_a_refused_call(live_site):
    server, _ = live_site
    C = Client(server.base, RequestsHTTPClient(auth=('admin', 'guess')))

    with pytest.raises(FailedAPICallException) as refused:
        C.project.list()

    assert (refused.value.error_type, str(refused.value)) == (
        'AuthorizationError', 'Authentication failed. Authentication is '
                              'required to use this service.')


def test_an_unreachable_endpoint_is_one_exception():
    endpoint = f'http://127.0.0.1:{free_port()}'
    C = Client(endpoint, RequestsHTTPClient())

    with pytest.raises(UnreachableError) as unreachable:
        C.node.list('free')

    assert str(unreachable.value) == (
        f'cannot reach the HaaS API at {endpoint}: connection refused')
    assert isinstance(unreachable.value, ConnectionError)


def test_the_environment_names_the_server_haas_first_then_hil(monkeypatch):
    for name in ('ENDPOINT', 'USERNAME', 'PASSWORD'):
        monkeypatch.delenv(f'HAAS_{name}', raising=False)
    monkeypatch.setenv('HIL_ENDPOINT', 'http://hil.example:5000/')
    monkeypatch.setenv('HIL_USERNAME', 'alice')
    monkeypatch.setenv('HIL_PASSWORD', 'alice-pw')
    hil = environment.from_environment()
    monkeypatch.setenv('HAAS_ENDPOINT', 'http://haas.example:5000')

    assert (hil.endpoint, hil.httpClient.auth, hil.prefix) == (
        'http://hil.example:5000', ('alice', 'alice-pw'), '/v0')
    assert environment.endpoint() == 'http://haas.example:5000'


def test_importing_the_library_imports_nothing_of_the_server():
    code = ('import sys; import haas.client, haas.client.environment; '
            'print(sorted(m for m in sys.modules if m.split(".")[0] in '
            '("flask", "sqlalchemy", "flask_sqlalchemy", "pydantic", '
            '"werkzeug") or m in ("haas.model", "haas.app", "haas.rest", '
            '"haas.config")))')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True,
                            text=True, check=True)

    assert result.stdout == '[]\n'


# --- each method against the server's declarations, without a server ------

#: HIL 1.0's client library, resource by resource: every method it has
#: that HaaS serves (hil/client/*.py); haas.client has each by that name.
HIL_METHODS = {
    'node': {'list', 'show', 'register', 'delete', 'enable_obm',
             'disable_obm', 'power_cycle', 'power_off', 'power_on',
             'set_bootdev', 'add_nic', 'remove_nic', 'connect_network',
             'detach_network', 'metadata_set', 'metadata_delete',
             'show_console', 'start_console', 'stop_console',
             'show_networking_action'},
    'project': {'list', 'nodes_in', 'networks_in', 'create', 'delete',
                'connect', 'detach'},
    'network': {'list', 'list_network_attachments', 'show', 'create',
                'delete', 'grant_access', 'revoke_access'},
    'switch': {'list', 'register', 'delete', 'show'},
    'port': {'register', 'delete', 'connect_nic', 'detach_nic', 'show',
             'port_revert'},
    'user': {'list', 'create', 'delete', 'add', 'remove', 'set_admin'},
    'extensions': {'list_active'},
}

#: Arguments where a made-up name will not do.
ARGUMENTS = {'subtype': 'mock', 'switchinfo': {}, 'is_free': 'free',
             'port': 'gi1/0/1', 'project': 'proj'}


class Recorder(HTTPClient):
    """Answers every request with an empty 200, and keeps them."""

    def __init__(self):
        self.requests = []

    def request(self, method, url, data=None, params=None):
        self.requests.append((method, url, params))
        return HTTPResponse(200, {}, b'')


def public_methods(resource):
    return {name for name, _ in inspect.getmembers(
        type(resource), inspect.isfunction)
        if not name.startswith('_') and name not in dir(
            type(resource).__mro__[1])}


def server_patterns():
    """(method, compiled path) of each REST call HaaS declares."""
    root = pathlib.Path(rest.__file__).parent
    for path in sorted(root.rglob('*.py')):
        if re.search(r'^@(\w+\.)*rest_call\(', path.read_text(
                encoding='utf-8'), re.MULTILINE):
            parts = path.relative_to(root.parent).with_suffix('').parts
            importlib.import_module('.'.join(
                parts[:-1] if parts[-1] == '__init__' else parts))
    for call in rest.calls.values():
        pattern = re.sub(r'<path:[^>]+>', '.+', call.path)
        pattern = re.sub(r'<[^>]+>', '[^/]+', pattern)
        yield call.method, re.compile(f'/v0{pattern}')


def test_every_method_of_hils_client_is_here_by_its_name():
    C = Client('http://haas.example', Recorder())

    assert {name: public_methods(getattr(C, name)) & methods
            for name, methods in HIL_METHODS.items()} == HIL_METHODS


def test_each_method_sends_one_of_the_servers_calls_under_v0():
    recorder = Recorder()
    C = Client('http://haas.example', recorder)
    unmatched = []
    patterns = list(server_patterns())
    for name in HIL_METHODS:
        resource = getattr(C, name)
        for method_name in sorted(public_methods(resource)):
            method = getattr(resource, method_name)
            parameters = [p for p in inspect.signature(
                method).parameters.values() if p.default is p.empty
                and p.kind is p.POSITIONAL_OR_KEYWORD]
            del recorder.requests[:]
            method(*(ARGUMENTS.get(p.name, 'x') for p in parameters))
            [(verb, url, _)] = recorder.requests
            path = url[len('http://haas.example'):]
            if not any(verb == m and p.fullmatch(path)
                       for m, p in patterns):
                unmatched.append((name, method_name, verb, path))

    assert unmatched == []
