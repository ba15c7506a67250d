"""`db upgrade` and `db downgrade`: their targets, their plans (which steps
run, in which order) and running them, or writing them out as SQL."""

import json
import re
import sys

from haas.errors import MigrationError
from haas.migrations import alembic_private, datachecks, releases, state
from haas.migrations.lock import begin
from haas.migrations.registry import BUILT_IN, LEDGER
from haas.migrations.reviewing import changed_message
from haas.migrations.runner import describe, message_of
from haas.migrations.scripts import revision_errors

NO_REVISION = ("no revision given: name one, 'heads' for every branch or "
               "'<branch>@head'")

_RELATIVE = re.compile(r'^(?:(?P<branch>.+)@)?(?P<n>[-+]\d+)$')


class Step:
    """One step of a plan, as data."""

    def __init__(self, action, branch, script, transactional=True):
        self.action = action
        self.branch = branch
        self.script = script
        self.transactional = transactional

    def as_dict(self):
        return {'action': self.action, 'branch': self.branch,
                'revision': self.script.revision,
                'message': message_of(self.script),
                'transactional': self.transactional}

    def cells(self):
        return (self.action, self.branch, describe(self.script) + (
            '' if self.transactional else ' [not transactional]'))


class Plan:
    """What a command would do, in order: the ledger's steps (so that it
    records the rest), stamps to adopt, then the other steps."""

    def __init__(self, stamps, steps, branches, start=(), first=()):
        self.stamps = stamps
        self.first = list(first)
        self.rest = list(steps)
        #: every step Alembic runs, in order (stamps aside)
        self.alembic_steps = self.first + self.rest
        #: the version rows the steps start from, once stamped
        self.start = start
        self.steps = []
        for step in self.first:
            self._add(step, branches)
        for branch, revision in stamps:
            self.steps.append(Step('stamp', branch,
                                   branches.revisions[revision]))
        for step in self.rest:
            self._add(step, branches)
        #: what the data checks of the steps found (datachecks.Finding)
        self.findings = []
        #: applied revisions whose scripts changed (ledger.Change), and
        #: what upgrade does about them ([migrations] verify)
        self.changed = []
        self.verify = 'fail'

    def _add(self, step, branches):
        checkpoint = alembic_private.checkpoint_of(step)
        if checkpoint is not None:
            self.steps.append(Step('checkpoint', checkpoint.branch,
                                   branches.revisions[checkpoint.revision]))
            return
        script = alembic_private.step_script(step)
        self.steps.append(Step(
            'upgrade' if alembic_private.step_is_upgrade(step)
            else 'downgrade',
            branches.branch_of(script.revision), script,
            getattr(script.module, 'transactional', True)))

    def as_json(self):
        return json.dumps({'steps': [s.as_dict() for s in self.steps],
                           'findings': [f.as_dict() for f in self.findings],
                           'changed': [c.as_dict() for c in self.changed]},
                          indent=2, sort_keys=True)

    def __str__(self):
        if not self.steps and not self.changed:
            return 'Nothing to do: every branch asked for is there already.'
        rows = [s.cells() for s in self.steps]
        widths = [max([len(row[i]) for row in rows], default=0)
                  for i in range(2)]
        return '\n'.join([f'{a:<{widths[0]}}  {b:<{widths[1]}}  {c}'
                          for a, b, c in rows] + [
            f'Data check failed: {finding}' for finding in self.findings] + [
            f'Changed since it ran: revision {c.revision} of branch '
            f'{c.branch} ({c.path})' for c in self.changed])

    @property
    def refusal(self):
        """Why `upgrade` would stop before it changes anything, or None."""
        if self.changed and self.verify == 'fail':
            return changed_message(self.changed)
        if self.findings:
            many = len(self.findings) > 1
            return (f'{len(self.findings)} data check{"s" if many else ""} '
                    f'failed: the upgrade would stop before it changes '
                    f'anything')
        return None

    @property
    def upgrades(self):
        """The scripts the plan upgrades to, in order."""
        # A checkpoint builds a branch without tables: no row to check.
        return [alembic_private.step_script(s) for s in self.alembic_steps
                if alembic_private.is_revision_step(s)
                and alembic_private.step_is_upgrade(s)]


def _at_base(branch):
    """What a downgrade to base leaves to decide: the extension is still
    enabled, so the servers refuse to start without its tables."""
    if branch in BUILT_IN:
        return (f'branch {branch} is at base now, without its tables: the '
                f'servers refuse to start until {state.CREATE} makes them '
                f'again')
    return (f'branch {branch} is at base now, without its tables, and its '
            f'extension is still enabled: the servers refuse to start until '
            f'{state.CREATE} makes them again, or until it is taken out of '
            f'[extensions] to retire it')


