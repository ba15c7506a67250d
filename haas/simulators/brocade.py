"""A simulated Brocade VDX 6740 running Network OS, over its REST API.

The resources are those of NOS's XML REST API under `/rest`: an interface
is `/rest/config/running/interface/<type>/"<name>"` (the name quoted, as
it holds slashes), its switchport `.../switchport/mode`, `.../trunk`,
`.../trunk/allowed/vlan`, `.../trunk/native-vlan` and
`.../trunk/tag/native-vlan`; `shutdown` is an empty leaf created with POST
and removed with DELETE; VLANs are `interface/Vlan/<id>`, made with a POST
of `<Vlan><name>ID</name></Vlan>` to `interface`; the running
configuration is saved with the `bna-config-cmd` operation, whose progress
`bna-config-cmd-status` tells.  A refusal is a status and an `<errors>`
document of NETCONF's error fields.

State kept per port beyond SwitchState's: `switchport` (switching is
enabled) and `native_tagged` (`switchport trunk tag native-vlan`: the
native VLAN's frames are tagged too, so untagged frames are dropped).  A
trunk's `native` is None while it has no `native-vlan` of its own (NOS's
default, VLAN 1).
"""

from __future__ import annotations

import itertools
import re
import typing
from xml.sax.saxutils import escape

from haas.simulators import http
from haas.simulators.http import Answer, DeviceError, local, parse_xml

NS = 'urn:brocade.com:mgmt:brocade-interface'
RAS = 'urn:brocade.com:mgmt:brocade-ras'
ERRORS = 'http://brocade.com/ns/rest'
#: VLANs NOS keeps for itself: 4087-4095 for internal use, 1002 for FCoE.
RESERVED = set(range(4087, 4096)) | {1002}

PORTS = ([f'TenGigabitEthernet 1/0/{n}' for n in range(1, 49)]
         + [f'FortyGigabitEthernet 1/0/{n}' for n in range(49, 53)])

_INTERFACE = re.compile(r'^/rest/config/running/interface/(?P<type>\w+)/'
                        r'"(?P<name>[^"]+)"(?P<rest>(/[\w-]+)*)$')
_ERROR_TAGS = {400: 'invalid-value', 401: 'access-denied',
               404: 'data-missing', 405: 'operation-not-supported',
               409: 'data-exists'}


def vlan_list(vlans: typing.Iterable[int]) -> str:
    """VLANs as NOS writes a list: `101,105-107`."""
    runs = []
    for _, group in itertools.groupby(enumerate(sorted(set(vlans))),
                                      lambda p: p[1] - p[0]):
        numbers = [v for _, v in group]
        runs.append(str(numbers[0]) if len(numbers) == 1
                    else f'{numbers[0]}-{numbers[-1]}')
    return ','.join(runs)


def parse_vlan_list(text: str) -> list[int]:
    vlans: list[int] = []
    for part in text.replace(' ', '').split(','):
        low, _, high = part.partition('-')
        if not low.isdigit() or (high and not high.isdigit()):
            raise DeviceError(400, f'"{text}" is an invalid value.')
        vlans += range(int(low), int(high or low) + 1)
    return vlans


