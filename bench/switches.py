"""The networking daemon against slow switches: `--actions` actions
queued over `--switches` switches of `--model` (the simulated SSH
PowerConnect 55xx by default, or another simulated SSH model, or the
mock) that take `--latency` seconds a command, applied by `haas-admin
serve-networks` with one worker (before, on the first `--serial-actions`
actions only: one worker takes every command's latency in turn) and
with a worker per switch (after).  Prints the wall time, the actions a
second and the parallel efficiency: the ideal time (the commands the
busiest switch really received, one after the other, times the latency)
over the wall time.  Run with `make bench`; PostgreSQL is needed (SQLite
applies one action at a time)."""

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time

import sqlalchemy as sa

from haas.crypto import Keyring

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'tests'))

from support.api import OBM, SWITCH  # noqa: E402
from support.config import (  # noqa: E402
    NULL_AUTH_EXTENSIONS,
    TEST_KEY_FILE,
    config_text,
)
from support.databases import Databases  # noqa: E402

HAAS_ADMIN = os.path.join(os.path.dirname(sys.executable), 'haas-admin')
SCHEMA = 'http://schema.massopencloud.org/haas/v0/switches/'


def _pc_port(n):
    return f'gi1/0/{n + 1}' if n < 48 else f'te1/0/{n - 47}'


def _n3000_port(n):
    return f'Gi1/0/{n + 1}' if n < 48 else f'Te1/0/{n - 47}'


#: Model -> (extension, switch type, its table and the columns beside
#: hostname/username/password, whether `haas-admin simulate switch` has
#: it, its port names by number, how many it has).  The mock has no
#: simulator: it sleeps in the daemon and logs its sessions.
MODELS = {
    'powerconnect55xx': (
        'haas.ext.switches.dell', SCHEMA + 'powerconnect55xx',
        'power_connect55xx', {}, True, _pc_port, 52),
    'n3000': (
        'haas.ext.switches.n3000', SCHEMA + 'delln3000', 'dell_n3000',
        {'dummy_vlan': '2'}, True, _n3000_port, 52),
    'nexus': (
        'haas.ext.switches.nexus', SCHEMA + 'nexus', 'nexus',
        {'dummy_vlan': "'2'"}, True, lambda n: f'Ethernet1/{n + 1}', 48),
    'mock': (
        'haas.ext.switches.mock', SWITCH['type'], 'mock_switch', {}, False,
        lambda n: f'p{n}', None),
}
DEFAULT_MODEL = 'powerconnect55xx'
GOAL = 0.6
#: Seconds without an action applied after which the bench gives up.
STALLED = 120


