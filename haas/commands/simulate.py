"""`haas-admin simulate`: run a simulated device (haas.simulators)."""

import click

from haas.commands.base import HaasGroup
from haas.simulators import MODELS, TELNET


@click.group(cls=HaasGroup)
def simulate():
    """Run a simulated device, for tests, demos and trying HaaS without
    hardware."""


def _address(ctx, param, value):
    if value is None:
        return None
    host, sep, port = value.rpartition(':')
    if not sep or not port.isascii() or not port.isdigit() \
            or not 0 <= int(port) <= 65535:
        raise click.BadParameter(f'{value!r} is not HOST:PORT')
    return host.strip('[]') or '127.0.0.1', int(port)


@simulate.command('switch')
@click.option('--model', required=True, help='The device to simulate.',
              type=click.Choice(sorted(MODELS)))
@click.option('--listen', default='127.0.0.1:0', show_default=True,
              callback=_address,
              help='HOST:PORT to listen on (port 0: any free port).')
@click.option('--telnet', default=None, callback=_address,
              metavar='HOST:PORT',
              help='Also serve the same device over telnet at HOST:PORT '
                   '(port 0: any free port), with its own User Name and '
                   'Password prompts: ' + ', '.join(sorted(TELNET))
                   + ' only.')
@click.option('--state', required=True,
              type=click.Path(file_okay=False),
              help='Folder that keeps the device\'s state across restarts.')
@click.option('--username', required=True, help='The login it accepts.')
@click.option('--password', required=True, help='Its password.')
@click.option('--latency', default=0.0, show_default=True,
              type=click.FloatRange(min=0),
              help='Seconds each command takes.')
def switch(model, listen, telnet, state, username, password, latency):
    """Run one simulated switch until stopped (SIGTERM or Ctrl-C).

    It prints `listening on HOST:PORT` once it accepts connections, and
    with --telnet `telnet on HOST:PORT` once it accepts those too.
    Telnet sends the password in clear: serve it on a trusted network
    only.
    """
    from haas import simulators
    host, port = listen
    if telnet is not None and model not in TELNET:
        raise click.BadParameter(
            f'{model} is served over SSH only; telnet is for '
            f'{", ".join(sorted(TELNET))}', param_hint="'--telnet'")
    more = {} if telnet is None else {'telnet': telnet}
    try:
        simulators.server(model)(host, port, state, username, password,
                                 latency, **more)
    except OSError as e:
        # A port in use, an address not of this host, a state folder it
        # may not write: the operator's to fix, in one line.
        raise click.ClickException(
            f'cannot serve the switch: {e.strerror or e}') from None


@simulate.command('bmc')
@click.option('--listen', default='127.0.0.1:0', show_default=True,
              callback=_address,
              help='HOST:PORT to listen on, UDP (port 0: any free port; '
                   'a real BMC listens on 623).')
@click.option('--state', required=True,
              type=click.Path(file_okay=False),
              help='Folder that keeps the node\'s state across restarts.')
@click.option('--username', required=True, help='The login it accepts.')
@click.option('--password', required=True, help='Its password.')
def bmc(listen, state, username, password):
    """Run one simulated BMC (IPMI v2.0, RMCP+) until stopped (SIGTERM or
    Ctrl-C): chassis power and boot device, as `ipmitool -I lanplus`
    drives them.

    It prints `listening on HOST:PORT` once it takes packets.
    """
    from haas.simulators import bmc
    host, port = listen
    bmc.serve(host, port, state, username, password)
