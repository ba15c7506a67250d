"""Driver for Dell S3048-ON switches running Dell Networking OS 9, over its
REST API.

A port is registered by its number without the type (`1/5`; `1/49/1` for
a breakout), and the switch's `interface_type` (GigabitEthernet,
TenGigabitEthernet...) says which kind its ports are.  OS9 is
VLAN-centric: a port's VLANs are set with the REST CLI (`interface vlan
N`, `tagged`/`untagged PORT`) and read with `show interfaces switchport`;
the port itself (hybrid, switchport, shutdown) is a REST resource.  A
hybrid port is always untagged in some VLAN, VLAN 1 by default, so a port
must get its native network before tagged ones and lose it last (no
'nativeless-trunk-mode'), and one that carries nothing is shut down or,
with `[haas.ext.switches.dellnos9] parking_vlan`, untagged in that VLAN.
With `save`, the configuration is written after each change.
"""

from __future__ import annotations

import os
import re
import typing
from xml.sax.saxutils import escape

from haas import migrations
from haas.crypto import Encrypted
from haas.ext.switches import xmlrest
from haas.model import Switch, db
from haas.rest import Body, Name, Secret

migrations.paths[__name__] = os.path.join(
    os.path.dirname(__file__), 'migrations', 'dellnos9')

#: The CLI's interface types -> the REST API's prefixes of their names.
API_TYPES = {'GigabitEthernet': 'gige', 'TenGigabitEthernet': 'tengig',
             'TwentyfiveGigabitEthernet': 'twentyfivegig',
             'fortyGigE': 'fortygig', 'FiftyGigabitEthernet': 'fiftygig',
             'HundredGigabitEthernet': 'hundredgig'}
_PORT = re.compile(r'\d+/\d+(/\d+)?')
_CLI = '/api/running/dell/_operations/cli'
DEFAULT_VLAN = 1
#: Lines per config-commands request: the REST CLI takes at most 1000
#: characters.
BATCH = 12


class DellNOS9(Switch):
    api_name = 'http://schema.massopencloud.org/haas/v0/switches/dellnos9'
    __tablename__ = 'dell_nos9'
    __mapper_args__ = {'polymorphic_identity': api_name}

    class Fields(Body):
        hostname: xmlrest.Hostname
        username: Name
        password: Secret
        interface_type: xmlrest.interface_type(API_TYPES)
        save: xmlrest.Flag = False

    id = db.Column(db.ForeignKey('switch.id'), primary_key=True)
    hostname = db.Column(db.String, nullable=False)
    username = db.Column(db.String, nullable=False)
    # A Fernet token in the database (haas.crypto); text here.
    password = db.Column(Encrypted, nullable=False)
    interface_type = db.Column(db.String, nullable=False)
    save = db.Column(db.Boolean, nullable=False, default=False)

    def session(self):
        return DellNOS9Session(self, xmlrest.options(__name__))

    @classmethod
    def validate_port_name(cls, label):
        if not _PORT.fullmatch(label):
            raise ValueError('a Dell OS9 port is UNIT/PORT, as 1/5 '
                             '(1/49/1 for a breakout)')


