"""`haas`: the command-line client of the HaaS API, one command per call.

It is built on haas.client, the client library, which sends the requests:
it imports nothing of the server, and only Click until a command runs
(haas.client and requests are loaded to send it), so that `haas --help`
answers at once.  The endpoint is HAAS_ENDPOINT, else `[client] endpoint`
of haas.cfg; with HAAS_USERNAME and HAAS_PASSWORD set, requests carry HTTP
basic auth.  HIL's variables (HIL_ENDPOINT, HIL_USERNAME, HIL_PASSWORD) are
read where HaaS's are not set (haas.client.environment), and HIL 1.0's
command names (`haas node network connect ...`) work beside ours (see
`ALIASES`).
"""

import sys
import urllib.parse

import click

SCHEMA = 'http://schema.massopencloud.org/haas/v0'


class Call:
    """A command: `group command ARGS...` sends `method path` with a body
    made of `fields` (name, required) and prints the answer as `shows`."""

    def __init__(self, group, command, method, path, fields=(), shows=None,
                 doc='', driver=None):
        self.group, self.command = group, command
        self.method, self.path = method, path
        self.fields = list(fields)
        self.shows = shows
        self.doc = doc
        #: 'switch' or 'obm': a TYPE and FIELD=VALUE arguments follow.
        self.driver = driver

    @property
    def parameters(self):
        return [p.strip('{}') for p in self.path.split('/')
                if p.startswith('{')]


