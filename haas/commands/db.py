"""`haas-admin db`: Flask-Migrate's commands for HaaS's branches, and more.

Each command parses its options and calls the function of the same name in
haas.migrations, whose docstring is the command's help.
"""

import contextlib
import json

import click

from haas import migrations
from haas.commands.base import (
    HaasGroup,
    app_context,
    haas_config,
    help_of,
    with_app,
    with_config,
)
from haas.commands.db_text import json_row, log_text, status_text
from haas.errors import squashed


def _verb(name, function, needs='app', **settings):
    """A command that calls `function`, documented by its docstring (or,
    with no `function`, by the command's own).

    `needs` is what the command runs with: 'app' (inside the application's
    context), 'config' (given as `config`) or None (it says itself).
    `settings` go to Click's command.
    """
    wrap = {'app': with_app, 'config': with_config, None: lambda f: f}[needs]

    def decorate(f):
        return db.command(name, help=help_of(function or f),
                          **settings)(wrap(f))
    return decorate


@click.group(cls=HaasGroup)
def db():
    """Manage the database schema: one Alembic branch per extension.

    Operators create a database with `create`, bring an existing one up to
    date with `upgrade` (every branch's head by default) and see where it
    stands with `status`.  The other commands inspect, repair, or write
    migration scripts.
    """


_sql = click.option('--sql', is_flag=True,
                    help="Don't touch the database; print the SQL instead.")
_json = click.option('--json', 'as_json', is_flag=True,
                     help='Print JSON, the same bytes for the same state.')
_plan = click.option('--plan', is_flag=True,
                     help='Print every script that would run, in order, '
                          'and run none.')
_extension = click.option('--extension', metavar='MODULE', default=None,
                          help="Only this extension's branch (its module "
                               "name; 'haas' for core).")
_lock_wait = click.option('--lock-wait', metavar='SECONDS', type=float,
                          default=None,
                          help='How long to wait for the schema lock '
                               '([migrations] lock_wait, default 600).')
_verbose = click.option('-v', '--verbose', is_flag=True,
                        help='Use more verbose output.')
_message = click.option('-m', '--message', default=None,
                        help='Revision message.')
_head = click.option('--head', default=None,
                     help="Revision to base the script on: '<branch>@head', "
                          "or 'base' for a new branch (the default with "
                          "--branch-label).")
_splice = click.option('--splice', is_flag=True,
                       help='Allow a non-head revision as the --head.')
_branch_label = click.option('--branch-label', default=None,
                             help='Start a new branch with this label: the '
                                  "extension's module name.")
_version_path = click.option('--version-path', default=None,
                             help='Folder for the new script (default: the '
                                  "branch's folder).")
_rev_id = click.option('--rev-id', default=None,
                       help='Revision id to use instead of a generated one.')


# --- for operators ------------------------------------------------------

@_verb('status', migrations.status)
@_json
@click.option('--wait', metavar='SECONDS', type=float, default=None,
              help='Poll until every enabled branch is at its head, for at '
                   'most this long.')
@click.option('--clients', is_flag=True,
              help='List the connections to the database and the HaaS '
                   'release each names (always while it is expanded).')
@click.pass_context
def status(ctx, as_json, wait, clients):
    result = migrations.status(wait, clients)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2, sort_keys=True))
    else:
        click.echo(status_text(result))
    if not result.current:
        ctx.exit(1)


@_verb('create', migrations.create)
@_lock_wait
def create(lock_wait):
    created = migrations.create(lock_wait)
    if created:
        click.echo(f'Created branches: {", ".join(created)}')
    elif created.pool_added:
        click.echo(f'Every enabled branch already exists; added '
                   f'{created.pool_added} entries to the network '
                   f'allocator\'s pool.')
    else:
        click.echo('Every enabled branch already exists; nothing created.')


def _print_plan(plan, as_json):
    click.echo(plan.as_json() if as_json else str(plan))


@_verb('upgrade', migrations.upgrade)
@_extension
@_plan
@_sql
@_json
@_lock_wait
@click.option('--to-release', metavar='RELEASE', default=None,
              help="Stop each of HaaS's branches at RELEASE's revision "
                   "(such as 0.3) instead of REVISION.")
@click.option('--no-checkpoints', 'checkpoints', flag_value=False,
              default=True,
              help='Run every revision, even where a checkpoint could '
                   'build a branch without tables at once.')
