"""`haas-admin switch`: the switches as they really are (haas.verify)."""

import json

import click

from haas.commands.base import HaasGroup, with_app


@click.group(cls=HaasGroup)
def switch():
    """Compare the switches with the database, and repair them."""


def _where(state):
    if state.nic is None:
        return f'port {state.port} (no nic)'
    return f'port {state.port} (node {state.node}, nic {state.nic})'


def _value(network_id, label=None):
    if network_id is None:
        return 'nothing'
    return f'{network_id} ({label})' if label else network_id


def _described(state):
    """One line for a port that is not `ok`."""
    from haas import verify
    if state.verdict == verify.PENDING:
        on = 'its nic' if state.nic is not None else 'it'
        return (f'pending: {_where(state)}: an action is queued on {on}; '
                f'not compared')
    if state.verdict == verify.UNREADABLE:
        return f'unreadable: {_where(state)}: {state.reason}'
    differences = '; '.join(
        f'{d.channel}: switch {_value(d.switch)}, database '
        f'{_value(d.database, d.network)}' for d in state.differences)
    return f'drift: {_where(state)}: {differences}'


@switch.command('verify')
@click.argument('label', metavar='SWITCH')
@click.option('--fix', is_flag=True,
              help='Queue the networking actions that make the switch match '
                   'the database, for the daemon to apply.')
@click.option('--json', 'as_json', is_flag=True,
              help='Print the report (and what --fix queued) as JSON.')
@click.pass_context
@with_app
def verify_command(ctx, label, fix, as_json):
    """Compare what each port of SWITCH carries, read from the switch
    through its driver, with the networks the database has its nic on.

    Lists every port that differs (drift), that could not be read, or
    whose nic has an action queued (pending: the daemon has yet to apply
    it; not drift).  Exits 0 when the switch matches the database, 1 when
    it does not (--fix or not: the daemon has yet to apply the repairs).

    With --fix, queues for each drifted port that a nic is cabled to the
    actions that make the switch match the database (a detach for a
    channel only the switch has, a connect for one the database has),
    and says what it queued; a port with no nic that carries something
    gets a port revert, which takes it off every network.

    An unknown switch, or one that cannot be reached, is one line
    (Error: ...) and exit status 1, with nothing queued.
    """
    from haas import migrations, verify
    migrations.require_current_schema()
    report = verify.verify(label)
    queued, left = ([], [])
    if fix and report.drift:
        queued, left = verify.fix(report)
    if as_json:
        out = report.as_dict()
        if fix:
            out['queued'] = [q.as_dict() for q in queued]
            out['left'] = [s.port for s in left]
        click.echo(json.dumps(out, indent=2, sort_keys=True))
    else:
        for state in report.ports:
            if state.verdict != verify.OK:
                click.echo(_described(state))
        for q in queued:
            to = f' to network {q.network}' if q.network else ''
            on = f' on {q.channel}' if q.channel else ''
            click.echo(f'queued: {q.action} {_where(q)}{on}{to} '
                       f'(status_id {q.status_id})')
        for state in left:
            click.echo(f'left: {_where(state)}: changed since it was read: '
                       f'verify again')
        counts = report.counts()
        click.echo(f'switch {label}: {len(report.ports)} ports, '
                   f'{counts[verify.OK]} as in the database, '
                   f'{counts[verify.DRIFT]} drifted, '
                   f'{counts[verify.PENDING]} pending, '
                   f'{counts[verify.UNREADABLE]} unreadable')
    if report.drift:
        ctx.exit(1)