def _calls():
    c = Call
    return [
        c('project', 'list', 'GET', '/projects', shows='labels',
          doc='List every project.'),
        c('project', 'create', 'PUT', '/project/{project}',
          doc='Create a project.'),
        c('project', 'delete', 'DELETE', '/project/{project}',
          doc='Delete a project that owns nothing any more.'),
        c('project', 'connect-node', 'POST', '/project/{project}/connect_node',
          [('node', True)], doc='Give a free node to a project.'),
        c('project', 'detach-node', 'POST', '/project/{project}/detach_node',
          [('node', True), ('force', False)],
          doc='Take a node back from a project (--force true: an '
              "administrator's, for a node whose OBM is enabled)."),
        c('project', 'nodes', 'GET', '/project/{project}/nodes',
          shows='labels', doc="List a project's nodes."),
        c('project', 'networks', 'GET', '/project/{project}/networks',
          shows='labels', doc='List the networks a project may use.'),
        c('project', 'headnodes', 'GET', '/project/{project}/headnodes',
          shows='labels', doc="List a project's headnodes."),
        c('node', 'register', 'PUT', '/node/{node}', driver='obm',
          doc='Register a node with its OBM: TYPE (such as mock or ipmi) '
              'and the FIELD=VALUE pairs that type takes.'),
        c('node', 'delete', 'DELETE', '/node/{node}',
          doc='Delete a node that has no nics left.'),
        c('node', 'show', 'GET', '/node/{node}', shows='object',
          doc='Show a node, its nics and their networks.'),
        c('node', 'free', 'GET', '/free_nodes', shows='labels',
          doc='List the nodes no project owns.'),
        c('node', 'list', 'GET', '/nodes/{is_free}', shows='labels',
          doc='List the nodes: IS_FREE is "free" for the free ones, "all" '
              'for all.'),
        c('node', 'set-metadata', 'PUT', '/node/{node}/metadata/{label}',
          [('value', True)],
          doc="Set a node's metadata LABEL to VALUE (JSON, or else text)."),
        c('node', 'delete-metadata', 'DELETE',
          '/node/{node}/metadata/{label}',
          doc="Delete a node's metadata LABEL."),
        c('node', 'register-nic', 'PUT', '/node/{node}/nic/{nic}',
          [('macaddr', True)], doc='Add a nic to a node.'),
        c('node', 'delete-nic', 'DELETE', '/node/{node}/nic/{nic}',
          doc='Remove a nic from a node.'),
        c('node', 'power-cycle', 'POST', '/node/{node}/power_cycle',
          [('force', False)],
          doc='Power-cycle a node (--force true: a hard reset).'),
        c('node', 'power-off', 'POST', '/node/{node}/power_off',
          doc='Power a node off.'),
        c('node', 'power-on', 'POST', '/node/{node}/power_on',
          doc='Power a node on.'),
        c('node', 'power-status', 'GET', '/node/{node}/power_status',
          shows='object', doc='Show whether a node is powered on.'),
        c('node', 'set-bootdev', 'PUT', '/node/{node}/boot_device',
          [('bootdev', True)],
          doc='Set the device a node boots from: pxe, disk or none.'),
        c('node', 'set-obm', 'PUT', '/node/{node}/obm', [('enabled', True)],
          doc="Enable (ENABLED true) or disable (false) a node's OBM."),
        c('node', 'connect-network', 'POST',
          '/node/{node}/nic/{nic}/connect_network',
          [('network', True), ('channel', False)], shows='object',
          doc='Queue connecting a nic to a network; prints the status_id '
              'to follow it with `haas action show`.'),
        c('node', 'detach-network', 'POST',
          '/node/{node}/nic/{nic}/detach_network', [('network', True)],
          shows='object', doc='Queue detaching a nic from a network; '
                              'prints the status_id.'),
        c('node', 'console', 'GET', '/node/{node}/console', shows='text',
          doc="Print a node's console log."),
        c('node', 'start-console', 'PUT', '/node/{node}/console',
          doc="Start logging a node's console."),
        c('node', 'stop-console', 'DELETE', '/node/{node}/console',
          doc="Stop logging a node's console and delete the log."),
        c('network', 'create', 'PUT', '/network/{network}',
          [('owner', True), ('access', True), ('net_id', True)],
          doc='Create a network: OWNER is a project or "admin", ACCESS a '
              'project or "" (public), NET_ID an id or "" (from the pool).'),
        c('network', 'list', 'GET', '/networks', shows='object',
          doc='List the networks (an administrator sees all, others the '
              'public ones).'),
        c('network', 'grant-access', 'PUT',
          '/network/{network}/access/{project}',
          doc='Let a project use a network.'),
        c('network', 'revoke-access', 'DELETE',
          '/network/{network}/access/{project}',
          doc='Stop a project from using a network.'),
        c('network', 'attachments', 'GET', '/network/{network}/attachments',
          [('project', False)], shows='object',
          doc='List the nodes on a network (of one PROJECT if given).'),
        c('network', 'delete', 'DELETE', '/network/{network}',
          doc='Delete a network nothing uses.'),
        c('network', 'show', 'GET', '/network/{network}', shows='object',
          doc='Show a network.'),
        c('switch', 'register', 'PUT', '/switch/{switch}', driver='switch',
          doc='Register a switch: TYPE (such as mock, nexus or '
              'powerconnect55xx) and the FIELD=VALUE pairs that type takes.'),
        c('switch', 'delete', 'DELETE', '/switch/{switch}',
          doc='Delete a switch that has no ports left.'),
        c('switch', 'list', 'GET', '/switches', shows='labels',
          doc='List the switches.'),
        c('switch', 'show', 'GET', '/switch/{switch}', shows='object',
          doc='Show a switch: its ports and capabilities.'),
        c('port', 'register', 'PUT', '/switch/{switch}/port/{port}',
          doc='Add a port to a switch.'),
        c('port', 'delete', 'DELETE', '/switch/{switch}/port/{port}',
          doc='Remove a port from a switch.'),
        c('port', 'connect-nic', 'POST',
          '/switch/{switch}/port/{port}/connect_nic',
          [('node', True), ('nic', True)],
          doc="Record that a node's nic is cabled to a port."),
        c('port', 'detach-nic', 'POST',
          '/switch/{switch}/port/{port}/detach_nic',
          doc='Forget the nic cabled to a port.'),
        c('port', 'show', 'GET', '/switch/{switch}/port/{port}',
          shows='object', doc='Show the nic cabled to a port and its '
                              'networks.'),
        c('port', 'revert', 'POST', '/switch/{switch}/port/{port}/revert',
          shows='object', doc='Queue taking a port off every network.'),
        c('action', 'show', 'GET', '/networking_action/{status_id}',
          shows='object', doc='Show a networking action by its status_id: '
              'its status, and in error why it failed.'),
        c('extensions', 'list', 'GET', '/active_extensions', shows='labels',
          doc='List the enabled extensions.'),
        c('headnode', 'create', 'PUT', '/headnode/{headnode}',
          [('project', True), ('base_img', True)],
          doc='Create a headnode for a project from a base image.'),
        c('headnode', 'delete', 'DELETE', '/headnode/{headnode}',
          doc='Delete a headnode.'),
        c('headnode', 'show', 'GET', '/headnode/{headnode}', shows='object',
          doc='Show a headnode.'),
        c('headnode', 'start', 'POST', '/headnode/{headnode}/start',
          doc='Start a headnode.'),
        c('headnode', 'stop', 'POST', '/headnode/{headnode}/stop',
          doc='Stop a headnode.'),
        c('headnode', 'create-hnic', 'PUT',
          '/headnode/{headnode}/hnic/{hnic}', doc='Add an hnic.'),
        c('headnode', 'delete-hnic', 'DELETE',
          '/headnode/{headnode}/hnic/{hnic}', doc='Remove an hnic.'),
        c('headnode', 'connect-network', 'POST',
          '/headnode/{headnode}/hnic/{hnic}/connect_network',
          [('network', True)], doc='Put an hnic on a network.'),
        c('headnode', 'detach-network', 'POST',
          '/headnode/{headnode}/hnic/{hnic}/detach_network',
          doc='Take an hnic off its network.'),
        c('headnode', 'images', 'GET', '/headnode_images/', shows='labels',
          doc='List the base images of headnodes.'),
        c('user', 'create', 'PUT', '/auth/basic/user/{user}',
          [('password', True), ('is_admin', False)],
          doc='Create a user (database auth).'),
        c('user', 'delete', 'DELETE', '/auth/basic/user/{user}',
          doc='Delete a user.'),
        c('user', 'add-project', 'POST', '/auth/basic/user/{user}/add_project',
          [('project', True)], doc='Make a user a member of a project.'),
        c('user', 'remove-project', 'POST',
          '/auth/basic/user/{user}/remove_project', [('project', True)],
          doc="End a user's membership of a project."),
        c('user', 'list', 'GET', '/auth/basic/users', shows='object',
          doc='List the users, their projects and admin flags.'),
        c('user', 'set-admin', 'PATCH', '/auth/basic/user/{user}',
          [('is_admin', True)],
          doc='Make a user an administrator (IS_ADMIN true) or not.'),
    ]


