"""The VLAN pool under load on PostgreSQL: two processes allocating at once
take distinct VLANs, lose none, and a deleted network's VLAN is reused."""

import json
import os
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from haas.ext.network_allocators.vlan_pool import Vlan
from haas.model import Network, db

from support.api import answer
from support.commands import HAAS_ADMIN
from support.config import config_text
from support.databases import make_app

VLAN_EXTENSIONS = ['haas.ext.auth.null',
                   'haas.ext.network_allocators.vlan_pool',
                   'haas.ext.switches.mock', 'haas.ext.obm.mock']
PUBLIC = {'owner': 'admin', 'access': '', 'net_id': ''}
EXHAUSTED = (400, {'type': 'AllocationError', 'msg': 'No more networks'})
PER_PROCESS = 100

#: One allocating process: it builds its app, says it is ready, waits for
#: the go file, then creates PER_PROCESS networks and prints what each call
#: answered, with the times it started and finished.
ALLOCATE = '''
import json, os, sys, time
import haas

config, name, ready, go, count = sys.argv[1:]
app = haas.create_app(open(config).read())
client = app.test_client()
open(ready, 'w').close()
while not os.path.exists(go):
    time.sleep(0.005)
started = time.time()
answers = []
for i in range(int(count)):
    response = client.put(f'/network/{name}-{i}', json={
        'owner': 'admin', 'access': '', 'net_id': ''})
    answers.append([response.status_code, response.get_data(as_text=True)])
print(json.dumps({'started': started, 'finished': time.time(),
                  'answers': answers}))
'''


@pytest.fixture
def pool(pg_databases, tmp_path):
    """Builds, with the command line, a new PostgreSQL schema whose pool
    holds `vlans`; gives its config file and an application on it."""
    def build(vlans):
        uri = pg_databases.new()
        path = tmp_path / 'haas.cfg'
        path.write_text(config_text(uri, VLAN_EXTENSIONS, vlans=vlans))
        result = subprocess.run(
            [HAAS_ADMIN, 'db', 'create'], capture_output=True, text=True,
            env={**os.environ, 'HAAS_CONFIG': str(path)}, timeout=120)
        assert result.returncode == 0, result.stderr
        return path, make_app(uri, VLAN_EXTENSIONS, vlans=vlans)
    return build


def allocate_in_two_processes(path, tmp_path):
    """Run two allocating processes that start together; their reports."""
    go = tmp_path / 'go'
    processes, readies = [], []
    for name in ('a', 'b'):
        ready = tmp_path / f'ready-{name}'
        readies.append(ready)
        processes.append(subprocess.Popen(
            [sys.executable, '-c', ALLOCATE, str(path), name, str(ready),
             str(go), str(PER_PROCESS)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    try:
        deadline = time.monotonic() + 60
        while not all(ready.exists() for ready in readies):
            for process in processes:
                if process.poll() is not None:
                    pytest.fail(f'an allocator exited early:\n'
                                f'{process.communicate()[1]}')
            assert time.monotonic() < deadline, 'allocators not ready'
            time.sleep(0.01)
        go.touch()
        outputs = [process.communicate(timeout=120) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
    for process, (out, err) in zip(processes, outputs):
        assert process.returncode == 0, err
    return [json.loads(out) for out, err in outputs]


def test_two_processes_allocating_at_once_take_the_whole_pool_once(
        pool, tmp_path):
    path, app = pool('100-299')
    client = app.test_client()
    assert answer(client.put('/project/runway')) == (200, b'')

    a, b = allocate_in_two_processes(path, tmp_path)

    # They really ran at the same time.
    assert a['started'] < b['finished'] and b['started'] < a['finished']
    assert a['answers'] + b['answers'] == [[200, '']] * (2 * PER_PROCESS)
    with app.app_context():
        networks = dict(db.session.execute(
            sa.select(Network.label, Network.network_id)).all())
        vlans = db.session.execute(
            sa.select(Vlan.vlan_no, Vlan.available)
            .order_by(Vlan.vlan_no)).all()
    assert sorted(networks) == sorted(
        f'{name}-{i}' for name in 'ab' for i in range(PER_PROCESS))
    assert sorted(int(vlan) for vlan in networks.values()) == \
        list(range(100, 300))
    assert vlans == [(vlan, False) for vlan in range(100, 300)]
    assert answer(client.put('/network/one-too-many', json=PUBLIC)) == \
        EXHAUSTED
    assert answer(client.put('/network/runway-net', json={
        'owner': 'runway', 'access': 'runway', 'net_id': ''})) == EXHAUSTED


def test_deleted_network_gives_its_vlan_to_the_next_allocation(pool):
    _, app = pool('300')
    client = app.test_client()

    assert answer(client.put('/network/first', json=PUBLIC)) == (200, b'')
    assert answer(client.put('/network/second', json=PUBLIC)) == EXHAUSTED
    assert answer(client.delete('/network/first')) == (200, b'')
    with app.app_context():
        freed = db.session.execute(
            sa.select(Vlan.vlan_no, Vlan.available)).all()
    assert answer(client.put('/network/second', json=PUBLIC)) == (200, b'')

    assert freed == [(300, True)]
    assert answer(client.get('/network/second')) == (200, {
        'name': 'second', 'owner': 'admin', 'creator': 'admin',
        'projects': None, 'channels': ['vlan/native', 'vlan/300'],
        'network_id': '300', 'connected-nodes': {}})
