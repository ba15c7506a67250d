"""Driver for Brocade VDX switches running Network OS, over its XML REST API.

A port is registered by its name without the type (`1/0/5`: rbridge,
slot, port; `1/0/49:1` for a breakout), and the switch's
`interface_type` (TenGigabitEthernet...) says which kind its ports are.
Each port HaaS drives is a trunk: its native network is the trunk's
`native-vlan`, its tagged networks the trunk's allowed VLANs.  A port
with tagged networks and no native one tags its native VLAN too, so that
untagged frames are dropped rather than put on VLAN 1 (the
'nativeless-trunk-mode' capability), or, with `[haas.ext.switches.brocade]
parking_vlan`, is native on that VLAN; a port that carries nothing is shut
down, or parked.  With `save`, the running configuration is copied to the
startup configuration after each change.
"""

from __future__ import annotations

import os
import re
import time
import typing

from haas import migrations
from haas.crypto import Encrypted
from haas.ext.switches import xmlrest
from haas.model import Switch, db
from haas.rest import Body, Name, Secret

migrations.paths[__name__] = os.path.join(
    os.path.dirname(__file__), 'migrations', 'brocade')

INTERFACE_TYPES = ['GigabitEthernet', 'TenGigabitEthernet',
                   'FortyGigabitEthernet', 'HundredGigabitEthernet']
_PORT = re.compile(r'\d+/\d+/\d+(:\d+)?')
_ROOT = '/rest/config/running/interface'


class Brocade(Switch):
    api_name = 'http://schema.massopencloud.org/haas/v0/switches/brocade'
    __tablename__ = 'brocade'
    __mapper_args__ = {'polymorphic_identity': api_name}

    class Fields(Body):
        hostname: xmlrest.Hostname
        username: Name
        password: Secret
        interface_type: xmlrest.interface_type(INTERFACE_TYPES)
        save: xmlrest.Flag = False

    id = db.Column(db.ForeignKey('switch.id'), primary_key=True)
    hostname = db.Column(db.String, nullable=False)
    username = db.Column(db.String, nullable=False)
    # A Fernet token in the database (haas.crypto); text here.
    password = db.Column(Encrypted, nullable=False)
    interface_type = db.Column(db.String, nullable=False)
    save = db.Column(db.Boolean, nullable=False, default=False)

    def session(self):
        return BrocadeSession(self, xmlrest.options(__name__))

    @classmethod
    def validate_port_name(cls, label):
        if not _PORT.fullmatch(label):
            raise ValueError('a Brocade port is RBRIDGE/SLOT/PORT, as '
                             '1/0/5 (1/0/49:1 for a breakout)')

    def get_capabilities(self):
        return ['nativeless-trunk-mode']