GROUPS = {
    'project': 'Projects: the owners of nodes, networks and headnodes.',
    'node': 'Nodes, their nics, power and consoles.',
    'network': 'Networks.',
    'switch': 'Switches.',
    'port': 'Switch ports and the nics cabled to them.',
    'headnode': 'Headnodes: a project\'s VMs.',
    'user': 'Users of the database auth backend.',
    'action': 'Networking actions, by the status_id a change answers.',
    'extensions': "The server's enabled extensions.",
}


class Alias:
    """HIL 1.0's name for one of our commands: `path` its words (the last
    the command, the others groups), `target` (group, command) ours.  The
    optional body fields in `positional` are optional arguments, as HIL
    takes them; those in `flags` are flags (sent as true when given);
    `fixed` is sent as well."""

    def __init__(self, path, target, positional=(), flags=(), fixed=None):
        self.path, self.target = path, target
        self.positional, self.flags = positional, flags
        self.fixed = fixed or {}


ALIASES = [
    Alias(('node', 'network', 'connect'), ('node', 'connect-network'),
          positional=('channel',)),
    Alias(('node', 'network', 'detach'), ('node', 'detach-network')),
    Alias(('node', 'nic', 'register'), ('node', 'register-nic')),
    Alias(('node', 'nic', 'delete'), ('node', 'delete-nic')),
    Alias(('node', 'power', 'off'), ('node', 'power-off')),
    Alias(('node', 'power', 'on'), ('node', 'power-on')),
    Alias(('node', 'power', 'cycle'), ('node', 'power-cycle'),
          flags=('force',)),
    Alias(('node', 'power', 'status'), ('node', 'power-status')),
    Alias(('node', 'bootdev'), ('node', 'set-bootdev')),
    Alias(('node', 'metadata', 'add'), ('node', 'set-metadata')),
    Alias(('node', 'metadata', 'delete'), ('node', 'delete-metadata')),
    Alias(('node', 'obm', 'enable'), ('node', 'set-obm'),
          fixed={'enabled': True}),
    Alias(('node', 'obm', 'disable'), ('node', 'set-obm'),
          fixed={'enabled': False}),
    Alias(('project', 'node', 'list'), ('project', 'nodes')),
    Alias(('project', 'node', 'add'), ('project', 'connect-node')),
    Alias(('project', 'node', 'remove'), ('project', 'detach-node'),
          flags=('force',)),
    Alias(('project', 'list-networks'), ('project', 'networks')),
    Alias(('port', 'nic', 'add'), ('port', 'connect-nic')),
    Alias(('port', 'nic', 'remove'), ('port', 'detach-nic')),
]

