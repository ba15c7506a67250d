"""HaaS 0.3 -> this tree online, on a big database: expand while HaaS 0.3
serves, contract once it is stopped.

The HaaS 0.2 dump is grown to N nodes as bench/upgrade_scale.py grows it,
upgraded by HaaS 0.3's own code (from the "Release 0.3.0" commit, written
out of this clone's history) and served by it under gunicorn, while
client threads send requests one after the other (a node, a project's
nodes, a switch, a project made and deleted).  Meanwhile this tree's
`haas-admin db upgrade --phase expand` runs.  Then the 0.3 server stops,
`--phase contract` runs, and this tree's server must answer.  It prints
the requests, the failed ones, the longest request, and the expand and
contract times, against the targets: no failed request, none longer than
a second.

    python bench/upgrade_online.py [--nodes N] [--clients C]
"""

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', 'tests'))

from upgrade_scale import Server, execute, grow_sql  # noqa: E402

from support.config import LEGACY_EXTENSIONS, config_text  # noqa: E402
from support.legacy import DUMP, load_dump  # noqa: E402
from support.release import start_server, stop, write_out  # noqa: E402
from support.servers import Server as Client  # noqa: E402
from support.servers import free_port  # noqa: E402

HAAS_ADMIN = os.path.join(os.path.dirname(sys.executable), 'haas-admin')
ADMIN = ('bench-admin', 'bench-pw')
CHEAP = ('[haas.ext.auth.database]\nhash_time_cost = 1\n'
         'hash_memory_cost = 8\nhash_parallelism = 1\n')
TARGET_LONGEST = 1.0


class Load(threading.Thread):
    """One client: requests one after the other until stopped."""

    def __init__(self, client, nodes, projects, seed):
        super().__init__(daemon=True)
        self.client, self.nodes, self.projects = client, nodes, projects
        self.random = random.Random(seed)
        self.stopping = threading.Event()
        #: (when it started, how long it took) of each request
        self.times, self.failures = [], []

    def requests(self, n):
        node = self.random.randint(1, self.nodes)
        project = self.random.randint(1, self.projects)
        name = f'bench-{self.ident}-{n}'
        return [('GET', f'/node/node-{node}'),
                ('GET', f'/project/project-{project}/nodes'),
                ('GET', '/switch/switch-1'),
                ('PUT', f'/project/{name}'), ('DELETE', f'/project/{name}')]

    def run(self):
        n = 0
        while not self.stopping.is_set():
            n += 1
            for method, path in self.requests(n):
                started = time.monotonic()
                try:
                    status, _ = self.client.call(method, path,
                                                 credentials=ADMIN)
                except (OSError, urllib.error.URLError) as e:
                    status = repr(e)
                self.times.append((started, time.monotonic() - started))
                if status not in (200, 202, 204):
                    self.failures.append((method, path, status))


def admin(command, env, *args, input=None):
    result = subprocess.run(command(*args), env=env, input=input,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f'haas-admin {" ".join(args)} failed:\n'
                         f'{result.stderr}')
    return result


def timed(env, *args):
    """(when it started, when it ended) of `haas-admin ARGS`."""
    start = time.monotonic()
    admin(lambda *a: [HAAS_ADMIN, *a], env, *args)
    return start, time.monotonic()


def gunicorn(release, env, log_path):
    """HaaS 0.3 under gunicorn (two workers): (the Popen, the client)."""
    port = free_port()
    with open(log_path, 'wb') as log:
        process = subprocess.Popen(
            [sys.executable, '-m', 'gunicorn', '-w', '2', '-b',
             f'127.0.0.1:{port}', 'haas.wsgi:application'],
            env=env, stdout=log, stderr=subprocess.STDOUT,
            cwd=os.path.dirname(log_path))
    client = Client(f'http://127.0.0.1:{port}', None)
    deadline = time.monotonic() + 120
    while True:
        try:
            client.raw('GET', '/projects', credentials=None)
            return process, client
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if process.poll() is not None or time.monotonic() > deadline:
                stop(process)
                with open(log_path, encoding='utf-8') as f:
                    raise SystemExit(f'HaaS 0.3 did not start:\n{f.read()}')
            time.sleep(0.1)