@click.option('--phase', type=click.Choice(['expand', 'contract']),
              default=None,
              help='Upgrade while the servers run: expand, then contract '
                   '(UPGRADING.rst).')
@click.option('--force', is_flag=True,
              help='With --phase contract: contract even while servers of '
                   'the previous release may be connected.')
@click.argument('revision', default=None, required=False)
def upgrade(extension, plan, sql, as_json, lock_wait, to_release,
            checkpoints, phase, force, revision):
    if phase is not None:
        if revision is not None or to_release or extension or sql:
            raise click.UsageError('--phase upgrades every branch: give no '
                                   'REVISION, --to-release, --extension or '
                                   '--sql with it')
        result = migrations.upgrade(plan=plan, lock_wait=lock_wait,
                                    phase=phase, force=force)
        if plan:
            _print_plan(result, as_json)
        return
    if force:
        raise click.UsageError('--force goes with --phase contract')
    if to_release is not None:
        if revision is not None:
            raise click.UsageError('give a REVISION or --to-release, not '
                                   'both')
        revision = migrations.release_target(to_release)
    revision = revision or 'heads'
    if sql:
        migrations.upgrade_sql(revision, extension, plan,
                               checkpoints=checkpoints)
        return
    result = migrations.upgrade(revision, extension, plan, lock_wait,
                                checkpoints)
    if plan:
        _print_plan(result, as_json)
        if result.refusal is not None:
            raise click.ClickException(result.refusal)


# `downgrade --extension haas.ext.obm.mock -1`: Click would take the
# relative revision for an option; Alembic's command line takes it as one.
@_verb('downgrade', migrations.downgrade,
       context_settings={'ignore_unknown_options': True})
@_extension
@_plan
@_sql
@_json
@click.option('--cascade', is_flag=True,
              help='Also downgrade the branches that depend on it, first.')
@_lock_wait
@click.argument('revision', nargs=-1, required=True)
def downgrade(extension, plan, sql, as_json, cascade, lock_wait, revision):
    revision = _one_revision(revision)
    if sql:
        migrations.downgrade_sql(revision, extension)
        return
    result = migrations.downgrade(revision, extension, plan, cascade,
                                  lock_wait)
    if plan:
        _print_plan(result, as_json)


def _one_revision(words):
    """The one REVISION among what Click let through: a relative revision
    such as -1 may look like an option, a misspelt option may not."""
    options = [w for w in words if w.startswith('-') and not w[1:].isdigit()]
    if options:
        raise click.NoSuchOption(options[0])
    if len(words) != 1:
        raise click.UsageError(f'give one REVISION, not {len(words)}: '
                               f'{" ".join(words)}')
    return words[0]


@_verb('forget', migrations.forget)
@click.option('--drop-tables', is_flag=True,
              help="Also drop the branch's tables.")
@_lock_wait
@click.argument('name')
def forget(drop_tables, lock_wait, name):
    dropped = migrations.forget(name, drop_tables, lock_wait)
    click.echo(f'Forgot {name}' + (f'; dropped {", ".join(dropped)}'
                                   if dropped else '') + '.')


@_verb('log', migrations.log)
@_extension
@_json
def log(extension, as_json):
    rows = migrations.log(extension)
    if as_json:
        click.echo(json.dumps([json_row(row) for row in rows], indent=2,
                              sort_keys=True))
        return
    click.echo(log_text(rows))


@_verb('verify', migrations.verify)
@click.option('--accept', metavar='REVISION', default=None,
              help='Record that the change to this applied revision was '
                   'reviewed.')
@click.option('--reason', metavar='TEXT', default=None,
              help='Why the change is accepted (with --accept).')
@_json
@click.pass_context
def verify(ctx, accept, reason, as_json):
    if reason is not None and accept is None:
        raise click.UsageError('--reason goes with --accept REVISION')
    if accept is not None:
        change = migrations.verify(accept, reason)
        click.echo(f'Accepted the change to revision {change.revision} of '
                   f'branch {change.branch}: {reason.strip()}')
        return
    changes, checked = migrations.verify()
    if as_json:
        click.echo(json.dumps({'checked': checked, 'changed': [
            c.as_dict() for c in changes]}, indent=2, sort_keys=True))
        if changes:
            ctx.exit(1)
        return
    for c in changes:
        when = ('before the ledger' if c.since is None else
                f'{c.since.isoformat(sep=" ", timespec="seconds")} UTC')
        verb = 'accepted' if c.direction == 'accept' else 'applied'
        click.echo(f'changed: revision {c.revision} of branch {c.branch} '
                   f'({c.path}), {verb} {when}')
    if changes:
        from haas.migrations.reviewing import changed_message
        raise click.ClickException(changed_message(changes))
    click.echo(f'Every applied script is the code that ran ({checked} '
               f'checked).')


