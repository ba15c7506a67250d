"""`haas-admin doctor`: is this installation well?  One line a check."""

import concurrent.futures

import click

from haas.commands.base import HaasCommand

#: Switches and BMCs checked at once: each check waits on its device
#: (its driver's timeouts bound it).
AT_ONCE = 16


class Report:
    """The checks' lines, and whether any failed."""

    def __init__(self):
        self.failed = False

    def ok(self, what, detail):
        click.echo(f'ok    {what}: {detail}')

    def fail(self, what, detail):
        self.failed = True
        click.echo(f'FAIL  {what}: {detail}')


def _one_line(error):
    from haas.errors import squashed
    return squashed(error) or type(error).__name__


@click.command(cls=HaasCommand)
def doctor():
    """Check this installation and say what is wrong, one line each: the
    configuration; the database (reachable, schema current); a networking
    daemon alive (its heartbeat, from any host); the maintenance project,
    when [maintenance] names one; a console worker alive
    when some node's console is captured; each switch reachable
    and its credentials accepted (a login, nothing changed); each node's
    BMC reachable (its power status read, nothing changed).

    Exits 0 when every check passes, 1 otherwise.
    """
    from haas.commands.base import _script
    from haas.errors import HaasError
    report = Report()
    try:
        app = _script().load_app()
    except HaasError as e:
        report.fail('configuration', _one_line(e))
        raise SystemExit(1)
    config = app.extensions['haas'].config
    report.ok('configuration', config.path or 'the defaults (no haas.cfg)')
    with app.app_context():
        if _database(report, config):
            _maintenance(report, config)
            _daemon(report)
            _console_worker(report)
            _devices(report, app)
    raise SystemExit(1 if report.failed else 0)


def _database(report, config):
    import sqlalchemy as sa

    from haas import migrations
    from haas.errors import HaasError
    where = sa.make_url(config.database_uri).render_as_string(
        hide_password=True)
    try:
        migrations.require_current_schema()
    except HaasError as e:
        report.fail('database', f'{where}: {_one_line(e)}')
        return False
    report.ok('database', f'{where}: reachable, schema current')
    return True


def _maintenance(report, config):
    """A line only where a maintenance pool is configured: whether its
    project exists, without which every detach is refused."""
    from haas import maintenance
    from haas.model import Project, db
    pool = maintenance.pool(config)
    if pool is None:
        return
    found = db.session.execute(db.select(Project.id).filter_by(
        label=pool.project)).first()
    db.session.rollback()
    if found is None:
        report.fail('maintenance pool', f'project {pool.project} does not '
                                        f'exist: detaches are refused until '
                                        f'it is created')
    else:
        report.ok('maintenance pool', f'project {pool.project}')


def _daemon(report):
    from haas import heartbeat
    from haas.model import db
    with db.engine.connect() as connection:
        live, last = heartbeat.alive(connection, heartbeat.NETWORKS)
    if live:
        report.ok('networking daemon', f'{len(live)} alive '
                                       f'({", ".join(live)})')
    elif last is not None:
        report.fail('networking daemon', f'none alive: the last was seen '
                                         f'{last:.0f} s ago and did not '
                                         f'stop cleanly')
    else:
        report.fail('networking daemon', 'none running: start '
                                         '`haas-admin serve-networks`')


def _console_worker(report):
    """A line only where some node's console is captured."""
    from haas import heartbeat
    from haas.model import ConsoleLog, db
    with db.engine.connect() as connection:
        captured = connection.execute(db.select(db.func.count()).where(
            ConsoleLog.capture)).scalar_one()
        if not captured:
            return
        live, last = heartbeat.alive(connection, heartbeat.CONSOLES)
    what = 'console worker'
    if live:
        report.ok(what, f'{len(live)} alive ({", ".join(live)}), '
                        f'{captured} console(s) captured')
    elif last is not None:
        report.fail(what, f'none alive: the last was seen {last:.0f} s '
                          f'ago and did not stop cleanly')
    else:
        report.fail(what, f'none running, and {captured} console(s) to '
                          f'capture: start `haas-admin serve-consoles`')


def _devices(report, app):
    from haas.model import Node, Switch, db
    switches = db.session.execute(
        db.select(Switch.id, Switch.label).order_by(Switch.label)).all()
    nodes = db.session.execute(
        db.select(Node.id, Node.label).order_by(Node.label)).all()
    db.session.rollback()
    with concurrent.futures.ThreadPoolExecutor(AT_ONCE) as pool:
        checked = [(f'switch {label}', pool.submit(_switch, app, id_))
                   for id_, label in switches]
        checked += [(f'BMC of node {label}', pool.submit(_bmc, app, id_))
                    for id_, label in nodes]
        for what, future in checked:
            ok, detail = future.result()
            (report.ok if ok else report.fail)(what, detail)


def _switch(app, switch_id):
    """(ok, what was seen) of one switch: a login, then a logout."""
    from haas.model import Switch, db
    with app.app_context():
        try:
            switch = db.session.get(Switch, switch_id)
            ports = sorted(port.label for port in switch.ports)
            session = switch.session()
            if session is None:  # [devel] dry_run
                return True, 'not checked (dry run)'
            try:
                # A read, which a driver over HTTP needs to log in at all.
                if ports:
                    session.port_networks(ports[0])
            finally:
                session.disconnect()
            return True, 'reachable, credentials accepted'
        except Exception as e:  # each driver's own errors: one line each
            return False, _one_line(e)
        finally:
            db.session.remove()


def _bmc(app, node_id):
    """(ok, what was seen) of one node's BMC: its power status read."""
    from haas.model import Node, db
    with app.app_context():
        try:
            obm = db.session.get(Node, node_id).obm
            status = obm.power_status()
            if status is None:  # [devel] dry_run
                return True, 'not checked (dry run)'
            return True, f'reachable, power {status}'
        except NotImplementedError:
            return True, 'not checked (its driver reads no power status)'
        except Exception as e:
            return False, _one_line(e)
        finally:
            db.session.remove()
