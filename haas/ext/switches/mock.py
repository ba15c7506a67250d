"""A switch without hardware, for development and tests.

It keeps what each port carries in a folder per switch, in
`[haas.ext.switches.mock] state_dir` (see `state_dir` for its default, a
folder per database): a JSON file per port, and a journal of the actions
applied.  The networking daemon that applies actions and a test or an
operator looking from outside (`python -m haas.ext.switches.mock_state`)
see the same state.  Setting what a port carries is idempotent, so an
action applied again after a daemon died before recording it changes
nothing but the journal.  Every label, whatever it holds, names a file
inside state_dir (see `file_name`): none needs a limit.

`[haas.ext.switches.mock] latency` makes each login and each change take
that many seconds, as a real switch's do, and, once set (0 too), every
session is logged (`read_sessions`): what the daemon's parallelism and
its one login per batch are tested and benchmarked with, without
hardware.
"""

import contextlib
import errno
import fcntl
import hashlib
import itertools
import json
import os
import tempfile
import time
import urllib.parse

from haas import migrations
from haas.crypto import Encrypted
from haas.errors import SwitchError, SwitchUnavailableError
from haas.model import Switch, db
from haas.rest import Body, Name, Secret

migrations.paths[__name__] = os.path.join(
    os.path.dirname(__file__), 'migrations', 'mock')


class MockSwitch(Switch):
    api_name = 'http://schema.massopencloud.org/haas/v0/switches/mock'
    __tablename__ = 'mock_switch'
    __mapper_args__ = {'polymorphic_identity': api_name}

    class Fields(Body):
        hostname: Name
        username: Name
        password: Secret

    id = db.Column(db.ForeignKey('switch.id'), primary_key=True)
    hostname = db.Column(db.String, nullable=False)
    username = db.Column(db.String, nullable=False)
    # A Fernet token in the database (haas.crypto); text here.
    password = db.Column(Encrypted, nullable=False)

    def session(self):
        return MockSession(self)

    def get_capabilities(self):
        return ['nativeless-trunk-mode']


def state_dir(config):
    """`[haas.ext.switches.mock] state_dir`, else a folder of the
    database's own, so that two databases on one machine (tests, two
    installations) never share a switch's files: `<file>.mock-switches`
    beside a SQLite database file; otherwise, as for PostgreSQL or an
    in-memory SQLite, `haas-mock-switches-<digest>` in the system's
    temporary directory, the digest the SHA-256 of the database URI
    without its password (the same for every process that uses that
    database, and no secret in a folder name)."""
    configured = config.get(__name__, 'state_dir')
    if configured:
        return configured
    import sqlalchemy as sa
    url = sa.engine.make_url(config.database_uri)
    database = url.database or ''
    if url.get_backend_name() == 'sqlite' and database != ':memory:' \
            and database and not database.startswith('file:'):
        return os.path.abspath(database) + '.mock-switches'
    # (URL.set keeps a password given None; URL is a named tuple.)
    digest = hashlib.sha256(url._replace(password=None).render_as_string(
        hide_password=False).encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f'haas-mock-switches-{digest}')


#: What a port's file name ends with, and its copy's while it is written.
PORT_SUFFIX, NEW_SUFFIX = '.port.json', '.new'
#: The longest file name the mock writes, suffixes included: under the 255
#: bytes of most file systems, and the 143 of eCryptfs.
LONGEST_NAME = 140


def file_name(label):
    """A file name for `label` that stays in its folder, whatever the label
    holds: its percent-encoding, dots included (so never `.` or `..`, and
    never a slash or a NUL), when that fits in LONGEST_NAME with the
    suffixes; else, as for a 250-character port label or a switch label of
    100 `é`, and for the empty label, `+` and the SHA-256 of the label
    (`+` is never in an encoding, so the two forms never meet).  A file
    records its real label: names are only looked up, never decoded."""
    quoted = urllib.parse.quote(label, safe='', errors='surrogatepass') \
        .replace('.', '%2E')
    if quoted and len(quoted) + len(PORT_SUFFIX + NEW_SUFFIX) <= LONGEST_NAME:
        return quoted
    return '+' + hashlib.sha256(
        label.encode('utf-8', 'surrogatepass')).hexdigest()


def _inside(root, *names):
    """`root`/`names`, refused (SwitchError) unless it resolves inside
    `root`: a switch folder made a symbolic link to elsewhere."""
    path = os.path.join(root, *names)
    real_root = os.path.realpath(root)
    if os.path.commonpath([os.path.realpath(path), real_root]) != real_root:
        raise SwitchError(f'{path} leads outside the mock switches\' folder '
                          f'{root}: refused')
    return path