@_verb('lint', migrations.lint)
@click.option('--since', metavar='REVISION', default=None,
              help='Read the revisions after this one, on its branch.')
@_extension
@click.option('--postgresql-version', metavar='VERSION', default=None,
              help="The PostgreSQL version to judge for (default: the "
                   "server's, or 12 without a database).")
@click.option('--trace', is_flag=True,
              help='Also run the pending revisions in a transaction that is '
                   'rolled back, and list the locks and rewrites of each '
                   'statement (PostgreSQL only).')
@_json
def lint(since, extension, postgresql_version, trace, as_json):
    from haas.migrations import linting
    version = None if postgresql_version is None else \
        linting.postgresql_version(postgresql_version)
    findings, read, traced = migrations.lint(since, extension, version,
                                             trace)
    if as_json:
        out = {'revisions': read, 'findings': [f.as_dict()
                                               for f in findings]}
        if traced is not None:
            out['trace'] = [t.as_dict() for t in traced]
        click.echo(json.dumps(out, indent=2, sort_keys=True))
    else:
        # Each revision's findings, then what its statements did.
        order = {}
        for revision in [t.revision for t in traced or ()] + [
                f.revision for f in findings]:
            order.setdefault(revision, len(order))
        lines = [(order[f.revision], 0, str(f)) for f in findings] + [
            (order[t.revision], 1, str(t)) for t in traced or ()]
        for *_, line in sorted(lines, key=lambda line: line[:2]):
            click.echo(line)
    unwaived = [f for f in findings if not f.waived]
    if unwaived:
        many = len(unwaived) > 1
        raise click.ClickException(
            f'{len(unwaived)} finding{"s" if many else ""} not waived: '
            f'change the revision{"s" if many else ""}, or waive the rule '
            f'with a reason in lint_waivers')
    if not as_json:
        click.echo(f'Nothing unsafe in {read} revision'
                   f'{"s" if read != 1 else ""}'
                   + (f' ({len(findings)} waived).' if findings else '.'))


@_verb('test', None, needs='config')
@click.option('--postgresql', metavar='URL', default=None,
              help='A PostgreSQL server to make the test databases on '
                   '(default: SQLite files in a temporary folder).')
@click.argument('extension')
def test(config, postgresql, extension):
    """Run the migration checks of EXTENSION on fresh databases.

    On a new SQLite database each (or, with --postgresql URL, on new
    databases made on that server and dropped after), with EXTENSION
    enabled: its branch upgrades from base to head on an empty database;
    `upgrade heads` builds what `db create` builds; every revision goes
    down and up again with the rows the extension's `haas_testing_rows`
    seeds unchanged; autogenerate finds nothing to do for its models; its
    scripts import no models; each checkpoint of its branches builds what
    the revisions it replaces build.  The sections of haas.cfg other than
    [database] and [extensions] are used as they are.  Exits 1 on a
    problem.  The same checks are pytest tests in `haas.testing`.
    """
    # The checks are haas.testing's, which sits above the migrations
    # library: the command calls them, the library does not.
    from haas import testing
    results = testing.test_extension(extension, config, postgresql)
    failed = 0
    for check, problems in results.items():
        click.echo(f'{"ok    " if not problems else "FAILED"}  {check}')
        for problem in problems:
            click.echo(f'        {problem}')
        failed += bool(problems)
    if failed:
        raise click.ClickException(
            f'{failed} of {len(results)} checks failed for {extension}')


@_verb('checkpoint', migrations.checkpoint)
@click.option('--release', metavar='RELEASE', default=None,
              help="The release (such as 0.3) whose revision of the branch "
                   "the checkpoint stands for.")
@click.option('--revision', metavar='REVISION', default=None,
              help='The revision of the branch it stands for.')
@click.option('--postgresql', metavar='URL', default=None,
              help='A PostgreSQL server to build the history on (default: '
                   'the server of [database] uri, if it is PostgreSQL).')
