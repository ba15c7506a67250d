"""What the database needs: one computation that every command phrases.

`inspect` reads the version rows, HaaS's branch labels, the tables and the
schema lock, and gives each branch a verdict.  `Status.advice` turns the
verdicts into the one thing to do next; `create`, `upgrade`, `status` and
the servers all say it in the same words.
"""

import dataclasses

import sqlalchemy as sa

from haas.migrations import bookkeeping, lock
from haas.migrations.adopt import Probe, shapes
from haas.migrations.scripts import installed, installed_branch_of

UP_TO_DATE = 'up to date'
BEHIND = 'behind'
NOT_CREATED = 'not created'
ORPHANED = 'orphaned'
UNKNOWN = 'unknown revision'
ADOPTABLE = 'adoptable'
MISMATCH = 'mismatch'
NO_SCRIPTS = 'no scripts'

#: The phases of an online upgrade, as `status` names them.
EXPANDED = 'expanded'
CONTRACTED = 'contracted'

CREATE = '`haas-admin db create`'
UPGRADE = '`haas-admin db upgrade heads`'


@dataclasses.dataclass
class Branch:
    """One branch, as the code and the database have it."""

    branch: str
    extension: str
    enabled: bool
    revision: str | None
    head: str | None
    pending: int | None
    verdict: str
    #: adoptable: the revision to stamp first (None: its first script
    #: adopts the tables itself)
    adopt_at: str | None = None
    detail: str = ''
    installed: bool = True

    def as_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Advice:
    """The one thing to do next, and why, in words that name the command."""

    message: str


@dataclasses.dataclass
class Status:
    branches: list
    lock: object
    foreign_tables: list
    #: a phases.Expansion when the database is expanded, not contracted
    expansion: object = None
    #: the other clients of the database (servers.Client), where known
    clients: object = None

    @property
    def phase(self):
        """EXPANDED (expanded, not contracted: haas.migrations.phases),
        CONTRACTED (every branch at its head) or None (neither)."""
        if self.expansion is not None:
            return EXPANDED
        return CONTRACTED if self.current else None

    def enabled(self, *verdicts):
        return [b for b in self.branches if b.enabled
                and (not verdicts or b.verdict in verdicts)]

    @property
    def orphans(self):
        return [b for b in self.branches if not b.enabled]

    @property
    def revisions(self):
        """Enabled branch -> its revision in the database, where it has
        one its scripts know."""
        return {b.branch: b.revision for b in self.enabled(UP_TO_DATE, BEHIND)}

    @property
    def release(self):
        """The HaaS release whose revisions the database is at, or None
        (haas.migrations.releases)."""
        from haas.migrations import releases
        return releases.matching({b.branch: b.revision for b in self.branches
                                  if b.branch and b.revision})

    @property
    def current(self):
        """Whether the servers may run: every enabled branch is at its head,
        its tables are there, and nothing blocks (a version row that no
        installed branch provides may be a newer revision of any of them)."""
        return self.serving_advice() is None

    def blockers(self):
        """Why no command can bring this database up to date: an Advice per
        branch that stops them."""
        found = []
        for branch in self.branches:
            if branch.verdict == MISMATCH:
                found.append(Advice(
                    f'the tables of branch {branch.branch} match none of '
                    f'its revisions ({branch.detail}): they are not HaaS\'s, '
                    f'or were changed by hand; rename or drop them, or check '
                    f'[database] uri'))
            if branch.verdict == UNKNOWN and (branch.enabled
                                              or branch.branch is None):
                found.append(Advice(_unknown(branch)))
        return found

    @property
    def blocked(self):
        """Why no command can bring this database up to date, or None: all
        the reasons, in one line."""
        found = self.blockers()
        if not found:
            return None
        return Advice('; '.join(advice.message for advice in found))

    def advice(self):
        """The one thing to do before the servers may run, or None."""
        blocked = self.blocked
        if blocked is not None:
            return blocked
        behind = self.enabled(BEHIND)
        if behind:
            b = behind[0]
            return Advice(f'branch {b.branch} is at {b.revision}, behind its '
                          f'head {b.head} ({_count(b.pending)}): run '
                          f'{UPGRADE}')
        adoptable = self.enabled(ADOPTABLE)
        if adoptable:
            b = adoptable[0]
            return Advice(f'branch {b.branch} has tables but no version row '
                          f'({b.detail}): run {UPGRADE} to adopt them')
        missing = self.enabled(NOT_CREATED)
        if missing and not self.orphans and all(
                b.verdict in (NOT_CREATED, NO_SCRIPTS)
                for b in self.enabled()):
            return Advice(f'the database is not initialised: run {CREATE}')
        if missing:
            names = ', '.join(b.branch for b in missing)
            return Advice(f'the tables of {_plural(missing, "branch")} '
                          f'{names} are missing: run {CREATE}')
        return None

    def unscripted(self):
        """Enabled branches whose models have tables that no script of
        theirs creates yet (their extension's author has one to write)."""
        return [b for b in self.enabled(NO_SCRIPTS) if b.detail]

    def serving_advice(self):
        """The one thing to do before the servers may run, or None: what
        `advice` says, or else that a branch's tables are missing because
        it has no script yet.  (`advice` alone is what a draft from
        autogenerate needs: the first script is how such a branch starts.)

        An expanded database serves once every expand revision ran: this
        release's servers run on it, as the previous release's do."""
        if self.expansion is not None:
            if self.expansion.serves:
                return None
            blocked = self.expansion.status.blocked
            return blocked or Advice(
                'the database is being expanded and its expand phase is not '
                'complete: run `haas-admin db upgrade --phase expand`')
        advice = self.advice()
        if advice is not None:
            return advice
        unscripted = self.unscripted()
        if unscripted:
            b = unscripted[0]
            return Advice(f'branch {b.branch} {b.detail}: write its first '
                          f'migration (MIGRATIONS.md, `haas-admin db migrate '
                          f'--branch-label {b.branch}`), or take its '
                          f'extension out of [extensions]')
        return None

    def warnings(self):
        """Lines about what does not block but needs a decision."""
        lines = []
        for b in self.orphans:
            if b.branch is None:
                continue
            where = ('not enabled in [extensions]' if b.installed
                     else 'not installed')
            lines.append(
                f'branch {b.branch} is orphaned at {b.revision}: its '
                f'extension is {where}; enable it again, or run '
                f'`haas-admin db forget {b.branch}` (--drop-tables to drop '
                f'its tables too)')
        for b in self.enabled(NO_SCRIPTS):
            lines.append(f'branch {b.branch} has no migration script yet, so '
                         f'its tables are not created: write its first '
                         f'migration (MIGRATIONS.md)')
        return lines

    def as_dict(self):
        advice = self.serving_advice()
        return {
            'branches': [b.as_dict() for b in self.branches],
            'lock': None if self.lock is None else self.lock.as_dict(),
            'foreign_tables': self.foreign_tables,
            'current': self.current,
            'release': self.release,
            'advice': None if advice is None else advice.message,
            'warnings': self.warnings(),
            'phase': self.phase,
            'expansion': None if self.expansion is None
            else self.expansion.as_dict(),
            'clients': None if self.clients is None
            else [c.as_dict() for c in self.clients],
        }