class BrocadeSession:
    def __init__(self, switch: Brocade, opts: xmlrest.Options):
        self.switch, self.parking = switch, opts.parking_vlan
        self.client = xmlrest.Client(switch.label, switch.hostname,
                                     switch.username, switch.password, opts)
        self.timeout = opts.read_timeout

    def _url(self, label: str, suffix: str = '') -> str:
        # The name is quoted (%22): it holds slashes.
        return (f'{_ROOT}/{self.switch.interface_type}/%22{label}%22'
                f'{suffix}')

    def _state(self, label: str) -> dict[str, typing.Any]:
        """What the port is now: shut down, a switchport, its mode, its
        native VLAN (None: the default), its allowed VLANs, and whether
        its native VLAN is tagged."""
        _, text = self.client.request('GET', self._url(label))
        root = xmlrest.xml(text)
        state = {'shutdown': xmlrest.find(root, 'shutdown') is not None,
                 'switchport': xmlrest.find(root, 'switchport') is not None,
                 'mode': None, 'native': None, 'tagged': [],
                 'native_tagged': False}
        if not state['switchport']:
            return state
        _, text = self.client.request('GET', self._url(label,
                                                       '/switchport/mode'))
        state['mode'] = xmlrest.find(xmlrest.xml(text), 'vlan-mode')
        if state['mode'] != 'trunk':
            return state
        _, text = self.client.request('GET', self._url(label,
                                                       '/switchport/trunk'))
        trunk = xmlrest.xml(text)
        native = xmlrest.find(trunk, 'native-vlan')
        state['native'] = int(native) if native else None
        state['tagged'] = xmlrest.vlans(
            xmlrest.find(trunk, 'allowed/vlan/add') or '')
        state['native_tagged'] = xmlrest.find(
            trunk, 'tag/native-vlan') is not None
        return state

    def _vlan(self, vlan: int | str) -> None:
        """Create VLAN `vlan` unless the switch has it."""
        self.client.request('POST', _ROOT,
                            f'<Vlan><name>{vlan}</name></Vlan>',
                            accept=(409,))

    def _trunk_up(self, label: str, state: dict[str, typing.Any]) -> None:
        if not state['switchport']:
            self.client.request('POST', self._url(label),
                                '<switchport></switchport>', accept=(409,))
        if state['mode'] != 'trunk':
            self.client.request('PUT', self._url(label, '/switchport/mode'),
                                '<mode><vlan-mode>trunk</vlan-mode></mode>')
        if state['shutdown']:
            self.client.request('DELETE', self._url(label, '/shutdown'),
                                accept=(404,))

    def _native(self, label: str, vlan: int | str,
                state: dict[str, typing.Any]) -> None:
        self._vlan(vlan)
        self.client.request(
            'PUT', self._url(label, '/switchport/trunk'),
            f'<trunk><native-vlan>{vlan}</native-vlan></trunk>')
        if state['native_tagged']:
            self.client.request(
                'DELETE', self._url(label, '/switchport/trunk/tag/'
                                    'native-vlan'), accept=(404,))

    def _settle(self, label: str) -> None:
        """Leave a port without a native network off VLAN 1: parked on
        the parking VLAN; else, with tagged networks, tagging its native
        VLAN (untagged frames dropped); else shut down."""
        state = self._state(label)
        if state['native'] not in (None, 1):
            return
        if self.parking is not None and state['switchport']:
            self._native(label, self.parking, state)
        elif state['tagged'] and not state['native_tagged']:
            self.client.request(
                'POST', self._url(label, '/switchport/trunk/tag'),
                '<native-vlan></native-vlan>')
        elif not state['tagged'] and not state['shutdown']:
            self.client.request('POST', self._url(label),
                                '<shutdown></shutdown>', accept=(409,))

    def apply_networking(self, action) -> None:
        label = action.nic.port.label
        vlan = xmlrest.vlan_of(action.channel)
        state = self._state(label)
        if action.new_network is not None:
            network_vlan = action.new_network.network_id
            self._trunk_up(label, state)
            if vlan is None:
                self._native(label, network_vlan, state)
            else:
                self._vlan(network_vlan)
                self.client.request(
                    'PUT', self._url(label, '/switchport/trunk/allowed/vlan'),
                    f'<vlan><add>{network_vlan}</add></vlan>')
                self._settle(label)
        elif vlan is None:
            if state['native'] is not None and state['native'] != \
                    self.parking:
                self.client.request('DELETE', self._url(
                    label, '/switchport/trunk/native-vlan'))
            self._settle(label)
        else:
            if int(vlan) in state['tagged']:
                self.client.request(
                    'PUT', self._url(label, '/switchport/trunk/allowed/vlan'),
                    f'<vlan><remove>{vlan}</remove></vlan>')
            self._settle(label)
        self._save()

    def revert_port(self, label: str) -> None:
        state = self._state(label)
        if state['mode'] == 'trunk':
            # Tagged networks first, the native one last.
            if state['tagged']:
                self.client.request(
                    'PUT', self._url(label, '/switchport/trunk/allowed/vlan'),
                    '<vlan><none>true</none></vlan>')
            if state['native'] is not None and state['native'] != \
                    self.parking:
                self.client.request('DELETE', self._url(
                    label, '/switchport/trunk/native-vlan'))
        self._settle(label)
        self._save()

    def port_networks(self, label: str) -> dict[str, str]:
        state = self._state(label)
        if state['mode'] != 'trunk':
            return {}
        carried = {f'vlan/{v}': str(v) for v in state['tagged']}
        if state['native'] not in (None, self.parking) \
                and not state['native_tagged']:
            carried['vlan/native'] = str(state['native'])
        return carried

    def _save(self) -> None:
        """`copy running-config startup-config`, when the switch was
        registered with `save`; waits for the copy to finish."""
        if not self.switch.save:
            return
        _, text = self.client.request(
            'POST', '/rest/operations/bna-config-cmd',
            '<bna-config-cmd><src>running-config</src>'
            '<dest>startup-config</dest></bna-config-cmd>')
        answer = xmlrest.xml(text)
        session_id = xmlrest.find(answer, 'session-id')
        status = xmlrest.find(answer, 'status')
        deadline = time.monotonic() + self.timeout
        while status == 'in-progress' and time.monotonic() < deadline:
            _, text = self.client.request(
                'POST', '/rest/operations/bna-config-cmd-status',
                f'<bna-config-cmd-status><session-id>{session_id}'
                f'</session-id></bna-config-cmd-status>')
            answer = xmlrest.xml(text)
            status = xmlrest.find(answer, 'status')
            if status == 'in-progress':
                time.sleep(0.2)
        if status == 'in-progress':
            raise xmlrest.SwitchUnavailableError(
                f'switch {self.switch.label} did not finish saving its '
                f'configuration within {self.timeout} s')
        if status != 'completed':
            raise xmlrest.SwitchError(
                f'switch {self.switch.label} did not save its '
                f'configuration: '
                f'{xmlrest.find(answer, "status-string") or status}')

    def disconnect(self) -> None:
        self.client.close()
