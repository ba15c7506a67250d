"""An OBM that drives no hardware: development and tests.

It keeps what a BMC would, per OBM host, in `STATE` (this process's
memory): the power, the boot device asked for and the power operations
done, so that tests can observe them; and it logs each operation.  Its
console is a line of text that says what a real console log would look
like while logging.
"""

import logging
import os
import typing

from haas import migrations
from haas.crypto import Encrypted
from haas.drivers import no_dry_run
from haas.model import Obm, db
from haas.rest import Body, Name, Secret

log = logging.getLogger(__name__)

migrations.paths[__name__] = os.path.join(
    os.path.dirname(__file__), 'migrations', 'mock')

#: host -> {'power': 'On'|'Off', 'bootdev': 'pxe'|'disk'|'none',
#: 'done': [operation, ...]}: what the mock BMCs of this process hold.
STATE: dict[str, dict[str, typing.Any]] = {}


def state(host: str) -> dict[str, typing.Any]:
    """The mock BMC `host`, as a new one is: off, no boot device."""
    return STATE.setdefault(host, {'power': 'Off', 'bootdev': 'none',
                                   'done': []})


class MockObm(Obm):
    api_name = 'http://schema.massopencloud.org/haas/v0/obm/mock'
    __tablename__ = 'mock_obm'
    __mapper_args__ = {'polymorphic_identity': api_name}

    class Fields(Body):
        host: Name
        user: Name
        password: Secret

    id = db.Column(db.ForeignKey('obm.id'), primary_key=True)
    host = db.Column(db.String, nullable=False)
    user = db.Column(db.String, nullable=False)
    # A Fernet token in the database (haas.crypto); text here.
    password = db.Column(Encrypted, nullable=False)

    def _do(self, operation: str, power: str | None = None) -> None:
        log.info('mock OBM %s: %s', self.host, operation)
        found = state(self.host)
        found['done'].append(operation)
        if power is not None:
            found['power'] = power

    @no_dry_run
    def power_on(self):
        self._do('power on', 'On')

    @no_dry_run
    def power_cycle(self, force=False):
        self._do('hard reset' if force else 'power cycle', 'On')

    @no_dry_run
    def power_off(self):
        self._do('power off', 'Off')

    @no_dry_run
    def power_status(self):
        return state(self.host)['power']

    @no_dry_run
    def set_bootdev(self, bootdev):
        self._do(f'boot device {bootdev}')
        state(self.host)['bootdev'] = bootdev

    @no_dry_run
    def start_console(self):
        log.info('mock OBM %s: console logging started', self.host)

    @no_dry_run
    def stop_console(self):
        log.info('mock OBM %s: console logging stopped', self.host)

    @no_dry_run
    def delete_console(self):
        log.info('mock OBM %s: console log deleted', self.host)

    @no_dry_run
    def get_console(self):
        return f'Console of mock OBM {self.host}\n'