class DellNOS9Session:
    def __init__(self, switch: DellNOS9, opts: xmlrest.Options):
        self.switch, self.parking = switch, opts.parking_vlan
        self.client = xmlrest.Client(switch.label, switch.hostname,
                                     switch.username, switch.password, opts)

    def _cli(self, kind: str, lines: list[str]) -> str:
        """What the REST CLI printed for `lines` of a `kind` command."""
        # Lines are separated by CR LF, as the manual's examples do.
        command = '\r\n'.join(escape(line) for line in lines)
        _, text = self.client.request(
            'POST', _CLI, f'<input><{kind}>{command}</{kind}></input>')
        return xmlrest.find(xmlrest.xml(text), 'command') or ''

    def _port(self, label: str) -> str:
        return f'{self.switch.interface_type} {label}'

    def _url(self, label: str) -> str:
        prefix = API_TYPES[self.switch.interface_type]
        return ('/api/running/dell/interfaces/interface/'
                f'{prefix}-{label.replace("/", "-")}')

    def _state(self, label: str) -> dict[str, typing.Any]:
        """The port (on: a hybrid switchport not shut down) and its VLANs:
        the untagged one (1 by default) and the tagged ones."""
        _, text = self.client.request('GET', self._url(label) +
                                      '?with-defaults')
        root = xmlrest.xml(text)
        state = {'on': xmlrest.find(root, 'shutdown') == 'false'
                 and xmlrest.find(root, 'switchport') is not None
                 and xmlrest.find(root, 'portmode/hybrid') == 'true',
                 'shutdown': xmlrest.find(root, 'shutdown') != 'false',
                 'native': None, 'tagged': []}
        shown = self._cli('show-command',
                          [f'interfaces switchport {self._port(label)}'])
        untagged = re.search(r'^U\s+(\d+)\s*$', shown, re.MULTILINE)
        tagged = re.search(r'^T\s+([\d,\- ]+?)\s*$', shown, re.MULTILINE)
        state['native'] = int(untagged[1]) if untagged else None
        state['tagged'] = xmlrest.vlans(tagged[1]) if tagged else []
        return state

    def _put(self, label: str, on: bool) -> None:
        name = self._url(label).rpartition('/')[2]
        if on:
            body = ('<portmode><hybrid>true</hybrid></portmode>'
                    '<switchport></switchport><shutdown>false</shutdown>')
        else:
            body = ('<portmode><hybrid>false</hybrid></portmode>'
                    '<shutdown>true</shutdown>')
        self.client.request('PUT', self._url(label),
                            f'<interface><name>{name}</name>{body}'
                            f'</interface>')

    def _member(self, label: str, vlan: int | str, how: str) -> str:
        return f'interface vlan {vlan}\r\n {how} {self._port(label)}'

    def _configure(self, lines: list[str]) -> None:
        for start in range(0, len(lines), BATCH):
            self._cli('config-commands', lines[start:start + BATCH])

    def _settle(self, label: str) -> None:
        """Leave a port without a native network off VLAN 1: untagged in
        the parking VLAN, or, carrying nothing, shut down."""
        state = self._state(label)
        if state['native'] not in (None, DEFAULT_VLAN):
            return
        if self.parking is not None:
            if not state['on']:
                self._put(label, True)
            self._configure([self._member(label, self.parking, 'untagged')])
        elif not state['tagged'] and not state['shutdown']:
            self._put(label, False)

    def apply_networking(self, action) -> None:
        label = action.nic.port.label
        vlan = xmlrest.vlan_of(action.channel)
        state = self._state(label)
        native = state['native'] not in (None, DEFAULT_VLAN, self.parking)
        if action.new_network is not None:
            network_vlan = action.new_network.network_id
            if not state['on']:
                self._put(label, True)
            if vlan is None:
                lines = []
                parked = self.parking is not None \
                    and state['native'] == self.parking
                if parked:
                    lines.append(self._member(label, self.parking,
                                              'no untagged'))
                if state['native'] != int(network_vlan):
                    lines.append(self._member(label, network_vlan,
                                              'untagged'))
                self._configure(lines)
            elif int(vlan) not in state['tagged']:
                self._configure([self._member(label, vlan, 'tagged')])
        elif vlan is None:
            if native:
                self._configure([self._member(label, state['native'],
                                              'no untagged')])
            self._settle(label)
        else:
            if int(vlan) in state['tagged']:
                self._configure([self._member(label, vlan, 'no tagged')])
            self._settle(label)
        self._save()

    def revert_port(self, label: str) -> None:
        state = self._state(label)
        # Tagged networks first, the native one last.
        lines = [self._member(label, v, 'no tagged')
                 for v in state['tagged']]
        if state['native'] not in (None, DEFAULT_VLAN, self.parking):
            lines.append(self._member(label, state['native'],
                                      'no untagged'))
        self._configure(lines)
        self._settle(label)
        self._save()

    def port_networks(self, label: str) -> dict[str, str]:
        state = self._state(label)
        carried = {f'vlan/{v}': str(v) for v in state['tagged']}
        if state['native'] not in (None, DEFAULT_VLAN, self.parking):
            carried['vlan/native'] = str(state['native'])
        return carried

    def _save(self) -> None:
        if self.switch.save:
            self._cli('exec-command', ['write'])

    def disconnect(self) -> None:
        self.client.close()
