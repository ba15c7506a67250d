"""What the API serves per second under gunicorn, against the floor: the
same rows read by the same SQL through psycopg2 and encoded to JSON in one
process; what a call costs as a user of haas.ext.auth.database (Argon2 at
its default cost), against the same call made anonymously; and what the
networking daemon applies per second, against the mock switch's own rate.
10,000 nodes (each with a nic; half of them in projects, with networks),
on PostgreSQL.  Run with `make bench`, or `python bench/api.py auth` (or
`calls`, `daemon`) for one part alone.
"""

import base64
import concurrent.futures
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

import psycopg2
import sqlalchemy as sa

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'tests'))

import haas  # noqa: E402
from haas import migrations  # noqa: E402
from haas.ext.auth.database import User  # noqa: E402
from haas.ext.obm.mock import MockObm  # noqa: E402
from haas.ext.switches import mock  # noqa: E402
from haas.model import (  # noqa: E402
    Network,
    NetworkingAction,
    Nic,
    Node,
    Obm,
    Port,
    Project,
    Switch,
    db,
)

from support.config import NULL_AUTH_EXTENSIONS, config_text  # noqa: E402
from support.databases import Databases  # noqa: E402
from support.servers import free_port  # noqa: E402

NODES = 10_000
PROJECTS = 50
SECONDS = 5  # of load per call
CLIENTS = 8
WORKERS = 4
BIN = os.path.dirname(sys.executable)

#: Database auth, anonymous callers let in (to compare with); a free node
#: and /free_nodes are what an anonymous caller may read.
AUTH_EXTENSIONS = ['haas.ext.auth.database',
                   'haas.ext.network_allocators.null',
                   'haas.ext.switches.mock', 'haas.ext.obm.mock']
AUTH_CALLS = ['/node/node-76', '/free_nodes']
USER, PASSWORD = 'bench', 'bench-password'

#: Path -> the SQL the floor runs for it (what the call reads, by hand).
CALLS = {
    '/free_nodes':
        ('SELECT label FROM node WHERE project_id IS NULL ORDER BY label',
         lambda rows: [r[0] for r in rows]),
    '/project/project-7/nodes':
        ('SELECT node.label FROM node JOIN project ON project.id = '
         "node.project_id WHERE project.label = 'project-7' "
         'ORDER BY node.label', lambda rows: [r[0] for r in rows]),
    # What HaaS 0.3 shows an administrator: each nic's networks, port and
    # switch, and the node's metadata.
    '/node/node-77':
        ('SELECT node.label, project.label, nic.id, nic.label, '
         'nic.mac_addr, port.label, switch.label, a.channel, network.label, '
         '(SELECT json_object_agg(m.label, m.value) FROM metadata m '
         ' WHERE m.owner_id = node.id) '
         'FROM node LEFT JOIN project ON project.id = node.project_id '
         'LEFT JOIN nic ON nic.owner_id = node.id '
         'LEFT JOIN port ON port.id = nic.port_id '
         'LEFT JOIN switch ON switch.id = port.owner_id '
         'LEFT JOIN network_attachment a ON a.nic_id = nic.id '
         'LEFT JOIN network ON network.id = a.network_id '
         "WHERE node.label = 'node-77' ORDER BY nic.id",
         lambda rows: node_shape(rows)),
}


def node_shape(rows):
    """show_node's answer from the floor's rows: one per nic and network."""
    nics = {}
    for _, _, nic, label, mac, port, switch, channel, network, _ in rows:
        if nic is None:
            continue
        shown = nics.setdefault(nic, {'label': label, 'macaddr': mac,
                                      'networks': {}, 'port': port,
                                      'switch': switch})
        if channel is not None:
            shown['networks'][channel] = network
    return {'name': rows[0][0], 'project': rows[0][1],
            'nics': list(nics.values()), 'metadata': rows[0][9] or {}}