def run(nodes, clients, after):
    server = Server()
    try:
        with tempfile.TemporaryDirectory() as folder:
            release = write_out('0.3', folder)
            if release is None:
                raise SystemExit('the "Release 0.3.0" commit is not in this '
                                 'clone: fetch the whole history')
            uri = server.uri(server.create())
            with open(DUMP, encoding='utf-8') as f:
                load_dump(uri, f.read())
            execute(uri, grow_sql(nodes))
            execute(uri, ['VACUUM ANALYZE'], autocommit=True)
            path_0_3 = os.path.join(folder, 'haas-0.3.cfg')
            path = os.path.join(folder, 'haas.cfg')
            with open(path_0_3, 'w') as f:
                f.write(config_text(uri, LEGACY_EXTENSIONS, extra=CHEAP))
            with open(path, 'w') as f:
                f.write(config_text(uri, LEGACY_EXTENSIONS, extra=CHEAP))
            env_0_3 = release.env(path_0_3)
            env = {**os.environ, 'HAAS_CONFIG': path}
            admin(release.command, env_0_3, 'db', 'upgrade', 'heads')
            admin(release.command, env_0_3, 'create-admin-user', ADMIN[0],
                  '--password-stdin', input=ADMIN[1] + '\n')
            old, client = gunicorn(release, env_0_3,
                                   os.path.join(folder, 'old.log'))
            try:
                loads = [Load(client, nodes, max(1, nodes // 100), seed)
                         for seed in range(clients)]
                for load in loads:
                    load.start()
                time.sleep(after)
                expand = timed(env, 'db', 'upgrade', '--phase', 'expand')
                time.sleep(after)
                for load in loads:
                    load.stopping.set()
                for load in loads:
                    load.join()
            finally:
                stop(old)
            contract = timed(env, 'db', 'upgrade', '--phase', 'contract')
            new, new_client = start_server(
                lambda *a: [HAAS_ADMIN, *a], env, uri,
                os.path.join(folder, 'new.log'))
            try:
                served = new_client.call('GET', '/node/node-1',
                                         credentials=ADMIN)[0]
            finally:
                stop(new)
            times = [t for load in loads for t in load.times]
            failures = [f for load in loads for f in load.failures]
            return nodes, times, failures, expand, contract, served
    finally:
        server.drop_all()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--nodes', type=int, default=1_000_000)
    # As many as gunicorn's workers: more would wait for one another.
    parser.add_argument('--clients', type=int, default=2)
    parser.add_argument('--after', type=float, default=2.0,
                        help='seconds of load before and after the expand')
    args = parser.parse_args()
    nodes, times, failures, expand, contract, served = run(
        args.nodes, max(1, args.clients), args.after)
    (began, ended), (contract_began, contract_ended) = expand, contract
    during = sorted(d for s, d in times if s + d >= began and s <= ended)
    outside = sorted(d for s, d in times if s + d < began or s > ended)
    longest = max(during + outside, default=0.0)
    print(f'nodes: {nodes}\n'
          f'requests to HaaS 0.3: {len(times)}, failed: {len(failures)}\n'
          f'longest request: {longest:.3f} s (target {TARGET_LONGEST:g} s); '
          f'during the expand: {len(during)} requests, longest '
          f'{max(during, default=0.0):.3f} s; before and after it: '
          f'{len(outside)}, longest {max(outside, default=0.0):.3f} s\n'
          f'expand: {ended - began:.2f} s, contract: '
          f'{contract_ended - contract_began:.2f} s (each with the '
          f'command\'s start-up)\n'
          f'this tree serves after contract: {served == 200}')
    for failure in failures[:10]:
        print(f'failed: {failure}')
    if failures or longest > TARGET_LONGEST or served != 200:
        raise SystemExit('outside the targets')


if __name__ == '__main__':
    main()
