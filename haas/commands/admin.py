"""`haas-admin`: the operator's command line.

Commands parse options and call library functions; `HaasGroup` turns every
error an operator can fix into one line and exit status 1.
"""

import click

from haas.commands.base import HaasGroup, Script, with_app
from haas.commands.db import db
from haas.commands.doctor import doctor
from haas.commands.secrets import secrets
from haas.commands.simulate import simulate
from haas.commands.switch import switch


@click.group(cls=HaasGroup)
@click.version_option(package_name='haas')
@click.pass_context
def main(ctx):
    """Administer a HaaS installation: its database and its servers.

    Configuration comes from the file named by HAAS_CONFIG, else ./haas.cfg,
    else built-in defaults (a SQLite file haas.db here).
    """
    if ctx.obj is None:
        ctx.obj = Script()


main.add_command(db)
main.add_command(simulate)
main.add_command(secrets)
main.add_command(switch)
main.add_command(doctor)


@main.command('create-admin-user')
@click.argument('username')
@click.option('--password-stdin', is_flag=True,
              help='Read the password from the first line of standard input '
                   'instead of asking for it.')
@with_app
def create_admin_user(username, password_stdin):
    """Add an administrator to the auth backend's users.

    The password is asked for (twice), or read from standard input with
    --password-stdin, so that it stays out of the shell's history.  Only an
    auth backend that keeps users (haas.ext.auth.database) can do this.
    """
    from flask import current_app

    from haas import migrations
    from haas.errors import HaasError
    backend = current_app.extensions['haas'].auth_backend
    if not backend.keeps_users:
        backend.create_admin_user(username, None)  # says why it cannot
    # Before the password is asked for: a schema that is not current
    # would refuse it anyway.
    migrations.require_current_schema()
    if password_stdin:
        import sys
        password = sys.stdin.readline().rstrip('\r\n')
    else:
        password = click.prompt('Password', hide_input=True,
                                confirmation_prompt=True)
    if not password:
        raise HaasError('the password is empty')
    backend.create_admin_user(username, password)


@main.command()
@click.option('--host', default='127.0.0.1', show_default=True,
              help='Address to listen on.')
@click.option('--port', default=5000, show_default=True, type=int,
              help='Port to listen on.')
@with_app
def serve(host, port):
    """Run the API on Flask's development server.

    In production, run `haas.wsgi:application` under a WSGI server such as
    gunicorn instead.  Refuses to start while the schema is not current.
    """
    from flask import current_app

    from haas import migrations, rest
    migrations.require_current_schema()
    rest.prepare(current_app)
    debug = current_app.extensions['haas'].config.getboolean('devel', 'debug')
    current_app.run(host=host, port=port, debug=debug, use_reloader=debug)


def _share(ctx, param, value):
    if value is None:
        return None
    index, sep, count = value.partition('/')
    if not (sep and index.isascii() and index.isdigit() and count.isascii()
            and count.isdigit() and int(index) < int(count)):
        raise click.BadParameter(f'{value!r} is not INDEX/COUNT')
    return int(index), int(count)


@main.command('serve-networks')
# The share of the switches one of `[daemon] processes` applies the
# actions of; given by the daemon that runs them.
@click.option('--share', callback=_share, hidden=True)
@with_app
@click.pass_context
def serve_networks(ctx, share):
    """Apply queued networking actions to the switches, until stopped.

    Any number of these daemons may share one database: each action is
    applied once, a failing switch is retried with backoff while the others
    go on, and SIGTERM or Ctrl-C stops the daemon once the actions in hand
    are done.  Up to `[daemon] workers` switches are worked on at once
    (PostgreSQL; SQLite applies one action at a time), each through one
    session for a batch of its actions, in each of `[daemon] processes`
    processes (PostgreSQL), which share the switches out.  Refuses to
    start while the schema is not current, or is expanded for an online
    upgrade and not contracted (UPGRADING.rst).
    """
    import sys

    from flask import current_app

    from haas import deferred, migrations
    from haas.model import db
    # The actions the previous release queues until the contract have no
    # port: its daemon applies them meanwhile (UPGRADING.rst).
    migrations.require_current_schema(contracted=True)
    config = current_app.extensions['haas'].config
    processes = config.daemon_processes
    address = (config.get('daemon', 'metrics') or '').strip()
    if address and share is None:
        from haas import metrics
        from haas.errors import ConfigError
        if processes > 1 and not metrics.multiprocess():
            raise ConfigError('[daemon] metrics with [daemon] processes > 1 '
                              'needs [metrics] multiprocess_dir, where the '
                              'processes add up their counts')
        host, port = metrics.serve(address)
        click.echo(f'metrics on {host}:{port}', err=True)
    if share is None and processes > 1 \
            and db.engine.dialect.name == 'postgresql':
        db.engine.dispose()
        ctx.exit(deferred.serve_shares(lambda index: [
            sys.executable, '-m', 'haas.commands.admin', 'serve-networks',
            '--share', f'{index}/{processes}'], processes))
    deferred.Daemon(poll=config.daemon_poll,
                    workers=config.daemon_workers,
                    share=share or (0, 1)).serve()


@main.command('serve-consoles')
@with_app
def serve_consoles():
    """Capture the serial consoles of the nodes whose capture is on
    (PUT /node/NODE/console), until stopped.

    One serial-over-LAN session per node, reconnected with backoff when
    its BMC drops it; the last `[consoles] keep_kib` KiB of each console
    kept in the database, where every API server reads them.  Looks for
    captures turned on or off every `[consoles] poll` seconds.  Run one,
    beside `haas-admin serve-networks`; SIGTERM or Ctrl-C stops it.
    Refuses to start while the schema is not current.
    """
    from flask import current_app

    from haas import console_worker, consoles, migrations
    from haas.errors import ConfigError
    migrations.require_current_schema()
    config = current_app.extensions['haas'].config
    poll = config.seconds('consoles', 'poll', console_worker.POLL)
    if poll <= 0:
        raise ConfigError(f'[consoles] poll must be a number of seconds '
                          f'(more than 0), not '
                          f'{config.get("consoles", "poll")!r}')
    console_worker.Worker(consoles.keep(config), poll).serve()


if __name__ == '__main__':
    main()
