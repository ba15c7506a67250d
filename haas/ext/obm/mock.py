"""An OBM that does nothing: development and tests.

Its console is a line of text kept with the OBM's row in memory of no one:
`get_console` says what a real console log would look like while logging.
"""

import logging
import os

from haas import migrations
from haas.crypto import Encrypted
from haas.drivers import no_dry_run
from haas.model import Obm, db
from haas.rest import Body, Name, Secret

log = logging.getLogger(__name__)

migrations.paths[__name__] = os.path.join(
    os.path.dirname(__file__), 'migrations', 'mock')


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

    @no_dry_run
    def power_cycle(self):
        log.info('mock OBM %s: power cycle', self.host)

    @no_dry_run
    def power_off(self):
        log.info('mock OBM %s: power off', self.host)

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
