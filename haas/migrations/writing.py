"""Writing migration scripts: Alembic's revision, merge and edit commands,
with the defaults HaaS's branches need."""

import os

from alembic import command

from haas.errors import MigrationError
from haas.migrations.registry import paths
from haas.migrations.runner import own_command
from haas.migrations.schema import Schema
from haas.migrations.scripts import revision_errors


def _branches(schema=None, autogenerate=False):
    branches = (schema or Schema.current()).branches
    # The hooks read it, as Flask-Migrate's commands set it.
    branches.config.cmd_opts.autogenerate = autogenerate
    return branches


def revision(message=None, autogenerate=False, sql=False, head=None,
             splice=False, branch_label=None, version_path=None, rev_id=None):
    head, version_path = _target(head, branch_label, version_path)
    schema = Schema.current()
    if autogenerate:
        # Autogenerate compares the models with the database, which must
        # have every other branch's tables as their scripts made them.
        advice = schema.status().advice()
        if advice is not None:
            raise MigrationError(f'a draft is compared with a database at '
                                 f'every head, and {advice.message}')
    branches = _branches(schema, autogenerate)
    with revision_errors(branches, head), \
            own_command(branches.config, 'revision'):
        return command.revision(
            branches.config, message, autogenerate=autogenerate, sql=sql,
            head=head, splice=splice, branch_label=branch_label,
            version_path=version_path, rev_id=rev_id)


def _target(head, branch_label, version_path):
    if branch_label is not None:
        if head is None:
            head = 'base'
        if version_path is None and head == 'base':
            version_path = paths.get(branch_label)
            if version_path is None:
                raise MigrationError(
                    f'no folder is registered for branch {branch_label}: '
                    f'its extension must set haas.migrations.paths'
                    f'[__name__], or give --version-path')
    if head is None:
        raise MigrationError("say which branch the script extends: --head "
                             "'<branch>@head', or --branch-label <module> "
                             "for a new branch")
    if version_path is not None:
        os.makedirs(version_path, exist_ok=True)
    return head, version_path


def edit(revision):
    branches = _branches()
    with revision_errors(branches, revision):
        command.edit(branches.config, revision)


def merge(revisions, message=None, branch_label=None, rev_id=None):
    branches = _branches()
    with revision_errors(branches, ' '.join(revisions)), \
            own_command(branches.config, 'merge'):
        return command.merge(branches.config, revisions, message=message,
                             branch_label=branch_label, rev_id=rev_id)
