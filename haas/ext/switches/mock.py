"""A switch without hardware, for development and tests.

It keeps what each port carries in a JSON file per switch, in
`[haas.ext.switches.mock] state_dir` (by default `haas-mock-switches` in
the system's temporary directory), so that the networking daemon that
applies actions and a test or an operator looking from outside see the
same state.  The file also keeps a journal of the actions applied:
setting what a port carries is idempotent, so an action applied again
after a daemon died before recording it changes nothing but the journal.
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


def state_dir(config):
    return config.get(__name__, 'state_dir') or os.path.join(
        tempfile.gettempdir(), 'haas-mock-switches')


def state_path(config, label):
    """The state file of switch `label` (its name quoted: a label may hold
    anything but a slash, `..` included)."""
    return os.path.join(state_dir(config),
                        urllib.parse.quote(label, safe='') + '.json')


@contextlib.contextmanager
def _state(path):
    """The switch's state, locked against other processes, saved after."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'a+') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        text = f.read()
        state = json.loads(text) if text else {'ports': {}, 'applied': []}
        yield state
        f.seek(0)
        f.truncate()
        json.dump(state, f, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())


def read_state(config, label):
    """Switch `label`'s state: {'ports': {port: {channel: network_id}},
    'applied': [[action id, port, channel, network_id or None], ...]}."""
    path = state_path(config, label)
    if not os.path.exists(path):
        return {'ports': {}, 'applied': []}
    with _state(path) as state:
        return state


class MockSession:
    def __init__(self, switch):
        from flask import current_app
        self.path = state_path(current_app.extensions['haas'].config,
                               switch.label)

    def apply_networking(self, action):
        with _state(self.path) as state:
            label = action.nic.port.label
            port = state['ports'].setdefault(label, {})
            network_id = None
            if action.new_network is None:
                port.pop(action.channel, None)
                if not port:
                    del state['ports'][label]
            else:
                network_id = action.new_network.network_id
                port[action.channel] = network_id
            state['applied'].append([action.id, label, action.channel,
                                     network_id])

    def disconnect(self):
        pass
