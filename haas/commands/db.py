"""`haas-admin db`: Flask-Migrate's commands for HaaS's branches, plus `create`.

Each command parses its options and calls the function of the same name in
haas.migrations, whose docstring is the command's help.
"""

import click
from flask.cli import with_appcontext

from haas import migrations
from haas.commands import HaasGroup


def _verb(name, function):
    """A Click command that calls `function`, documented by its docstring."""
    def decorate(f):
        f.__doc__ = function.__doc__
        return db.command(name)(with_appcontext(f))
    return decorate


@click.group(cls=HaasGroup)
def db():
    """Manage the database schema: one Alembic branch per extension.

    Operators create a database with `create` and bring any existing one up
    to date with `upgrade` (every branch's head by default).
    """


_message = click.option('-m', '--message', default=None,
                        help='Revision message.')
_sql = click.option('--sql', is_flag=True,
                    help="Don't touch the database; print the SQL instead.")
_tag = click.option('--tag', default=None,
                    help='Arbitrary "tag" name handed to env.py.')
_x_arg = click.option('-x', '--x-arg', multiple=True,
                      help='Additional arguments consumed by env.py.')
_verbose = click.option('-v', '--verbose', is_flag=True,
                        help='Use more verbose output.')
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


@_verb('create', migrations.create)
def create():
    created = migrations.create()
    if created:
        click.echo(f'Created branches: {", ".join(created)}')
    else:
        click.echo('Every enabled branch already exists; nothing created.')


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
@_x_arg
def migrate(message, sql, head, splice, branch_label, version_path, rev_id,
            x_arg):
    migrations.migrate(message, sql, head, splice, branch_label,
                       version_path, rev_id, x_arg)


@_verb('edit', migrations.edit)
@click.argument('revision', default='head')
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


@_verb('upgrade', migrations.upgrade)
@_sql
@_tag
@_x_arg
@click.argument('revision', default='heads')
def upgrade(sql, tag, x_arg, revision):
    migrations.upgrade(revision, sql, tag, x_arg)


@_verb('downgrade', migrations.downgrade)
@_sql
@_tag
@_x_arg
@click.argument('revision')
def downgrade(sql, tag, x_arg, revision):
    migrations.downgrade(revision, sql, tag, x_arg)


@_verb('show', migrations.show)
@click.argument('revision', default='head')
def show(revision):
    migrations.show(revision)


@_verb('history', migrations.history)
@click.option('-r', '--rev-range', default=None,
              help='Range of revisions, [start]:[end].')
@_verbose
@click.option('-i', '--indicate-current', is_flag=True,
              help='Mark the current revision.')
def history(rev_range, verbose, indicate_current):
    migrations.history(rev_range, verbose, indicate_current)


@_verb('heads', migrations.heads)
@_verbose
@click.option('--resolve-dependencies', is_flag=True,
              help='Treat dependency versions as down revisions.')
def heads(verbose, resolve_dependencies):
    migrations.heads(verbose, resolve_dependencies)


@_verb('branches', migrations.branches)
@_verbose
def branches(verbose):
    migrations.branches(verbose)


@_verb('current', migrations.current)
@_verbose
def current(verbose):
    migrations.current(verbose)


@_verb('stamp', migrations.stamp)
@_sql
@_tag
@click.option('--purge', is_flag=True,
              help='Delete every version row before stamping.')
@click.argument('revision', default='heads')
def stamp(sql, tag, purge, revision):
    migrations.stamp(revision, sql, tag, purge)


@_verb('check', migrations.check)
def check():
    migrations.check()
    click.echo('No new upgrade operations detected.')
