"""Driver for Dell PowerConnect 55xx switches (5524, 5548), over SSH or
telnet.

`hostname` is the switch's address, with its port if not the protocol's
(``10.0.0.5:2222``; 22 for SSH, 23 for telnet).  `protocol` is ``ssh``
(the default) or ``telnet``, which sends the password in clear: for
devices or sites without SSH.  The driver logs in as the device asks
(SSH's password, then its own User Name and Password prompts; over
telnet, those prompts only), configures ports as trunks, and follows the
operators' order (haas.ext.switches.cli.session): native VLAN first on
and last off, a port carrying nothing shut down or parked on
`[haas.ext.switches.dell] parking_vlan`, never left on VLAN 1.  With
`save`, each change is copied to the startup configuration.
"""

from __future__ import annotations

import os
import re
import typing

from haas import migrations
from haas.crypto import Encrypted
from haas.errors import SwitchError
from haas.ext.switches.cli import options
from haas.ext.switches.cli.session import PortState, VlanSession, vlans
from haas.model import Switch, db
from haas.rest import Body, Name, Secret

migrations.paths[__name__] = os.path.join(
    os.path.dirname(__file__), 'migrations', 'dell')

#: Interface types by the short name the device writes, and the long
#: name its CLI also takes (any abbreviation of it, two letters or more).
TYPES = {'gi': 'gigabitethernet', 'te': 'tengigabitethernet'}
#: The ports of each unit of a stack (1-8): gi<unit>/0/<1-48> and
#: te<unit>/0/<1-4>.
PORTS = {'gi': 48, 'te': 4}
PORT_NAME = re.compile(r'([a-z]+)([1-8])/0/([1-9][0-9]?)', re.IGNORECASE)


class PowerConnect55xx(Switch):
    api_name = 'http://schema.massopencloud.org/haas/v0/switches/powerconnect55xx'
    __tablename__ = 'power_connect55xx'
    __mapper_args__ = {'polymorphic_identity': api_name}

    class Fields(Body):
        hostname: Name
        username: Name
        password: Secret
        #: Copy the running configuration to the startup one after each
        #: change, so that it survives a reboot.
        save: bool = False
        #: How the driver reaches the switch's command line: SSH, or
        #: telnet, which sends the password in clear.
        protocol: typing.Literal['ssh', 'telnet'] = 'ssh'

    id = db.Column(db.ForeignKey('switch.id'), primary_key=True)
    hostname = db.Column(db.String, nullable=False)
    username = db.Column(db.String, nullable=False)
    # A Fernet token in the database (haas.crypto); text here.
    password = db.Column(Encrypted, nullable=False)
    save = db.Column(db.Boolean, nullable=False, default=False,
                     server_default=db.false())
    protocol = db.Column(db.String, nullable=False, default='ssh',
                         server_default='ssh')

    def session(self) -> PowerConnectSession:
        console = options.terminal(self, __name__, self.protocol)
        session = PowerConnectSession(
            console, options.parking_vlan(__name__, 4094), bool(self.save))
        session.open()
        return session

    @classmethod
    def validate_port_name(cls, label: str) -> None:
        match = PORT_NAME.fullmatch(label)
        kinds = [] if match is None else [
            short for short, long in TYPES.items()
            if len(match[1]) >= 2 and long.startswith(match[1].lower())]
        if not kinds or not 1 <= int(match[3]) <= PORTS[kinds[0]]:
            raise ValueError(
                f'{label!r} is not a port of a PowerConnect 55xx: its ports '
                f'are gi<unit>/0/<1-48> and te<unit>/0/<1-4>, units 1-8')

    def shown(self) -> dict[str, str]:
        return {'protocol': self.protocol}

    def get_capabilities(self) -> list[str]:
        # A trunk may carry tagged VLANs without a native one (VLAN 1 is
        # taken off it).
        return ['nativeless-trunk-mode']


#: A line of `show interfaces switchport`'s membership table.
MEMBER = re.compile(r'^\s*(\d+)\s+\S+\s+(Tagged|Untagged)\b', re.MULTILINE)
MODE = re.compile(r'^Port Mode:\s*(\w+)', re.MULTILINE)
#: A row of `show vlan`: the VLAN number first.
VLAN_ROW = re.compile(r'^\s*(\d+)\s', re.MULTILINE)


class PowerConnectSession(VlanSession):
    """A PowerConnect's CLI: prompts `console>`, `console#`,
    `console(config-if)#`, errors on lines starting with `%`."""

    login = re.compile(r'User Name:\s*$|[>#] ?$')
    password_prompt = re.compile(r'Password:\s*$')
    refused = re.compile(r'User Name:\s*$|Authentication failed')
    confirm = re.compile(r'\(Y/N\)\[N\] \?\s*$')

    def open(self) -> None:
        console = self.console
        console.connect()
        try:
            _, found = console.expect(self.login)
            if found.group().startswith('User Name'):
                console.send(console.username + '\n')
                console.expect(self.password_prompt)
                console.send(console.password + '\n')
                after = re.compile(f'{self.refused.pattern}|'
                                   f'{self.prompt.pattern}')
                _, found = console.expect(after)
                if self.refused.match(found.group().strip()):
                    raise SwitchError(f'{console.where()} refused the login '
                                      f'of {console.username!r}')
            if found.group().rstrip().endswith('>'):
                self.run('enable')
            self.run('terminal datadump')
        except BaseException:
            console.close()
            raise

    def read_port(self, label: str) -> PortState:
        shown = self.run(f'show interfaces switchport {label}')
        mode = MODE.search(shown)
        if mode is None:
            raise SwitchError(f'{self.console.where()} did not say the mode '
                              f'of port {label}: {shown[:200]!r}')
        native, tagged = None, set()
        for number, rule in MEMBER.findall(shown):
            if rule == 'Untagged':
                native = int(number)
            else:
                tagged.add(int(number))
        return PortState(mode[1].lower() == 'trunk', native,
                         frozenset(tagged))

    def read_vlans(self) -> set[int]:
        return {int(n) for n in VLAN_ROW.findall(self.run('show vlan'))}

    def create_vlans(self, numbers: set[int]) -> None:
        for line in ('configure', 'vlan database', f'vlan {vlans(numbers)}',
                     'end'):
            self.run(line)

    def save_config(self) -> None:
        self.console.sent.append('copy running-config startup-config')
        self.console.send('copy running-config startup-config\n')
        self.console.expect(self.confirm)
        self.console.send('y')
        output, _ = self.console.expect(self.prompt)
        for line in output.splitlines():
            if self.error.search(line):
                raise SwitchError(f'{self.console.where()} did not save '
                                  f'its configuration: {line.strip()}')
