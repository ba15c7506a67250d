"""`db upgrade --phase expand|contract`: an upgrade while the servers run.

The expand phase runs each branch's expand revisions (haas.migrations.
phases) under short lock timeouts, many times retried, and records them
in haas_schema_expand: alembic_version keeps the previous release's
revisions, so that release's servers (which read it, and refuse anything
but their own heads) keep running and keep starting.  The contract phase,
once none of them is left, moves those rows to alembic_version and runs
the rest as `upgrade heads` does.  PostgreSQL only: SQLite has one writer
at a time and rebuilds tables to alter them, so no upgrade of it is
online.
"""

import time

from haas.errors import MigrationError
from haas.migrations import bookkeeping, datachecks, phases, servers, state
from haas.migrations.lock import begin
from haas.migrations.registry import CORE
from haas.migrations.runner import Runner
from haas.migrations.scripts import revision_errors
from haas.migrations.upgrading import Plan

SQLITE = ('--phase needs PostgreSQL: SQLite has one writer at a time and '
          'rebuilds a table to alter it, so no upgrade of it is online; stop '
          'the servers and run `haas-admin db upgrade heads`')


class Phasing:
    """The `upgrade --phase` verbs of Schema."""

    def upgrade_phase(self, phase, force=False, plan=False, lock_wait=None):
        """See haas.migrations.upgrade; returns the Plan with `plan`."""
        if phase not in phases.PHASES:
            raise MigrationError(f'there is no phase {phase!r}: '
                                 f'{phases.EXPAND!r} or {phases.CONTRACT!r}')
        if self.engine.dialect.name != 'postgresql':
            raise MigrationError(SQLITE)
        if plan:
            with self.reading() as connection:
                return self._phase_plan(connection, phase)[0]
        if phase == phases.EXPAND:
            return self._expand(lock_wait)
        return self._contract(force, lock_wait)

    def _phase_plan(self, connection, phase):
        """(the Plan of `phase`, the rows to hide from Alembic, the rows
        haas_schema_expand starts from)."""
        status = self.inspect(connection)
        self._refuse(status, expanded=True)
        core = next(b for b in status.branches if b.branch == CORE)
        if core.verdict == state.NOT_CREATED:
            raise MigrationError(
                'the database is not initialised: an online upgrade starts '
                f'from a running release; run {state.CREATE}')
        if status.enabled(state.ADOPTABLE):
            raise MigrationError(
                'branches have tables without version rows (a database '
                'from before HaaS 0.3): their first upgrade is not online; '
                'stop the servers and run `haas-admin db upgrade heads`')
        table = (bookkeeping.EXPAND_TABLE if status.expansion is not None
                 else bookkeeping.VERSION_TABLE)
        view = state.read_view(connection, self.branches, table=table)
        start = self._minimal(view.known + view.implied)
        if phase == phases.EXPAND:
            reach = phases.expand_reach(self.branches, view.current)
            target = tuple(self._minimal(
                [r for r in reach.values() if r is not None]))
        else:
            target = 'heads'
        with revision_errors(self.branches, str(target)):
            steps = self._upgrade_steps(target, start)
        the_plan = Plan([], steps, self.branches, start)
        the_plan.findings = datachecks.before(connection, self.branches,
                                              the_plan.upgrades)
        return the_plan, view.unknown, list(start) + list(view.unknown)

    def _expand(self, lock_wait):
        begun = time.monotonic()
        with self.writing(lock_wait) as connection:
            the_plan, hidden, rows = self._phase_plan(connection,
                                                      phases.EXPAND)
            if the_plan.findings:
                raise MigrationError(datachecks.refusal(the_plan.findings))
            if not the_plan.steps:
                self.report('Nothing to expand: every branch is at its last '
                            'expand revision')
                return None
            with begin(connection):
                phases.begin_expansion(connection, rows)
            runner = Runner(self.branches, self.settings.for_expand(),
                            self.report, target_metadata=self._metadata(),
                            ledger=self.ledger,
                            version_table=bookkeeping.EXPAND_TABLE)
            runner.run(connection, the_plan.alembic_steps, hidden)
            expansion = self.inspect(connection).expansion
        left = sum(len(v) for v in expansion.contract_left.values())
        self.report(
            f'expanded: {len(the_plan.upgrades)} revision'
            f'{"s" if len(the_plan.upgrades) != 1 else ""} in '
            f'{time.monotonic() - begun:.2f} s; the servers of the previous '
            f'release keep running; {left} contract revision'
            f'{"s" if left != 1 else ""} left: run `haas-admin db upgrade '
            f'--phase contract` once they are stopped')
        return None

    def _contract(self, force, lock_wait):
        with self.reading() as connection:
            old = servers.older(servers.clients(connection))
        if old and not force:
            raise MigrationError(
                f'{len(old)} connection{"s" if len(old) > 1 else ""} to the '
                f'database may be of servers of a release before '
                f'{servers.RELEASE} ({old[0].described}): stop them first '
                f'(`haas-admin db status --clients` lists them), or give '
                f'--force')
        for client in old:
            self.report(f'Warning: contracting while {client.described} is '
                        f'connected (--force)')
        with self.writing(lock_wait) as connection:
            status = self.inspect(connection)
            if status.expansion is not None:
                blocked = status.expansion.status.blocked
                if blocked is not None:
                    raise MigrationError(blocked.message)
                with begin(connection):
                    phases.finish_expansion(connection)
                    self._record(connection)
                self.report('contracting: the expanded revisions are the '
                            'database\'s own now')
        return self.upgrade('heads', lock_wait=lock_wait)

    def _metadata(self):
        from haas.model import db
        return db.metadata