#: The help of HIL's groups within ours.
SUBGROUPS = {
    ('node', 'network'): "A node's networks (HIL's names).",
    ('node', 'nic'): "A node's nics (HIL's names).",
    ('node', 'power'): "A node's power (HIL's names).",
    ('node', 'metadata'): "A node's metadata (HIL's names).",
    ('node', 'obm'): "A node's OBM (HIL's names).",
    ('project', 'node'): "A project's nodes (HIL's names).",
    ('port', 'nic'): "The nic cabled to a port (HIL's names).",
}


class ClientError(click.ClickException):
    """One line on stderr, exit status 1."""


def send(method, path, body=None, timeout=30):
    """The answer of the API to `method path` (a bare path, as HaaS 0.3
    serves it), through haas.client: an HTTPResponse."""
    # Late: `haas --help` loads neither requests nor json.
    from haas.client import ClientError as Failed
    from haas.client import environment
    try:
        server = environment.base(timeout=timeout)
        return server.send(method, server.object_url() + path, body)
    except Failed as e:
        raise ClientError(str(e)) from None


def _failure(response):
    """The one line of a refused call, with when to try again if the
    server said (a 503 while its database is away, a 429)."""
    from haas.client.base import failure
    return failure(response).summary


def _show(call, response, as_json):
    if not response.content:
        return
    if call.shows == 'text':
        click.echo(response.text, nl=False)
        return
    value = response.json()
    if as_json:
        import json
        click.echo(json.dumps(value, indent=2, sort_keys=True))
    elif call.shows == 'labels':
        for label in value:
            click.echo(label)
    else:
        _print_object(value)


def _print_object(value, indent=''):
    for key in sorted(value):
        item = value[key]
        if isinstance(item, dict) and item:
            click.echo(f'{indent}{key}:')
            _print_object(item, indent + '  ')
        elif isinstance(item, list) and item and isinstance(item[0], dict):
            click.echo(f'{indent}{key}:')
            for element in item:
                label = element.get('label', '')
                click.echo(f'{indent}  - {label}')
                _print_object({k: v for k, v in element.items()
                               if k != 'label'}, indent + '    ')
        elif isinstance(item, list):
            click.echo(f'{indent}{key}: {", ".join(map(str, item))}')
        else:
            click.echo(f'{indent}{key}: '
                       f'{"" if item is None else item}'.rstrip())


def _driver_type(kind, name):
    if '://' in name:
        return name
    return f'{SCHEMA}/{"obm" if kind == "obm" else "switches"}/{name}'


def _fields(pairs):
    fields = {}
    for pair in pairs:
        key, sep, value = pair.partition('=')
        if not sep or not key:
            raise click.BadParameter(f'{pair!r} is not FIELD=VALUE')
        fields[key] = value
    return fields


