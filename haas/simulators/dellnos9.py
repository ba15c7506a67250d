"""A simulated Dell S3048-ON running Dell Networking OS 9, over its REST API.

OS9's REST API (port 8008 on the device) has two parts that drivers use:

- interfaces, `/api/running/dell/interfaces/interface/<name>`, named the
  API's way (`gige-1-5` for GigabitEthernet 1/5, `tengig-1-49`,
  `vlan-105`): GET a port's `<interface>` (`?with-defaults` adds the
  defaults, `shutdown` among them), PUT it whole (`portmode/hybrid`,
  `switchport`, `shutdown`); GET a VLAN's lists its tagged and untagged
  members, since the device is VLAN-centric: a port's own resource does
  not name its VLANs;
- the REST CLI, a POST of `<input><config-commands>` (lines separated by
  CR LF, or the two characters `\\r\\n` as the manual writes them),
  `<show-command>` or `<exec-command>` to `/api/running/dell/_operations/
  cli`, answered `<output><command>` with what the CLI printed.

A refusal is a status and Tail-f's `<errors>` document; a CLI command the
device refuses is a 400 whose message is the CLI's `% Error: ...` line.

As on the device, a switchport is untagged in the default VLAN 1 unless
untagged in another; `no untagged` sends it back there; a port that is not
hybrid leaves VLAN 1 when it is tagged in another VLAN.  State kept per
port beyond SwitchState's: `switchport`.
"""

from __future__ import annotations

import re
import typing
from xml.sax.saxutils import escape

from haas.simulators import http
from haas.simulators.brocade import vlan_list
from haas.simulators.http import Answer, DeviceError, local, parse_xml

NS = 'http://www.dell.com/ns/dell:0.1/root'
ERRORS = 'http://tail-f.com/ns/tailf-rest-error'
HOSTNAME = 'S3048-ON'
DEFAULT_VLAN = 1

PORTS = ([f'GigabitEthernet 1/{n}' for n in range(1, 49)]
         + [f'TenGigabitEthernet 1/{n}' for n in range(49, 53)])
#: The CLI's interface type -> the REST API's prefix.
API_TYPES = {'GigabitEthernet': 'gige', 'TenGigabitEthernet': 'tengig',
             'fortyGigE': 'fortygig'}
CLI_TYPES = {prefix: kind for kind, prefix in API_TYPES.items()}
PREFIX = '/api/running/dell/interfaces/interface/'
CLI = '/api/running/dell/_operations/cli'
_ERROR_TAGS = {400: 'invalid-value', 401: 'access-denied',
               404: 'data-missing', 405: 'operation-not-supported'}


def cli_port(words: list[str]) -> str:
    """A port as the CLI takes it (`gigabitethernet 1/5`, `Gi 1/5`,
    `GigabitEthernet1/5`): its canonical name, or a CLI error."""
    text = ' '.join(words)
    match = re.fullmatch(r'([A-Za-z]+)\s*(\d+/\d+)', text)
    if match:
        for kind in API_TYPES:
            if kind.lower().startswith(match[1].lower()) \
                    and len(match[1]) >= 2:
                return f'{kind} {match[2]}'
    raise DeviceError(400, f'% Error: Invalid input at "^" marker: {text}')