def _count(n):
    return f'{n} revision{"s" if n != 1 else ""} to run'


def _plural(items, word):
    return word if len(items) == 1 else word + 'es'


def _unknown(branch):
    if branch.branch is None:
        return (f'the database is stamped at revision {branch.revision}, '
                f'which no installed branch provides: install the HaaS '
                f'release or the extension that wrote it, or run '
                f'`haas-admin db forget {branch.revision}` if you know it '
                f'is gone for good')
    return (f'branch {branch.branch} is at revision {branch.revision}, which '
            f'its scripts do not have: a newer release of '
            f'{branch.extension} wrote it; install that release, or restore '
            f'the backup taken before that upgrade')


class View:
    """The version rows of a database, seen through the enabled branches."""

    def __init__(self, branches, rows, labels):
        self.rows = rows
        self.labels = labels
        self.known = [r for r in rows if r in branches.revisions]
        self.unknown = [r for r in rows if r not in branches.revisions]
        self.current = branches.effective(self.known)
        #: rows to add so that Alembic finds each enabled branch's
        #: revision without the rows of branches it cannot place
        self.implied = []
        for row in self.unknown:
            label = self.label_of(row)
            for revision in label.requires if label else ():
                branch = branches.branch_of(revision)
                # Other rows may imply an older revision of that branch
                # (core's 0.3, which every extension's head depends on,
                # while the hidden row stood for core's head too).
                if branch is None or branches.position(
                        branch, self.current.get(branch)) >= \
                        branches.position(branch, revision):
                    continue
                self.current[branch] = revision
                self.implied.append(revision)

    def label_of(self, row):
        return next((label for label in self.labels.values()
                     if label.revision == row), None)


def read_view(connection, branches, present=None,
              table=bookkeeping.VERSION_TABLE):
    """The View of `connection`'s version rows (in `table`); `present`,
    if given, names the database's tables."""
    if present is None:
        present = set(sa.inspect(connection).get_table_names())
    return View(branches, bookkeeping.version_rows(connection, present, table),
                bookkeeping.labels(connection, present))