class Brocade(http.Model):
    ports = PORTS
    realm = 'NOS REST'

    def error_body(self, status: int, message: str) -> str:
        tag = _ERROR_TAGS.get(status, 'operation-failed')
        return (f'<errors xmlns="{ERRORS}">\n  <error>\n'
                f'    <error-type>application</error-type>\n'
                f'    <error-tag>{tag}</error-tag>\n'
                f'    <error-message>{escape(message)}</error-message>\n'
                f'  </error>\n</errors>\n')

    def answer(self, method: str, path: str, query: dict[str, list[str]],
               body: bytes) -> Answer:
        if path == '/rest/config/running/interface' and method == 'POST':
            return self._create_vlan(body)
        match = re.fullmatch(r'/rest/config/running/interface/Vlan/(\d+)',
                             path)
        if match and method == 'GET':
            vlan = int(match.group(1))
            if vlan not in self.state.running()['vlans']:
                raise DeviceError(404, f'Vlan {vlan} does not exist')
            return 200, f'<Vlan xmlns="{NS}">\n  <name>{vlan}</name>\n' \
                '</Vlan>\n'
        if path == '/rest/operations/bna-config-cmd' and method == 'POST':
            return self._save(body)
        if path == '/rest/operations/bna-config-cmd-status' \
                and method == 'POST':
            return 200, (f'<output xmlns="{RAS}">\n'
                         f'  <status>completed</status>\n'
                         f'  <status-string>copy running-config '
                         f'startup-config completed</status-string>\n'
                         f'</output>\n')
        match = _INTERFACE.match(path)
        if match is None:
            raise DeviceError(404, f'{path} is not a resource')
        port = f'{match["type"]} {match["name"]}'
        if port not in self.ports:
            raise DeviceError(404, f'interface {port} does not exist')
        return self._interface(method, port, match['rest'], body)

    def _create_vlan(self, body: bytes) -> Answer:
        root = parse_xml(body)
        name = root.find('{*}name')
        if local(root.tag) != 'Vlan' or name is None \
                or not (name.text or '').strip().isdigit():
            raise DeviceError(400, 'expected <Vlan><name>ID</name></Vlan>')
        vlan = int((name.text or '').strip())
        if not 1 <= vlan <= 4095:
            raise DeviceError(400, f'"{vlan}" is an invalid value.')
        if vlan in RESERVED:
            raise DeviceError(400, f'%Error: Vlan {vlan} is reserved')
        with self.state.changing() as config:
            if vlan in config['vlans']:
                raise DeviceError(409, f'Vlan {vlan} already exists')
            config['vlans'].append(vlan)
        return 201, ''

    def _save(self, body: bytes) -> Answer:
        root = parse_xml(body)
        src, dest = root.find('{*}src'), root.find('{*}dest')
        if src is None or dest is None or (src.text, dest.text) != (
                'running-config', 'startup-config'):
            raise DeviceError(400, 'only running-config to startup-config '
                              'is supported')
        self.state.save()
        return 200, (f'<output xmlns="{RAS}">\n'
                     f'  <session-id>{next(_sessions)}</session-id>\n'
                     f'  <status>in-progress</status>\n</output>\n')

    def _interface(self, method: str, port: str, rest: str,
                   body: bytes) -> Answer:
        if rest == '' and method == 'GET':
            return 200, self._show(port)
        if rest == '' and method == 'POST':
            child = local(parse_xml(body).tag)
            key = {'switchport': 'switchport', 'shutdown': 'shutdown'}.get(
                child)
            if key is None:
                raise DeviceError(400, f'unknown element <{child}>')
            with self.state.changing() as config:
                if config['ports'][port].get(key):
                    raise DeviceError(409, f'{child} already exists')
                config['ports'][port][key] = True
            return 201, ''
        if rest == '/shutdown' and method == 'DELETE':
            with self.state.changing() as config:
                if not config['ports'][port]['shutdown']:
                    raise DeviceError(404, 'shutdown does not exist')
                config['ports'][port]['shutdown'] = False
            return 204, ''
        if not rest.startswith('/switchport'):
            raise DeviceError(404, f'{rest} is not a resource')
        if not self.state.running()['ports'][port].get('switchport'):
            raise DeviceError(404, f'%Error: {port} is not configured as '
                              f'a switchport')
        return self._switchport(method, port, rest[len('/switchport'):],
                                body)

    def _switchport(self, method: str, port: str, rest: str,
                    body: bytes) -> Answer:
        if (rest, method) == ('/mode', 'GET'):
            mode = self.state.running()['ports'][port]['mode']
            return 200, (f'<mode xmlns="{NS}">\n  <vlan-mode>{mode}'
                         f'</vlan-mode>\n</mode>\n')
        if (rest, method) == ('/mode', 'PUT'):
            mode = parse_xml(body).find('{*}vlan-mode')
            if mode is None or mode.text not in ('access', 'trunk'):
                raise DeviceError(400, 'vlan-mode must be access or trunk')
            with self.state.changing() as config:
                p = config['ports'][port]
                if p['mode'] != mode.text:
                    p.update(mode=mode.text, tagged=[], native_tagged=False,
                             native=1 if mode.text == 'access' else None)
            return 204, ''
        if rest == '/trunk' and method == 'GET':
            return 200, self._trunk(self.state.running()['ports'][port])
        with self.state.changing() as config:
            p = config['ports'][port]
            if p['mode'] != 'trunk':
                raise DeviceError(400, f'%Error: {port} is not in trunk '
                                  f'mode')
            if (rest, method) == ('/trunk', 'PUT'):
                native = parse_xml(body).find('{*}native-vlan')
                if native is None:
                    raise DeviceError(400, 'expected <native-vlan>')
                p['native'] = self._vlan(config, native.text or '')
            elif (rest, method) == ('/trunk/native-vlan', 'DELETE'):
                if p['native'] is None:
                    raise DeviceError(404, 'native-vlan does not exist')
                p['native'] = None
            elif (rest, method) == ('/trunk/tag', 'POST'):
                p['native_tagged'] = True
            elif (rest, method) == ('/trunk/tag/native-vlan', 'DELETE'):
                if not p.get('native_tagged'):
                    raise DeviceError(404, 'native-vlan does not exist')
                p['native_tagged'] = False
            elif (rest, method) == ('/trunk/allowed/vlan', 'PUT'):
                self._allowed(config, p, parse_xml(body))
            else:
                raise DeviceError(404 if method in ('GET', 'DELETE')
                                  else 405,
                                  f'{method} of switchport{rest} is not '
                                  f'supported')
        return 204, ''

    def _vlan(self, config: dict[str, typing.Any], text: str) -> int:
        vlan = text.strip()
        if not vlan.isdigit() or not 1 <= int(vlan) <= 4095:
            raise DeviceError(400, f'"{text}" is an invalid value.')
        if int(vlan) in RESERVED:
            raise DeviceError(400, f'%Error: Vlan {vlan} is reserved')
        if int(vlan) not in config['vlans']:
            raise DeviceError(400, f'%Error: Vlan {vlan} does not exist')
        return int(vlan)

    def _allowed(self, config: dict[str, typing.Any],
                 port: dict[str, typing.Any], root: typing.Any) -> None:
        (change,) = list(root) or [None]
        what = local(change.tag) if change is not None else None
        if what == 'none':
            port['tagged'] = []
        elif what in ('add', 'remove'):
            vlans = [self._vlan(config, str(v))
                     for v in parse_vlan_list(change.text or '')]
            if what == 'add':
                port['tagged'] = sorted(set(port['tagged']) | set(vlans))
            else:
                port['tagged'] = sorted(set(port['tagged']) - set(vlans))
        else:
            raise DeviceError(400, 'expected <add>, <remove> or <none>')

    @staticmethod
    def _trunk_lines(port: dict[str, typing.Any]) -> list[str]:
        if port['mode'] != 'trunk':
            return []
        lines = ['  <allowed>', '    <vlan>',
                 f'      <add>{vlan_list(port["tagged"])}</add>'
                 if port['tagged'] else '      <none>true</none>',
                 '    </vlan>', '  </allowed>']
        if port.get('native_tagged'):
            lines += ['  <tag>', '    <native-vlan>true</native-vlan>',
                      '  </tag>']
        if port['native'] is not None:
            lines.append(f'  <native-vlan>{port["native"]}</native-vlan>')
        return lines

    def _trunk(self, port: dict[str, typing.Any]) -> str:
        return '\n'.join([f'<trunk xmlns="{NS}">', *self._trunk_lines(port),
                          '</trunk>']) + '\n'

    def _show(self, port: str) -> str:
        kind, name = port.split(' ')
        p = self.state.running()['ports'][port]
        lines = [f'<{kind} xmlns="{NS}">', f'  <name>{name}</name>']
        if p['shutdown']:
            lines.append('  <shutdown>true</shutdown>')
        if p.get('switchport'):
            lines += ['  <switchport>', '    <mode>',
                      f'      <vlan-mode>{p["mode"]}</vlan-mode>',
                      '    </mode>']
            if p['mode'] == 'access':
                lines += ['    <access>',
                          f'      <accessvlan>{p["native"]}</accessvlan>',
                          '    </access>']
            else:
                lines += ['    <trunk>',
                          *('    ' + line for line in self._trunk_lines(p)),
                          '    </trunk>']
            lines.append('  </switchport>')
        return '\n'.join(lines + [f'</{kind}>']) + '\n'


_sessions = itertools.count(1)


def serve(host: str, port: int, state_dir: str, username: str,
          password: str, latency: float) -> None:
    http.serve(Brocade(state_dir), host, port, username, password, latency)