def grow(app):
    """NODES nodes with a nic each, on a switch port each; half of them in
    PROJECTS projects; set-based inserts."""
    with app.app_context():
        s = db.session
        s.execute(sa.insert(Project), [{'label': f'project-{p}'}
                                       for p in range(PROJECTS)])
        ids = s.execute(sa.select(Project.id).order_by(Project.id)) \
            .scalars().all()
        s.execute(sa.insert(Switch.__table__), [{
            'id': 1, 'label': 'sw', 'type': mock.MockSwitch.api_name}])
        s.execute(sa.insert(mock.MockSwitch.__table__), [{
            'id': 1, 'hostname': 'h', 'username': 'u', 'password': 'p'}])
        s.execute(sa.insert(Obm.__table__), [
            {'id': n + 1, 'type': MockObm.api_name} for n in range(NODES)])
        s.execute(sa.insert(MockObm.__table__), [
            {'id': n + 1, 'host': f'h{n}', 'user': 'u', 'password': 'p'}
            for n in range(NODES)])
        s.execute(sa.insert(Node), [
            {'id': n + 1, 'label': f'node-{n}', 'obm_id': n + 1,
             'project_id': ids[n % PROJECTS] if n % 2 else None}
            for n in range(NODES)])
        s.execute(sa.insert(Port), [
            {'id': n + 1, 'label': f'port-{n}', 'owner_id': 1}
            for n in range(NODES)])
        s.execute(sa.insert(Nic), [
            {'id': n + 1, 'label': 'eth0', 'owner_id': n + 1,
             'mac_addr': f'mac-{n}', 'port_id': n + 1} for n in range(NODES)])
        s.execute(sa.insert(Network), [
            {'label': f'net-{p}', 'creator_id': i, 'access_id': i,
             'allocated': False, 'network_id': f'id-{p}'}
            for p, i in enumerate(ids)])
        s.commit()
        for table in ('project', 'node', 'nic', 'network', 'port', 'obm',
                      'switch'):
            s.execute(sa.text(
                f"SELECT setval('{table}_id_seq', "
                f"(SELECT max(id) FROM {table}))"))
        s.commit()


def load(url, headers=None, seconds=SECONDS):
    """Requests per second on `url` from CLIENTS threads for `seconds`."""
    deadline = time.monotonic() + seconds
    request = urllib.request.Request(url, headers=headers or {})

    def client():
        done = 0
        while time.monotonic() < deadline:
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()
            done += 1
        return done
    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        total = sum(pool.map(lambda _: client(), range(CLIENTS)))
    return total / seconds


def floor(uri, sql, shape):
    """Per second: the same rows by the same SQL, encoded to JSON."""
    url = sa.make_url(uri)
    connection = psycopg2.connect(host=url.host, port=url.port,
                                  user=url.username, dbname=url.database)
    done, deadline = 0, time.monotonic() + SECONDS
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(sql)
            json.dumps(shape(cursor.fetchall()), sort_keys=True)
            done += 1
    connection.close()
    return done / SECONDS


def daemon_rate(app, config_path, uri, state):
    """Actions per second of one daemon on NODES queued connects, and the
    mock switch's own rate for the same actions."""
    with app.app_context():
        network = db.session.execute(sa.select(Network.id).filter_by(
            label='net-0')).scalar()
        db.session.execute(sa.insert(NetworkingAction), [
            {'nic_id': n + 1, 'port_id': n + 1, 'new_network_id': network,
             'channel': 'vlan/native'} for n in range(NODES)])
        db.session.commit()
        # Statistics, as autovacuum keeps on a journal in use: without
        # them PostgreSQL plans each claim for an empty table, and the
        # daemon's anti-joins compare every pending action with every
        # other.
        db.session.execute(sa.text('ANALYZE'))
        db.session.commit()
        actions = db.session.execute(sa.select(NetworkingAction).limit(
            1000)).scalars().all()
        # The mock's own rate: its sessions' work, without a login and
        # without latency.
        session = mock.MockSession.__new__(mock.MockSession)
        session.folder = os.path.join(state, 'own-rate')
        session.latency, session.name = None, 'bench'
        start = time.perf_counter()
        for action in actions:
            session.apply_networking(action)
        switch_rate = len(actions) / (time.perf_counter() - start)
    start = time.perf_counter()
    daemon = subprocess.Popen([os.path.join(BIN, 'haas-admin'),
                               'serve-networks'],
                              env={**os.environ, 'HAAS_CONFIG': config_path},
                              stderr=subprocess.DEVNULL)
    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    try:
        while True:  # the daemon keeps each action, as DONE or ERROR
            with engine.connect() as c:
                if not c.execute(sa.text(
                        "SELECT count(*) FROM networking_action "
                        "WHERE status = 'PENDING'")).scalar():
                    break
            time.sleep(0.2)
        took = time.perf_counter() - start
        with engine.connect() as c:
            failed = c.execute(sa.text(
                "SELECT count(*) FROM networking_action "
                "WHERE status = 'ERROR'")).scalar()
    finally:
        daemon.terminate()
        daemon.wait(30)
        engine.dispose()
    if failed:
        raise SystemExit(f'the daemon marked {failed} of {NODES} actions '
                         f'ERROR')
    return NODES / took, switch_rate


@contextlib.contextmanager
def serving(config_path, cwd):
    """gunicorn with WORKERS workers on `config_path`; yields its URL once
    it answers."""
    port = free_port()
    server = subprocess.Popen(
        [os.path.join(BIN, 'gunicorn'), '-w', str(WORKERS), '-b',
         f'127.0.0.1:{port}', '--log-level', 'warning',
         'haas.wsgi:application'],
        env={**os.environ, 'HAAS_CONFIG': config_path}, cwd=cwd)
    base = f'http://127.0.0.1:{port}'
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + '/free_nodes', timeout=5)
                break
            except OSError:
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(30)


