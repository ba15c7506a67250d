"""`db lint`, `db log` and `db verify`: the verbs that review the scripts
and what the migration ledger recorded of them, without changing the schema."""

from haas.errors import MigrationError
from haas.migrations import ledger
from haas.migrations.lock import begin
from haas.migrations.registry import LEDGER
from haas.migrations.scripts import revision_errors


class Reviewing:
    """The `lint`, `log` and `verify` verbs of Schema, and the ledger's check
    before an upgrade."""

    # --- lint -------------------------------------------------------------

    def lint(self, since=None, extension=None, version=None, trace=False):
        """(the lint Findings, how many revisions were read, the traced
        statements with `trace`, else None)."""
        from haas.migrations import linting
        named = None if extension is None else self._branch(extension)
        if trace and since is not None:
            raise MigrationError('--trace runs the pending revisions on the '
                                 'database: it does not go with --since')
        if trace and self.engine.dialect.name != 'postgresql':
            raise MigrationError(f'--trace runs the revisions on PostgreSQL '
                                 f'only: this database is '
                                 f'{self.engine.dialect.name}')
        if since is None:
            plan = self.upgrade('heads', extension, plan=True)
            steps, start = plan.alembic_steps, plan.start
            with self.reading() as connection:
                catalog = linting.catalog_of(connection, self.branches,
                                             version)
            findings = self._linted(steps, start, catalog)
            traced = None
            if trace:
                from haas.migrations.linting import trace as tracing
                traced = tracing.trace(self, plan)
            return findings, len(steps), traced
        if since == 'base' or since.endswith('@base'):
            # From the start: what the branch's first script depends on is
            # written out too, but only the branch is read.
            branch = named or since.split('@', 1)[0]
            if branch == 'base':
                raise MigrationError("--since base needs --extension MODULE: "
                                     "the branch to read from its start")
            self.branches.require(branch)
            start = ()
        else:
            with revision_errors(self.branches, since):
                script = self.branches.script.get_revision(since)
            branch = self.branches.branch_of(script.revision)
            if named is not None and named != branch:
                raise MigrationError(f'{since} is a revision of branch '
                                     f'{branch}, not of --extension '
                                     f'{extension}')
            start = (script.revision,)
        with revision_errors(self.branches, since):
            steps = self._upgrade_steps(f'{branch}@head', start)
        findings = self._linted(steps, start, linting.offline(version))
        read = [s for s in steps if self._branch_of_step(s) == branch]
        return [f for f in findings if f.branch == branch], len(read), None

    def _linted(self, steps, start, catalog):
        """The lint's findings, then those of the check that expand
        revisions are additive (haas.migrations.additive)."""
        from haas.migrations import additive, linting
        runner = self.runner()
        # Rendered once, read by both.
        rendered = list(linting.sections(runner, steps, start))
        return (linting.lint(runner, self.branches, rendered, catalog)
                + additive.findings(self.branches, rendered))

    # --- the ledger -------------------------------------------------------

    def _ledger_status(self, status):
        if status.revisions.get(LEDGER) is None:
            advice = status.advice()
            todo = advice.message if advice else 'run `haas-admin db create`'
            raise MigrationError(
                f'the database has no migration ledger yet: {todo}')

    def log(self, extension=None):
        """The ledger's rows, oldest first; of one branch with `extension`."""
        with self.reading() as connection:
            self._ledger_status(self.inspect(connection))
            rows = ledger.rows(connection)
        if extension is None:
            return rows
        if extension not in self.branches.folders and \
                not any(row['branch'] == extension for row in rows):
            raise MigrationError(
                f'{extension} is neither an enabled branch nor one the '
                f'ledger names (branches: {", ".join(self.branches.names)})')
        return [row for row in rows if row['branch'] == extension]

    def verify(self):
        """(the Changes, how many applied revisions were checked)."""
        with self.reading() as connection:
            status = self.inspect(connection)
            self._ledger_status(status)
            return ledger.changes(connection, self.branches, status.revisions)

    def accept(self, revision, reason):
        """Record that the change to applied `revision` was reviewed."""
        if not (reason or '').strip():
            raise MigrationError('give the reason the change is accepted: '
                                 '--reason TEXT')
        with self.writing() as connection:
            status = self.inspect(connection)
            self._ledger_status(status)
            changes, _ = ledger.changes(connection, self.branches,
                                        status.revisions)
            matches = [c for c in changes if c.revision.startswith(revision)]
            if len(matches) != 1:
                changed = ', '.join(c.revision for c in changes) or 'none'
                raise MigrationError(
                    f'{revision} is not {"one" if not matches else "only one"}'
                    f' of the applied revisions whose script changed since '
                    f'it ran (changed: {changed})')
            change, = matches
            with begin(connection):
                ledger.write(connection, [ledger.entry(
                    change.branch, change.revision, ledger.ACCEPT,
                    started_at=ledger.utc(), fingerprint=change.now,
                    reason=reason.strip())])
            return change

    def _changed(self, connection, status):
        """The applied revisions whose scripts changed since they ran; none
        on a database without a ledger."""
        if status.revisions.get(LEDGER) is None:
            return []
        changes, _ = ledger.changes(connection, self.branches,
                                    status.revisions)
        return changes

    def _verify_before(self, connection, status):
        """Refuse (or warn, with [migrations] verify = warn) when applied
        scripts changed since they ran."""
        changes = self._changed(connection, status)
        if not changes:
            return
        message = changed_message(changes)
        if self.settings.verify == 'fail':
            raise MigrationError(message)
        self.report(f'Warning: {message}')


def changed_message(changes):
    """One line on applied scripts that changed since they ran."""
    names = '; '.join(f'revision {c.revision} of branch {c.branch} '
                      f'({c.path})' for c in changes)
    many = len(changes) > 1
    revision = 'REVISION' if many else changes[0].revision
    return (f'{len(changes)} applied script{"s" if many else ""} changed '
            f'since {"they" if many else "it"} ran: {names}; review the '
            f'change{"s" if many else ""}, then record '
            f'{"each" if many else "it"} with `haas-admin db verify --accept '
            f'{revision} --reason TEXT`')
