"""Every use HaaS makes of Alembic's private API, and why, in one module.

HaaS plans a migration before it runs it (`--plan`, the data checks of
every pending revision, the ledger's branch first, the stamps that adopt
unversioned tables), and then runs it one revision per transaction under
its own lock, with the rows of disabled extensions hidden.  Alembic's
public API runs a migration in one go, inside env.py, from a revision
argument; so HaaS reaches below it for the names listed here.  The rest of
HaaS calls the functions of this module, never these names, and
tests/test_alembic_seam.py has a test per name, so that an Alembic release
that removes or changes one fails there, by its name.  Alembic is pinned in
pyproject.toml to the minor releases this module is tested on.

`ScriptDirectory._upgrade_revs(destination, current)`,
`ScriptDirectory._downgrade_revs(destination, current)` and
`ScriptDirectory._stamp_revs(revision, heads)`
    The steps from the version rows `current` to `destination`, as
    `command.upgrade`, `downgrade` and `stamp` compute them.  The public
    `iterate_revisions` gives scripts, not the step objects that
    `MigrationContext.run_migrations` takes and `HeadMaintainer` applies to
    the version rows; HaaS needs the steps as data to plan, show, check and
    reorder them before running any.

`alembic.runtime.migration.RevisionStep`, with `.revision` (the Script),
`.is_upgrade` and `.migration_fn`
    What the three methods above return is undocumented.  HaaS reads a
    step's script and direction (`step_script`, `step_is_upgrade`), and
    replaces its `migration_fn` with one that runs the revision's data
    checks, sets PostgreSQL's timeouts and explains a failure
    (`wrap_migration`): the public `on_version_apply` hook runs only after
    a revision, and nothing public runs around one.

`MigrationContext.get_current_heads`, replaced on one context
    Alembic reads `alembic_version` itself, and fails on a row whose
    script it has not been given (a disabled extension's branch).  HaaS
    shows it the rows of enabled branches only (`hide_rows`); no option
    filters the rows it reads.

`MigrationContext.impl.static_output(text)`
    Writes a line to the SQL of `--sql` as it is, without the terminator
    that `MigrationContext.execute` adds: the comment that names each
    revision, and its data checks, for a DBA (`write_comment`).

`RevisionMap._get_ancestor_nodes(targets, check=False)`
    Every revision that `targets` imply, following `depends_on` as well as
    `down_revision`, without the range checks of `iterate_revisions`: what
    a version row stands for besides itself (`ancestors`).

`ScriptDirectory._load_revisions()`
    The scripts of every folder without building the revision map, to name
    the script whose `down_revision` or `depends_on` points at a revision
    that no script has (the map then fails with a bare KeyError)
    (`load_scripts`).

`alembic.runtime.migration.StampStep(from_, to_, is_upgrade, branch_move,
revision_map)`, with its `migration_fn`
    A checkpoint (haas.migrations.checkpoints) builds a branch's schema at
    a revision at once, then stamps that revision: a stamp step whose
    function runs the checkpoint's `upgrade()` (`checkpoint_step`).  So it
    runs where the replaced revisions would have run, in their
    transaction, with Alembic's `op` bound and the version rows kept by
    Alembic's own HeadMaintainer; `stamp` alone would run no function.

`Script._db_current_indicator`
    What makes `Script.cmd_format` mark a revision ``(current)``, as
    `alembic history -i` does; HaaS reads the current revisions itself
    (`mark_current`).
"""

import functools

from alembic.runtime.migration import RevisionStep, StampStep

# --- steps -----------------------------------------------------------------


def upgrade_steps(script_directory, destination, current):
    """The steps that upgrade the version rows `current` to `destination`
    (`heads`, `<branch>@head`, ids), in the order they run."""
    return script_directory._upgrade_revs(destination, current)


def downgrade_steps(script_directory, destination, current):
    """The steps that downgrade the version rows `current` to
    `destination`, in the order they run."""
    return script_directory._downgrade_revs(destination, current)


def stamp_steps(script_directory, revision, current):
    """The steps that turn the version rows `current` into `revision`
    without running a script."""
    return script_directory._stamp_revs(revision, current)