def write_config(tmp, name, text):
    path = os.path.join(tmp, name)
    with open(path, 'w') as f:
        f.write(text)
    return path


def calls(uri, config_path, tmp):
    """The API against the floor, call by call."""
    with serving(config_path, tmp) as base:
        print(f'{"call":<28}{"haas":>10}{"floor":>10}{"ratio":>8}'
              f'{"target":>10}')
        for path, (sql, shape) in CALLS.items():
            ours = load(base + path)
            best = floor(uri, sql, shape)
            ratio = best / ours
            print(f'{"GET " + path:<28}{ours:>10.0f}{best:>10.0f}'
                  f'{ratio:>7.1f}x{"<= 3.0x":>10}  '
                  f'{"met" if ratio <= 3 else "MISSED"}', flush=True)


def auth(dbs, tmp):
    """The same calls anonymous and as a user, under database auth with
    Argon2 at its default cost: with the login cache (once each worker
    has checked the password), and without it (cache_seconds = 0)."""
    uri = dbs.new()
    text = config_text(uri, AUTH_EXTENSIONS,
                       extra='[auth]\nrequire_authentication = false\n')
    app = haas.create_app(text)
    with app.app_context():
        migrations.create()
    grow(app)
    with app.app_context():
        user = User(label=USER)
        user.set_password(PASSWORD)
        db.session.add(user)
        db.session.commit()
        db.engine.dispose()
    token = base64.b64encode(f'{USER}:{PASSWORD}'.encode()).decode()
    as_user = {'Authorization': f'Basic {token}'}
    print(f'{"as a user, Argon2 default":<28}{"user":>10}{"anonymous":>10}'
          f'{"ratio":>8}{"target":>10}')
    with serving(write_config(tmp, 'auth.cfg', text), tmp) as base:
        for path in AUTH_CALLS:
            load(base + path, as_user, seconds=1)  # each worker checks once
            ours = load(base + path, as_user)
            anonymous = load(base + path)
            ratio = anonymous / ours
            print(f'{"GET " + path:<28}{ours:>10.0f}{anonymous:>10.0f}'
                  f'{ratio:>7.1f}x{"<= 2.0x":>10}  '
                  f'{"met" if ratio <= 2 else "MISSED"}', flush=True)
    uncached = text + '[haas.ext.auth.database]\ncache_seconds = 0\n'
    with serving(write_config(tmp, 'uncached.cfg', uncached), tmp) as base:
        path = AUTH_CALLS[0]
        ours = load(base + path, as_user)
        anonymous = load(base + path)
        print(f'{"GET " + path + " uncached":<28}{ours:>10.0f}'
              f'{anonymous:>10.0f}{anonymous / ours:>7.1f}x  '
              f'(cache_seconds = 0: a hash per call)', flush=True)


def main(parts):
    with tempfile.TemporaryDirectory() as tmp:
        dbs = Databases('postgresql', tmp)
        print(f'{NODES} nodes on PostgreSQL; gunicorn -w {WORKERS}, '
              f'{CLIENTS} client threads, {SECONDS} s per call; '
              f'requests per second')
        if 'calls' in parts or 'daemon' in parts:
            uri = dbs.new()
            state = os.path.join(tmp, 'switches')
            text = config_text(uri, NULL_AUTH_EXTENSIONS, extra=(
                f'[haas.ext.switches.mock]\nstate_dir = {state}\n'))
            config_path = write_config(tmp, 'haas.cfg', text)
            app = haas.create_app(text)
            with app.app_context():
                migrations.create()
            grow(app)
            if 'calls' in parts:
                calls(uri, config_path, tmp)
        if 'auth' in parts:
            auth(dbs, tmp)
        if 'daemon' in parts:
            ours, switch = daemon_rate(app, config_path, uri, state)
            print(f'{"serve-networks, actions/s":<28}{ours:>10.0f}'
                  f'{switch:>10.0f}{switch / ours:>7.1f}x  '
                  f'(mock switch alone)')
        if 'calls' in parts or 'daemon' in parts:
            with app.app_context():
                db.engine.dispose()
        dbs.drop_all()


PARTS = ('calls', 'auth', 'daemon')


if __name__ == '__main__':
    unknown = set(sys.argv[1:]) - set(PARTS)
    if unknown:
        raise SystemExit(f'usage: {sys.argv[0]} [{" ".join(PARTS)}]...: no '
                         f'part {", ".join(sorted(unknown))}')
    main(sys.argv[1:] or PARTS)