@click.option('--output', metavar='FILE', default=None,
              help="Where to write it (default: the branch's folder).")
@click.argument('extension')
def checkpoint(release, revision, postgresql, output, extension):
    from flask import current_app

    # haas.testing makes and drops scratch databases on a server; the
    # command uses it, the library is given the databases.
    from haas import testing
    if postgresql is None:
        uri = current_app.config['SQLALCHEMY_DATABASE_URI']
        if not str(uri).startswith('postgresql'):
            raise click.ClickException(
                'a checkpoint must be exact on PostgreSQL too: give '
                '--postgresql URL, a server to build the history on')
        postgresql = uri
    with contextlib.ExitStack() as stack:
        made = []

        def new():
            # The server is asked only once the checkpoint's point is
            # known: a wrong name is said without it.
            if not made:
                made.append(stack.enter_context(
                    testing.postgresql_databases(postgresql)))
            return made[0]()
        try:
            path = migrations.checkpoint(extension, new, release, revision,
                                         output)
        except ConnectionError as e:
            raise click.ClickException(squashed(e)) from None
    click.echo(f'Wrote {path}')


@_verb('stamp', migrations.stamp)
@_sql
@click.option('--purge', is_flag=True,
              help='Delete every version row before stamping.')
@_lock_wait
@click.argument('revision', default='heads')
def stamp(sql, purge, lock_wait, revision):
    migrations.stamp(revision, purge, sql, lock_wait=lock_wait)


@_verb('check', migrations.check)
def check():
    problems = migrations.check()
    for problem in problems:
        click.echo(problem)
    if problems:
        raise click.ClickException(
            f'{len(problems)} problem{"s" if len(problems) > 1 else ""} '
            f'found')
    click.echo('No problems: the scripts form one line per branch, the '
               'models match them, and the database is at every head.')


# --- reading ------------------------------------------------------------

@_verb('current', migrations.current)
@_extension
@_verbose
def current(extension, verbose):
    migrations.current(extension, verbose)


@_verb('heads', migrations.heads, needs='config')
@_verbose
@click.option('--resolve-dependencies', is_flag=True,
              help='Treat dependency versions as down revisions.')
def heads(config, verbose, resolve_dependencies):
    migrations.heads(config, verbose, resolve_dependencies)


@_verb('branches', migrations.branches, needs='config')
@_verbose
def branches(config, verbose):
    migrations.branches(config, verbose)


@_verb('show', migrations.show, needs='config')
@click.argument('revisions', nargs=-1)
def show(config, revisions):
    migrations.show(revisions, config)


@_verb('history', migrations.history, needs=None)
@click.option('-r', '--rev-range', default=None,
              help='Range of revisions, [start]:[end].')
@_extension
@_verbose
@click.option('-i', '--indicate-current', is_flag=True,
              help='Mark the current revisions (reads the database).')
def history(rev_range, extension, verbose, indicate_current):
    if indicate_current:
        with app_context():
            migrations.history(None, rev_range, extension, verbose, True)
    else:
        migrations.history(haas_config(), rev_range, extension, verbose)


# --- writing scripts ------------------------------------------------------

@_verb('revision', migrations.revision)
@_message
@click.option('--autogenerate', is_flag=True,
              help='Fill the script from the difference between the models '
                   'and the database.')
@_sql
@_head
@_splice
@_branch_label
@_version_path
@_rev_id
def revision(message, autogenerate, sql, head, splice, branch_label,
             version_path, rev_id):
    migrations.revision(message, autogenerate, sql, head, splice,
                        branch_label, version_path, rev_id)


@_verb('migrate', migrations.migrate)
@_message
@_sql
@_head
@_splice
@_branch_label
@_version_path
@_rev_id
def migrate(message, sql, head, splice, branch_label, version_path, rev_id):
    migrations.migrate(message, sql, head, splice, branch_label,
                       version_path, rev_id)


@_verb('edit', migrations.edit)
@click.argument('revision')
def edit(revision):
    migrations.edit(revision)


@_verb('merge', migrations.merge)
@_message
@click.option('--branch-label', default=None,
              help='Branch label to apply to the new revision.')
@_rev_id
@click.argument('revisions', nargs=-1, required=True)
def merge(message, branch_label, rev_id, revisions):
    migrations.merge(revisions, message, branch_label, rev_id)