def is_revision_step(step):
    """Whether `step` runs a script (a stamp step runs none)."""
    return isinstance(step, RevisionStep)


def step_script(step):
    """The Script that revision step `step` runs."""
    return step.revision


def step_is_upgrade(step):
    """Whether revision step `step` runs its script's upgrade()."""
    return step.is_upgrade


def wrap_migration(step, wrap):
    """Make revision step `step` run ``wrap(original)`` in place of its
    script's function `original`.

    A step that runs again (a retry after a lock timeout) is wrapped anew
    around the same original, never around its earlier wrapper.
    """
    original = step.__dict__.setdefault('_haas_original', step.migration_fn)
    wrapped = wrap(original)
    # Alembic names a step after its function in its log.
    functools.update_wrapper(wrapped, original, assigned=('__name__',),
                             updated=())
    step.migration_fn = wrapped


class CheckpointStep(StampStep):
    """A stamp step to one revision of a branch at base that runs a
    checkpoint's function first (see `checkpoint_step`).

    Which version rows it replaces is known only when it runs: the rows
    then present that its revision implies (a core revision that an
    extension's revision depends on), as Alembic's stamp replaces them;
    with none, it adds its own row.
    """

    def __init__(self, revision_map, revision, fn, checkpoint, implied):
        super().__init__((), (revision,), True, False, revision_map)
        self.migration_fn = fn
        #: the haas.migrations.checkpoints.Checkpoint it runs
        self.checkpoint = checkpoint
        self._implied = frozenset(implied)

    # HeadMaintainer.update_to_step asks this first, with the rows as
    # they are; the answers after it read the rows it found.
    def should_create_branch(self, heads):
        self.from_ = tuple(sorted(h for h in heads if h in self._implied))
        return not self.from_ and self.to_[0] not in heads

    def should_unmerge_branches(self, heads):
        return False


def checkpoint_step(script_directory, revision, fn, checkpoint):
    """A step that runs `fn` (building a branch's schema at `revision`),
    then stamps `revision`, whose branch has no version row yet: in place
    of the rows that `revision` implies, or as a row of its own."""
    target = script_directory.revision_map.get_revision(revision)
    implied = {s.revision for s in ancestors(script_directory, [target])}
    return CheckpointStep(script_directory.revision_map, revision, fn,
                          checkpoint, implied - {revision})


def checkpoint_of(step):
    """The checkpoint that `step` runs, or None for any other step."""
    return step.checkpoint if isinstance(step, CheckpointStep) else None


# --- the migration context -----------------------------------------------


def hide_rows(context, hidden):
    """Make MigrationContext `context` read the version rows without
    `hidden` (rows of branches it was not given the scripts of)."""
    if not hidden:
        return
    read = context.get_current_heads
    context.get_current_heads = lambda: tuple(
        h for h in read() if h not in hidden)


def write_comment(context, text):
    """Write `text` (an SQL comment) as it is into the SQL an offline
    MigrationContext `context` writes."""
    context.impl.static_output(text)


# --- scripts ---------------------------------------------------------------


def ancestors(script_directory, scripts):
    """Every Script that `scripts` imply, through `down_revision` and
    `depends_on`, themselves included."""
    return script_directory.revision_map._get_ancestor_nodes(scripts,
                                                             check=False)


def load_scripts(script_directory):
    """Every Script of the folders of `script_directory`, read one by one,
    without building the revision map (which fails on a history that
    names a revision no script has)."""
    return script_directory._load_revisions()


def mark_current(script, current):
    """Make `script.cmd_format` mark the script ``(current)`` or not."""
    script._db_current_indicator = bool(current)


def down_revisions(script):
    """The revisions `script` follows on its branch (`down_revision`, not
    `depends_on`), as a tuple.

    Read from the documented `down_revision`, in place of Alembic's private
    `_versioned_down_revisions`.
    """
    down = script.down_revision
    if down is None:
        return ()
    if isinstance(down, str):
        return (down,)
    return tuple(down)
