"""The read-only verbs that print: show, history, current."""

from alembic import command

from haas.migrations import alembic_private
from haas.migrations.scripts import revision_errors


def show(branches, revisions):
    revisions = list(revisions) or [h for h in branches.heads.values() if h]
    for name in revisions:
        with revision_errors(branches, name):
            scripts = branches.script.get_revisions(name)
        for script in scripts:
            print(script.log_entry)


def history(branches, rev_range, extension, verbose, indicate_current):
    currents = set()
    if indicate_current:
        from haas.migrations.schema import Schema
        schema = Schema.current()
        with schema.reading() as connection:
            rows, _ = schema.visible_rows(connection)
        currents = {s.revision for s in branches.script.get_all_current(rows)}
    if extension is None and not indicate_current:
        with revision_errors(branches, rev_range):
            command.history(branches.config, rev_range, verbose=verbose)
        return
    base, _, head = (rev_range or ':').partition(':')
    if extension is not None:
        # The range is of that branch: `-r -2:` or `-r <rev>:head`.
        branches.require(extension)
        base, head = (f'{extension}@{end}' if end and '@' not in end else end
                      for end in (base, head))
        base, head = base or f'{extension}@base', head or f'{extension}@head'
    with revision_errors(branches, rev_range):
        scripts = [s for s in branches.script.walk_revisions(
            base=base or 'base', head=head or 'heads')
            if extension is None
            or branches.branch_of(s.revision) == extension]
    for script in scripts:
        if indicate_current:
            alembic_private.mark_current(script, script.revision in currents)
        print(script.cmd_format(verbose=verbose, include_branches=True,
                                include_doc=True, include_parents=True))


def current(schema, extension, verbose):
    from haas.migrations import state
    status = schema.status()
    for branch in status.branches:
        if extension is not None and branch.branch != extension:
            continue
        if branch.revision is None:
            continue
        words = {
            state.UP_TO_DATE: 'head',
            state.BEHIND: f'behind its head {branch.head}: '
                          f'{branch.pending} to run',
            state.ORPHANED: 'orphaned: its extension is not enabled',
            state.UNKNOWN: 'unknown revision',
        }.get(branch.verdict, branch.verdict)
        line = f'{branch.revision} ({branch.branch or "?"}) ({words})'
        if verbose and branch.enabled:
            line += f' extension {branch.extension}'
        print(line)
