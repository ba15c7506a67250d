"""Which HaaS releases run on a database: its clients, as PostgreSQL sees them.

Every process of this HaaS names its connections ``haas <version>``
(``application_name``, set in haas.app.engine_options); a release before
0.4 named none.  So a client of the database that names no HaaS release
may be a server of an earlier release, and `upgrade --phase contract`
counts it as one.  A connection is the heartbeat: it lasts exactly as long
as its process (a killed server's goes when PostgreSQL notices the peer
is gone, within the TCP keepalive settings), and an old release has it
too.  Its limits: a process with no connection open at the moment (a
server that has not served yet, with an empty pool) is not seen, and any
other client (psql, a report) counts as unknown, which `--force` passes.
"""

import dataclasses
import re

from haas.version import __version__

#: What this HaaS's processes call their connections.
PREFIX = 'haas '
#: What `haas-admin db` calls its connection while it holds or waits for
#: the schema lock (haas.migrations.lock), in every release since 0.3.
ADMIN_PREFIX = 'haas-lock|'

_RELEASE = re.compile(r'^(\d+)\.(\d+)')


def application_name(version=__version__):
    return f'{PREFIX}{version}'


def release_of(version):
    """'0.4' of '0.4.0.dev0'; None if `version` is not one."""
    match = _RELEASE.match(version or '')
    return f'{match.group(1)}.{match.group(2)}' if match else None


#: This HaaS's release.
RELEASE = release_of(__version__)


@dataclasses.dataclass
class Client:
    """A connection to the database, from another process."""

    pid: int
    application_name: str
    address: str | None
    since: str
    #: the HaaS release it names, or None if it names none
    release: str | None

    @property
    def described(self):
        where = self.address or 'local socket'
        if self.release is None:
            named = (f' (application_name {self.application_name!r})'
                     if self.application_name else '')
            return (f'pid {self.pid} from {where}{named}, which names no '
                    f'HaaS release: a server of a release before 0.4, or '
                    f'another client')
        return f'pid {self.pid} from {where}: HaaS {self.release}'

    def as_dict(self):
        return dataclasses.asdict(self)


def clients(connection):
    """The other client connections to this database, oldest first; None
    where the database cannot tell (SQLite)."""
    if connection.dialect.name != 'postgresql':
        return None
    rows = connection.exec_driver_sql(
        "SELECT pid, application_name, host(client_addr), "
        "to_char(backend_start AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
        "FROM pg_stat_activity WHERE datname = current_database() "
        "AND backend_type = 'client backend' AND pid <> pg_backend_pid() "
        "ORDER BY backend_start, pid").all()
    found = []
    for pid, name, address, since in rows:
        name = name or ''
        if name.startswith(ADMIN_PREFIX):
            continue  # another `haas-admin db` command: not a server
        release = release_of(name[len(PREFIX):]) \
            if name.startswith(PREFIX) else None
        found.append(Client(pid, name, address, since, release))
    return found


def older(found, release=RELEASE):
    """The clients of `found` that may be servers of a release before
    `release`: those naming an older one, or none."""
    def key(name):
        return tuple(int(part) for part in name.split('.'))
    return [c for c in found or ()
            if c.release is None or key(c.release) < key(release)]


def summary(found):
    """`db status`'s line about the clients."""
    if found is None:
        return 'unknown (SQLite cannot tell who else uses the database)'
    if not found:
        return 'none connected'
    counts = {}
    for c in found:
        name = f'HaaS {c.release}' if c.release else 'unnamed (before 0.4?)'
        counts[name] = counts.get(name, 0) + 1
    return ', '.join(f'{n} connection{"s" if n > 1 else ""} of {name}'
                     for name, n in sorted(counts.items()))
