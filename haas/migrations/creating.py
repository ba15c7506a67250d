"""`db create`: the tables of the branches not created yet, from the models,
and the adoption of unversioned tables that `upgrade` shares."""

import time

from haas.errors import MigrationError
from haas.migrations import datachecks, ledger, state
from haas.migrations.lock import begin
from haas.migrations.registry import LEDGER
from haas.migrations.tables import branch_tables
from haas.model import db


class Created(list):
    """The branches `create` created or adopted, in order."""

    #: how many entries the network allocator's pool gained
    pool_added = 0


class Creating:
    """The `create` verb of Schema, and the adoption that `upgrade` shares."""

    def create(self, lock_wait=None):
        """See haas.migrations.create."""
        created = []
        with self.writing(lock_wait) as connection:
            status = self.inspect(connection)
            self._refuse(status, behind=True)
            self._warn(status)
            hidden = self._prepare(connection)
            adoptable = status.enabled(state.ADOPTABLE)
            if adoptable and LEDGER in self._new(status):
                # First, so that the ledger records the adoption.
                with begin(connection):
                    self._create_branches(connection, [LEDGER], hidden)
                    self._record(connection)
                created.append(LEDGER)
            if adoptable:
                names = [b.branch for b in adoptable]
                heads = self._minimal([self.branches.heads[b] for b in names])
                self._adopt_and_upgrade(connection, status, heads, names,
                                        hidden)
                created += names
                status = self.inspect(connection)
            new = [b for b in self._new(status) if b not in created]
            with begin(connection):
                self._create_branches(connection, new, hidden)
                added = self.allocator.populate(connection)
                self._record(connection)
            created += new
            for branch in created:  # once committed
                if branch in new or branch == LEDGER:
                    self.report(f'stamped {branch} at '
                                f'{self.branches.heads[branch]}')
        result = Created(created)
        result.pool_added = added or 0
        return result

    def _new(self, status):
        return [b.branch for b in status.enabled(state.NOT_CREATED)]

    def _create_branches(self, connection, new, hidden):
        """Create the tables of branches `new` from the models and stamp
        their heads, in the caller's transaction."""
        # Their verdict says none of these tables exists.
        db.metadata.create_all(connection, tables=branch_tables(new),
                               checkfirst=False)
        if not new:
            return
        started, clock = time.time(), time.monotonic()
        heads, _ = self.visible_rows(connection)
        before = self.branches.effective(list(heads))
        # All heads at once: Alembic then leaves the rows that stamping
        # them one by one, or `upgrade heads`, leaves.
        runner = self.runner()
        runner.report = None  # it would name only some branches
        # One transaction: the labels are written by the caller, and
        # the ledger's rows below.
        runner.after_step = []
        runner.ledger = None
        runner.run(connection, self._stamp_steps(
            self._minimal([self.branches.heads[b] for b in new]), heads),
            hidden, in_transaction=True)
        if LEDGER in new:
            ledger.backfill(connection, self.branches, before)
        if LEDGER in new or ledger.exists(connection):
            duration = time.monotonic() - clock
            ledger.write(connection, [
                ledger.entry(b, self.branches.heads[b], ledger.CREATE,
                             started_at=ledger.utc(started),
                             duration=duration) for b in new])

    def _adopt_and_upgrade(self, connection, status, target, involved,
                           hidden):
        plan = self._upgrade_plan(connection, status, target, involved)
        runner = self.runner()
        findings = datachecks.before(connection, self.branches,
                                     plan.upgrades, runner.passed)
        if findings:
            raise MigrationError(datachecks.refusal(findings))
        if not plan.stamps:
            runner.run(connection, plan.alembic_steps, hidden)
            return plan
        if plan.first:
            runner.run(connection, plan.first, hidden)
        for branch, revision in plan.stamps:
            heads, _ = self.visible_rows(connection)
            runner.run(connection, self._stamp_steps(revision, heads),
                       hidden)
        runner.run(connection, plan.rest, hidden)
        return plan