def _judged_shapes(inspector, present, view, branches, tables_of, probe):
    """The shapes of the tables that branches without a version row may
    own, for Probe.judge; None when no branch needs judging.

    The probe builds its scratch database (see Probe.start) while the
    tables are reflected here: the names the models and the first scripts
    give are known at once, and those only older revisions had are
    reflected once the probe has them.
    """
    def unversioned(name):  # as inspect's verdicts tell them apart
        label = view.labels.get(name)
        return (name not in view.current and branches.heads[name] is not None
                and not (label is not None and label.revision in view.unknown))

    known = {name: set(tables_of(name))
             | set(branches.legacy_tables(name) or ())
             for name in branches.names if unversioned(name)}
    if not any(tables & present for tables in known.values()):
        return None
    probe.start()
    wanted = present & set().union(*known.values())
    try:
        found = shapes(inspector, wanted)
    except BaseException:
        probe.wait()  # no thread left running scripts behind an error
        raise
    every = present & set().union(*(probe.names(b) for b in branches.names))
    found.update(shapes(inspector, every - wanted))
    return found


def inspect(connection, branches, tables_of, probe=None,
            table=bookkeeping.VERSION_TABLE):
    """The Status of `connection`'s database for `branches`.

    `tables_of(branch)` names a branch's tables (from the models); `probe`
    (an adopt.Probe) is built when a branch's tables exist without its
    version row.  The version rows are read from `table`: alembic_version,
    or haas_schema_expand for where an expanded database's branches are.
    """
    inspector = sa.inspect(connection)
    present = set(inspector.get_table_names())
    view = read_view(connection, branches, present, table)
    probe = probe or Probe(branches)
    found = _judged_shapes(inspector, present, view, branches, tables_of,
                           probe)
    result = []
    accounted = set(bookkeeping.TABLES)
    claimed = set()
    for name in branches.names:
        head = branches.heads[name]
        revision = view.current.get(name)
        extension = branches.extension_of(name)
        own = set(tables_of(name))
        accounted |= own
        entry = Branch(branch=name, extension=extension, enabled=True,
                       revision=revision, head=head, pending=None,
                       verdict=UP_TO_DATE)
        label = view.labels.get(name)
        if label is not None and label.revision in view.unknown:
            # A newer release's row, even where other rows imply an older
            # revision (core's, which the extensions' depend on).
            claimed.add(label.revision)
            entry.revision = label.revision
            entry.verdict = UNKNOWN
        elif revision is not None:
            entry.pending = branches.pending(name, revision)
            entry.verdict = UP_TO_DATE if revision == head else BEHIND
        elif head is None:
            entry.verdict = NO_SCRIPTS
            missing = sorted(own - present)
            if missing:
                entry.detail = (f'has no migration script, so its table'
                                f'{"s" if len(missing) > 1 else ""} '
                                f'{", ".join(missing)} '
                                f'{"are" if len(missing) > 1 else "is"} '
                                f'missing')
        elif not (own | set(branches.legacy_tables(name) or ())) & present:
            entry.verdict = NOT_CREATED
            entry.pending = branches.pending(name, None)
        else:
            accounted |= probe.names(name)
            verdict = probe.judge(name, found)
            if verdict.adoptable:
                entry.verdict = ADOPTABLE
                entry.adopt_at = verdict.revision
                entry.pending = branches.pending(name, verdict.revision)
                entry.detail = (
                    f'they match revision {verdict.revision}'
                    if verdict.revision else
                    'its first script adopts them')
            else:
                entry.verdict = MISMATCH
                entry.detail = (f'closest is revision {verdict.closest}: '
                                f'{"; ".join(verdict.problems)}')
        result.append(entry)
    discovered = None
    for row in view.unknown:
        if row in claimed:
            continue
        label = view.label_of(row)
        if label is None:
            if discovered is None:
                discovered = installed_branch_of()
            name = discovered.get(row)
        else:
            name = label.branch
            accounted |= set(label.tables)
        if name is not None:
            result.append(Branch(
                branch=name, extension=name, enabled=False, revision=row,
                head=None, pending=None, verdict=ORPHANED,
                installed=installed(name)))
        else:
            result.append(Branch(
                branch=None, extension=None, enabled=False, revision=row,
                head=None, pending=None, verdict=UNKNOWN, installed=False))
    holder = lock.holder(connection)
    return Status(branches=result, lock=holder,
                  foreign_tables=sorted(present - accounted))