class DellNOS9(http.Model):
    ports = PORTS
    realm = 'restconf'

    def error_body(self, status: int, message: str) -> str:
        tag = _ERROR_TAGS.get(status, 'operation-failed')
        return (f'<errors xmlns="{ERRORS}">\n  <error>\n'
                f'    <error-tag>{tag}</error-tag>\n'
                f'    <error-message>{escape(message)}</error-message>\n'
                f'  </error>\n</errors>\n')

    def answer(self, method: str, path: str, query: dict[str, list[str]],
               body: bytes) -> Answer:
        if path == CLI:
            if method != 'POST':
                raise DeviceError(405, f'{method} is not allowed on cli')
            return self._cli(body)
        if not path.startswith(PREFIX):
            raise DeviceError(404, f'{path} is not a resource')
        name = path[len(PREFIX):]
        match = re.fullmatch(r'vlan-(\d+)', name)
        if match and method == 'GET':
            return self._show_vlan(int(match[1]))
        port = self._port(name)
        if method == 'GET':
            return 200, self._show(port, 'with-defaults' in query)
        if method == 'PUT':
            return self._put(port, name, parse_xml(body))
        raise DeviceError(405, f'{method} is not allowed on {name}')

    def _port(self, name: str) -> str:
        match = re.fullmatch(r'([a-z]+)-(\d+)-(\d+)', name)
        port = match and f'{CLI_TYPES.get(match[1])} {match[2]}/{match[3]}'
        if not port or port not in self.ports:
            raise DeviceError(404, f'interface {name} does not exist')
        return port

    def _show(self, port: str, defaults: bool) -> str:
        p = self.state.running()['ports'][port]
        kind, number = port.split(' ')
        name = f'{API_TYPES[kind]}-{number.replace("/", "-")}'
        lines = [f'<interface xmlns="{NS}">', f'  <name>{name}</name>']
        if p['mode'] == 'hybrid':
            lines += ['  <portmode>', '    <hybrid>true</hybrid>',
                      '  </portmode>']
        if p.get('switchport'):
            lines.append('  <switchport/>')
        if p['shutdown'] or defaults:
            lines.append(f'  <shutdown>{str(p["shutdown"]).lower()}'
                         f'</shutdown>')
        return '\n'.join(lines + ['</interface>']) + '\n'

    def _show_vlan(self, vlan: int) -> Answer:
        config = self.state.running()
        if vlan not in config['vlans']:
            raise DeviceError(404, f'interface vlan-{vlan} does not exist')
        lines = [f'<interface xmlns="{NS}">', f'  <name>vlan-{vlan}</name>']
        for key, element in (('tagged', 'tagged'), ('native', 'untagged')):
            members = [port for port, p in sorted(config['ports'].items())
                       if p.get('switchport') and (
                           vlan in p['tagged'] if key == 'tagged'
                           else p['native'] == vlan)]
            if members:
                lines.append(f'  <{element}>')
                for port in members:
                    kind, number = port.split(' ')
                    lines.append(f'    <{API_TYPES[kind]}>{number}'
                                 f'</{API_TYPES[kind]}>')
                lines.append(f'  </{element}>')
        return 200, '\n'.join(lines + ['</interface>']) + '\n'

    def _put(self, port: str, name: str, root: typing.Any) -> Answer:
        given = root.find('{*}name')
        if local(root.tag) != 'interface' or given is None \
                or given.text != name:
            raise DeviceError(400, f'the body must be <interface> with '
                              f'<name>{name}</name>')
        hybrid = root.findtext('{*}portmode/{*}hybrid') == 'true'
        switchport = root.find('{*}switchport') is not None
        shutdown = root.findtext('{*}shutdown') == 'true'
        with self.state.changing() as config:
            p = config['ports'][port]
            member = p['tagged'] or p['native'] not in (None, DEFAULT_VLAN)
            if member and (not switchport or (
                    not hybrid and p['mode'] == 'hybrid')):
                raise DeviceError(400, f'% Error: Port is part of a non-'
                                  f'default VLAN: {port}.')
            p.update(mode='hybrid' if hybrid else 'access',
                     switchport=switchport, shutdown=shutdown)
            if switchport and p['native'] is None and not p['tagged']:
                p['native'] = DEFAULT_VLAN
        return 204, ''

    def _cli(self, body: bytes) -> Answer:
        root = parse_xml(body)
        children = list(root)
        if local(root.tag) != 'input' or len(children) != 1:
            raise DeviceError(400, 'expected <input> with one command')
        kind, text = local(children[0].tag), children[0].text or ''
        lines = [line.strip() for line in
                 re.split(r'\\r\\n|\r\n|\n', text) if line.strip()]
        if kind == 'config-commands':
            output = self._configure(lines)
        elif kind == 'show-command' and len(lines) == 1:
            output = self._show_command(lines[0])
        elif kind == 'exec-command' and lines in (['write'],
                                                  ['write memory']):
            self.state.save()
            output = (f'{HOSTNAME}#write\n!\n'
                      f'Dec  6 15:00:00: %STKUNIT1-M:CP %FILEMGR-5-FILESAVED:'
                      f' Copied running-config to startup-config in flash'
                      f' by default\n{HOSTNAME}#')
        else:
            raise DeviceError(400, f'% Error: Invalid input: {text}')
        return 200, (f'<output xmlns="{NS}">\n<command>{escape(output)}'
                     f'</command>\n</output>\n')

    def _configure(self, lines: list[str]) -> str:
        transcript = [f'{HOSTNAME}#conf']
        with self.state.changing() as config:
            vlan = None
            for line in lines:
                prompt = f'{HOSTNAME}(conf' + \
                    (f'-if-vl-{vlan})#' if vlan else ')#')
                transcript.append(prompt + line)
                words = line.split()
                match = re.fullmatch(r'interface vlan (\d+)', line,
                                     re.IGNORECASE)
                if match:
                    vlan = int(match[1])
                    if not 1 <= vlan <= 4094:
                        raise DeviceError(400, f'% Error: Invalid VLAN id '
                                          f'{vlan}.')
                    if vlan not in config['vlans']:
                        config['vlans'].append(vlan)
                    continue
                negated = words[:1] == ['no']
                words = words[negated:]
                if vlan is None or not words or words[0] not in (
                        'tagged', 'untagged'):
                    raise DeviceError(400, f'% Error: Invalid input at "^" '
                                      f'marker: {line}')
                self._member(config, vlan, words[0], negated,
                             cli_port(words[1:]))
        return '\n'.join(transcript + [f'{HOSTNAME}(conf)#end',
                                       f'{HOSTNAME}#'])

    def _member(self, config: dict[str, typing.Any], vlan: int, how: str,
                negated: bool, port: str) -> None:
        if port not in config['ports']:
            raise DeviceError(400, f'% Error: No such interface {port}.')
        p = config['ports'][port]
        if not p.get('switchport'):
            raise DeviceError(400, f'% Error: Port is not in Layer-2 mode '
                              f'{port}.')
        if vlan == DEFAULT_VLAN:
            raise DeviceError(400, '% Error: Default VLAN membership is '
                              'implicit.')
        if how == 'tagged' and not negated:
            if p['native'] == vlan:
                raise DeviceError(400, f'% Error: {port} is untagged in '
                                  f'this Vlan.')
            p['tagged'] = sorted(set(p['tagged']) | {vlan})
            if p['mode'] != 'hybrid' and p['native'] == DEFAULT_VLAN:
                p['native'] = None
        elif how == 'tagged':
            if vlan not in p['tagged']:
                raise DeviceError(400, f'% Error: {port} is not tagged in '
                                  f'this Vlan.')
            p['tagged'].remove(vlan)
        elif not negated:
            if p['native'] not in (None, DEFAULT_VLAN, vlan):
                raise DeviceError(400, f'% Error: {port} is untagged in '
                                  f'another Vlan.')
            if p['tagged'] and p['mode'] != 'hybrid':
                raise DeviceError(400, f'% Error: Port is in Layer-2 mode '
                                  f'Vlan membership tagged, set portmode '
                                  f'hybrid first {port}.')
            if vlan in p['tagged']:
                raise DeviceError(400, f'% Error: {port} is tagged in this '
                                  f'Vlan.')
            p['native'] = vlan
        else:
            if p['native'] != vlan:
                raise DeviceError(400, f'% Error: {port} is not untagged in '
                                  f'this Vlan.')
            p['native'] = DEFAULT_VLAN

    def _show_command(self, line: str) -> str:
        words = line.split()
        if words[:2] != ['interfaces', 'switchport']:
            raise DeviceError(400, f'% Error: Invalid input at "^" marker: '
                              f'{line}')
        port = cli_port(words[2:])
        if port not in self.ports:
            raise DeviceError(400, f'% Error: No such interface {port}.')
        p = self.state.running()['ports'][port]
        lines = [f'{HOSTNAME}#show {line}', '',
                 'Codes:  U - Untagged, T - Tagged',
                 '        x - Dot1x untagged, X - Dot1x tagged',
                 '        G - GVRP tagged, M - Trunk',
                 '        i - Internal untagged, I - Internal tagged, '
                 'v - VLT untagged, V - VLT tagged', '']
        if p.get('switchport'):
            lines += [f'Name: {port}',
                      '802.1QTagged: ' + ('Hybrid' if p['mode'] == 'hybrid'
                                          else 'True' if p['tagged']
                                          else 'False'),
                      'Vlan membership:', 'Q       Vlans']
            if p['native'] is not None:
                lines.append(f'U       {p["native"]}')
            if p['tagged']:
                lines.append(f'T       {vlan_list(p["tagged"])}')
            lines += ['', 'Native Vlan Id:     '
                      f'{p["native"] or DEFAULT_VLAN}.']
        return '\n'.join(lines + ['', f'{HOSTNAME}#'])


def serve(host: str, port: int, state_dir: str, username: str,
          password: str, latency: float) -> None:
    http.serve(DellNOS9(state_dir), host, port, username, password, latency)