def switch_dir(config, label):
    """The folder of switch `label`: a JSON file per port that carries
    something ({"port": label, "channels": {channel: network_id}}) and
    `journal.jsonl`, one line per action applied ([action id, port,
    channel, network_id or null]; a revert of every channel is [null,
    port, null, null])."""
    return _inside(state_dir(config), file_name(label))


@contextlib.contextmanager
def _locked(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'a+') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield f


def read_state(config, label):
    """Switch `label`'s state: {'ports': {port: {channel: network_id}},
    'applied': [[action id, port, channel, network_id or None], ...]}."""
    folder = switch_dir(config, label)
    if not os.path.isdir(folder):
        return {'ports': {}, 'applied': []}
    with _locked(os.path.join(folder, 'journal.jsonl')) as journal:
        journal.seek(0)
        applied = [json.loads(line) for line in journal if line.strip()]
        ports = {}
        for name in os.listdir(folder):
            if name.endswith(PORT_SUFFIX):
                with open(os.path.join(folder, name)) as f:
                    carried = json.load(f)
                ports[carried['port']] = carried['channels']
    return {'ports': ports, 'applied': applied}


#: What the file system answers for a name it can never hold: no retry
#: helps.  Anything else (a full disk, a read-only or missing state_dir,
#: permissions) an operator can fix, as one would bring a switch back.
_NAME_ERRORS = {errno.ENAMETOOLONG, errno.EILSEQ, errno.EINVAL}


@contextlib.contextmanager
def _driver_errors(port):
    """The file system's errors as a driver's (haas.drivers)."""
    try:
        yield
    except OSError as e:
        reason = f'the mock switch cannot keep port {port}: {e.strerror}'
        if e.errno in _NAME_ERRORS:
            raise SwitchError(reason) from e
        raise SwitchUnavailableError(reason) from e


def read_sessions(config, label):
    """Switch `label`'s session log, in the order written: a line per
    event, [session, event, started, ended], where session names one
    session (its process and number), event is `login`, `change` or
    `logout`, and the times are the wall clock's (time.time())."""
    path = os.path.join(switch_dir(config, label), 'sessions.jsonl')
    if not os.path.exists(path):
        return []
    with _locked(path) as log:
        log.seek(0)
        return [json.loads(line) for line in log if line.strip()]


#: Numbers the sessions a process opens.
_sessions = itertools.count(1)


class MockSession:
    def __init__(self, switch):
        from flask import current_app
        config = current_app.extensions['haas'].config
        self.folder = switch_dir(config, switch.label)
        self.latency = config.seconds(__name__, 'latency', None)
        self.name = f'{os.getpid()}-{next(_sessions)}'
        with _driver_errors(switch.label):
            self._logged('login', self._wait())

    def _wait(self):
        """Take the switch's time for a command; when it started."""
        started = time.time()
        if self.latency:
            time.sleep(self.latency)
        return started

    def _logged(self, event, started):
        if self.latency is None:
            return
        with _locked(os.path.join(self.folder, 'sessions.jsonl')) as log:
            log.write(json.dumps([self.name, event, started, time.time()])
                      + '\n')
            log.flush()

    def _port_file(self, label):
        return _inside(self.folder, file_name(label) + PORT_SUFFIX)

    def apply_networking(self, action):
        label = action.nic.port.label
        path = self._port_file(label)
        # The journal's lock is the switch's: one change at a time.
        with _driver_errors(label), \
                _locked(os.path.join(self.folder, 'journal.jsonl')) as journal:
            carried = {}
            if os.path.exists(path):
                with open(path) as f:
                    carried = json.load(f)['channels']
            network_id = None
            if action.new_network is None:
                carried.pop(action.channel, None)
            else:
                network_id = action.new_network.network_id
                carried[action.channel] = network_id
            started = self._wait()
            if carried:
                with open(path + NEW_SUFFIX, 'w') as f:
                    json.dump({'port': label, 'channels': carried}, f,
                              sort_keys=True)
                os.replace(path + NEW_SUFFIX, path)
            elif os.path.exists(path):
                os.remove(path)
            journal.write(json.dumps([action.id, label, action.channel,
                                      network_id]) + '\n')
            journal.flush()
            self._logged('change', started)

    def revert_port(self, label):
        """Take port `label` off every network."""
        path = self._port_file(label)
        with _driver_errors(label), \
                _locked(os.path.join(self.folder, 'journal.jsonl')) as journal:
            started = self._wait()
            if os.path.exists(path):
                os.remove(path)
            journal.write(json.dumps([None, label, None, None]) + '\n')
            journal.flush()
            self._logged('change', started)

    def port_networks(self, label):
        """What port `label` carries: {channel: network_id}."""
        path = self._port_file(label)
        with _driver_errors(label):
            if not os.path.exists(path):
                return {}
            with open(path) as f:
                return json.load(f)['channels']

    def disconnect(self):
        with _driver_errors(self.folder):
            self._logged('logout', time.time())
