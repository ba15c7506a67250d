"""A switch without hardware, for development and tests.

It keeps what each port carries in a folder per switch, in
`[haas.ext.switches.mock] state_dir` (by default `haas-mock-switches` in
the system's temporary directory): a JSON file per port, and a journal of
the actions applied.  The networking daemon that applies actions and a
test or an operator looking from outside see the same state.  Setting
what a port carries is idempotent, so an action applied again after a
daemon died before recording it changes nothing but the journal.
"""

import contextlib
import fcntl
import json
import os
import tempfile
import urllib.parse

from haas import migrations
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
    password = db.Column(db.String, nullable=False)

    def session(self):
        return MockSession(self)

    def get_capabilities(self):
        return ['nativeless-trunk-mode']


def state_dir(config):
    return config.get(__name__, 'state_dir') or os.path.join(
        tempfile.gettempdir(), 'haas-mock-switches')


def _quoted(label):
    # A label may hold anything but a slash, `..` included.
    return urllib.parse.quote(label, safe='')


def switch_dir(config, label):
    """The folder of switch `label`: a JSON file per port that carries
    something ({channel: network_id}) and `journal.jsonl`, one line per
    action applied ([action id, port, channel, network_id or null]; a
    revert of every channel is [null, port, null, null])."""
    return os.path.join(state_dir(config), _quoted(label))


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
            if name.endswith('.port.json'):
                with open(os.path.join(folder, name)) as f:
                    ports[urllib.parse.unquote(name[:-len('.port.json')])] = \
                        json.load(f)
    return {'ports': ports, 'applied': applied}


class MockSession:
    def __init__(self, switch):
        from flask import current_app
        self.folder = switch_dir(current_app.extensions['haas'].config,
                                 switch.label)

    def apply_networking(self, action):
        # The journal's lock is the switch's: one change at a time.
        with _locked(os.path.join(self.folder, 'journal.jsonl')) as journal:
            label = action.nic.port.label
            path = os.path.join(self.folder, _quoted(label) + '.port.json')
            carried = {}
            if os.path.exists(path):
                with open(path) as f:
                    carried = json.load(f)
            network_id = None
            if action.new_network is None:
                carried.pop(action.channel, None)
            else:
                network_id = action.new_network.network_id
                carried[action.channel] = network_id
            if carried:
                with open(path + '.new', 'w') as f:
                    json.dump(carried, f, sort_keys=True)
                os.replace(path + '.new', path)
            elif os.path.exists(path):
                os.remove(path)
            journal.write(json.dumps([action.id, label, action.channel,
                                      network_id]) + '\n')
            journal.flush()

    def revert_port(self, label):
        """Take port `label` off every network."""
        with _locked(os.path.join(self.folder, 'journal.jsonl')) as journal:
            path = os.path.join(self.folder, _quoted(label) + '.port.json')
            if os.path.exists(path):
                os.remove(path)
            journal.write(json.dumps([None, label, None, None]) + '\n')
            journal.flush()

    def disconnect(self):
        pass
