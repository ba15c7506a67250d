"""HaaS 0.2 -> 0.3 on a big database: `haas-admin db upgrade --to-release
0.3` against the same change written by hand as one SQL script
(upgrade_0_2_to_0_3.sql).

The HaaS 0.2 dump is grown to N nodes with set-based SQL (each node with an
OBM, two nics, one cabled to a switch port; a project for every hundred
nodes with ten networks each; four nodes in five in a project and on one
of its networks; an action queued for one node in a hundred; a headnode
and a user per project), then copied twice.  One copy is upgraded by
haas-admin, the other by the script (each after a CHECKPOINT, so that
neither pays for the other's writes); their schemas and row counts must be
equal.  That is done in two rounds, each way going first in one, and the
best time of each way is kept.  It prints both times, their ratio (the
upgrade's time less its start-up, measured on the dump as it is, over the
script's) and the upgrade's peak memory, against the targets.  Run with
`make bench`, or:

    python bench/upgrade_scale.py [--nodes N] [--rounds R]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid

import sqlalchemy as sa

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'tests'))

from support.config import LEGACY_EXTENSIONS, config_text  # noqa: E402
from support.databases import POSTGRES_URL  # noqa: E402
from support.legacy import DUMP, load_dump  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
HAAS_ADMIN = os.path.join(os.path.dirname(sys.executable), 'haas-admin')
SCRIPT = os.path.join(HERE, 'upgrade_0_2_to_0_3.sql')
#: Tables of the schema's own bookkeeping, which the script leaves out.
BOOKKEEPING = ('alembic_version', 'haas_schema_branch', 'haas_schema_ledger')
TARGET_RATIO, TARGET_MIB = 1.2, 200
MOCK = 'http://schema.massopencloud.org/haas/v0'
# Ids of grown rows start past the dump's.
BASE = 1000


def grow_sql(nodes):
    """The statements that grow a HaaS 0.2 database (its legacy names) by
    `nodes` nodes and what goes with them."""
    projects = max(1, nodes // 100)
    switches = -(-nodes // 48)
    networks = 10 * projects
    series = 'generate_series(1, {})'.format
    return [
        f"INSERT INTO project (id, label) SELECT {BASE} + g, 'project-' || g "
        f"FROM {series(projects)} g",
        f"INSERT INTO switch (id, label, type) SELECT {BASE} + g, "
        f"'switch-' || g, '{MOCK}/switches/mock' FROM {series(switches)} g",
        f"INSERT INTO mockswitch (id, hostname, username, password) SELECT "
        f"{BASE} + g, 'sw-' || g, 'admin', 'secret' FROM {series(switches)} g",
        f"INSERT INTO obm (id, type) SELECT {BASE} + g, '{MOCK}/obm/mock' "
        f"FROM {series(nodes)} g",
        f"INSERT INTO mockobm (id, host, \"user\", password) SELECT "
        f"{BASE} + g, 'bmc-' || g, 'root', 'secret' FROM {series(nodes)} g",
        f"INSERT INTO node (id, label, project_id, obm_id) SELECT {BASE} + g, "
        f"'node-' || g, CASE WHEN g % 5 = 0 THEN NULL "
        f"ELSE {BASE} + 1 + g % {projects} END, {BASE} + g "
        f"FROM {series(nodes)} g",
        f"INSERT INTO port (id, label, owner_id) SELECT {BASE} + g, "
        f"'gi1/0/' || ((g - 1) % 48 + 1), {BASE} + 1 + (g - 1) / 48 "
        f"FROM {series(nodes)} g",
        f"INSERT INTO nic (id, label, owner_id, mac_addr, port_id) "
        f"SELECT {BASE} + 2 * g - 1, 'eth0', {BASE} + g, 'mac-0-' || g, "
        f"{BASE} + g FROM {series(nodes)} g UNION ALL "
        f"SELECT {BASE} + 2 * g, 'eth1', {BASE} + g, 'mac-1-' || g, NULL "
        f"FROM {series(nodes)} g",
        f"INSERT INTO network (id, label, creator_id, access_id, allocated, "
        f"network_id) SELECT {BASE} + g, 'net-' || g, "
        f"{BASE} + 1 + g % {projects}, {BASE} + 1 + g % {projects}, FALSE, "
        f"'net-id-' || g FROM {series(networks)} g",
        # A node of project k (k = g % projects) on that project's
        # network k + projects.
        f"INSERT INTO networkattachment (id, nic_id, network_id, channel) "
        f"SELECT {BASE} + g, {BASE} + 2 * g - 1, "
        f"{BASE} + g % {projects} + {projects}, 'vlan/native' "
        f"FROM {series(nodes)} g WHERE g % 5 <> 0",
        f"INSERT INTO networkingaction (id, nic_id, new_network_id, channel) "
        f"SELECT {BASE} + g, {BASE} + 2 * g - 1, NULL, 'vlan/native' "
        f"FROM {series(nodes)} g WHERE g % 100 = 1",
        f"INSERT INTO headnode (id, label, project_id, dirty, base_img, uuid) "
        f"SELECT {BASE} + g, 'headnode-' || g, {BASE} + g, TRUE, "
        f"'base-headnode', md5(g::text) FROM {series(projects)} g",
        f"INSERT INTO hnic (id, label, owner_id, network_id) "
        f"SELECT {BASE} + 2 * g - 1, 'pxe', {BASE} + g, NULL "
        f"FROM {series(projects)} g UNION ALL "
        f"SELECT {BASE} + 2 * g, 'public', {BASE} + g, 3 "
        f"FROM {series(projects)} g",
        f"INSERT INTO \"user\" (id, label, is_admin, hashed_password) "
        f"SELECT {BASE} + g, 'user-' || g, FALSE, 'x' "
        f"FROM {series(projects)} g",
        f"INSERT INTO user_projects (user_id, project_id) "
        f"SELECT {BASE} + g, {BASE} + g FROM {series(projects)} g",
    ] + [
        f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM \"{table}\"))"
        for table in ('project', 'switch', 'obm', 'node', 'port', 'nic',
                      'network', 'networkattachment', 'networkingaction',
                      'headnode', 'hnic', 'user')
    ]


class Server:
    """Databases on the PostgreSQL server, dropped at the end."""

    def __init__(self, url=POSTGRES_URL):
        self.url = sa.make_url(url)
        self.engine = sa.create_engine(self.url, isolation_level='AUTOCOMMIT',
                                       poolclass=sa.pool.NullPool)
        self.made = []

    def uri(self, name):
        return self.url.set(database=name).render_as_string(
            hide_password=False)

    def create(self, template=None):
        name = f'haas_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}'
        with self.engine.connect() as connection:
            connection.exec_driver_sql(
                f'CREATE DATABASE {name}' +
                (f' TEMPLATE {template}' if template else ''))
        self.made.append(name)
        return name

    def checkpoint(self):
        """Write out what is dirty, so that the next timed run does not pay
        for what came before it (the copies, the other run)."""
        with self.engine.connect() as connection:
            connection.exec_driver_sql('CHECKPOINT')

    def drop(self, *names):
        with self.engine.connect() as connection:
            for name in names:
                connection.exec_driver_sql(
                    f'DROP DATABASE IF EXISTS {name} WITH (FORCE)')
        self.made = [n for n in self.made if n not in names]

    def drop_all(self):
        self.drop(*reversed(self.made))


def execute(uri, statements, autocommit=False):
    """Run `statements` in one transaction (each in its own with
    `autocommit`), as they are: no parameters."""
    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            raw = connection.connection.driver_connection
            raw.autocommit = autocommit
            with raw.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
            if not autocommit:
                raw.commit()
    finally:
        engine.dispose()


def upgrade(uri, folder):
    """(seconds, peak MiB) of `haas-admin db upgrade --to-release 0.3` on
    `uri`."""
    path = os.path.join(folder, f'haas-{uuid.uuid4().hex[:8]}.cfg')
    with open(path, 'w') as f:
        f.write(config_text(uri, LEGACY_EXTENSIONS))
    env = {**os.environ, 'HAAS_CONFIG': path}
    start = time.monotonic()
    process = subprocess.Popen(
        [HAAS_ADMIN, 'db', 'upgrade', '--to-release', '0.3'], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.monotonic() - start
    error = process.stderr.read().decode()
    process.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f'haas-admin db upgrade --to-release 0.3 '
                         f'failed:\n{error}')
    # ru_maxrss is in KiB on Linux: the process or a child it waited for.
    return elapsed, usage.ru_maxrss / 1024


def by_hand(uri):
    """Seconds the hand-written script takes on `uri`."""
    with open(SCRIPT, encoding='utf-8') as f:
        sql = f.read()
    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            raw = connection.connection.driver_connection
            raw.autocommit = True  # the script has its own BEGIN/COMMIT
            start = time.monotonic()
            with raw.cursor() as cursor:
                cursor.execute(sql)
            return time.monotonic() - start
    finally:
        engine.dispose()


def contents(uri):
    """(schema, row counts) of `uri` without the bookkeeping tables."""
    from haas import migrations
    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            schema = migrations.schema_snapshot(connection)
            for name in BOOKKEEPING:
                schema['tables'].pop(name, None)
            schema['sequences'] = [
                s for s in schema.get('sequences', ())
                if not any(s[0].startswith(f'{t}_') for t in BOOKKEEPING)]
            counts = {t: connection.exec_driver_sql(
                          f'SELECT count(*) FROM "{t}"').scalar()
                      for t in sorted(schema['tables'])}
    finally:
        engine.dispose()
    return schema, counts


def differences(mine, hand):
    """Lines naming what differs between two `contents`."""
    lines = []
    (schema, counts), (other, other_counts) = mine, hand
    for table in sorted(set(schema['tables']) | set(other['tables'])):
        ours, theirs = (schema['tables'].get(table),
                        other['tables'].get(table))
        if ours is None or theirs is None:
            lines.append(f'{table}: only in the '
                         f'{"script" if ours is None else "upgrade"}\'s')
            continue
        for key in sorted(set(ours) | set(theirs)):
            if ours.get(key) != theirs.get(key):
                lines.append(f'{table} {key}: upgrade {ours.get(key)}, '
                             f'script {theirs.get(key)}')
    for key in sorted(set(schema) - {'tables'}):
        if schema[key] != other.get(key):
            lines.append(f'{key}: upgrade {schema[key]}, script '
                         f'{other.get(key)}')
    for table in sorted(counts):
        if counts[table] != other_counts.get(table):
            lines.append(f'{table}: {counts[table]} rows, script '
                         f'{other_counts.get(table)}')
    return lines


class Result:
    def __init__(self, nodes, grow, sql, upgraded, startup, peak,
                 differences, counts, rounds=1):
        self.nodes, self.grow, self.sql = nodes, grow, sql
        self.upgraded, self.startup, self.peak = upgraded, startup, peak
        self.differences, self.counts = differences, counts
        self.rounds = rounds

    @property
    def same(self):
        return not self.differences

    @property
    def ratio(self):
        return max(self.upgraded - self.startup, 0.0) / self.sql

    @property
    def within_targets(self):
        return self.ratio <= TARGET_RATIO and self.peak <= TARGET_MIB

    def __str__(self):
        rows = [
            ('nodes', f'{self.nodes:,}'),
            ('growing the 0.2 dump', f'{self.grow:.1f} s'),
            ('rounds (each way timed once a round, best kept)',
             f'{self.rounds}'),
            ('hand-written SQL', f'{self.sql:.2f} s'),
            ('haas-admin db upgrade --to-release 0.3',
             f'{self.upgraded:.2f} s'),
            ('  of which start-up (the dump as it is)',
             f'{self.startup:.2f} s'),
            ('ratio (upgrade - start-up) / SQL',
             f'{self.ratio:.2f} (target <= {TARGET_RATIO})'),
            ('peak memory of the upgrade',
             f'{self.peak:.0f} MiB (target <= {TARGET_MIB} MiB)'),
            ('end schemas and row counts', 'equal' if self.same
             else 'DIFFERENT'),
        ]
        width = max(len(name) for name, _ in rows)
        return '\n'.join(f'{name.ljust(width)}  {value}'
                         for name, value in rows)


def run(nodes, url=POSTGRES_URL, rounds=2):
    """Grow, then `rounds` times copy, upgrade both ways (in turn first),
    compare: a Result with the best time of each way."""
    server = Server(url)
    with open(DUMP, encoding='utf-8') as f:
        dump = f.read()
    try:
        with tempfile.TemporaryDirectory() as folder:
            plain = server.create()
            load_dump(server.uri(plain), dump)
            template = server.create(template=plain)
            start = time.monotonic()
            execute(server.uri(template), grow_sql(nodes))
            execute(server.uri(template), ['VACUUM ANALYZE'], autocommit=True)
            grow = time.monotonic() - start
            server.checkpoint()
            startup, _ = upgrade(server.uri(plain), folder)
            upgrades, sqls, peaks = [], [], []
            for round_ in range(rounds):
                ours, theirs = (server.create(template=template)
                                for _ in range(2))

                def time_upgrade():
                    server.checkpoint()
                    took, peak = upgrade(server.uri(ours), folder)
                    upgrades.append(took)
                    peaks.append(peak)

                def time_script():
                    server.checkpoint()
                    sqls.append(by_hand(server.uri(theirs)))
                for way in ((time_upgrade, time_script) if round_ % 2 == 0
                            else (time_script, time_upgrade)):
                    way()
                mine = contents(server.uri(ours))
                found = differences(mine, contents(server.uri(theirs)))
                server.drop(ours, theirs)
                if found:
                    break
            return Result(nodes, grow, min(sqls), min(upgrades), startup,
                          max(peaks), found, mine[1], rounds=len(sqls))
    finally:
        server.drop_all()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--nodes', type=int, default=1_000_000)
    parser.add_argument('--rounds', type=int, default=2)
    args = parser.parse_args()
    result = run(args.nodes, rounds=max(1, args.rounds))
    print(result)
    if not result.same:
        raise SystemExit('the upgrade and the script built different '
                         'databases:\n' + '\n'.join(result.differences))
    if not result.within_targets:
        raise SystemExit('outside the targets')


if __name__ == '__main__':
    main()
