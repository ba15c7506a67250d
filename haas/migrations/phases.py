"""Upgrades without downtime: each revision's phase, and the expanded state.

A revision declares ``phase = 'expand'`` when it only adds (the previous
release keeps working on its result) and ``phase = 'contract'`` when it
removes or rewrites what only the previous release needed; a revision that
says nothing is a contract, the safe reading.  `upgrade --phase expand`
runs, on every branch, the expand revisions that lead from where it is,
recording them in ``haas_schema_expand``, not in ``alembic_version``,
which the previous release's servers read and so keep accepting;
`--phase contract` moves those rows to ``alembic_version`` and runs the
rest (haas.migrations.phasing).
"""

import dataclasses

import sqlalchemy as sa

from haas.errors import MigrationError
from haas.migrations import bookkeeping, state

EXPAND = 'expand'
CONTRACT = 'contract'
PHASES = (EXPAND, CONTRACT)

#: `db status`'s names for the states of a database.
EXPANDED = state.EXPANDED
CONTRACTED = state.CONTRACTED

expand_table = sa.Table(
    bookkeeping.EXPAND_TABLE, sa.MetaData(),
    # As Alembic's own version table, which Alembic writes it as.
    sa.Column('version_num', sa.String(32), nullable=False),
    sa.PrimaryKeyConstraint('version_num',
                            name=f'{bookkeeping.EXPAND_TABLE}_pkc'),
)


def phase_of(script):
    """'expand' or 'contract': what `script` (an Alembic Script) declares,
    'contract' if nothing; MigrationError for anything else."""
    phase = getattr(script.module, 'phase', CONTRACT)
    if phase not in PHASES:
        raise MigrationError(
            f'revision {script.revision} declares phase = {phase!r}: a '
            f'phase is {EXPAND!r} or {CONTRACT!r}')
    return phase


def expand_reach(branches, current):
    """Branch -> the revision the expand phase brings it to, from `current`
    (branch -> revision, absent or None for none).

    A branch goes on through its next revisions while they are expand
    revisions whose dependencies on other branches are reached too; it
    stops at its first contract revision, which waits for the contract.
    """
    reached = {name: current.get(name) for name in branches.names}
    moved = True
    while moved:
        moved = False
        for name in branches.names:
            scripts = branches.by_branch[name]
            at = branches.position(name, reached[name])
            if at >= len(scripts) or phase_of(scripts[at]) != EXPAND:
                continue
            needs = branches.requires(scripts[at].revision)
            if all(branches.position(b, reached.get(b))
                   >= branches.position(b, r) for b, r in needs.items()):
                reached[name] = scripts[at].revision
                moved = True
    return reached


def pending(branches, name, revision, phase=None):
    """The revisions of branch `name` after `revision`, of `phase` if
    given."""
    scripts = branches.by_branch[name][branches.position(name, revision):]
    return [s.revision for s in scripts
            if phase is None or phase_of(s) == phase]


@dataclasses.dataclass
class Expansion:
    """A database expanded but not contracted: where its branches are once
    expanded (haas_schema_expand), and what is left to run."""

    #: the Status read from haas_schema_expand's rows
    status: object
    #: branch -> the expand revisions still to run there
    expand_left: dict
    #: branch -> the contract revisions to run
    contract_left: dict

    @property
    def serves(self):
        """Whether this release's servers may run: every expand revision
        ran and nothing else is wrong; the contract is all that is left."""
        status = self.status
        if status.blocked is not None or status.unscripted():
            return False
        if any(self.expand_left.values()):
            return False
        return all(b.verdict in (state.UP_TO_DATE, state.BEHIND)
                   for b in status.enabled())

    def as_dict(self):
        return {'revisions': self.status.revisions,
                'expand_left': self.expand_left,
                'contract_left': self.contract_left,
                'serves': self.serves}


def expansion(branches, status):
    """The Expansion of the Status read from haas_schema_expand."""
    expand_left, contract_left = {}, {}
    for b in status.enabled():
        if b.head is None or b.branch not in branches.folders:
            continue
        # An expand revision after a contract one waits for the contract
        # too: the servers of this release cannot run without it.
        expand_left[b.branch] = pending(branches, b.branch, b.revision,
                                        EXPAND)
        contract_left[b.branch] = pending(branches, b.branch, b.revision,
                                          CONTRACT)
    return Expansion(status, {k: v for k, v in expand_left.items() if v},
                     {k: v for k, v in contract_left.items() if v})


def is_expanded(connection, present=None):
    """Whether the database is expanded but not contracted."""
    if present is not None:
        return bookkeeping.EXPAND_TABLE in present
    return sa.inspect(connection).has_table(bookkeeping.EXPAND_TABLE)


def begin_expansion(connection, rows):
    """Create haas_schema_expand with `rows` (alembic_version's, as Alembic
    is to read them), unless it exists: the expand phase goes on from where
    an earlier one stopped."""
    if is_expanded(connection):
        return
    expand_table.create(connection)
    if rows:
        connection.execute(expand_table.insert(),
                           [{'version_num': r} for r in rows])


def finish_expansion(connection):
    """Make haas_schema_expand's rows alembic_version's, and drop it: the
    contract starts from where the expand phase brought each branch."""
    rows = bookkeeping.version_rows(connection, table=bookkeeping.EXPAND_TABLE)
    bookkeeping.delete_rows(connection, bookkeeping.version_rows(connection))
    bookkeeping.insert_rows(connection, rows)
    expand_table.drop(connection)