def queue(uri, model, addresses, actions):
    """`actions` pending actions, spread round-robin over the switches at
    `addresses`, a port and a nic each while the model has ports enough;
    past that, the ports' nics get a detach, then a connect again, and
    so on, queued behind their earlier actions."""
    _, kind, table, columns, _, port_name, ports = MODELS[model]
    switches = len(addresses)
    nics = min(actions, switches * (ports or actions))
    names = ', '.join(['id', 'hostname', 'username', 'password', *columns])
    values = ', '.join(columns.values())
    hosts = ', '.join(f"'{host}:{port}'" for host, port in addresses)
    labels = ', '.join(f"'{port_name(n)}'"
                       for n in range(-(-nics // switches)))
    # Passwords are kept encrypted (haas.crypto), with the key the
    # bench's configuration names.
    keyring = Keyring(os.path.abspath(TEST_KEY_FILE))
    secret, p = keyring.encrypt('secret'), keyring.encrypt('p')
    with sa.create_engine(uri).begin() as connection:
        for statement in [
                f"INSERT INTO switch (id, label, type) SELECT g, 'sw' || g, "
                f"'{kind}' FROM generate_series(1, {switches}) g",
                f"INSERT INTO {table} ({names}) SELECT g, "
                f"(ARRAY[{hosts}])[g], 'admin', '{secret}'"
                f"{', ' + values if values else ''} "
                f"FROM generate_series(1, {switches}) g",
                "INSERT INTO project (id, label) VALUES (1, 'p')",
                "INSERT INTO network (id, label, owner_id, allocated, "
                "network_id) VALUES (1, 'net', 1, TRUE, '100')",
                f"INSERT INTO obm (id, type) SELECT g, '{OBM['type']}' "
                f"FROM generate_series(1, {nics}) g",
                "INSERT INTO mock_obm (id, host, \"user\", password) "
                f"SELECT g, 'h', 'u', '{p}' FROM generate_series(1, {nics})"
                " g",
                "INSERT INTO node (id, label, project_id, obm_id) SELECT g, "
                f"'n' || g, 1, g FROM generate_series(1, {nics}) g",
                # Port g is on switch 1 + g % switches, the port number
                # (g - 1) / switches of it.
                "INSERT INTO port (id, label, owner_id) SELECT g, "
                f"(ARRAY[{labels}])[1 + (g - 1) / {switches}], "
                f"1 + g % {switches} FROM generate_series(1, {nics}) g",
                "INSERT INTO nic (id, label, owner_id, mac_addr, port_id) "
                f"SELECT g, 'eth0', g, 'm', g "
                f"FROM generate_series(1, {nics}) g",
                "INSERT INTO networking_action (id, nic_id, port_id, "
                "new_network_id, channel, uuid, status, type) SELECT g, "
                f"1 + (g - 1) % {nics}, 1 + (g - 1) % {nics}, "
                f"CASE WHEN (g - 1) / {nics} % 2 = 0 THEN 1 END, "
                "'vlan/native', gen_random_uuid()::text, 'PENDING', "
                f"'modify_port' FROM generate_series(1, {actions}) g",
                # The statistics autovacuum keeps on a journal in use:
                # rows written in bulk a moment ago have none yet, and
                # without them PostgreSQL plans the claims for empty
                # tables.
                "ANALYZE",
                # Wakes the daemon as the API's queuing does.
                "SELECT pg_notify('haas_networking', '')"]:
            connection.execute(sa.text(statement))


class Simulator:
    """A simulated switch in a process of its own (`haas-admin simulate
    switch`), as a real one is a device of its own: sharing the bench's
    interpreter, 20 of them took turns at its lock for every answer."""

    def __init__(self, model, folder, latency):
        self.process = subprocess.Popen(
            [HAAS_ADMIN, 'simulate', 'switch', '--model', model,
             '--state', folder, '--username', 'admin', '--password',
             'secret', '--latency', str(latency)],
            stdout=subprocess.PIPE, text=True)
        self.address = None
        self.commands = None

    def listening(self):
        line = self.process.stdout.readline()
        if not line.startswith('listening on '):
            sys.exit(f'a simulated switch did not start: {line!r}')
        host, _, port = line.split()[-1].rpartition(':')
        self.address = (host, int(port))

    def stop(self):
        """Stop it; how many commands it answered."""
        self.process.send_signal(signal.SIGTERM)
        out, _ = self.process.communicate(60)
        for line in out.splitlines():
            if line.startswith('answered '):
                self.commands = int(line.split()[1])
        self.process.kill()
        return self.commands


@contextlib.contextmanager
def simulated(model, switches, latency, folder):
    """`switches` simulated switches of `model`, each a process; they
    count the commands they answered as they stop."""
    devices = []
    try:
        for s in range(switches):
            devices.append(Simulator(model, os.path.join(folder, f'sw{s}'),
                                     latency))
        for device in devices:
            device.listening()
        yield devices
    finally:
        for device in devices:
            device.stop()


def mock_commands(state, switches):
    """The logins and changes each mock switch logged: its commands."""
    from haas.ext.switches import mock
    counts = []
    for s in range(1, switches + 1):
        path = os.path.join(state, mock.file_name(f'sw{s}'),
                            'sessions.jsonl')
        with open(path) as log:
            counts.append(sum('"logout"' not in line for line in log))
    return counts


def run(workers, processes, actions, args, tmp):
    """Wall seconds of one daemon with `workers` in all, in `processes`,
    applying `actions`, the
    ideal seconds (the busiest switch's commands times the latency) and
    the daemon's processor seconds, from its start to its stop."""
    dbs = Databases('postgresql', tmp)
    uri = dbs.new()
    name = f'{workers}-{processes}-{actions}'
    state = os.path.join(tmp, f'switches-{name}')
    extension = MODELS[args.model][0]
    extensions = [e for e in NULL_AUTH_EXTENSIONS if '.switches.' not in e]
    devices = []
    with contextlib.ExitStack() as stack:
        stack.callback(dbs.drop_all)
        if MODELS[args.model][4]:
            devices = stack.enter_context(simulated(
                args.model, args.switches, args.latency, state))
        path = os.path.join(tmp, f'haas-{name}.cfg')
        with open(path, 'w') as f:
            f.write(config_text(uri, extensions + [extension], extra=(
                f'[haas.ext.switches.mock]\n'
                f'state_dir = {state}\n'
                f'latency = {args.latency}\n'
                f'[daemon]\nworkers = {-(-workers // processes)}\n'
                f'processes = {processes}\n'
                f'[general]\nlog_level = info\n')))
        environ = {**os.environ, 'HAAS_CONFIG': path}
        subprocess.run([HAAS_ADMIN, 'db', 'create'], env=environ,
                       check=True, capture_output=True)
        log = os.path.join(tmp, f'daemon-{name}.log')
        with open(log, 'w') as f:
            daemon = subprocess.Popen([HAAS_ADMIN, 'serve-networks'],
                                      env=environ, stderr=f)
        # Timed from the queuing, not from the daemon's start-up.
        while 'waiting for actions' not in open(log).read():
            if daemon.poll() is not None:
                sys.exit(f'the daemon stopped:\n{open(log).read()}')
            time.sleep(0.05)
        engine = sa.create_engine(uri)
        started = time.perf_counter()
        queue(uri, args.model, [d.address for d in devices]
              or [('h', 22)] * args.switches, actions)
        with engine.connect() as connection:
            progress = (None, time.monotonic())
            while pending := connection.execute(sa.text(
                    "SELECT count(*) FROM networking_action "
                    "WHERE status = 'PENDING'")).scalar():
                connection.rollback()
                if pending != progress[0]:
                    progress = (pending, time.monotonic())
                elif time.monotonic() - progress[1] > STALLED:
                    sys.exit(f'no action applied in {STALLED} s, '
                             f'{pending} pending; the daemon\'s log:\n'
                             f'{open(log).read()[-3000:]}')
                time.sleep(0.05)
            took = time.perf_counter() - started
            done = connection.execute(sa.text(
                "SELECT count(*) FROM networking_action "
                "WHERE status = 'DONE'")).scalar()
        daemon.send_signal(signal.SIGTERM)
        _, _, usage = os.wait4(daemon.pid, 0)
        daemon.returncode = 0  # reaped above
        engine.dispose()
        if done != actions:
            sys.exit(f'{done} of {actions} actions applied; the daemon\'s '
                     f'log:\n{open(log).read()[-3000:]}')
    commands = [d.commands for d in devices] or \
        mock_commands(state, args.switches)
    return took, max(commands) * args.latency, \
        usage.ru_utime + usage.ru_stime


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--switches', type=int, default=20)
    parser.add_argument('--actions', type=int, default=1000)
    parser.add_argument('--latency', type=float, default=0.05,
                        help='seconds a command takes')
    parser.add_argument('--model', default=DEFAULT_MODEL,
                        choices=sorted(MODELS),
                        help='the switch model to drive (default: '
                             f'{DEFAULT_MODEL})')
    parser.add_argument('--workers', type=int, default=None,
                        help='the daemon\'s workers after (default: one a '
                             'switch)')
    parser.add_argument('--processes', type=int,
                        default=min(os.cpu_count() or 1, 2),
                        help='the daemon\'s processes after ([daemon] '
                             'processes), which share its workers out '
                             '(default: 2, or 1 on a machine of one core)')
    parser.add_argument('--serial-actions', type=int, default=100,
                        help='the actions the one-worker run applies '
                             '(default 100; 0: skip it)')
    args = parser.parse_args()
    if min(args.switches, args.actions, args.processes) < 1 \
            or args.latency < 0 \
            or args.serial_actions < 0:
        parser.error('--switches, --actions and --processes take 1 or '
                     'more, --latency and --serial-actions 0 or more')
    after = args.workers or args.switches
    print(f'{args.actions} actions over {args.switches} {args.model} '
          f'switches, {args.latency} s a command')
    runs = [(f'after ({after} workers'
             + (f', {args.processes} processes)' if args.processes > 1
                else ')'), after, args.processes, args.actions)]
    if args.serial_actions:
        serial = min(args.serial_actions, args.actions)
        runs.insert(0, (f'before (1 worker, {serial})', 1, 1, serial))
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for label, workers, processes, actions in runs:
            took, ideal, cpu = run(workers, processes, actions, args, tmp)
            rows.append((label, took, actions / took, ideal, cpu,
                         ideal / took))
    print(f'{"":32} {"wall s":>8} {"actions/s":>10} {"ideal s":>8} '
          f'{"daemon cpu s":>12} {"efficiency":>10}')
    for label, took, rate, ideal, cpu, efficiency in rows:
        print(f'{label:32} {took:8.2f} {rate:10.1f} {ideal:8.2f} '
              f'{cpu:12.2f} {efficiency:10.2f}')
    efficiency = rows[-1][-1]
    print(f'parallel efficiency {efficiency:.2f} (goal >= {GOAL}): '
          f'{"met" if efficiency >= GOAL else "NOT met"}')


if __name__ == '__main__':
    main()