def _value(name, text):
    """A body field from its command-line text: is_admin, force and
    enabled booleans, a metadata value JSON if it parses (else the text
    itself)."""
    if name in ('is_admin', 'force', 'enabled'):
        return text.lower() in ('1', 'true', 'yes')
    if name == 'value':
        import json
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _command(call, alias=None):
    positional = alias.positional if alias else ()
    flags = alias.flags if alias else ()

    def run(as_json=False, **kwargs):
        values = {p: kwargs.pop(p) for p in call.parameters}
        path = call.path.format(**{
            p: urllib.parse.quote(v, safe='/' if p == 'port' else '')
            for p, v in values.items()})
        body = None
        if call.driver is not None:
            fields = _fields(kwargs.pop('fields'))
            kind = _driver_type(call.driver, kwargs.pop('type'))
            body = {'obm': {'type': kind, **fields}} if call.driver == 'obm' \
                else {'type': kind, **fields}
        elif call.fields:
            body = {}
            for name, required in call.fields:
                value = kwargs.pop(name)
                if name in flags:
                    value = 'true' if value else None
                if value is not None:
                    body[name] = _value(name, value)
            body.update(alias.fixed if alias else {})
        response = send(call.method, path, body)
        if response.status_code >= 400:
            raise ClientError(_failure(response))
        _show(call, response, as_json)

    params = [click.Argument([p]) for p in call.parameters]
    for name, required in call.fields:
        if alias and name in alias.fixed:
            continue
        if required:
            params.append(click.Argument([name]))
        elif name in positional:
            params.append(click.Argument([name], required=False))
        elif name in flags:
            params.append(click.Option([f'--{name.replace("_", "-")}', name],
                                       is_flag=True))
        else:
            params.append(click.Option([f'--{name.replace("_", "-")}', name],
                                       default=None))
    if call.driver is not None:
        params += [click.Argument(['type']),
                   click.Argument(['fields'], nargs=-1)]
    if call.shows in ('labels', 'object'):
        params.append(click.Option(['--json', 'as_json'], is_flag=True,
                                   help='Print the answer as JSON.'))
    if alias is None:
        return click.Command(call.command, callback=run, params=params,
                             help=call.doc, short_help=call.doc.split('.')[0])
    ours = ' '.join(alias.target)
    said = ''.join(f'  Here --{flag} is a flag.' for flag in flags)
    return click.Command(alias.path[-1], callback=run, params=params,
                         help=f'HIL\'s name for `haas {ours}`.  {call.doc}'
                              f'{said}',
                         short_help=f'HIL\'s name for `haas {ours}`')


def _build():
    root = click.Group('haas', help=(
        'Use a HaaS installation through its REST API: one command per '
        'call.\n\nHAAS_ENDPOINT (or [client] endpoint in haas.cfg) names '
        'the server; HAAS_USERNAME and HAAS_PASSWORD give credentials '
        '(HIL_ENDPOINT, HIL_USERNAME and HIL_PASSWORD where those are not '
        'set).  HIL 1.0\'s command names work too (`haas node network '
        'connect ...`).  A '
        'refused call prints the server\'s error type and message and '
        'exits 1.'))
    groups = {}
    for call in _calls():
        if call.group not in groups:
            groups[call.group] = click.Group(call.group,
                                             help=GROUPS[call.group])
            root.add_command(groups[call.group])
        groups[call.group].add_command(_command(call))
    ours = {(call.group, call.command): call for call in _calls()}
    for alias in ALIASES:
        group = groups[alias.path[0]]
        for depth in range(1, len(alias.path) - 1):
            words = alias.path[:depth + 1]
            if words[-1] not in group.commands:
                group.add_command(click.Group(words[-1],
                                              help=SUBGROUPS[words]))
            group = group.commands[words[-1]]
        group.add_command(_command(ours[alias.target], alias))
    return root


main = _build()


def run():
    """The `haas` executable."""
    main(prog_name='haas')


if __name__ == '__main__':
    sys.exit(run())
