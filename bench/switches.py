"""The networking daemon against slow switches: `--actions` connects queued
over `--switches` mock switches that take `--latency` seconds a command and
a login, applied by `haas-admin serve-networks` with one worker (before)
and with a worker per switch (after).  Prints the wall time, the actions a
second and the parallel efficiency: the ideal time (the busiest switch's
own commands one after the other) over the wall time.  Run with `make
bench`; PostgreSQL is needed (SQLite applies one action at a time)."""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

import sqlalchemy as sa

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'tests'))

from support.api import OBM, SWITCH  # noqa: E402
from support.config import NULL_AUTH_EXTENSIONS, config_text  # noqa: E402
from support.databases import Databases  # noqa: E402

HAAS_ADMIN = os.path.join(os.path.dirname(sys.executable), 'haas-admin')
#: The switch models the bench can drive; the SSH simulators join them as
#: `haas-admin simulate switch --model ...` grows them.
MODELS = ('mock',)
GOAL = 0.6


def queue(uri, switches, actions):
    """`actions` pending connects, spread round-robin over `switches`
    switches, a port and a nic each; how many each switch has."""
    engine = sa.create_engine(uri)
    with engine.begin() as connection:
        for statement in [
                f"INSERT INTO switch (id, label, type) SELECT g, 'sw' || g, "
                f"'{SWITCH['type']}' FROM generate_series(1, {switches}) g",
                "INSERT INTO mock_switch (id, hostname, username, password) "
                f"SELECT g, 'h', 'u', 'p' FROM generate_series(1, {switches})"
                " g",
                "INSERT INTO project (id, label) VALUES (1, 'p')",
                "INSERT INTO network (id, label, owner_id, allocated, "
                "network_id) VALUES (1, 'net', 1, TRUE, '100')",
                f"INSERT INTO obm (id, type) SELECT g, '{OBM['type']}' "
                f"FROM generate_series(1, {actions}) g",
                "INSERT INTO mock_obm (id, host, \"user\", password) "
                f"SELECT g, 'h', 'u', 'p' FROM generate_series(1, {actions})"
                " g",
                "INSERT INTO node (id, label, project_id, obm_id) SELECT g, "
                f"'n' || g, 1, g FROM generate_series(1, {actions}) g",
                "INSERT INTO port (id, label, owner_id) SELECT g, 'p' || g, "
                f"1 + g % {switches} FROM generate_series(1, {actions}) g",
                "INSERT INTO nic (id, label, owner_id, mac_addr, port_id) "
                f"SELECT g, 'eth0', g, 'm', g "
                f"FROM generate_series(1, {actions}) g",
                "INSERT INTO networking_action (id, nic_id, port_id, "
                "new_network_id, channel, uuid, status, type) SELECT g, g, g, "
                "1, 'vlan/native', gen_random_uuid()::text, 'PENDING', "
                f"'modify_port' FROM generate_series(1, {actions}) g",
                # Wakes the daemon as the API's queuing does.
                "SELECT pg_notify('haas_networking', '')"]:
            connection.execute(sa.text(statement))
    engine.dispose()
    return [actions // switches + (s < actions % switches)
            for s in range(switches)]


def run(workers, args, tmp):
    """Wall seconds of one daemon with `workers` applying every action."""
    dbs = Databases('postgresql', tmp)
    uri = dbs.new()
    try:
        path = os.path.join(tmp, f'haas-{workers}.cfg')
        with open(path, 'w') as f:
            f.write(config_text(uri, NULL_AUTH_EXTENSIONS, extra=(
                f'[haas.ext.switches.mock]\n'
                f'state_dir = {tmp}/switches-{workers}\n'
                f'latency = {args.latency}\n'
                f'[daemon]\nworkers = {workers}\n'
                f'[general]\nlog_level = info\n')))
        environ = {**os.environ, 'HAAS_CONFIG': path}
        subprocess.run([HAAS_ADMIN, 'db', 'create'], env=environ,
                       check=True, capture_output=True)
        log = os.path.join(tmp, f'daemon-{workers}.log')
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
        shares = queue(uri, args.switches, args.actions)
        with engine.connect() as connection:
            while connection.execute(sa.text(
                    "SELECT count(*) FROM networking_action "
                    "WHERE status = 'PENDING'")).scalar():
                connection.rollback()
                time.sleep(0.05)
            took = time.perf_counter() - started
            done = connection.execute(sa.text(
                "SELECT count(*) FROM networking_action "
                "WHERE status = 'DONE'")).scalar()
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
        engine.dispose()
        if done != args.actions:
            sys.exit(f'{done} of {args.actions} actions applied')
        return took, max(shares) * args.latency
    finally:
        dbs.drop_all()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--switches', type=int, default=20)
    parser.add_argument('--actions', type=int, default=1000)
    parser.add_argument('--latency', type=float, default=0.05,
                        help='seconds a command and a login take')
    parser.add_argument('--model', default='mock', choices=MODELS,
                        help='the switch model to drive')
    parser.add_argument('--workers', type=int, default=None,
                        help='the daemon\'s workers after (default: one a '
                             'switch)')
    args = parser.parse_args()
    if min(args.switches, args.actions) < 1 or args.latency < 0:
        parser.error('--switches and --actions take 1 or more, --latency '
                     '0 or more')
    after = args.workers or args.switches
    print(f'{args.actions} actions over {args.switches} {args.model} '
          f'switches, {args.latency} s a command')
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for label, workers in (('before (1 worker)', 1),
                               (f'after ({after} workers)', after)):
            took, ideal = run(workers, args, tmp)
            rows.append((label, took, args.actions / took, ideal / took))
    print(f'{"":22} {"wall s":>8} {"actions/s":>10} {"efficiency":>10}')
    for label, took, rate, efficiency in rows:
        print(f'{label:22} {took:8.2f} {rate:10.1f} {efficiency:10.2f}')
    efficiency = rows[-1][3]
    print(f'parallel efficiency {efficiency:.2f} (goal >= {GOAL}): '
          f'{"met" if efficiency >= GOAL else "NOT met"}')


if __name__ == '__main__':
    main()
