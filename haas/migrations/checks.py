"""`db check`: the scripts, the models and the database, every problem.

The code side needs no database: the scripts of the enabled branches are
run on a scratch SQLite database and the models compared with what they
built.  The database side compares the database's revisions with the
code's heads.
"""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script.revision import MultipleHeads

from haas.errors import HaasError
from haas.migrations import alembic_private
from haas.migrations.adopt import scratch
from haas.migrations.tables import branch_of_table
from haas.model import db


def check(schema):
    """Every problem found, one line each (none: all is well)."""
    problems = graph_problems(schema.branches)
    if not problems:
        problems = drift(schema.branches) + checkpoint_problems(
            schema.branches)
    try:
        status = schema.status()
    except HaasError as e:
        # A history that cannot be read stops the database side too: its
        # error is the graph problem already listed.
        return problems or [f'database: {e}']
    blockers = status.blockers()
    advice = status.advice()
    if blockers:
        problems += [f'database: {b.message}' for b in blockers]
    elif advice is not None:
        problems.append(f'database: {advice.message}')
    # An orphaned branch is a head the code does not have; a branch
    # without scripts has tables that nothing creates.
    problems += [f'database: {line}' for line in status.warnings()]
    return problems


def graph_problems(branches):
    """What is wrong with the history the scripts form."""
    try:
        revisions = branches.revisions
    except HaasError as e:
        return [str(e)]
    problems = []
    for name in branches.names:
        scripts = branches.by_branch[name]
        if not scripts:
            continue
        forked = False
        try:
            branches.script.revision_map.get_revisions(f'{name}@head')
        except MultipleHeads as e:
            forked = True
            problems.append(f'branch {name} has {len(e.heads)} heads '
                            f'({", ".join(sorted(e.heads))})')
        ids = {s.revision for s in scripts}
        for script in scripts:
            down = alembic_private.down_revisions(script)
            if len(down) > 1:
                problems.append(f'branch {name}: {script.revision} merges '
                                f'{", ".join(down)}; a branch is one line')
            children = [r for r in script.nextrev if r in ids]
            if len(children) > 1 and not forked:
                problems.append(f'branch {name} forks at {script.revision} '
                                f'into {", ".join(sorted(children))}')
            labels = set(script.module.branch_labels or ())
            if script is scripts[0]:
                if name not in labels:
                    problems.append(
                        f'branch {name}: its first revision '
                        f'{script.revision} must carry branch_labels = '
                        f'({name!r},)')
            elif labels:
                problems.append(
                    f'branch {name}: {script.revision} sets branch_labels '
                    f'{sorted(labels)}; only a branch\'s first revision does')
            folder = branches.folders[name]
            if not _inside(script.path, folder):
                problems.append(f'branch {name}: {script.revision} is in '
                                f'{script.path}, not in the branch\'s folder '
                                f'{folder}')
    for script in revisions.values():
        if branches.branch_of(script.revision) is None:
            problems.append(f'{script.revision} ({script.path}) belongs to '
                            f'no enabled branch: its branch_labels name none')
    return problems


def checkpoint_problems(branches):
    """Checkpoints that cannot be used, or that build other than what the
    revisions they replace build (haas.migrations.checkpoints)."""
    from haas.migrations import checkpoints
    try:
        found = checkpoints.of(branches)
    except HaasError as e:
        return [str(e)]
    problems = list(checkpoints.problems(branches))
    for branch in branches.names:
        for checkpoint in found.get(branch, []):
            problems += checkpoints.differences(branches, checkpoint)
    return problems


def _inside(path, folder):
    import os
    return os.path.dirname(os.path.abspath(path)) == os.path.abspath(folder)


def drift(branches):
    """Model changes that no script makes, per branch, in words."""
    enabled = set(branches.names)

    def include(obj, name, type_, reflected, compare_to):
        return type_ != 'table' or branch_of_table(name) in enabled

    with scratch(branches) as connection:
        context = MigrationContext.configure(connection, opts={
            'compare_type': True, 'include_object': include,
            'render_as_batch': True})
        diffs = compare_metadata(context, db.metadata)
    lines = []
    for diff in diffs:
        for item in (diff if isinstance(diff, list) else [diff]):
            table, words = describe_diff(item)
            lines.append(f'branch {branch_of_table(table)}: models and '
                         f'scripts differ: {words}')
    return lines


def _column(column):
    return (f'{column.type}, '
            f'{"nullable" if column.nullable else "NOT NULL"}')


def _columns(constraint):
    return ', '.join(c.name for c in constraint.columns)


def describe_diff(item):
    """(table, words) for one of Alembic's autogenerate differences: the
    operation a new script would need."""
    kind = item[0]
    if kind in ('add_table', 'remove_table'):
        table = item[1]
        verb = 'add' if kind == 'add_table' else 'drop'
        return table.name, f'{verb} table {table.name}'
    if kind in ('add_column', 'remove_column'):
        _, _, table, column = item
        if kind == 'add_column':
            return table, (f'add column {table}.{column.name} '
                           f'({_column(column)})')
        return table, f'drop column {table}.{column.name}'
    if kind.startswith('modify_'):
        _, _, table, column, _, old, new = item
        what = kind[len('modify_'):]
        if what == 'nullable':
            old = 'nullable' if old else 'NOT NULL'
            new = 'nullable' if new else 'NOT NULL'
        return table, f'change {what} of {table}.{column} from {old} to {new}'
    if kind in ('add_index', 'remove_index'):
        index = item[1]
        verb = 'add' if kind == 'add_index' else 'drop'
        unique = 'unique ' if index.unique else ''
        return index.table.name, (f'{verb} {unique}index {index.name} on '
                                  f'{index.table.name} ({_columns(index)})')
    if kind in ('add_constraint', 'remove_constraint', 'add_fk',
                'remove_fk'):
        constraint = item[1]
        verb = 'add' if kind.startswith('add') else 'drop'
        table = constraint.table.name
        if isinstance(constraint, sa.ForeignKeyConstraint):
            target = constraint.referred_table.name
            return table, (f'{verb} foreign key {table} '
                           f'({_columns(constraint)}) -> {target}')
        return table, (f'{verb} {type(constraint).__name__} '
                       f'{constraint.name or ""} on {table} '
                       f'({_columns(constraint)})').replace('  ', ' ')
    return '', ' '.join(str(part) for part in item)