class Upgrading:
    """The `upgrade` and `downgrade` verbs of Schema."""

    def _upgrade_plan(self, connection, status, target, involved):
        """The stamps that adopt tables, then the steps, for `target`.

        Every adoptable branch is stamped at the revision its tables match
        before the steps are planned; a stamp is kept if its branch is one
        asked for or one the steps run, which a branch asked for needs.
        """
        rows, _ = self.visible_rows(connection)
        adopt = [(b.branch, b.adopt_at)
                 for b in status.enabled(state.ADOPTABLE) if b.adopt_at]
        start = self._minimal(list(rows) + [r for _, r in adopt])
        # A branch without tables may be built from its checkpoint.
        empty = [b.branch for b in status.enabled(state.NOT_CREATED)]
        with revision_errors(self.branches, target):
            steps = self._upgrade_steps(target, start, empty)
        touched = {self._branch_of_step(s) for s in steps} | set(involved)
        stamps = [(b, r) for b, r in adopt if b in touched]
        if len(stamps) != len(adopt):
            start = self._minimal(list(rows) + [r for _, r in stamps])
            with revision_errors(self.branches, target):
                steps = self._upgrade_steps(target, start, empty)
        first, rest = self._ledger_first(steps)
        if not first and LEDGER in involved:
            # Any upgrade but of one other branch brings the ledger up too.
            first, _ = self._ledger_first(
                self._upgrade_steps(f'{LEDGER}@head', start))
        return Plan(stamps, rest, self.branches, start, first=first)

    def _ledger_first(self, steps):
        """(the ledger's steps, the others): the ledger depends on no
        branch and none on it, so it may go first, and record the rest."""
        first = [s for s in steps if self._branch_of_step(s) == LEDGER]
        return first, [s for s in steps if s not in first]

    # --- upgrade ----------------------------------------------------------

    def upgrade_target(self, revision, extension):
        if isinstance(revision, releases.Release):
            return self._release_target(revision, extension)
        if not revision:
            raise MigrationError(NO_REVISION)
        if extension is None:
            return revision, self.branches.names
        branch = self._branch(extension)
        if revision in ('heads', 'head'):
            return f'{branch}@head', [branch]
        return self._on_branch(revision, branch), [branch]

    def _release_target(self, release, extension):
        """The revisions of `release` for the enabled branches (or
        `extension`'s alone) that it has."""
        if extension is not None:
            branch = self._branch(extension)
            if branch not in release.revisions:
                raise MigrationError(f'branch {branch} is not part of '
                                     f'{release}: it is not HaaS\'s own')
            return (release.revisions[branch],), [branch]
        involved = [b for b in self.branches.names if b in release.revisions]
        targets = self._minimal([release.revisions[b] for b in involved])
        return targets, involved + [LEDGER]

    def _refuse_past(self, status, release, involved):
        """MigrationError if a branch is past `release` (when upgrading to
        a release): an upgrade does not go back."""
        if not isinstance(release, releases.Release):
            return
        past = [(b, r) for b, r in status.revisions.items()
                if b in involved and b in release.revisions
                and r != release.revisions[b]
                and release.revisions[b] in self.branches.redundant(
                    [r, release.revisions[b]])]
        if past:
            where = f'{past[0][0]} at {past[0][1]}' + (
                f' and {len(past) - 1} more branches' if len(past) > 1
                else '')
            raise MigrationError(
                f'the database is past {release} ({where}): an upgrade does '
                f'not go back; restore the backup taken before, or run '
                f'`haas-admin db downgrade`')

    def upgrade(self, revision='heads', extension=None, plan=False,
                lock_wait=None):
        """See haas.migrations.upgrade; returns the Plan with `plan`."""
        target, involved = self.upgrade_target(revision, extension)
        if plan:
            with self.reading() as connection:
                status = self.inspect(connection)
                self._refuse(status)
                self._refuse_past(status, revision, involved)
                the_plan = self._upgrade_plan(connection, status, target,
                                              involved)
                the_plan.findings = datachecks.before(
                    connection, self.branches, the_plan.upgrades)
                the_plan.changed = self._changed(connection, status)
                the_plan.verify = self.settings.verify
                return the_plan
        with self.writing(lock_wait) as connection:
            status = self.inspect(connection)
            self._refuse(status)
            self._refuse_past(status, revision, involved)
            self._warn(status)
            self._verify_before(connection, status)
            hidden = self._prepare(connection)
            ran = self._adopt_and_upgrade(connection, status, target,
                                          involved, hidden)
            if self.inspect(connection).advice() is None:
                # As `create` does: an upgrade from nothing fills the pool.
                with begin(connection):
                    added = self.allocator.populate(connection)
                    self._record(connection)
                if added and not ran.steps:
                    self.report(f'added {added} entries to the network '
                                f'allocator\'s pool')
        return None

    def upgrade_sql(self, revision='heads', extension=None, plan=False,
                    output=None):
        """The SQL of an upgrade: from nothing (or from the start of a
        ``start:end`` range), or, with `plan`, from the database's rows."""
        output = output or sys.stdout
        target, _ = self.upgrade_target(revision, extension)
        start = ()
        if plan:
            the_plan = self.upgrade(revision, extension, plan=True)
            start, steps = the_plan.start, the_plan.alembic_steps
        else:
            if ':' in target:
                first, target = target.split(':', 1)
                start = self._resolve(first)
            with revision_errors(self.branches, target):
                # From nothing, every branch is without tables.
                steps = sum(self._ledger_first(self._upgrade_steps(
                    target, start, () if start else self.branches.names)),
                    [])
        self.runner().sql(self.engine.dialect.name, steps, start, output)

    # --- downgrade --------------------------------------------------------

    def downgrade_target(self, revision, extension):
        if not revision:
            raise MigrationError("no revision given: name one, such as "
                                 "'<branch>@-1' or '<branch>@base'")
        if extension is not None:
            return self._on_branch(revision, self._branch(extension))
        return revision

    def _downgrade_plan(self, connection, target, cascade):
        heads, hidden = self.visible_rows(connection)
        self._check_relative(connection, target)
        with revision_errors(self.branches, target):
            steps = self._downgrade_steps(target, heads)
        plan = Plan([], steps, self.branches)
        named = self._named_branch(target)
        touched = []
        for step in plan.steps:
            if step.branch not in touched:
                touched.append(step.branch)
        dependants = [b for b in touched if named and b != named]
        if dependants and not cascade:
            raise MigrationError(
                f'downgrading {named} that far would also downgrade '
                f'{", ".join(dependants)}, which depend'
                f'{"s" if len(dependants) == 1 else ""} on it: downgrade '
                f'{"it" if len(dependants) == 1 else "them"} first, or give '
                f'--cascade')
        removed = {s.script.revision for s in plan.steps}
        view = state.read_view(connection, self.branches)
        for row in hidden:
            label = view.label_of(row)
            if label is not None and removed & set(label.requires):
                raise MigrationError(
                    f'the orphaned branch {label.branch} depends on '
                    f'revisions this downgrade removes: enable its extension '
                    f'to downgrade it too, or `haas-admin db forget '
                    f'{label.branch}` first')
        return plan, dependants

    def _named_branch(self, target):
        if '@' in target:
            return target.split('@', 1)[0]
        if target == 'base':
            return None
        return self.branches.branch_of(target)

    def _check_relative(self, connection, target):
        match = _RELATIVE.match(target)
        if not match or not match.group('n').startswith('-'):
            return
        branch = match.group('branch')
        if branch is None or branch not in self.branches.folders:
            return
        heads, _ = self.visible_rows(connection)
        current = self.branches.effective(heads).get(branch)
        applied = self.branches.position(branch, current)
        wanted = -int(match.group('n'))
        if wanted > applied:
            raise MigrationError(
                f'{target} goes below the base of branch {branch}: it has '
                f'{applied} revision{"s" if applied != 1 else ""} applied; '
                f'{branch}@base reverts all of them')

    def downgrade(self, revision, extension=None, plan=False, cascade=False,
                  lock_wait=None):
        """See haas.migrations.downgrade; returns the Plan with `plan`."""
        target = self.downgrade_target(revision, extension)
        if plan:
            with self.reading() as connection:
                return self._downgrade_plan(connection, target, cascade)[0]
        with self.writing(lock_wait) as connection:
            # The orphans said as `upgrade` says them, before anything runs.
            status = self.inspect(connection)
            if status.expansion is not None:
                self._refuse(status)
            self._warn(status)
            hidden = self._prepare(connection)
            the_plan, dependants = self._downgrade_plan(connection, target,
                                                        cascade)
            if dependants:
                self.report(f'Downgrading {", ".join(dependants)} first: '
                            f'they depend on {self._named_branch(target)}')
            self.runner().run(connection, the_plan.alembic_steps, hidden)
            with begin(connection):
                self._record(connection)
            taken = {step.branch for step in the_plan.steps}
            for branch in self.inspect(connection).enabled(state.NOT_CREATED):
                if branch.branch in taken:
                    self.report(f'Warning: {_at_base(branch.branch)}')
        return None

    def downgrade_sql(self, revision, extension=None, output=None):
        """The SQL of a downgrade: from START to END for a ``START:END``
        range, without the database; else from the database's revisions."""
        target = self.downgrade_target(revision, extension)
        if ':' in target:
            first, target = target.split(':', 1)
            start = self._resolve(first)
            with revision_errors(self.branches, target):
                steps = self._downgrade_steps(target, start)
        else:
            with self.reading() as connection:
                steps = self._downgrade_plan(connection, target,
                                             True)[0].alembic_steps
                start, _ = self.visible_rows(connection)
        self.runner().sql(self.engine.dialect.name, steps, start,
                          output or sys.stdout)
