"""OBM driver for IPMI BMCs, through ipmitool.

The password reaches ipmitool through its environment (`-E`), never its
command line, which every user of the machine can read.
"""

import logging
import os
import subprocess

from haas import migrations
from haas.crypto import Encrypted
from haas.drivers import no_dry_run
from haas.errors import OBMError
from haas.model import Obm, db
from haas.rest import Body, Name, Secret

log = logging.getLogger(__name__)

migrations.paths[__name__] = os.path.join(
    os.path.dirname(__file__), 'migrations', 'ipmi')


class Ipmi(Obm):
    api_name = 'http://schema.massopencloud.org/haas/v0/obm/ipmi'
    __tablename__ = 'ipmi'
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

    def _ipmitool(self, *args):
        command = ['ipmitool', '-I', 'lanplus', '-U', self.user, '-E',
                   '-H', self.host, *args]
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=60,
                env={**os.environ, 'IPMI_PASSWORD': self.password})
        except (OSError, subprocess.TimeoutExpired) as e:
            raise OBMError(f'ipmitool for {self.host} failed: {e}') from None
        return result

    def _must(self, *args):
        result = self._ipmitool(*args)
        if result.returncode != 0:
            raise OBMError(f'ipmitool {" ".join(args)} for {self.host} '
                           f'failed: {result.stderr.strip()}')

    @no_dry_run
    def power_cycle(self):
        self._must('chassis', 'bootdev', 'pxe')
        if self._ipmitool('chassis', 'power', 'cycle').returncode != 0:
            # A node that is off cannot be cycled: switch it on instead.
            self._must('chassis', 'power', 'on')

    @no_dry_run
    def power_off(self):
        self._must('chassis', 'power', 'off')

    @no_dry_run
    def start_console(self):
        raise OBMError('IPMI console logging is not available yet')

    @no_dry_run
    def stop_console(self):
        pass  # nothing was started

    @no_dry_run
    def delete_console(self):
        pass

    @no_dry_run
    def get_console(self):
        return None
